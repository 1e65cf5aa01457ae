//! The entities fathom serves, described once. Every root collection, relation, filter
//! argument, `search`/`sorter` allowlist and object type is generated from these tables.
//!
//! Fields Sonar has for features fathom does not have (taxes, general ledger, auto-pay,
//! inventory…) are kept so that scripts selecting them keep working; they return the honest
//! empty value and their description says so.

pub use super::billing_defs::{
    ACCOUNT_SERVICE, BILLING_SETTING, DEBIT, DISCOUNT, INVOICE, SERVICE,
};
use super::entity_def::{no_extra, no_relations, EntityDef, Ops, RelDef, F};
use super::extra_fields;
use crate::auth::Permission::AccountsRead;
use crate::entity::*;

pub(super) const NONE: &str = "Not a fathom feature: always null.";
pub(super) const NO: &str = "Not a fathom feature: always false.";
pub(super) const ZERO: &str = "Not a fathom feature: always 0.";

pub(super) fn rel(
    name: &'static str,
    target: &'static EntityDef,
    source: &'static str,
    target_column: &'static str,
) -> RelDef {
    RelDef {
        name,
        target,
        many: false,
        source_column: source,
        target_column,
        fixed: None,
        description: "",
    }
}

pub(super) fn many(
    name: &'static str,
    target: &'static EntityDef,
    target_column: &'static str,
) -> RelDef {
    RelDef {
        name,
        target,
        many: true,
        source_column: "id",
        target_column,
        fixed: None,
        description: "",
    }
}

pub(super) fn one(name: &'static str, target: &'static EntityDef, source: &'static str) -> RelDef {
    rel(name, target, source, "id")
}

pub static COMPANY: EntityDef = EntityDef {
    name: "Company",
    plural: "companies",
    description: "A company (brand) that accounts belong to and that issues their invoices.",
    fields: &[
        F("billing_communication_delay_end_local_time", "Time", NONE),
        F("billing_communication_delay_start_local_time", "Time", NONE),
        F("checks_payable_to", "String", ""),
        F("country", "Country!", ""),
        F("customer_portal_url", "URL", ""),
        F(
            "default",
            "Boolean!",
            "Whether this is the default company.",
        ),
        F("enabled", "Boolean!", ""),
        F("isp_type", "IspType", ""),
        F("name", "String!", ""),
        F("phone_number", "Numeric", ""),
        F("primary_color", "HtmlHexColor!", ""),
        F("secondary_color", "HtmlHexColor!", ""),
        F("show_remittance_slip", "Boolean!", ""),
        F("tax_identification", "String", ""),
        F("website_address", "URL", ""),
    ],
    general_search: &["name"],
    relations: || {
        vec![
            many("accounts", &ACCOUNT, "company_id"),
            many("debits", &DEBIT, "company_id"),
            many("invoices", &INVOICE, "company_id"),
            many("services", &SERVICE, "company_id"),
            many("discounts", &DISCOUNT, "company_id"),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<company::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static USER: EntityDef = EntityDef {
    name: "User",
    plural: "users",
    description: "A person who uses fathom. Personal access tokens act as their user.",
    fields: &[
        F(
            "completed_setup",
            "Boolean!",
            "fathom has no set-up step (no passwords): always true.",
        ),
        F("email_address", "EmailAddress!", ""),
        F(
            "enabled",
            "Boolean!",
            "A disabled user's tokens stop working.",
        ),
        F("is_sonar_staff", "Boolean", NONE),
        F("language", "Language", ""),
        F("mobile_number", "Numeric", ""),
        F("name", "String!", ""),
        F("public_name", "String!", ""),
        F(
            "role_id",
            "Int64Bit",
            "The role whose permissions this user has.",
        ),
        F(
            "super_admin",
            "Boolean!",
            "Recorded as given; fathom grants permissions by role only, so this grants nothing by itself.",
        ),
        F("username", "String!", ""),
    ],
    general_search: &["name", "username", "email_address"],
    relations: || {
        vec![
            one("role", &ROLE, "role_id"),
            many("archived_accounts", &ACCOUNT, "archived_by_user_id"),
            many("debits", &DEBIT, "user_id"),
            many("discounts", &DISCOUNT, "user_id"),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<user::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static ROLE: EntityDef = EntityDef {
    name: "Role",
    plural: "roles",
    description: "A named set of permissions; every user has one. Built in: Administrator (every permission), Billing (all but USERS_MANAGE and SETTINGS_WRITE), Read Only (the _READ ones).",
    fields: &[F("name", "String!", "")],
    general_search: &["name"],
    relations: || vec![many("users", &USER, "role_id")],
    read: AccountsRead,
    ops: &Ops::<role::Entity>::new(),
    extra: extra_fields::role,
    interfaces: &[],
    base: true,
};

pub static PERSONAL_ACCESS_TOKEN: EntityDef = EntityDef {
    name: "PersonalAccessToken",
    plural: "",
    description: "A personal access token. The token itself is shown once, when it is created.",
    fields: &[
        F("name", "String!", ""),
        F("revoked", "Boolean!", ""),
        F(
            "user_id",
            "Int64Bit!",
            "fathom extension: the user this token acts as.",
        ),
        F(
            "last_used_at",
            "Datetime",
            "fathom extension: when the token was last used (to the minute).",
        ),
    ],
    general_search: &["name"],
    relations: no_relations,
    read: AccountsRead,
    ops: &Ops::<personal_access_token::Entity>::new(),
    extra: extra_fields::personal_access_token,
    interfaces: &[],
    base: true,
};

pub static ACCOUNT_STATUS: EntityDef = EntityDef {
    name: "AccountStatus",
    plural: "account_statuses",
    description:
        "A status an account can be in. An account is active while its status activates it.",
    fields: &[
        F(
            "activates_account",
            "Boolean!",
            "Accounts in this status are active (billed, counted as activated).",
        ),
        F("color", "HtmlHexColor!", ""),
        F("icon", "Icon!", ""),
        F("name", "String!", ""),
    ],
    general_search: &["name"],
    relations: || vec![many("accounts", &ACCOUNT, "account_status_id")],
    read: AccountsRead,
    ops: &Ops::<account_status::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static ACCOUNT_TYPE: EntityDef = EntityDef {
    name: "AccountType",
    plural: "account_types",
    description: "A kind of account (residential, commercial…).",
    fields: &[
        F("color", "HtmlHexColor!", ""),
        F("icon", "Icon!", ""),
        F("invoice_message_id", "Int64Bit", NONE),
        F("name", "String!", ""),
        F("type", "AccountTypeEnum!", ""),
    ],
    general_search: &["name"],
    relations: || vec![many("accounts", &ACCOUNT, "account_type_id")],
    read: AccountsRead,
    ops: &Ops::<account_type::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static ACCOUNT: EntityDef = EntityDef {
    name: "Account",
    plural: "accounts",
    description: "A customer account. Accounts are never deleted: archive one to hide it.",
    fields: &[
        F("account_status_id", "Int64Bit!", ""),
        F("account_type_id", "Int64Bit!", ""),
        F(
            "activation_date",
            "Date",
            "The local date of the account's first activation.",
        ),
        F(
            "activation_time",
            "Time",
            "The local time of the account's first activation.",
        ),
        F("archived_at", "Datetime", ""),
        F("archived_by_user_id", "Int64Bit", ""),
        F("company_id", "Int64Bit!", ""),
        F("data_usage_percentage", "Int", NONE),
        F("geopoint", "Geopoint", NONE),
        F("is_delinquent", "Boolean!", NO),
        F("is_eligible_for_archive", "Boolean", NONE),
        F("name", "String!", ""),
        F(
            "next_bill_date",
            "Date",
            "The first day of the next period the billing pass will bill.",
        ),
        F(
            "next_recurring_charge_amount",
            "Int",
            "What the next billing pass will charge for recurring services, in cents.",
        ),
        F("parent_account_id", "Int64Bit", ""),
    ],
    general_search: &["name"],
    relations: || {
        vec![
            one("account_status", &ACCOUNT_STATUS, "account_status_id"),
            one("account_type", &ACCOUNT_TYPE, "account_type_id"),
            one("parent_account", &ACCOUNT, "parent_account_id"),
            one("archived_by_user", &USER, "archived_by_user_id"),
            one("company", &COMPANY, "company_id"),
            many("addresses", &ADDRESS, "addressable_id"),
            RelDef {
                fixed: Some(("contactable_type", "Account")),
                ..many("contacts", &CONTACT, "contactable_id")
            },
            many("debits", &DEBIT, "account_id"),
            many("discounts", &DISCOUNT, "account_id"),
            many("invoices", &INVOICE, "account_id"),
            many("account_services", &ACCOUNT_SERVICE, "account_id"),
            many("child_accounts", &ACCOUNT, "parent_account_id"),
            many("scheduled_events", &SCHEDULED_EVENT, "account_id"),
            many("disconnection_logs", &DISCONNECTION_LOG, "account_id"),
            many(
                "serviceable_address_account_assignment_histories",
                &SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY,
                "account_id",
            ),
            many("account_events", &ACCOUNT_EVENT, "account_id"),
            RelDef {
                fixed: Some(("loggable_type", "Account")),
                description: "fathom extension: the audit log of this account.",
                ..many("logs", &LOG, "loggable_id")
            },
        ]
    },
    read: AccountsRead,
    ops: &Ops::<account::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static ADDRESS: EntityDef = EntityDef {
    name: "Address",
    plural: "addresses",
    description: "A serviceable address (where service is delivered; assigned to at most one account at a time) or an account's mailing address.",
    fields: &[
        F("address_status_id", "Int64Bit", ""),
        F("addressable_id", "Int64Bit", "The account this address belongs to, if any."),
        F("addressable_type", "AddressableType", ""),
        F("anchor_address_id", "Int64Bit", ""),
        F("attainable_download_speed", "Int", ""),
        F("attainable_upload_speed", "Int", ""),
        F("avalara_pcode", "String", NONE),
        F("billing_default_id", "Int64Bit", ""),
        F("census_year", "Int", NONE),
        F("city", "String", ""),
        F("country", "Country", ""),
        F("county", "UsCounty", ""),
        F("fips", "String", NONE),
        F("fips_source", "FipsSource", NONE),
        F("is_anchor", "Boolean!", ""),
        F("latitude", "Latitude", ""),
        F("line1", "String", ""),
        F("line2", "String", ""),
        F("longitude", "Longitude", ""),
        F("serviceable", "Boolean!", ""),
        F("subdivision", "Subdivision", ""),
        F("timezone", "Timezone", ""),
        F("type", "AddressType!", ""),
        F("zip", "String", ""),
    ],
    general_search: &["line1", "line2", "city", "zip"],
    relations: || {
        vec![
            one("anchor_address", &ADDRESS, "anchor_address_id"),
            many("linked_addresses", &ADDRESS, "anchor_address_id"),
            many(
                "serviceable_address_account_assignment_histories",
                &SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY,
                "address_id",
            ),
            many("disconnection_logs", &DISCONNECTION_LOG, "serviceable_address_id"),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<address::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static CONTACT: EntityDef = EntityDef {
    name: "Contact",
    plural: "contacts",
    description: "A person to contact about an account.",
    fields: &[
        F("contactable_id", "Int64Bit!", ""),
        F("contactable_type", "ContactableType!", ""),
        F("email_address", "EmailAddress", ""),
        F("language", "Language", ""),
        F("marketing_opt_in", "Boolean", ""),
        F("name", "String!", ""),
        F(
            "primary",
            "Boolean!",
            "Whether this is the account's primary contact.",
        ),
        F("role", "String", ""),
        F("username", "String", ""),
    ],
    general_search: &["name", "email_address"],
    relations: no_relations,
    read: AccountsRead,
    ops: &Ops::<contact::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static SCHEDULED_EVENT: EntityDef = EntityDef {
    name: "ScheduledEvent",
    plural: "scheduled_events",
    description: "Something to do to an account at a future date and time.",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F("amount", "Int", ""),
        F("complete", "Boolean!", "Whether the event has been carried out (status COMPLETED)."),
        F("datetime", "Datetime!", "When the event takes effect."),
        F("description", "String", ""),
        F("event", "ScheduledEventEvent!", ""),
        F("primary_event_object_id", "String", ""),
        F("prorate", "Boolean", "For DISCONNECT_ACCOUNT: prorate or not; null inherits the billing setting when it runs."),
        F("status", "ScheduledEventStatus!", "fathom extension."),
        F("executed_at", "Datetime", "fathom extension: when the event was carried out or failed."),
        F("result_message", "String", "fathom extension: why it failed or was cancelled."),
        F("attempts", "Int!", "fathom extension: how many times execution was tried."),
        F("created_by_user_id", "Int64Bit!", "fathom extension: the user the event acts as."),
    ],
    general_search: &["description"],
    relations: || vec![one("account", &ACCOUNT, "account_id")],
    read: AccountsRead,
    ops: &Ops::<scheduled_event::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static DISCONNECTION_LOG: EntityDef = EntityDef {
    name: "DisconnectionLog",
    plural: "disconnection_logs",
    description: "The record of one disconnection.",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F("disconnected_at", "Datetime!", ""),
        F("disconnected_by_user_id", "Int64Bit!", ""),
        F(
            "serviceable_address_id",
            "Int64Bit",
            "The serviceable address released.",
        ),
        F(
            "serviceable_address_reference_record",
            "Text",
            "A text snapshot of the released address.",
        ),
        F(
            "final_invoice_id",
            "Int64Bit",
            "fathom extension: the final invoice, if one was created.",
        ),
        F(
            "prorated",
            "Boolean!",
            "fathom extension: whether proration credits were given.",
        ),
        F(
            "proration_source",
            "ProrationSource!",
            "fathom extension: what decided proration.",
        ),
        F(
            "previous_account_status_id",
            "Int64Bit!",
            "fathom extension.",
        ),
        F(
            "account_status_id",
            "Int64Bit!",
            "fathom extension: the status the account moved to.",
        ),
        F(
            "credit_total",
            "Int!",
            "fathom extension: the total of the proration credits given, in cents.",
        ),
        F(
            "scheduled_event_id",
            "Int64Bit",
            "fathom extension: the scheduled event that did it, if any.",
        ),
    ],
    general_search: &["serviceable_address_reference_record"],
    relations: || {
        vec![
            one("account", &ACCOUNT, "account_id"),
            one("disconnected_by_user", &USER, "disconnected_by_user_id"),
            one("serviceable_address", &ADDRESS, "serviceable_address_id"),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<disconnection_log::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY: EntityDef = EntityDef {
    name: "ServiceableAddressAccountAssignmentHistory",
    plural: "serviceable_address_account_assignment_histories",
    description: "One period during which a serviceable address was assigned to an account.",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F("address_id", "Int64Bit!", ""),
        F("end_date", "Date", "Null while the assignment lasts."),
        F("start_date", "Date!", ""),
    ],
    general_search: &[],
    relations: || {
        vec![
            one("account", &ACCOUNT, "account_id"),
            one("address", &ADDRESS, "address_id"),
        ]
    },
    read: AccountsRead,
    ops: &Ops::<serviceable_address_account_assignment_history::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static ACCOUNT_EVENT: EntityDef = EntityDef {
    name: "AccountEvent",
    plural: "account_events",
    description: "Something that happened to an account (activation, status change…).",
    fields: &[
        F("account_id", "Int64Bit!", ""),
        F(
            "current",
            "String",
            "The value after the event (e.g. the new status id).",
        ),
        F("event", "AccountUpdateEvent!", ""),
        F("event_datetime", "Datetime!", ""),
        F("previous", "String", "The value before the event."),
    ],
    general_search: &[],
    relations: || vec![one("account", &ACCOUNT, "account_id")],
    read: AccountsRead,
    ops: &Ops::<account_event::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static LOG: EntityDef = EntityDef {
    name: "Log",
    plural: "logs",
    description:
        "fathom's audit log: one row per change, written in the same transaction as the change.",
    fields: &[
        F("type", "LogType!", ""),
        F(
            "loggable_type",
            "String!",
            "The kind of record changed, e.g. Account.",
        ),
        F("loggable_id", "Int64Bit!", ""),
        F("user_id", "Int64Bit", "Who made the change."),
        F("previous", "Text", "The record before the change, as JSON."),
        F("current", "Text", "The record after the change, as JSON."),
        F("message", "Text", ""),
    ],
    general_search: &["message"],
    relations: || vec![one("user", &USER, "user_id")],
    read: AccountsRead,
    ops: &Ops::<log::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static SYSTEM_SETTING: EntityDef = EntityDef {
    name: "SystemSetting",
    plural: "",
    description: "Instance-wide settings. Of Sonar's system settings only the time zone is mirrored.",
    fields: &[F(
        "timezone",
        "Timezone!",
        "The instance time zone: business dates (billing, proration, report periods) are local dates in it.",
    )],
    general_search: &[],
    relations: no_relations,
    read: AccountsRead,
    ops: &Ops::<system_setting::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

/// Every entity, in the order their types appear.
pub fn all() -> Vec<&'static EntityDef> {
    vec![
        &ACCOUNT,
        &ACCOUNT_EVENT,
        &ACCOUNT_SERVICE,
        &ACCOUNT_STATUS,
        &ACCOUNT_TYPE,
        &ADDRESS,
        &BILLING_SETTING,
        &COMPANY,
        &CONTACT,
        &DEBIT,
        &DISCONNECTION_LOG,
        &DISCOUNT,
        &INVOICE,
        &LOG,
        &PERSONAL_ACCESS_TOKEN,
        &ROLE,
        &SCHEDULED_EVENT,
        &SERVICE,
        &SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY,
        &SYSTEM_SETTING,
        &USER,
        &super::webhook_defs::WEBHOOK_ENDPOINT,
        &super::webhook_defs::WEBHOOK_ENDPOINT_EVENT,
        &super::webhook_defs::WEBHOOK_ENDPOINT_EVENT_DISPATCH,
        &super::webhook_defs::WEBHOOK_ENDPOINT_EVENT_DISPATCH_ATTEMPT,
    ]
}
