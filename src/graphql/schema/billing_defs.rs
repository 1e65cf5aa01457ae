//! The billing entities, described once (see [`crate::graphql::schema::defs`]).

use crate::auth::Permission::{AccountsRead, BillingRead};
use crate::entity::*;
use crate::graphql::schema::{
    defs::{many, one, opposite, ACCOUNT, ACCOUNT_STATUS, COMPANY, NO, NONE, USER, ZERO},
    entity_def::{columns, fields, no_extra, EntityDef, Ops, F},
    extra_fields,
};

pub static SERVICE: EntityDef = EntityDef {
    name: "Service",
    plural: "services",
    description: "Something an account can be charged for: recurring (billed every `billing_frequency` months) or one-time.",
    fields: fields!(service::Model;
        amount: "Int" => "The price in cents.",
        application: "ServiceApplication!" => "",
        company_id: "Int64Bit" => "",
        display_if_zero: "Boolean!" => "",
        enabled: "Boolean!" => "",
        general_ledger_code_id: "Int64Bit" => NONE,
        name: "String!" => "",
        reverse_tax_definition_id: "Int64Bit" => NONE,
        tax_definition_id: "Int64Bit" => NONE,
        r#type as "type": "ServiceType!" => "",
    ),
    general_search: columns!(service::Model; name),
    relations: || {
        vec![
            one("company", &COMPANY, service::Relation::Company),
            many("account_services", &ACCOUNT_SERVICE, account_service::Relation::Service),
            many("discounts", &DISCOUNT, discount::Relation::Service),
            many("debits", &DEBIT, debit::Relation::Service),
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
    fields: fields!(account_service::Model;
        account_id: "Int64Bit!" => "",
        addition_prorate_date: "Date" => "",
        data_usage_last_calculated_date: "Date" => NONE,
        name_override: "String" => "",
        next_bill_date: "Date" => "",
        number_of_times_billed: "Int" => "",
        package_id: "Int64Bit" => NONE,
        price_override: "Int" => "",
        price_override_reason: "String" => "",
        quantity: "Int!" => "",
        service_id: "Int64Bit!" => "",
        unique_package_relationship_id: "String" => NONE,
    ),
    general_search: columns!(account_service::Model; name_override),
    relations: || {
        vec![
            one("account", &ACCOUNT, account_service::Relation::Account),
            one("service", &SERVICE, account_service::Relation::Service),
        ]
    },
    read: BillingRead,
    ops: &Ops::<account_service::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

const DEBIT_FIELDS: &[F] = fields!(debit::Model;
    account_id: "Int64Bit!" => "",
    amount: "Int!" => "In cents.",
    company_id: "Int64Bit!" => "",
    description: "String" => "",
    general_ledger_code: "String" => NONE,
    general_ledger_code_description: "String" => NONE,
    invoice_id: "Int64Bit" => "The invoice this debit is on; null while uninvoiced.",
    linked_debit_id: "Int64Bit" => "",
    minutes: "Float" => NONE,
    number_of_months: "Int!" => "",
    prorated_from: "Date" => "First day of the period this debit covers.",
    prorated_to: "Date" => "Last day of the period this debit covers.",
    quantity: "Int!" => "",
    quantity_prorated_from: "Int" => NONE,
    quantity_prorated_to: "Int" => NONE,
    reactivation_account_event_id: "Int64Bit" => "fathom extension (not in Sonar): the ACTIVATED account event whose reactivation charged this debit, for days of a billed period that a disconnection had credited (or of a service added while the account was away); null for every other debit.",
    reversed: "Boolean!" => "",
    reversed_at: "Datetime" => "",
    reversed_by_user_id: "Int64Bit" => "",
    service_id: "Int64Bit!" => "",
    service_name: "String!" => "",
    service_transaction_type: "ServiceTransactionType" => NONE,
    r#type as "type": "ServiceType!" => "",
    user_id: "Int64Bit" => "",
    voice_service_generic_parameter_id: "Int64Bit" => NONE,
);

pub static DEBIT: EntityDef = EntityDef {
    name: "Debit",
    plural: "debits",
    description: "A charge on an account.",
    fields: DEBIT_FIELDS,
    general_search: columns!(debit::Model; description, service_name),
    relations: || {
        vec![
            one("account", &ACCOUNT, debit::Relation::Account),
            one("company", &COMPANY, debit::Relation::Company),
            one("service", &SERVICE, debit::Relation::Service),
            one("invoice", &INVOICE, debit::Relation::Invoice),
            one("user", &USER, debit::Relation::User),
            one("reversed_by_user", &USER, debit::Relation::ReversedByUser),
            one("linked_debit", &DEBIT, debit::Relation::LinkedDebit),
            opposite("discount", &DISCOUNT, discount::Relation::Debit),
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
    fields: fields!(discount::Model;
        account_id: "Int64Bit!" => "",
        amount: "Int!" => "In cents.",
        amount_remaining: "Int!" => "The part not yet applied to an invoice, in cents.",
        company_id: "Int64Bit!" => "",
        debit_id: "Int64Bit" => "The debit this credit prorates, if any.",
        description: "String" => "",
        general_ledger_code: "String" => NONE,
        general_ledger_code_description: "String" => NONE,
        minutes: "Float" => NONE,
        prorated_from: "Date" => "",
        prorated_to: "Date" => "",
        quantity: "Int!" => "",
        quantity_prorated_from: "Int" => NONE,
        quantity_prorated_to: "Int" => NONE,
        reversed: "Boolean!" => "",
        reversed_at: "Datetime" => "",
        reversed_by_user_id: "Int64Bit" => "",
        service_id: "Int64Bit!" => "",
        service_name: "String!" => "",
        service_transaction_type: "ServiceTransactionType" => NONE,
        tax_committed: "Boolean!" => NO,
        tax_provider_id: "Int64Bit" => NONE,
        r#type as "type": "ServiceType!" => "",
        user_id: "Int64Bit" => "",
    ),
    general_search: columns!(discount::Model; description, service_name),
    relations: || {
        vec![
            one("account", &ACCOUNT, discount::Relation::Account),
            one("company", &COMPANY, discount::Relation::Company),
            one("service", &SERVICE, discount::Relation::Service),
            one("user", &USER, discount::Relation::User),
            one("debit", &DEBIT, discount::Relation::Debit),
            one("reversed_by_user", &USER, discount::Relation::ReversedByUser),
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
    fields: fields!(invoice::Model;
        account_id: "Int64Bit!" => "",
        auto_pay_attempts: "Int!" => ZERO,
        auto_pay_date: "Date" => NONE,
        child_invoice_remaining_due: "Int!" => ZERO,
        company_id: "Int64Bit!" => "",
        date: "Date!" => "",
        delinquency_date: "Date" => NONE,
        delinquent: "Boolean!" => NO,
        due_date: "Date!" => "",
        end_date: "Date!" => "The last day of the period the invoice covers.",
        frozen: "Boolean!" => NO,
        invoice_template_version_id: "Int64Bit" => NONE,
        late_fee_applied: "Boolean!" => NO,
        late_fee_only: "Boolean!" => NO,
        message: "Text" => "",
        number_of_months: "Int!" => "",
        parent_invoice_id: "Int64Bit" => NONE,
        pending_email: "Boolean!" => NO,
        remaining_due: "Int!" => "total_debits less the discounts and the payments applied, in cents.",
        status: "String!" => "",
        tax_committed: "Boolean!" => NO,
        tax_provider_id: "Int64Bit" => NONE,
        total_debits: "Int!" => "The sum of the invoice's debits, in cents.",
        total_taxes: "Int!" => ZERO,
        void: "Boolean!" => "",
        voided_at: "Datetime" => "",
    ),
    general_search: columns!(invoice::Model; message, status),
    relations: || {
        vec![
            one("account", &ACCOUNT, invoice::Relation::Account),
            one("company", &COMPANY, invoice::Relation::Company),
            one("parent_invoice", &INVOICE, invoice::Relation::ParentInvoice),
            many("debits", &DEBIT, debit::Relation::Invoice),
            many("child_invoices", &INVOICE, invoice::Relation::ParentInvoice),
            many(
                "invoice_payment_applications",
                &INVOICE_PAYMENT_APPLICATION,
                invoice_payment_application::Relation::Invoice,
            ),
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
    fields: fields!(billing_setting::Model;
        always_round_taxes_up: "Boolean!" => NO,
        apply_late_fees_to_child_invoices: "Boolean!" => NO,
        autopay_bank_account_retry_interval_in_days: "Int!" => ZERO,
        autopay_credit_card_retry_interval_in_days: "Int!" => ZERO,
        autopay_disconnect_invoice: "Boolean" => NONE,
        autopay_disconnect_invoice_days: "Int" => NONE,
        autopay_initial_invoice: "Boolean" => NONE,
        autopay_initial_invoice_days: "Int" => NONE,
        daily_billing: "Boolean!" => "",
        days_after_invoice_due_for_late_fee_application: "Int" => NONE,
        disconnect_account_status_id: "Int64Bit!" => "The status a disconnected account moves to; never an activating one.",
        generate_invoice_on_initial_activation: "Boolean!" => "",
        include_late_fee_invoices_in_printed_batches: "Boolean!" => NO,
        invoice_and_email_late_fees_immediately: "Boolean!" => NO,
        printed_invoice_batch_duplex: "Boolean!" => NO,
        printed_invoice_fee_service_id: "Int64Bit" => NONE,
        prorate_account_delinquency_status_change: "Boolean" => "",
        prorate_account_status_change: "Boolean!" => "Whether a disconnection prorates when its call does not say.",
        prorate_billing_day_change: "Boolean!" => "",
        prorate_service_quantity: "Boolean!" => "",
        prorate_services: "Boolean!" => "Whether adding or removing a service prorates when its call does not say.",
        round_prorated_amounts: "Boolean!" => "Round proration credits to whole currency units.",
        unarchive_account_status_id: "Int64Bit" => "",
        use_invoice_templates: "Boolean!" => NO,
    ),
    general_search: &[],
    relations: || {
        vec![one(
            "disconnect_account_status",
            &ACCOUNT_STATUS,
            billing_setting::Relation::DisconnectAccountStatus,
        )]
    },
    read: AccountsRead,
    ops: &Ops::<billing_setting::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static PAYMENT: EntityDef = EntityDef {
    name: "Payment",
    plural: "payments",
    description: "Money an account paid, applied to its invoices; what is left is applied to its next invoices.",
    fields: fields!(payment::Model;
        account_id: "Int64Bit!" => "",
        amount: "Int!" => "In cents.",
        amount_remaining: "Int!" => "The part not applied to an invoice yet, in cents (0 once reversed or voided).",
        bank_account_id: "Int64Bit" => NONE,
        company_id: "Int64Bit!" => "",
        creation_token: "String" => NONE,
        credit_card_id: "Int64Bit" => NONE,
        deposit_slip_id: "Int64Bit" => NONE,
        description: "String" => "",
        fee: "Int" => NONE,
        fractional_fee: "Int" => NONE,
        full_processor_response: "String" => NONE,
        is_autopay: "Boolean" => NONE,
        passed_3ds_check: "Boolean" => NONE,
        passed_avs_check: "Boolean" => NONE,
        passed_cvv_check: "Boolean" => NONE,
        payment_datetime: "Datetime!" => "When it was paid.",
        payment_tracker_id: "String" => "",
        payment_type: "PaymentType!" => "",
        processor_message: "String" => NONE,
        processor_status: "String" => NONE,
        reference: "String" => "",
        reversed: "Boolean!" => "fathom extension: whether the payment was reversed or voided (its reversed_payments or voided_payments say which).",
        status: "PaymentStatus" => "",
        successful: "Boolean!" => "",
        transaction_id: "String" => "",
        user_id: "Int64Bit" => "Who recorded it.",
    ),
    general_search: columns!(payment::Model; reference, description, payment_tracker_id, transaction_id),
    relations: || {
        vec![
            one("account", &ACCOUNT, payment::Relation::Account),
            one("company", &COMPANY, payment::Relation::Company),
            many("reversed_payments", &REVERSED_PAYMENT, reversed_payment::Relation::Payment),
            many("voided_payments", &VOIDED_PAYMENT, voided_payment::Relation::Payment),
            many(
                "invoice_payment_applications",
                &INVOICE_PAYMENT_APPLICATION,
                invoice_payment_application::Relation::Payment,
            ),
        ]
    },
    read: BillingRead,
    ops: &Ops::<payment::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static REVERSED_PAYMENT: EntityDef = EntityDef {
    name: "ReversedPayment",
    plural: "reversed_payments",
    description: "A payment reversed: the invoices it paid owe that part again.",
    fields: fields!(reversed_payment::Model;
        amount: "Int!" => "In cents: the payment's whole amount.",
        description: "String" => "",
        payment_id: "Int64Bit!" => "",
        user_id: "Int64Bit" => "Who reversed it.",
    ),
    general_search: columns!(reversed_payment::Model; description),
    relations: || {
        vec![
            one("payment", &PAYMENT, reversed_payment::Relation::Payment),
            one("user", &USER, reversed_payment::Relation::User),
        ]
    },
    read: BillingRead,
    ops: &Ops::<reversed_payment::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static VOIDED_PAYMENT: EntityDef = EntityDef {
    name: "VoidedPayment",
    plural: "voided_payments",
    description:
        "A payment voided on the day it was made: the invoices it paid owe that part again.",
    fields: fields!(voided_payment::Model;
        amount: "Int!" => "In cents: the payment's whole amount.",
        description: "String" => "",
        payment_id: "Int64Bit!" => "",
        payment_tracker_id: "String" => "",
        processor_response_message: "String" => NONE,
        transaction_id: "String" => "The payment's.",
        user_id: "Int64Bit" => "Who voided it.",
    ),
    general_search: columns!(voided_payment::Model; description),
    relations: || {
        vec![
            one("payment", &PAYMENT, voided_payment::Relation::Payment),
            one("user", &USER, voided_payment::Relation::User),
        ]
    },
    read: BillingRead,
    ops: &Ops::<voided_payment::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static INVOICE_PAYMENT_APPLICATION: EntityDef = EntityDef {
    name: "InvoicePaymentApplication",
    plural: "invoice_payment_applications",
    description: "fathom extension: what part of a payment paid which invoice. Undone when the payment is reversed or voided.",
    fields: fields!(invoice_payment_application::Model;
        amount: "Int!" => "In cents.",
        invoice_id: "Int64Bit!" => "",
        payment_id: "Int64Bit!" => "",
        undone: "Boolean!" => "Whether the payment was reversed or voided since: the invoice owes this part again.",
    ),
    general_search: &[],
    relations: || {
        vec![
            one("invoice", &INVOICE, invoice_payment_application::Relation::Invoice),
            one("payment", &PAYMENT, invoice_payment_application::Relation::Payment),
        ]
    },
    read: BillingRead,
    ops: &Ops::<invoice_payment_application::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};
