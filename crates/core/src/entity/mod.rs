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
pub mod billing_pass;
pub mod billing_setting;
pub mod company;
pub mod contact;
pub mod debit;
pub mod disconnection_log;
pub mod discount;
pub mod idempotency_key;
pub mod idempotency_key_write;
pub mod invoice;
pub mod invoice_discount_application;
pub mod log;
pub mod personal_access_token;
pub mod phone_number;
pub mod report_activation;
pub mod report_disconnection;
pub mod role;
pub mod scheduled_event;
pub mod service;
pub mod serviceable_address_account_assignment_history;
pub mod system_setting;
pub mod user;
pub mod webhook_endpoint;
pub mod webhook_endpoint_event;
pub mod webhook_endpoint_event_dispatch;
pub mod webhook_endpoint_event_dispatch_attempt;
