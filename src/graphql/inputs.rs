//! Mutation input types, with Sonar's names and fields. Each is deserialized (serde) into the
//! service layer's own input struct of the same shape.

use async_graphql::dynamic::{InputObject, InputValue, ResolverContext};
use serde::de::DeserializeOwned;

use super::objects::type_ref;
use crate::error::AppError;

type InputDef = (
    &'static str,
    &'static [(&'static str, &'static str, &'static str)],
);

const UNUSED: &str = "Accepted for compatibility; fathom does not use it.";

const USERNAME: &str = "Unique (else CONFLICT with extensions.field username), without spaces.";

const SUPER_ADMIN: &str = "Recorded and returned as given. fathom grants permissions by role only, so this grants nothing by itself: give the Administrator role for every permission.";

const INPUTS: &[InputDef] = &[
    ("UpdateSystemSettingsMutationInput", &[("timezone", "Timezone", "")]),
    (
        "CreateAccountStatusMutationInput",
        &[("name", "String!", ""), ("activates_account", "Boolean!", ""), ("color", "HtmlHexColor!", ""), ("icon", "Icon!", "")],
    ),
    (
        "UpdateAccountStatusMutationInput",
        &[("name", "String", ""), ("activates_account", "Boolean", ""), ("color", "HtmlHexColor", ""), ("icon", "Icon", "")],
    ),
    (
        "CreateAccountTypeMutationInput",
        &[
            ("name", "String!", ""),
            ("color", "HtmlHexColor", "Defaults to 9E9E9E."),
            ("icon", "Icon", "Defaults to HOME759658 when that value exists."),
            ("type", "AccountTypeEnum!", ""),
            ("invoice_message_id", "Int64Bit", UNUSED),
        ],
    ),
    (
        "UpdateAccountTypeMutationInput",
        &[
            ("name", "String", ""),
            ("color", "HtmlHexColor", ""),
            ("icon", "Icon", ""),
            ("type", "AccountTypeEnum", ""),
            ("invoice_message_id", "Int64Bit", UNUSED),
        ],
    ),
    (
        "CreateAddressMutationInput",
        &[
            ("line1", "String!", ""),
            ("line2", "String", ""),
            ("city", "String!", ""),
            ("subdivision", "Subdivision", ""),
            ("zip", "String!", ""),
            ("country", "Country!", ""),
            ("address_status_id", "Int64Bit", ""),
        ],
    ),
    (
        "CreatePhoneNumberMutationInput",
        &[
            ("phone_number_type_id", "Int64Bit", ""),
            ("country", "Country", ""),
            ("number", "String", ""),
            ("extension", "String", ""),
        ],
    ),
    (
        "CreatePrimaryContactMutationInput",
        &[
            ("name", "String!", ""),
            ("role", "String", ""),
            ("email_address", "EmailAddress", ""),
            ("marketing_opt_in", "Boolean", ""),
            (
                "phone_numbers",
                "[CreatePhoneNumberMutationInput]",
                "Accepted so that Sonar scripts run unchanged; fathom does not keep phone numbers and ignores them.",
            ),
        ],
    ),
    (
        "CreateAccountMutationInput",
        &[
            ("id", "Int64Bit", "Keep an account number from a previous system; assigned automatically when left out."),
            ("name", "String!", ""),
            ("account_status_id", "Int64Bit!", ""),
            ("account_type_id", "Int64Bit!", ""),
            ("serviceable_address_id", "Int64Bit", "A free serviceable address to assign to the account."),
            ("mailing_address", "CreateAddressMutationInput", ""),
            ("primary_contact", "CreatePrimaryContactMutationInput!", ""),
            ("company_id", "Int64Bit!", ""),
        ],
    ),
    (
        "UpdateAccountMutationInput",
        &[
            ("name", "String", ""),
            ("account_status_id", "Int64Bit", "Changing the status records a STATUS_UPDATED account event (and ACTIVATED when the new status activates)."),
            ("account_type_id", "Int64Bit", ""),
            ("serviceable_address_id", "Int64Bit", "Assign a free serviceable address (ends the previous assignment)."),
            ("company_id", "Int64Bit", ""),
            ("prorate", "Boolean", "Accepted for compatibility; status changes through updateAccount do not prorate (use disconnectAccount)."),
            ("unset_serviceable_address_id", "Boolean", "Release the account's serviceable address."),
        ],
    ),
    ("UpdateAccountActivationDateMutationInput", &[("activation_date", "Date!", ""), ("activation_time", "Time", "")]),
    ("LinkAccountsMutationInput", &[("child_account_id", "Int64Bit!", "")]),
    (
        "CreateServiceableAddressMutationInput",
        &[
            ("id", "Int64Bit", ""),
            ("line1", "String!", ""),
            ("line2", "String", ""),
            ("city", "String!", ""),
            ("subdivision", "Subdivision", ""),
            ("zip", "String!", ""),
            ("country", "Country!", ""),
            ("latitude", "Latitude!", ""),
            ("longitude", "Longitude!", ""),
            ("timezone", "Timezone", ""),
            ("address_status_id", "Int64Bit", ""),
            ("is_anchor", "Boolean", ""),
            ("anchor_address_id", "Int64Bit", ""),
            ("billing_default_id", "Int64Bit", ""),
            ("attainable_download_speed", "Int", ""),
            ("attainable_upload_speed", "Int", ""),
        ],
    ),
    (
        "UpdateServiceableAddressMutationInput",
        &[
            ("line1", "String", ""),
            ("line2", "String", ""),
            ("city", "String", ""),
            ("subdivision", "Subdivision", ""),
            ("zip", "String", ""),
            ("country", "Country", ""),
            ("latitude", "Latitude", ""),
            ("longitude", "Longitude", ""),
            ("timezone", "Timezone", ""),
            ("address_status_id", "Int64Bit", ""),
            ("is_anchor", "Boolean", ""),
            ("anchor_address_id", "Int64Bit", ""),
            ("billing_default_id", "Int64Bit", ""),
            ("attainable_download_speed", "Int", ""),
            ("attainable_upload_speed", "Int", ""),
            ("unset_line2", "Boolean", ""),
            ("unset_anchor_address_id", "Boolean", ""),
            ("unset_billing_default_id", "Boolean", ""),
            ("unset_attainable_download_speed", "Boolean", ""),
            ("unset_attainable_upload_speed", "Boolean", ""),
        ],
    ),
    (
        "CreateContactMutationInput",
        &[
            ("contactable_type", "ContactableType!", "Only Account is supported."),
            ("contactable_id", "Int64Bit!", ""),
            ("name", "String!", ""),
            ("role", "String", ""),
            ("email_address", "EmailAddress", ""),
            ("become_primary", "Boolean", "Make this the primary contact (the previous one stops being primary)."),
            ("language", "Language", ""),
            ("username", "String", ""),
            ("password", "String", "Accepted for compatibility; fathom has no customer portal and does not store it."),
            ("marketing_opt_in", "Boolean", ""),
        ],
    ),
    (
        "UpdateContactMutationInput",
        &[
            ("name", "String", ""),
            ("role", "String", ""),
            ("email_address", "EmailAddress", ""),
            ("become_primary", "Boolean", ""),
            ("language", "Language", ""),
            ("username", "String", ""),
            ("password", "String", "Accepted for compatibility; fathom has no customer portal and does not store it."),
            ("marketing_opt_in", "Boolean", ""),
            ("unset_email_address", "Boolean", ""),
            ("unset_role", "Boolean", ""),
            ("unset_username", "Boolean", ""),
        ],
    ),
    (
        "UpdateBillingSettingsMutationInput",
        &[
            ("prorate_services", "Boolean", ""),
            ("prorate_service_quantity", "Boolean", ""),
            ("prorate_account_status_change", "Boolean", ""),
            ("prorate_account_delinquency_status_change", "Boolean", ""),
            ("prorate_billing_day_change", "Boolean", ""),
            ("round_prorated_amounts", "Boolean", ""),
            ("autopay_disconnect_invoice", "Boolean", UNUSED),
            ("autopay_disconnect_invoice_days", "Int", UNUSED),
            ("daily_billing", "Boolean", ""),
            ("disconnect_account_status_id", "Int64Bit", "Must not be an activating status."),
            ("generate_invoice_on_initial_activation", "Boolean", ""),
            ("always_round_taxes_up", "Boolean", UNUSED),
            ("unarchive_account_status_id", "Int64Bit", ""),
            ("unset_unarchive_account_status_id", "Boolean", ""),
        ],
    ),
    ("CreatePersonalAccessTokenMutationInput", &[("name", "String!", "")]),
    (
        "WebhookEndpointModelEventInput",
        &[
            ("model", "String!", "One of the models webhook_model_events lists."),
            ("event", "WebhookEndpointModelEvent!", "One of that model's events in webhook_model_events."),
        ],
    ),
    (
        "CreateWebhookEndpointMutationInput",
        &[
            ("name", "String!", ""),
            ("endpoint", "HttpsUrl!", "Where dispatches are POSTed: https:// only (http:// when FATHOM_WEBHOOK_ALLOW_HTTP is true); its addresses must be public unless FATHOM_WEBHOOK_ALLOW_PRIVATE is true."),
            ("enabled", "Boolean!", ""),
            ("model_events", "[WebhookEndpointModelEventInput]", "The pairs to subscribe to; a pair webhook_model_events does not list is VALIDATION_FAILED."),
        ],
    ),
    (
        "UpdateWebhookEndpointMutationInput",
        &[
            ("name", "String", ""),
            ("endpoint", "HttpsUrl", ""),
            ("enabled", "Boolean", "false holds the endpoint's dispatches (in order) until it is enabled again."),
            ("model_events", "[WebhookEndpointModelEventInput]", "When given, the endpoint's whole list of subscriptions: pairs left out are unsubscribed."),
        ],
    ),
    (
        "CreateWebhookEndpointEventMutationInput",
        &[
            ("webhook_endpoint_id", "Int64Bit!", ""),
            ("model", "String!", ""),
            ("event", "WebhookEndpointModelEvent!", ""),
        ],
    ),
    (
        "CreateUserMutationInput",
        &[
            ("name", "String!", ""),
            ("username", "String!", USERNAME),
            ("super_admin", "Boolean", "Defaults to false. Recorded and returned as given. fathom grants permissions by role only, so this grants nothing by itself: give the Administrator role for every permission."),
            ("role_id", "Int64Bit", "The role whose permissions the user has. Left out: Read Only (every _READ permission, nothing else), the least privilege."),
            ("email_address", "EmailAddress!", ""),
            ("mobile_number", "Numeric", ""),
            ("language", "Language", ""),
            ("public_name", "String!", ""),
            ("enabled", "Boolean", "Defaults to true. A disabled user's tokens do not work."),
        ],
    ),
    (
        "UpdateUserMutationInput",
        &[
            ("name", "String", ""),
            ("username", "String", USERNAME),
            ("super_admin", "Boolean", SUPER_ADMIN),
            ("role_id", "Int64Bit", "A new role. Nobody can give themselves a role without USERS_MANAGE, and at least one enabled user with USERS_MANAGE always remains (else VALIDATION_FAILED)."),
            ("email_address", "EmailAddress", ""),
            ("mobile_number", "Numeric", ""),
            ("password", "String", "Accepted so that Sonar scripts run unchanged; fathom has no passwords (only personal access tokens) and ignores it."),
            ("language", "Language", ""),
            ("public_name", "String", ""),
            ("enabled", "Boolean", "false disables the user: their tokens stop working on their next request. Nobody can disable themselves, and at least one enabled user with USERS_MANAGE always remains (else VALIDATION_FAILED)."),
            ("unset_mobile_number", "Boolean", "Clear the mobile number."),
        ],
    ),
    (
        "CreateScheduledEventMutationInput",
        &[
            ("description", "String", ""),
            ("datetime", "Datetime!", "When it takes effect; must be in the future."),
            ("event", "ScheduledEventEvent!", "DISCONNECT_ACCOUNT, CHANGE_STATUS, ADD_SERVICE, REMOVE_SERVICE or ONE_TIME_TRANSACTION; others are UNSUPPORTED_EVENT."),
            ("primary_event_object_id", "String", "CHANGE_STATUS: the status id; ADD_SERVICE and ONE_TIME_TRANSACTION: the service id; REMOVE_SERVICE: the account service id."),
            ("amount", "Int", "ADD_SERVICE and ONE_TIME_TRANSACTION: a price in cents instead of the service's."),
            ("prorate", "Boolean", "DISCONNECT_ACCOUNT and REMOVE_SERVICE: prorate or not; null inherits the billing setting when it runs."),
            ("account_id", "Int64Bit!", ""),
        ],
    ),
    (
        "UpdateScheduledEventMutationInput",
        &[
            ("description", "String", ""),
            ("datetime", "Datetime", "Must be in the future."),
            ("primary_event_object_id", "String", ""),
            ("amount", "Int", ""),
            ("prorate", "Boolean", ""),
            ("unset_prorate", "Boolean", "Back to inheriting the billing setting."),
        ],
    ),
    (
        "DisconnectAccountMutationInput",
        &[(
            "prorate",
            "Boolean",
            "Credit the unused days of what was billed in advance. Null inherits billing settings' prorate_account_status_change.",
        )],
    ),
    (
        "CreateRecurringServiceMutationInput",
        &[
            ("id", "Int64Bit", ""),
            ("enabled", "Boolean!", ""),
            ("name", "String!", ""),
            ("application", "ServiceApplication!", "DEBIT charges; CREDIT services are one-time only in fathom."),
            ("amount", "Int!", "Price in cents."),
            ("company_id", "Int64Bit", ""),
            ("general_ledger_code_id", "Int64Bit", UNUSED),
            ("billing_frequency", "Int!", "Months between bills, 1 to 120."),
            ("tax_definition_id", "Int64Bit", UNUSED),
            ("reverse_tax_definition_id", "Int64Bit", UNUSED),
            ("display_if_zero", "Boolean", ""),
        ],
    ),
    (
        "CreateOneTimeServiceMutationInput",
        &[
            ("id", "Int64Bit", ""),
            ("enabled", "Boolean!", ""),
            ("name", "String!", ""),
            ("application", "ServiceApplication!", "DEBIT makes one-time charges, CREDIT one-time credits."),
            ("amount", "Int!", "Price in cents."),
            ("company_id", "Int64Bit", ""),
            ("general_ledger_code_id", "Int64Bit", UNUSED),
            ("tax_definition_id", "Int64Bit", UNUSED),
            ("reverse_tax_definition_id", "Int64Bit", UNUSED),
            ("display_if_zero", "Boolean", ""),
        ],
    ),
    (
        "AddServiceToAccountMutationInput",
        &[
            ("account_id", "Int64Bit!", ""),
            ("service_id", "Int64Bit!", "A recurring service."),
            ("quantity", "Int!", ""),
            ("price_override", "Int", "Price in cents instead of the service's."),
            ("price_override_reason", "String", ""),
            ("name_override", "String", ""),
            ("next_bill_date", "Date", "First date to bill this service (no proration then)."),
            ("prorate", "Boolean", "Charge the rest of an already billed period now; null inherits billing settings' prorate_services."),
            ("proration_date", "Date", "The first charged day (default today, in the instance time zone)."),
        ],
    ),
    (
        "DeleteAccountServiceMutationInput",
        &[
            ("prorate", "Boolean", "Credit the unused part of the service's last debit; null inherits prorate_services."),
            ("proration_date", "Date", "The last charged day (default today, in the instance time zone)."),
        ],
    ),
    (
        "CreateAccountOneTimeTransactionMutationInput",
        &[
            ("service_id", "Int64Bit!", "A one-time service: a DEBIT one makes a debit, a CREDIT one a discount."),
            ("account_id", "Int64Bit!", ""),
            ("description", "String", ""),
            ("quantity", "Int!", ""),
            ("price_override", "Int", "Price in cents instead of the service's."),
        ],
    ),
    (
        "CreateInvoiceMutationInput",
        &[
            ("debit_ids", "[Int64Bit]!", "Uninvoiced debits of one account."),
            ("date", "Date!", ""),
            ("message", "Text", ""),
            ("due_date", "Date", "Defaults to 14 days after date."),
        ],
    ),
];

pub fn input_types() -> Vec<InputObject> {
    INPUTS
        .iter()
        .map(|(name, fields)| {
            fields
                .iter()
                .fold(InputObject::new(*name), |obj, (field, ty, desc)| {
                    let mut value = InputValue::new(*field, type_ref(ty));
                    if !desc.is_empty() {
                        value = value.description(*desc);
                    }
                    obj.field(value)
                })
        })
        .collect()
}

/// The argument `name` deserialized into `T`; a missing or null input is `VALIDATION_FAILED`.
pub fn input<T: DeserializeOwned>(ctx: &ResolverContext<'_>, name: &str) -> Result<T, AppError> {
    let value = ctx
        .args
        .get(name)
        .filter(|v| !v.is_null())
        .ok_or_else(|| AppError::validation(name, format!("{name} is required")))?;
    let json = value
        .as_value()
        .clone()
        .into_json()
        .map_err(|_| AppError::validation(name, "not valid JSON"))?;
    serde_json::from_value(json).map_err(|e| AppError::validation(name, e.to_string()))
}

/// The argument `name` deserialized into `T`, or `T::default()` when absent.
pub fn optional_input<T: DeserializeOwned + Default>(
    ctx: &ResolverContext<'_>,
    name: &str,
) -> Result<T, AppError> {
    match ctx.args.get(name).filter(|v| !v.is_null()) {
        None => Ok(T::default()),
        Some(_) => input(ctx, name),
    }
}

/// The `id` argument.
pub fn id_arg(ctx: &ResolverContext<'_>) -> Result<i64, AppError> {
    ctx.args
        .get("id")
        .and_then(|v| super::scalars::parse_i64(v.as_value()))
        .ok_or_else(|| AppError::validation("id", "id is required"))
}
