//! The billing entities, described once (see [`super::defs`]).

use super::defs::{many, one, rel, ACCOUNT, ACCOUNT_STATUS, COMPANY, NO, NONE, USER, ZERO};
use super::entity_def::{no_extra, EntityDef, Ops, F};
use super::extra_fields;
use crate::auth::Permission::{AccountsRead, BillingRead};
use crate::entity::*;

pub static SERVICE: EntityDef = EntityDef {
    name: "Service",
    plural: "services",
    description: "Something an account can be charged for: recurring (billed every `billing_frequency` months) or one-time.",
    fields: &[
        F("amount", "Int", "The price in cents."),
        F("application", "ServiceApplication!", ""),
        F("company_id", "Int64Bit", ""),
        F("display_if_zero", "Boolean!", ""),
        F("enabled", "Boolean!", ""),
        F("general_ledger_code_id", "Int64Bit", NONE),
        F("name", "String!", ""),
        F("reverse_tax_definition_id", "Int64Bit", NONE),
        F("tax_definition_id", "Int64Bit", NONE),
        F("type", "ServiceType!", ""),
    ],
    general_search: &["name"],
    relations: || {
        vec![
            one("company", &COMPANY, "company_id"),
            many("account_services", &ACCOUNT_SERVICE, "service_id"),
            many("discounts", &DISCOUNT, "service_id"),
            many("debits", &DEBIT, "service_id"),
        ]
    },
    read: BillingRead,
    ops: &Ops::<service::Entity>::new(),
    extra: extra_fields::service,
    interfaces: &[],
    base: true,
};

pub static ACCOUNT_SERVICE: EntityDef = EntityDef {
    name: "AccountService",
    plural: "account_services",
    description: "A service on an account.",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F("addition_prorate_date", "Date", ""),
        F("data_usage_last_calculated_date", "Date", NONE),
        F("name_override", "String", ""),
        F("next_bill_date", "Date", ""),
        F("number_of_times_billed", "Int", ""),
        F("package_id", "Int64Bit", NONE),
        F("price_override", "Int", ""),
        F("price_override_reason", "String", ""),
        F("quantity", "Int!", ""),
        F("service_id", "Int64Bit!", ""),
        F("unique_package_relationship_id", "String", NONE),
    ],
    general_search: &["name_override"],
    relations: || {
        vec![
            one("account", &ACCOUNT, "account_id"),
            one("service", &SERVICE, "service_id"),
        ]
    },
    read: BillingRead,
    ops: &Ops::<account_service::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

const DEBIT_FIELDS: &[F] = &[
    F("account_id", "Int64Bit!", ""),
    F("amount", "Int!", "In cents."),
    F("company_id", "Int64Bit!", ""),
    F("description", "String", ""),
    F("general_ledger_code", "String", NONE),
    F("general_ledger_code_description", "String", NONE),
    F(
        "invoice_id",
        "Int64Bit",
        "The invoice this debit is on; null while uninvoiced.",
    ),
    F("linked_debit_id", "Int64Bit", ""),
    F("minutes", "Float", NONE),
    F("number_of_months", "Int!", ""),
    F(
        "prorated_from",
        "Date",
        "First day of the period this debit covers.",
    ),
    F(
        "prorated_to",
        "Date",
        "Last day of the period this debit covers.",
    ),
    F("quantity", "Int!", ""),
    F("quantity_prorated_from", "Int", NONE),
    F("quantity_prorated_to", "Int", NONE),
    F("reversed", "Boolean!", ""),
    F("reversed_at", "Datetime", ""),
    F("reversed_by_user_id", "Int64Bit", ""),
    F("service_id", "Int64Bit!", ""),
    F("service_name", "String!", ""),
    F("service_transaction_type", "ServiceTransactionType", NONE),
    F("type", "ServiceType!", ""),
    F("user_id", "Int64Bit", ""),
    F("voice_service_generic_parameter_id", "Int64Bit", NONE),
];

pub static DEBIT: EntityDef = EntityDef {
    name: "Debit",
    plural: "debits",
    description: "A charge on an account.",
    fields: DEBIT_FIELDS,
    general_search: &["description", "service_name"],
    relations: || {
        vec![
            one("account", &ACCOUNT, "account_id"),
            one("company", &COMPANY, "company_id"),
            one("service", &SERVICE, "service_id"),
            one("invoice", &INVOICE, "invoice_id"),
            one("user", &USER, "user_id"),
            one("reversed_by_user", &USER, "reversed_by_user_id"),
            one("linked_debit", &DEBIT, "linked_debit_id"),
            rel("discount", &DISCOUNT, "id", "debit_id"),
        ]
    },
    read: BillingRead,
    ops: &Ops::<debit::Entity>::new(),
    extra: no_extra,
    interfaces: &["TransactionInterface"],
    base: true,
};

pub static DISCOUNT: EntityDef = EntityDef {
    name: "Discount",
    plural: "discounts",
    description: "A credit on an account, applied to invoices oldest first. A proration credit is linked to the debit it credits.",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F("amount", "Int!", "In cents."),
        F("amount_remaining", "Int!", "The part not yet applied to an invoice, in cents."),
        F("company_id", "Int64Bit!", ""),
        F("debit_id", "Int64Bit", "The debit this credit prorates, if any."),
        F("description", "String", ""),
        F("general_ledger_code", "String", NONE),
        F("general_ledger_code_description", "String", NONE),
        F("minutes", "Float", NONE),
        F("prorated_from", "Date", ""),
        F("prorated_to", "Date", ""),
        F("quantity", "Int!", ""),
        F("quantity_prorated_from", "Int", NONE),
        F("quantity_prorated_to", "Int", NONE),
        F("reversed", "Boolean!", ""),
        F("reversed_at", "Datetime", ""),
        F("reversed_by_user_id", "Int64Bit", ""),
        F("service_id", "Int64Bit!", ""),
        F("service_name", "String!", ""),
        F("service_transaction_type", "ServiceTransactionType", NONE),
        F("tax_committed", "Boolean!", NO),
        F("tax_provider_id", "Int64Bit", NONE),
        F("type", "ServiceType!", ""),
        F("user_id", "Int64Bit", ""),
    ],
    general_search: &["description", "service_name"],
    relations: || {
        vec![
            one("account", &ACCOUNT, "account_id"),
            one("company", &COMPANY, "company_id"),
            one("service", &SERVICE, "service_id"),
            one("user", &USER, "user_id"),
            one("debit", &DEBIT, "debit_id"),
            one("reversed_by_user", &USER, "reversed_by_user_id"),
        ]
    },
    read: BillingRead,
    ops: &Ops::<discount::Entity>::new(),
    extra: no_extra,
    interfaces: &["TransactionInterface"],
    base: true,
};

pub static INVOICE: EntityDef = EntityDef {
    name: "Invoice",
    plural: "invoices",
    description: "An invoice: a set of debits, less the discounts applied to it.",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F("auto_pay_attempts", "Int!", ZERO),
        F("auto_pay_date", "Date", NONE),
        F("child_invoice_remaining_due", "Int!", ZERO),
        F("company_id", "Int64Bit!", ""),
        F("date", "Date!", ""),
        F("delinquency_date", "Date", NONE),
        F("delinquent", "Boolean!", NO),
        F("due_date", "Date!", ""),
        F(
            "end_date",
            "Date!",
            "The last day of the period the invoice covers.",
        ),
        F("frozen", "Boolean!", NO),
        F("invoice_template_version_id", "Int64Bit", NONE),
        F("late_fee_applied", "Boolean!", NO),
        F("late_fee_only", "Boolean!", NO),
        F("message", "Text", ""),
        F("number_of_months", "Int!", ""),
        F("parent_invoice_id", "Int64Bit", NONE),
        F("pending_email", "Boolean!", NO),
        F(
            "remaining_due",
            "Int!",
            "total_debits less the discounts applied, in cents.",
        ),
        F("status", "String!", ""),
        F("tax_committed", "Boolean!", NO),
        F("tax_provider_id", "Int64Bit", NONE),
        F(
            "total_debits",
            "Int!",
            "The sum of the invoice's debits, in cents.",
        ),
        F("total_taxes", "Int!", ZERO),
        F("void", "Boolean!", ""),
        F("voided_at", "Datetime", ""),
    ],
    general_search: &["message", "status"],
    relations: || {
        vec![
            one("account", &ACCOUNT, "account_id"),
            one("company", &COMPANY, "company_id"),
            one("parent_invoice", &INVOICE, "parent_invoice_id"),
            many("debits", &DEBIT, "invoice_id"),
            many("child_invoices", &INVOICE, "parent_invoice_id"),
        ]
    },
    read: BillingRead,
    ops: &Ops::<invoice::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static BILLING_SETTING: EntityDef = EntityDef {
    name: "BillingSetting",
    plural: "",
    description: "The global billing settings.",
    fields: &[
        F("always_round_taxes_up", "Boolean!", NO),
        F("apply_late_fees_to_child_invoices", "Boolean!", NO),
        F("autopay_bank_account_retry_interval_in_days", "Int!", ZERO),
        F("autopay_credit_card_retry_interval_in_days", "Int!", ZERO),
        F("autopay_disconnect_invoice", "Boolean", NONE),
        F("autopay_disconnect_invoice_days", "Int", NONE),
        F("autopay_initial_invoice", "Boolean", NONE),
        F("autopay_initial_invoice_days", "Int", NONE),
        F("daily_billing", "Boolean!", ""),
        F(
            "days_after_invoice_due_for_late_fee_application",
            "Int",
            NONE,
        ),
        F(
            "disconnect_account_status_id",
            "Int64Bit!",
            "The status a disconnected account moves to; never an activating one.",
        ),
        F("generate_invoice_on_initial_activation", "Boolean!", ""),
        F(
            "include_late_fee_invoices_in_printed_batches",
            "Boolean!",
            NO,
        ),
        F("invoice_and_email_late_fees_immediately", "Boolean!", NO),
        F("printed_invoice_batch_duplex", "Boolean!", NO),
        F("printed_invoice_fee_service_id", "Int64Bit", NONE),
        F("prorate_account_delinquency_status_change", "Boolean", ""),
        F(
            "prorate_account_status_change",
            "Boolean!",
            "Whether a disconnection prorates when its call does not say.",
        ),
        F("prorate_billing_day_change", "Boolean!", ""),
        F("prorate_service_quantity", "Boolean!", ""),
        F(
            "prorate_services",
            "Boolean!",
            "Whether adding or removing a service prorates when its call does not say.",
        ),
        F(
            "round_prorated_amounts",
            "Boolean!",
            "Round proration credits to whole currency units.",
        ),
        F("unarchive_account_status_id", "Int64Bit", ""),
        F("use_invoice_templates", "Boolean!", NO),
    ],
    general_search: &[],
    relations: || {
        vec![one(
            "disconnect_account_status",
            &ACCOUNT_STATUS,
            "disconnect_account_status_id",
        )]
    },
    read: AccountsRead,
    ops: &Ops::<billing_setting::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};
