//! The root mutation type. Each resolver: permission, input, one service call, result.

use async_graphql::dynamic::{FieldFuture, FieldValue, InputValue, Object};

use crate::auth::Permission::{
    AccountsWrite, BillingWrite, ScheduledEventsWrite, SettingsWrite, UsersManage, WebhooksManage,
};
use crate::error::AppError;
use crate::graphql::{
    execution::resolver::{allowed, db, gql, SuccessResponse},
    schema::{
        entity_def::{Row, WithSecret},
        inputs::{id_arg, input, optional_input},
        objects::type_ref,
    },
};
use crate::service::{
    access::{tokens, users},
    billing::{
        invoicing, payments, services as billing_services,
        transactions::{self, Transaction},
    },
    configuration::{
        self, billing_defaults, catalog, delinquency_exclusions, disconnection_reasons,
    },
    lifecycle::{accounts, addresses, contacts, hierarchy, scheduled},
    webhooks::{delivery, endpoints},
};

fn row<'a, M: std::any::Any + Send + Sync>(model: M) -> Option<FieldValue<'a>> {
    Some(FieldValue::owned_any(Row::new(model)))
}

fn deleted<'a>(what: &str, id: i64) -> Option<FieldValue<'a>> {
    Some(FieldValue::owned_any(SuccessResponse {
        success: true,
        message: Some(format!("{what} {id} deleted")),
    }))
}

/// A mutation field: `$name(args) -> $ret`, whose body evaluates to
/// `Result<Option<FieldValue>, AppError>`. It runs through [`crate::graphql::execution::idempotent::field`], which
/// ties it to the request's `Idempotency-Key`, if any.
macro_rules! mutation {
    ($name:literal -> $ret:literal, [$(($arg:literal, $ty:literal)),*], $desc:literal, |$ctx:ident| $body:block) => {
        crate::graphql::execution::resolver::field($name, type_ref($ret), |$ctx| {
            FieldFuture::new(async move {
                let result: Result<Option<FieldValue>, AppError> =
                    crate::graphql::execution::idempotent::field(&$ctx, $ret, async { $body }).await;
                result.map_err(gql)
            })
        })
        .description($desc)
        $(.argument(InputValue::new($arg, type_ref($ty))))*
    };
}

pub fn mutation_type() -> Object {
    webhook_mutations(user_mutations(scheduled_mutations(billing_mutations(
        account_mutations(),
    ))))
}

fn user_mutations(object: Object) -> Object {
    object
        .field(mutation!("createUser" -> "User", [("input", "CreateUserMutationInput")],
            "Creates a user (USERS_MANAGE). The username must be free (else CONFLICT); without role_id the user gets the Read Only role. Give them a token with `fathom token create --user USERNAME`.", |ctx| {
            let user = allowed(&ctx, UsersManage)?;
            Ok(row(users::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateUser" -> "User", [("id", "Int64Bit!"), ("input", "UpdateUserMutationInput")],
            "Changes a user (USERS_MANAGE). Disabling a user stops their tokens on their next request. At least one enabled user with USERS_MANAGE always remains: nobody can disable themselves or give themselves a role without USERS_MANAGE (VALIDATION_FAILED).", |ctx| {
            let user = allowed(&ctx, UsersManage)?;
            Ok(row(users::update(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
}

fn webhook_mutations(object: Object) -> Object {
    object
        .field(mutation!("createWebhookEndpoint" -> "WebhookEndpoint", [("input", "CreateWebhookEndpointMutationInput")],
            "Creates a webhook endpoint and its subscriptions (WEBHOOKS_MANAGE). The answer's signing_secret is shown this once.", |ctx| {
            let user = allowed(&ctx, WebhooksManage)?;
            let policy = crate::graphql::schema::webhooks::delivery(&ctx).policy();
            let model = endpoints::create_endpoint(db(&ctx), policy, user.user_id, input(&ctx, "input")?).await?;
            let secret = model.signing_secret.clone();
            Ok(Some(FieldValue::owned_any(Row::new(WithSecret { model, secret }))))
        }))
        .field(mutation!("updateWebhookEndpoint" -> "WebhookEndpoint", [("id", "Int64Bit!"), ("input", "UpdateWebhookEndpointMutationInput")],
            "Changes a webhook endpoint (WEBHOOKS_MANAGE); model_events, when given, replaces its subscriptions.", |ctx| {
            let user = allowed(&ctx, WebhooksManage)?;
            let policy = crate::graphql::schema::webhooks::delivery(&ctx).policy();
            Ok(row(endpoints::update_endpoint(db(&ctx), policy, user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteWebhookEndpoint" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes a webhook endpoint and its subscriptions (WEBHOOKS_MANAGE); its pending dispatches are given up. Dispatches and attempts stay readable.", |ctx| {
            let user = allowed(&ctx, WebhooksManage)?;
            let id = id_arg(&ctx)?;
            endpoints::delete_endpoint(db(&ctx), user.user_id, id).await?;
            Ok(deleted("webhook endpoint", id))
        }))
        .field(mutation!("createWebhookEndpointEvent" -> "WebhookEndpointEvent", [("input", "CreateWebhookEndpointEventMutationInput")],
            "Subscribes an endpoint to one more model/event pair (WEBHOOKS_MANAGE); CONFLICT when it already is.", |ctx| {
            let user = allowed(&ctx, WebhooksManage)?;
            Ok(row(endpoints::create_event(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteWebhookEndpointEvent" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Unsubscribes an endpoint from a pair (WEBHOOKS_MANAGE).", |ctx| {
            let user = allowed(&ctx, WebhooksManage)?;
            let id = id_arg(&ctx)?;
            endpoints::delete_event(db(&ctx), user.user_id, id).await?;
            Ok(deleted("webhook endpoint event", id))
        }))
        .field(mutation!("generateTestWebhook" -> "WebhookTestResponse", [("id", "Int64Bit!")],
            "POSTs a signed test payload (event TEST) to endpoint id now, enabled or not, and answers what came back (WEBHOOKS_MANAGE). Nothing is stored.", |ctx| {
            allowed(&ctx, WebhooksManage)?;
            let answer = delivery::send_test(db(&ctx), crate::graphql::schema::webhooks::delivery(&ctx), id_arg(&ctx)?).await?;
            Ok(Some(FieldValue::owned_any(answer)))
        }))
}

fn scheduled_mutations(object: Object) -> Object {
    object
        .field(mutation!("createScheduledEvent" -> "ScheduledEvent", [("input", "CreateScheduledEventMutationInput")],
            "Schedules something to do to an account at a future datetime, carried out exactly once by the worker, as the calling user.", |ctx| {
            let user = allowed(&ctx, ScheduledEventsWrite)?;
            Ok(row(scheduled::create(db(&ctx), user, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateScheduledEvent" -> "ScheduledEvent", [("id", "Int64Bit!"), ("input", "UpdateScheduledEventMutationInput")],
            "Changes a pending scheduled event (else EVENT_NOT_PENDING).", |ctx| {
            let user = allowed(&ctx, ScheduledEventsWrite)?;
            Ok(row(scheduled::update(db(&ctx), user, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteScheduledEvent" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes a pending scheduled event (else EVENT_NOT_PENDING); it stays listed as CANCELLED.", |ctx| {
            let user = allowed(&ctx, ScheduledEventsWrite)?;
            let id = id_arg(&ctx)?;
            scheduled::delete(db(&ctx), user, id).await?;
            Ok(deleted("scheduled event", id))
        }))
}

fn billing_mutations(object: Object) -> Object {
    crate::graphql::schema::disconnection_runs::mutation_fields(object)
        .field(crate::graphql::schema::disconnect::mutation_field())
        .field(mutation!("createRecurringService" -> "Service", [("input", "CreateRecurringServiceMutationInput")],
            "Creates a recurring service, billed every billing_frequency months.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(billing_services::create_service(db(&ctx), user.user_id, input::<billing_services::CreateRecurringService>(&ctx, "input")?.into(), true).await?))
        }))
        .field(mutation!("createOneTimeService" -> "Service", [("input", "CreateOneTimeServiceMutationInput")],
            "Creates a one-time service (a charge or a credit).", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(billing_services::create_service(db(&ctx), user.user_id, input::<billing_services::CreateOneTimeService>(&ctx, "input")?.into(), false).await?))
        }))
        .field(mutation!("addServiceToAccount" -> "AccountService", [("input", "AddServiceToAccountMutationInput")],
            "Adds a recurring service to an account, charging the rest of an already billed period when proration applies.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(billing_services::add_service_to_account(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteAccountService" -> "SuccessResponse", [("id", "Int64Bit!"), ("input", "DeleteAccountServiceMutationInput")],
            "Removes a service from an account (kept as history), crediting the unused part of its last debit when proration applies.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            let id = id_arg(&ctx)?;
            billing_services::delete_account_service(db(&ctx), user.user_id, id, optional_input(&ctx, "input")?).await?;
            Ok(deleted("account service", id))
        }))
        .field(mutation!("createAccountOneTimeTransaction" -> "[TransactionInterface]", [("input", "CreateAccountOneTimeTransactionMutationInput")],
            "Creates an uninvoiced one-time debit (or, for a credit service, a discount).", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            let value = match transactions::one_time_transaction(db(&ctx), user.user_id, input(&ctx, "input")?).await? {
                Transaction::Debit(d) => FieldValue::owned_any(Row::new(d)).with_type("Debit"),
                Transaction::Discount(d) => FieldValue::owned_any(Row::new(d)).with_type("Discount"),
            };
            Ok(Some(FieldValue::list([value])))
        }))
        .field(mutation!("createInvoice" -> "Invoice", [("input", "CreateInvoiceMutationInput")],
            "Invoices the given uninvoiced debits of one account, applying its unapplied discounts oldest first, then what its payments have left.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(invoicing::create_invoice(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("voidInvoice" -> "Invoice", [("id", "Int64Bit!")],
            "Voids an invoice: its debits are uninvoiced again (the account's next invoice takes them) and its credits given back; nothing is deleted. Refused while payments are applied to it.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(invoicing::void_invoice(db(&ctx), user.user_id, id_arg(&ctx)?).await?))
        }))
        .field(mutation!("applyCreditToInvoice" -> "Invoice", [("input", "ApplyCreditToInvoiceMutationInput"), ("id", "Int64Bit!")],
            "Pays an invoice now from the account's unapplied credits, oldest first, up to amount (else all it owes, as far as the credits go).", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(invoicing::apply_credit(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("reverseDebit" -> "Debit", [("input", "ReverseTransactionMutationInput"), ("id", "Int64Bit!")],
            "Reverses an uninvoiced one-time debit charged by mistake: it is never invoiced. Refused for a debit on an invoice, credited, or recurring.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(transactions::reverse_debit(db(&ctx), user.user_id, id_arg(&ctx)?, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("createPayment" -> "Payment", [("input", "CreatePaymentMutationInput")],
            "Records a payment and applies it to the invoices it names, then (with apply_to_open_invoices) to the account's other open invoices, oldest due first; what is left pays the account's next invoices.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(payments::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("createPayments" -> "PaymentResultConnection!", [("input", "CreatePaymentsMutationInput")],
            "Records up to 100 payments, each as createPayment would, each on its own: one refused leaves the others recorded. One result per payment, in order.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            let outcomes = payments::create_many(db(&ctx), user.user_id, input(&ctx, "input")?).await?;
            Ok(Some(crate::graphql::schema::payments::connection(outcomes)))
        }))
        .field(mutation!("reversePayment" -> "ReversedPayment", [("input", "ReversePaymentMutationInput"), ("id", "Int64Bit!")],
            "Reverses a payment whole: the invoices it paid owe that part again, and what it had left is gone. Nothing is deleted.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(payments::reverse(db(&ctx), user.user_id, id_arg(&ctx)?, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("voidPayment" -> "VoidedPayment", [("input", "VoidPaymentMutationInput"), ("id", "Int64Bit!")],
            "Voids a payment whole on the local day it was made (later, reverse it): the invoices it paid owe that part again. Nothing is deleted.", |ctx| {
            let user = allowed(&ctx, BillingWrite)?;
            Ok(row(payments::void(db(&ctx), user.user_id, id_arg(&ctx)?, input(&ctx, "input")?).await?))
        }))
}

fn account_mutations() -> Object {
    Object::new("Mutation")
        .field(mutation!("updateSystemSettings" -> "SystemSetting", [("input", "UpdateSystemSettingsMutationInput")],
            "Changes the instance time zone.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(configuration::settings::update_system_settings(db(&ctx), user.user_id, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateBillingSettings" -> "BillingSetting", [("input", "UpdateBillingSettingsMutationInput")],
            "Changes the global billing settings. The disconnect status must not activate accounts.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(configuration::settings::update_billing_settings(db(&ctx), user.user_id, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("createAccountStatus" -> "AccountStatus", [("input", "CreateAccountStatusMutationInput")],
            "Creates an account status.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(catalog::create_status(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateAccountStatus" -> "AccountStatus", [("id", "Int64Bit!"), ("input", "UpdateAccountStatusMutationInput")],
            "Changes an account status.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(catalog::update_status(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteAccountStatus" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes an account status no account is in and billing settings do not name (else CONFLICT).", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            let id = id_arg(&ctx)?;
            catalog::delete_status(db(&ctx), user.user_id, id).await?;
            Ok(deleted("account status", id))
        }))
        .field(mutation!("createAccountType" -> "AccountType", [("input", "CreateAccountTypeMutationInput")],
            "Creates an account type.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(catalog::create_type(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateAccountType" -> "AccountType", [("id", "Int64Bit!"), ("input", "UpdateAccountTypeMutationInput")],
            "Changes an account type.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(catalog::update_type(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteAccountType" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes an account type no account uses (else CONFLICT).", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            let id = id_arg(&ctx)?;
            catalog::delete_type(db(&ctx), user.user_id, id).await?;
            Ok(deleted("account type", id))
        }))
        .field(mutation!("createDelinquencyExclusion" -> "DelinquencyExclusion", [("input", "CreateDelinquencyExclusionMutationInput")],
            "Adds a date when no account is switched or disconnected for non-payment.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(delinquency_exclusions::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateDelinquencyExclusion" -> "DelinquencyExclusion", [("input", "UpdateDelinquencyExclusionMutationInput"), ("id", "Int64Bit!")],
            "Changes a delinquency exclusion.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(delinquency_exclusions::update(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteDelinquencyExclusion" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes a delinquency exclusion.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            let id = id_arg(&ctx)?;
            delinquency_exclusions::delete(db(&ctx), user.user_id, id).await?;
            Ok(deleted("delinquency exclusion", id))
        }))
        .field(mutation!("createDisconnectionReason" -> "DisconnectionReason", [("input", "CreateDisconnectionReasonMutationInput")],
            "fathom extension: adds a disconnection reason (SETTINGS_WRITE).", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(disconnection_reasons::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateDisconnectionReason" -> "DisconnectionReason", [("input", "UpdateDisconnectionReasonMutationInput"), ("id", "Int64Bit!")],
            "fathom extension: renames a disconnection reason, or makes it active or inactive (SETTINGS_WRITE). Reasons are never deleted: the logs that give one keep it.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(disconnection_reasons::update(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("createBillingDefault" -> "BillingDefault", [("input", "CreateBillingDefaultMutationInput")],
            "Creates a billing default.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(billing_defaults::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateBillingDefault" -> "BillingDefault", [("input", "UpdateBillingDefaultMutationInput"), ("id", "Int64Bit!")],
            "Changes a billing default; invoices written before keep their delinquency dates.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            Ok(row(billing_defaults::update(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteBillingDefault" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes a billing default.", |ctx| {
            let user = allowed(&ctx, SettingsWrite)?;
            let id = id_arg(&ctx)?;
            billing_defaults::delete(db(&ctx), user.user_id, id).await?;
            Ok(deleted("billing default", id))
        }))
        .field(mutation!("createAccount" -> "Account", [("input", "CreateAccountMutationInput")],
            "Creates an account with its primary contact, and optionally a mailing address and a serviceable address.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(accounts::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateAccount" -> "Account", [("id", "Int64Bit!"), ("input", "UpdateAccountMutationInput")],
            "Changes an account. A status change records account events; an archived account is refused (ACCOUNT_ARCHIVED).", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(accounts::update(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateAccountActivationDate" -> "Account", [("id", "Int64Bit!"), ("input", "UpdateAccountActivationDateMutationInput")],
            "Corrects an account's activation date (and time).", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(accounts::update_activation_date(db(&ctx), user.user_id, id_arg(&ctx)?, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("archiveAccount" -> "Account", [("id", "Int64Bit!")],
            "Archives an inactive account: it leaves default listings and can no longer be changed.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(accounts::archive(db(&ctx), user.user_id, id_arg(&ctx)?).await?))
        }))
        .field(mutation!("unarchiveAccount" -> "Account", [("id", "Int64Bit!")],
            "Brings an archived account back (into billing settings' unarchive status, when set).", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(accounts::unarchive(db(&ctx), user.user_id, id_arg(&ctx)?).await?))
        }))
        .field(mutation!("linkAccounts" -> "Account", [("id", "Int64Bit!"), ("input", "LinkAccountsMutationInput")],
            "Makes input.child_account_id a child of the account id. Returns the parent.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            let link: hierarchy::LinkAccounts = input(&ctx, "input")?;
            Ok(row(hierarchy::link(db(&ctx), user.user_id, id_arg(&ctx)?, link.child_account_id.0).await?))
        }))
        .field(mutation!("unlinkAccounts" -> "Account", [("id", "Int64Bit!")],
            "Detaches the child account id from its parent; it needs a contact with an email address or a mailing address (else NO_BILLING_CONTACT).", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(hierarchy::unlink(db(&ctx), user.user_id, id_arg(&ctx)?).await?))
        }))
        .field(mutation!("createServiceableAddress" -> "Address", [("input", "CreateServiceableAddressMutationInput")],
            "Creates a serviceable address, free to be assigned to an account.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(addresses::create_serviceable(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateServiceableAddress" -> "Address", [("id", "Int64Bit!"), ("input", "UpdateServiceableAddressMutationInput")],
            "Changes a serviceable address.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(addresses::update_serviceable(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteServiceableAddress" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes a serviceable address that was never assigned to an account (else CONFLICT: it is history).", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            let id = id_arg(&ctx)?;
            addresses::delete_serviceable(db(&ctx), user.user_id, id).await?;
            Ok(deleted("address", id))
        }))
        .field(mutation!("createContact" -> "Contact", [("input", "CreateContactMutationInput")],
            "Adds a contact to an account.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(contacts::create(db(&ctx), user.user_id, input(&ctx, "input")?).await?))
        }))
        .field(mutation!("updateContact" -> "Contact", [("id", "Int64Bit!"), ("input", "UpdateContactMutationInput")],
            "Changes a contact.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            Ok(row(contacts::update(db(&ctx), user.user_id, id_arg(&ctx)?, optional_input(&ctx, "input")?).await?))
        }))
        .field(mutation!("deleteContact" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes a contact other than the primary one.", |ctx| {
            let user = allowed(&ctx, AccountsWrite)?;
            let id = id_arg(&ctx)?;
            contacts::delete(db(&ctx), user.user_id, id).await?;
            Ok(deleted("contact", id))
        }))
        .field(mutation!("createPersonalAccessToken" -> "PersonalAccessToken", [("input", "CreatePersonalAccessTokenMutationInput")],
            "Creates a token for the calling user. The response carries the token; it is never shown again.", |ctx| {
            let user = crate::graphql::execution::resolver::caller(&ctx).map_err(|_| AppError::Unauthenticated("a personal access token is required".into()))?;
            let create: tokens::CreatePersonalAccessToken = input(&ctx, "input")?;
            let (model, token) = tokens::create_token_for_caller(db(&ctx), user.user_id, &create.name).await?;
            Ok(Some(FieldValue::owned_any(Row::new(WithSecret { model, secret: token.as_str().to_owned() }))))
        }))
        .field(mutation!("deletePersonalAccessToken" -> "SuccessResponse", [("id", "Int64Bit!")],
            "Deletes one of the caller's tokens (another user's needs USERS_MANAGE). It stops working at once.", |ctx| {
            let user = crate::graphql::execution::resolver::caller(&ctx).map_err(|_| AppError::Unauthenticated("a personal access token is required".into()))?;
            let id = id_arg(&ctx)?;
            tokens::delete_token(db(&ctx), user, id).await?;
            Ok(deleted("personal access token", id))
        }))
}
