//! The entities fathom serves, described once. Every root collection, relation, filter
//! argument, `search`/`sorter` allowlist and object type is generated from these tables.
//!
//! Fields Sonar has for features fathom does not have (taxes, general ledger, auto-pay,
//! inventory…) are kept so that scripts selecting them keep working; they return the honest
//! empty value and their description says so.

use crate::auth::Permission::{AccountsRead, BillingRead};
use crate::entity::*;
pub use crate::graphql::schema::billing_defs::{
    ACCOUNT_SERVICE, BILLING_SETTING, DEBIT, DISCOUNT, INVOICE, INVOICE_PAYMENT_APPLICATION,
    PAYMENT, REVERSED_PAYMENT, SERVICE, VOIDED_PAYMENT,
};
use crate::graphql::schema::{
    entity_def::{columns, fields, no_extra, no_relations, EntityDef, Ops, RelDef},
    extra_fields,
};
use std::sync::Mutex;

use sea_orm::{IdenStatic, Identity, RelationTrait};

pub(super) const NONE: &str = "Not a fathom feature: always null.";
pub(super) const NO: &str = "Not a fathom feature: always false.";
pub(super) const ZERO: &str = "Not a fathom feature: always 0.";

/// The column a relation's side names, as a `&'static str` (relations are described once, at
/// start-up; each distinct name is kept once).
fn column_name(identity: &Identity) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let name = match identity {
        Identity::Unary(iden) => iden.to_string(),
        other => panic!("fathom's relations are one column each, not {other:?}"),
    };
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = names.iter().find(|n| **n == name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into_boxed_str());
    names.push(leaked);
    leaked
}

fn reldef(
    name: &'static str,
    target: &'static EntityDef,
    many: bool,
    source: &'static str,
    target_column: &'static str,
) -> RelDef {
    RelDef {
        name,
        target,
        many,
        source_column: source,
        target_column,
        fixed: None,
        description: "",
    }
}

/// The row of `target` that this row's foreign key points at: `relation` is one this
/// entity declares (`debit::Relation::Account`).
pub(super) fn one(
    name: &'static str,
    target: &'static EntityDef,
    relation: impl RelationTrait,
) -> RelDef {
    let def = relation.def();
    reldef(
        name,
        target,
        false,
        column_name(&def.from_col),
        column_name(&def.to_col),
    )
}

/// The rows of `target` whose foreign key points at this row: `relation` is the one the
/// target declares (`account::Relation::Company` for a company's accounts).
pub(super) fn many(
    name: &'static str,
    target: &'static EntityDef,
    relation: impl RelationTrait,
) -> RelDef {
    let def = relation.def();
    reldef(
        name,
        target,
        true,
        column_name(&def.to_col),
        column_name(&def.from_col),
    )
}

/// The one row of `target` whose foreign key points at this row (a debit's proration credit:
/// `discount::Relation::Debit`).
pub(super) fn opposite(
    name: &'static str,
    target: &'static EntityDef,
    relation: impl RelationTrait,
) -> RelDef {
    RelDef {
        many: false,
        ..many(name, target, relation)
    }
}

pub static COMPANY: EntityDef = EntityDef {
    name: "Company",
    plural: "companies",
    description: "A company (brand) that accounts belong to and that issues their invoices.",
    fields: fields!(company::Model;
        billing_communication_delay_end_local_time: "Time" => NONE,
        billing_communication_delay_start_local_time: "Time" => NONE,
        checks_payable_to: "String" => "",
        country: "Country!" => "",
        customer_portal_url: "URL" => "",
        default: "Boolean!" => "Whether this is the default company.",
        enabled: "Boolean!" => "",
        isp_type: "IspType" => "",
        name: "String!" => "",
        phone_number: "Numeric" => "",
        primary_color: "HtmlHexColor!" => "",
        secondary_color: "HtmlHexColor!" => "",
        show_remittance_slip: "Boolean!" => "",
        tax_identification: "String" => "",
        website_address: "URL" => "",
    ),
    general_search: columns!(company::Model; name),
    relations: || {
        vec![
            many("accounts", &ACCOUNT, account::Relation::Company),
            many("debits", &DEBIT, debit::Relation::Company),
            many("invoices", &INVOICE, invoice::Relation::Company),
            many("payments", &PAYMENT, payment::Relation::Company),
            many("services", &SERVICE, service::Relation::Company),
            many("discounts", &DISCOUNT, discount::Relation::Company),
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
    fields: fields!(user::Model;
        completed_setup: "Boolean!" => "fathom has no set-up step (no passwords): always true.",
        email_address: "EmailAddress!" => "",
        enabled: "Boolean!" => "A disabled user's tokens stop working.",
        is_sonar_staff: "Boolean" => NONE,
        language: "Language" => "",
        mobile_number: "Numeric" => "",
        name: "String!" => "",
        public_name: "String!" => "",
        role_id: "Int64Bit" => "The role whose permissions this user has.",
        super_admin: "Boolean!" => "Recorded as given; fathom grants permissions by role only, so this grants nothing by itself.",
        username: "String!" => "",
    ),
    general_search: columns!(user::Model; name, username, email_address),
    relations: || {
        vec![
            one("role", &ROLE, user::Relation::Role),
            many(
                "archived_accounts",
                &ACCOUNT,
                account::Relation::ArchivedByUser,
            ),
            many("debits", &DEBIT, debit::Relation::User),
            many(
                "reversed_payments",
                &REVERSED_PAYMENT,
                reversed_payment::Relation::User,
            ),
            many(
                "voided_payments",
                &VOIDED_PAYMENT,
                voided_payment::Relation::User,
            ),
            many("discounts", &DISCOUNT, discount::Relation::User),
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
    fields: fields!(role::Model;
        name: "String!" => "",
    ),
    general_search: columns!(role::Model; name),
    relations: || vec![many("users", &USER, user::Relation::Role)],
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
    fields: fields!(personal_access_token::Model;
        name: "String!" => "",
        revoked: "Boolean!" => "",
        user_id: "Int64Bit!" => "fathom extension: the user this token acts as.",
        last_used_at: "Datetime" => "fathom extension: when the token was last used (to the minute).",
    ),
    general_search: columns!(personal_access_token::Model; name),
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
    fields: fields!(account_status::Model;
        activates_account: "Boolean!" => "Accounts in this status are active (billed, counted as activated).",
        color: "HtmlHexColor!" => "",
        icon: "Icon!" => "",
        name: "String!" => "",
    ),
    general_search: columns!(account_status::Model; name),
    relations: || vec![many("accounts", &ACCOUNT, account::Relation::AccountStatus)],
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
    fields: fields!(account_type::Model;
        color: "HtmlHexColor!" => "",
        icon: "Icon!" => "",
        invoice_message_id: "Int64Bit" => NONE,
        name: "String!" => "",
        r#type as "type": "AccountTypeEnum!" => "",
    ),
    general_search: columns!(account_type::Model; name),
    relations: || vec![many("accounts", &ACCOUNT, account::Relation::AccountType)],
    read: AccountsRead,
    ops: &Ops::<account_type::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static BILLING_DEFAULT: EntityDef = EntityDef {
    name: "BillingDefault",
    plural: "billing_defaults",
    description: "What rules an account's delinquency: the grace days of its invoices and the statuses it moves to. One per account type, or the default for types without one. fathom keeps Sonar's delinquency fields of a billing default.",
    fields: fields!(billing_default::Model;
        account_type_id: "Int64Bit" => "The account type it is for; null for a default.",
        days_of_delinquency_for_status_switch: "Int" => "Days of delinquency (counted from the day after the oldest delinquent invoice's delinquency date) before the account moves to the delinquency status; null: at once.",
        default: "Boolean!" => "Whether it applies to accounts whose type has no billing default of its own.",
        delinquency_account_status_id: "Int64Bit" => "",
        delinquency_removal_account_status_id: "Int64Bit" => "The status an account goes back to once it is no longer delinquent.",
        grace_days: "Int!" => "Days after an invoice's due date before it is delinquent.",
        name: "String!" => "",
        switch_status_after_delinquency: "Boolean!" => "",
    ),
    general_search: columns!(billing_default::Model; name),
    relations: || {
        vec![
            one("account_type", &ACCOUNT_TYPE, billing_default::Relation::AccountType),
            one(
                "delinquency_account_status",
                &ACCOUNT_STATUS,
                billing_default::Relation::DelinquencyAccountStatus,
            ),
            one(
                "delinquency_removal_account_status",
                &ACCOUNT_STATUS,
                billing_default::Relation::DelinquencyRemovalAccountStatus,
            ),
        ]
    },
    read: BillingRead,
    ops: &Ops::<billing_default::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static DISCONNECTION_REASON: EntityDef = EntityDef {
    name: "DisconnectionReason",
    plural: "disconnection_reasons",
    description: "fathom extension: why an account was disconnected, from a list Administrators keep (seeded with common reasons, Non-payment among them). Never deleted: an inactive reason stays on the disconnection logs that have it.",
    fields: fields!(disconnection_reason::Model;
        active: "Boolean!" => "Whether new disconnections may give it.",
        name: "String!" => "Unique, ignoring case.",
        voluntary: "Boolean!" => "Whether the customer chose to leave (false: the ISP disconnected them).",
    ),
    general_search: columns!(disconnection_reason::Model; name),
    relations: || {
        vec![many(
            "disconnection_logs",
            &DISCONNECTION_LOG,
            disconnection_log::Relation::DisconnectionReason,
        )]
    },
    read: AccountsRead,
    ops: &Ops::<disconnection_reason::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static DELINQUENCY_EXCLUSION: EntityDef = EntityDef {
    name: "DelinquencyExclusion",
    plural: "delinquency_exclusions",
    description: "A date when no account is switched or disconnected for non-payment: a day and a month, of one year or of every year.",
    fields: fields!(delinquency_exclusion::Model;
        day: "Int!" => "",
        month: "Int!" => "",
        name: "String!" => "",
        year: "Int" => "Null: the day and month of every year.",
    ),
    general_search: columns!(delinquency_exclusion::Model; name),
    relations: no_relations,
    read: BillingRead,
    ops: &Ops::<delinquency_exclusion::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static ACCOUNT: EntityDef = EntityDef {
    name: "Account",
    plural: "accounts",
    description: "A customer account. Accounts are never deleted: archive one to hide it.",
    fields: fields!(account::Model;
        account_status_id: "Int64Bit!" => "",
        account_type_id: "Int64Bit!" => "",
        activation_date: "Date" => "The local date of the account's first activation.",
        activation_time: "Time" => "The local time of the account's first activation.",
        archived_at: "Datetime" => "",
        archived_by_user_id: "Int64Bit" => "",
        company_id: "Int64Bit!" => "",
        data_usage_percentage: "Int" => NONE,
        geopoint: "Geopoint" => NONE,
        is_delinquent: "Boolean!" => NO,
        is_eligible_for_archive: "Boolean" => NONE,
        name: "String!" => "",
        next_bill_date: "Date" => "The first day of the next period the billing pass will bill.",
        next_recurring_charge_amount: "Int" => "What the next billing pass will charge for recurring services, in cents.",
        parent_account_id: "Int64Bit" => "",
    ),
    general_search: columns!(account::Model; name),
    relations: || {
        vec![
            one(
                "account_status",
                &ACCOUNT_STATUS,
                account::Relation::AccountStatus,
            ),
            one(
                "account_type",
                &ACCOUNT_TYPE,
                account::Relation::AccountType,
            ),
            one("parent_account", &ACCOUNT, account::Relation::ParentAccount),
            one("archived_by_user", &USER, account::Relation::ArchivedByUser),
            one("company", &COMPANY, account::Relation::Company),
            many("addresses", &ADDRESS, address::Relation::Addressable),
            RelDef {
                fixed: Some((contact::Column::ContactableType.as_str(), "Account")),
                ..many("contacts", &CONTACT, contact::Relation::Contactable)
            },
            many("debits", &DEBIT, debit::Relation::Account),
            many("discounts", &DISCOUNT, discount::Relation::Account),
            many("invoices", &INVOICE, invoice::Relation::Account),
            many("payments", &PAYMENT, payment::Relation::Account),
            many(
                "account_services",
                &ACCOUNT_SERVICE,
                account_service::Relation::Account,
            ),
            many("child_accounts", &ACCOUNT, account::Relation::ParentAccount),
            many(
                "scheduled_events",
                &SCHEDULED_EVENT,
                scheduled_event::Relation::Account,
            ),
            many(
                "disconnection_logs",
                &DISCONNECTION_LOG,
                disconnection_log::Relation::Account,
            ),
            many(
                "serviceable_address_account_assignment_histories",
                &SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY,
                serviceable_address_account_assignment_history::Relation::Account,
            ),
            many(
                "account_events",
                &ACCOUNT_EVENT,
                account_event::Relation::Account,
            ),
            RelDef {
                fixed: Some((log::Column::LoggableType.as_str(), "Account")),
                description: "fathom extension: the audit log of this account.",
                ..many("logs", &LOG, log::Relation::Loggable)
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
    fields: fields!(address::Model;
        address_status_id: "Int64Bit" => "",
        addressable_id: "Int64Bit" => "The account this address belongs to, if any.",
        addressable_type: "AddressableType" => "",
        anchor_address_id: "Int64Bit" => "",
        attainable_download_speed: "Int" => "",
        attainable_upload_speed: "Int" => "",
        avalara_pcode: "String" => NONE,
        billing_default_id: "Int64Bit" => "",
        census_year: "Int" => NONE,
        city: "String" => "",
        country: "Country" => "",
        county: "UsCounty" => "",
        fips: "String" => NONE,
        fips_source: "FipsSource" => NONE,
        is_anchor: "Boolean!" => "",
        latitude: "Latitude" => "",
        line1: "String" => "",
        line2: "String" => "",
        longitude: "Longitude" => "",
        serviceable: "Boolean!" => "",
        subdivision: "Subdivision" => "",
        timezone: "Timezone" => "",
        r#type as "type": "AddressType!" => "",
        zip: "String" => "",
    ),
    general_search: columns!(address::Model; line1, line2, city, zip),
    relations: || {
        vec![
            one("anchor_address", &ADDRESS, address::Relation::AnchorAddress),
            many("linked_addresses", &ADDRESS, address::Relation::AnchorAddress),
            many("serviceable_address_account_assignment_histories", &SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY, serviceable_address_account_assignment_history::Relation::Address),
            many("disconnection_logs", &DISCONNECTION_LOG, disconnection_log::Relation::ServiceableAddress),
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
    fields: fields!(contact::Model;
        contactable_id: "Int64Bit!" => "",
        contactable_type: "ContactableType!" => "",
        email_address: "EmailAddress" => "",
        language: "Language" => "",
        marketing_opt_in: "Boolean" => "",
        name: "String!" => "",
        primary: "Boolean!" => "Whether this is the account's primary contact.",
        role: "String" => "",
        username: "String" => "",
    ),
    general_search: columns!(contact::Model; name, email_address),
    relations: || {
        vec![many(
            "phone_numbers",
            &PHONE_NUMBER,
            phone_number::Relation::Contact,
        )]
    },
    read: AccountsRead,
    ops: &Ops::<contact::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static PHONE_NUMBER: EntityDef = EntityDef {
    name: "PhoneNumber",
    plural: "phone_numbers",
    description: "A phone number of a contact.",
    fields: fields!(phone_number::Model;
        contact_id: "Int64Bit!" => "",
        country: "Country!" => "",
        extension: "String" => "",
        number: "String!" => "The number's digits.",
        number_formatted: "String!" => "The number as people write it: (AAA) BBB-CCCC for a 10-digit number in the US or Canada, else its digits.",
        phone_number_type_id: "Int64Bit" => "Recorded as given; fathom has no phone number types.",
    ),
    general_search: columns!(phone_number::Model; number),
    relations: || vec![one("contact", &CONTACT, phone_number::Relation::Contact)],
    read: AccountsRead,
    ops: &Ops::<phone_number::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static SCHEDULED_EVENT: EntityDef = EntityDef {
    name: "ScheduledEvent",
    plural: "scheduled_events",
    description: "Something to do to an account at a future date and time.",
    fields: fields!(scheduled_event::Model;
        account_id: "Int64Bit!" => "",
        amount: "Int" => "",
        complete: "Boolean!" => "Whether the event has been carried out (status COMPLETED).",
        datetime: "Datetime!" => "When the event takes effect.",
        description: "String" => "",
        event: "ScheduledEventEvent!" => "",
        primary_event_object_id: "String" => "",
        prorate: "Boolean" => "For DISCONNECT_ACCOUNT: prorate or not; null inherits the billing setting when it runs.",
        status: "ScheduledEventStatus!" => "fathom extension.",
        executed_at: "Datetime" => "fathom extension: when the event was carried out or failed.",
        result_message: "String" => "fathom extension: why it failed or was cancelled.",
        attempts: "Int!" => "fathom extension: how many times execution was tried.",
        created_by_user_id: "Int64Bit!" => "fathom extension: the user the event acts as.",
        disconnection_reason_id: "Int64Bit" => "fathom extension, DISCONNECT_ACCOUNT: the reason its disconnection log will record.",
        comment: "String" => "fathom extension, DISCONNECT_ACCOUNT: the comment its disconnection log will record.",
    ),
    general_search: columns!(scheduled_event::Model; description),
    relations: || {
        vec![
            one("account", &ACCOUNT, scheduled_event::Relation::Account),
            one(
                "disconnection_reason",
                &DISCONNECTION_REASON,
                scheduled_event::Relation::DisconnectionReason,
            ),
        ]
    },
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
    fields: fields!(disconnection_log::Model;
        account_id: "Int64Bit!" => "",
        disconnected_at: "Datetime!" => "",
        disconnected_by_user_id: "Int64Bit!" => "",
        serviceable_address_id: "Int64Bit" => "The serviceable address released.",
        serviceable_address_reference_record: "Text" => "A text snapshot of the released address.",
        final_invoice_id: "Int64Bit" => "fathom extension: the final invoice, if one was created.",
        prorated: "Boolean!" => "fathom extension: whether proration credits were given.",
        proration_source: "ProrationSource!" => "fathom extension: what decided proration.",
        previous_account_status_id: "Int64Bit!" => "fathom extension.",
        account_status_id: "Int64Bit!" => "fathom extension: the status the account moved to.",
        credit_total: "Int!" => "fathom extension: the total of the proration credits given, in cents.",
        scheduled_event_id: "Int64Bit" => "fathom extension: the scheduled event that did it, if any.",
        for_non_payment: "Boolean!" => "fathom extension: whether the delinquency pass disconnected the account for non-payment.",
        disconnection_reason_id: "Int64Bit" => "fathom extension: why, when the disconnection gave a reason (the delinquency pass gives billing settings' delinquency_disconnection_reason_id).",
        comment: "Text" => "fathom extension: the note the disconnection gave.",
    ),
    general_search: columns!(disconnection_log::Model; serviceable_address_reference_record, comment),
    relations: || {
        vec![
            one("account", &ACCOUNT, disconnection_log::Relation::Account),
            one(
                "disconnected_by_user",
                &USER,
                disconnection_log::Relation::DisconnectedByUser,
            ),
            one(
                "serviceable_address",
                &ADDRESS,
                disconnection_log::Relation::ServiceableAddress,
            ),
            one(
                "disconnection_reason",
                &DISCONNECTION_REASON,
                disconnection_log::Relation::DisconnectionReason,
            ),
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
    fields: fields!(serviceable_address_account_assignment_history::Model;
        account_id: "Int64Bit!" => "",
        address_id: "Int64Bit!" => "",
        end_date: "Date" => "Null while the assignment lasts.",
        start_date: "Date!" => "",
    ),
    general_search: &[],
    relations: || {
        vec![
            one(
                "account",
                &ACCOUNT,
                serviceable_address_account_assignment_history::Relation::Account,
            ),
            one(
                "address",
                &ADDRESS,
                serviceable_address_account_assignment_history::Relation::Address,
            ),
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
    fields: fields!(account_event::Model;
        account_id: "Int64Bit!" => "",
        current: "String" => "The value after the event (e.g. the new status id).",
        event: "AccountUpdateEvent!" => "",
        event_datetime: "Datetime!" => "",
        previous: "String" => "The value before the event.",
    ),
    general_search: &[],
    relations: || vec![one("account", &ACCOUNT, account_event::Relation::Account)],
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
    fields: fields!(log::Model;
        r#type as "type": "LogType!" => "",
        loggable_type: "String!" => "The kind of record changed, e.g. Account.",
        loggable_id: "Int64Bit!" => "",
        user_id: "Int64Bit" => "Who made the change.",
        previous: "Text" => "The record before the change, as JSON.",
        current: "Text" => "The record after the change, as JSON.",
        message: "Text" => "",
    ),
    general_search: columns!(log::Model; message),
    relations: || vec![one("user", &USER, log::Relation::User)],
    read: AccountsRead,
    ops: &Ops::<log::Entity>::new(),
    extra: no_extra,
    interfaces: &[],
    base: true,
};

pub static SYSTEM_SETTING: EntityDef = EntityDef {
    name: "SystemSetting",
    plural: "",
    description:
        "Instance-wide settings. Of Sonar's system settings only the time zone is mirrored.",
    fields: fields!(system_setting::Model;
        timezone: "Timezone!" => "The instance time zone: business dates (billing, proration, report periods) are local dates in it.",
    ),
    general_search: &[],
    relations: no_relations,
    read: AccountsRead,
    ops: &Ops::<system_setting::Entity>::new(),
    extra: extra_fields::system_setting,
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
        &BILLING_DEFAULT,
        &BILLING_SETTING,
        &COMPANY,
        &CONTACT,
        &DEBIT,
        &DELINQUENCY_EXCLUSION,
        &DISCONNECTION_LOG,
        &DISCONNECTION_REASON,
        &crate::graphql::schema::disconnection_runs::DISCONNECTION_RUN,
        &crate::graphql::schema::disconnection_runs::DISCONNECTION_RUN_ITEM,
        &DISCOUNT,
        &INVOICE,
        &INVOICE_PAYMENT_APPLICATION,
        &LOG,
        &PAYMENT,
        &PERSONAL_ACCESS_TOKEN,
        &PHONE_NUMBER,
        &REVERSED_PAYMENT,
        &ROLE,
        &SCHEDULED_EVENT,
        &SERVICE,
        &SERVICEABLE_ADDRESS_ACCOUNT_ASSIGNMENT_HISTORY,
        &SYSTEM_SETTING,
        &USER,
        &VOIDED_PAYMENT,
        &crate::graphql::schema::webhook_defs::WEBHOOK_ENDPOINT,
        &crate::graphql::schema::webhook_defs::WEBHOOK_ENDPOINT_EVENT,
        &crate::graphql::schema::webhook_defs::WEBHOOK_ENDPOINT_EVENT_DISPATCH,
        &crate::graphql::schema::webhook_defs::WEBHOOK_ENDPOINT_EVENT_DISPATCH_ATTEMPT,
    ]
}
