//! Database entities: one sea-orm entity per table or view, mirroring the migrations in
//! `migration/src` column for column (`rate_limit_buckets` and `settings_generations` are
//! read and written by raw SQL, in `rate_limit` and `service::base::settings`, and have none).
//!
//! Entities carry no business rules; the service layer owns every invariant. Each declares
//! the foreign keys the API follows as `belongs_to` relations (the GraphQL relations are
//! built from them, both ways). Every table has
//! an `i64` auto-increment `id`, `created_at` / `updated_at`
//! ([`sea_orm::prelude::DateTimeUtc`]) and a `version` counter; the report views
//! (`report_activations`, `report_disconnections`) are rows of a query and have only `id`.
//! Money columns are `i64`.

pub mod account;
pub mod account_event;
pub mod account_service;
pub mod account_status;
pub mod account_type;
pub mod address;
pub mod billing_default;
pub mod billing_pass;
pub mod billing_setting;
pub mod company;
pub mod contact;
pub mod debit;
pub mod delinquency_exclusion;
pub mod delinquency_pass;
pub mod disconnection_log;
pub mod disconnection_reason;
pub mod disconnection_run;
pub mod disconnection_run_item;
pub mod discount;
pub mod idempotency_key;
pub mod idempotency_key_write;
pub mod invoice;
pub mod invoice_discount_application;
pub mod invoice_payment_application;
pub mod log;
pub mod payment;
pub mod personal_access_token;
pub mod phone_number;
pub mod report_activation;
pub mod report_disconnection;
pub mod reversed_payment;
pub mod role;
pub mod scheduled_event;
pub mod service;
pub mod serviceable_address_account_assignment_history;
pub mod system_setting;
pub mod user;
pub mod voided_payment;
pub mod webhook_endpoint;
pub mod webhook_endpoint_event;
pub mod webhook_endpoint_event_dispatch;
pub mod webhook_endpoint_event_dispatch_attempt;

/// The name a table's records go by in the API, the audit log, webhooks and errors: Sonar's
/// type name (`Account`, `AccountService`…), declared once per entity here rather than
/// written by hand where a record is found or logged.
pub trait Named {
    const NAME: &'static str;
}

/// The [`Named::NAME`] of the entity of the model `M`.
pub fn name_of<M: sea_orm::ModelTrait>() -> &'static str
where
    M::Entity: Named,
{
    <M::Entity as Named>::NAME
}

macro_rules! named {
    ($($module:ident => $name:literal),* $(,)?) => {
        $(impl Named for $module::Entity {
            const NAME: &'static str = $name;
        })*
    };
}

named! {
    account => "Account",
    account_event => "AccountEvent",
    account_service => "AccountService",
    account_status => "AccountStatus",
    account_type => "AccountType",
    address => "Address",
    billing_default => "BillingDefault",
    billing_pass => "BillingPass",
    billing_setting => "BillingSetting",
    company => "Company",
    contact => "Contact",
    debit => "Debit",
    delinquency_exclusion => "DelinquencyExclusion",
    delinquency_pass => "DelinquencyPass",
    disconnection_log => "DisconnectionLog",
    disconnection_reason => "DisconnectionReason",
    disconnection_run => "DisconnectionRun",
    disconnection_run_item => "DisconnectionRunItem",
    discount => "Discount",
    idempotency_key => "IdempotencyKey",
    idempotency_key_write => "IdempotencyKeyWrite",
    invoice => "Invoice",
    invoice_discount_application => "InvoiceDiscountApplication",
    invoice_payment_application => "InvoicePaymentApplication",
    log => "Log",
    payment => "Payment",
    personal_access_token => "PersonalAccessToken",
    phone_number => "PhoneNumber",
    report_activation => "ReportActivation",
    report_disconnection => "ReportDisconnection",
    reversed_payment => "ReversedPayment",
    role => "Role",
    scheduled_event => "ScheduledEvent",
    service => "Service",
    serviceable_address_account_assignment_history => "ServiceableAddressAccountAssignmentHistory",
    system_setting => "SystemSetting",
    user => "User",
    voided_payment => "VoidedPayment",
    webhook_endpoint => "WebhookEndpoint",
    webhook_endpoint_event => "WebhookEndpointEvent",
    webhook_endpoint_event_dispatch => "WebhookEndpointEventDispatch",
    webhook_endpoint_event_dispatch_attempt => "WebhookEndpointEventDispatchAttempt",
}
