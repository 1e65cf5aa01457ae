//! The registry of mutation input types: every `input!` type the schema declares, in the
//! schema's order (the GraphQL layer builds its input types from this list).

use super::base::input::InputType;

/// Every mutation input type, in the schema's order ([`input!`](crate::input)).
pub const INPUT_TYPES: &[InputType] = {
    use super::base::input::Input;
    use super::*;
    &[
        configuration::settings::UpdateSystemSettings::TYPE,
        configuration::catalog::CreateAccountStatus::TYPE,
        configuration::catalog::UpdateAccountStatus::TYPE,
        configuration::catalog::CreateAccountType::TYPE,
        configuration::catalog::UpdateAccountType::TYPE,
        lifecycle::addresses::MailingAddress::TYPE,
        lifecycle::phone_numbers::CreatePhoneNumber::TYPE,
        lifecycle::accounts::PrimaryContact::TYPE,
        lifecycle::accounts::CreateAccount::TYPE,
        lifecycle::accounts::UpdateAccount::TYPE,
        lifecycle::accounts::UpdateActivationDate::TYPE,
        lifecycle::hierarchy::LinkAccounts::TYPE,
        lifecycle::addresses::CreateServiceableAddress::TYPE,
        lifecycle::addresses::UpdateServiceableAddress::TYPE,
        lifecycle::contacts::CreateContact::TYPE,
        lifecycle::contacts::UpdateContact::TYPE,
        configuration::settings::UpdateBillingSettings::TYPE,
        access::tokens::CreatePersonalAccessToken::TYPE,
        webhooks::endpoints::ModelEvent::TYPE,
        webhooks::endpoints::CreateEndpoint::TYPE,
        webhooks::endpoints::UpdateEndpoint::TYPE,
        webhooks::endpoints::CreateEndpointEvent::TYPE,
        access::users::CreateUser::TYPE,
        access::users::UpdateUser::TYPE,
        lifecycle::scheduled::CreateScheduledEvent::TYPE,
        lifecycle::scheduled::UpdateScheduledEvent::TYPE,
        lifecycle::disconnect::DisconnectAccount::TYPE,
        lifecycle::disconnection_runs::CreateDisconnectionRun::TYPE,
        billing::services::CreateRecurringService::TYPE,
        billing::services::CreateOneTimeService::TYPE,
        billing::services::AddServiceToAccount::TYPE,
        billing::services::DeleteAccountService::TYPE,
        billing::transactions::OneTimeTransaction::TYPE,
        billing::invoicing::CreateInvoice::TYPE,
        billing::payments::CreatePayment::TYPE,
        billing::payments::CreatePayments::TYPE,
        billing::payments::ReversePayment::TYPE,
        billing::payments::VoidPayment::TYPE,
        billing::transactions::ReverseTransaction::TYPE,
        billing::invoicing::ApplyCreditToInvoice::TYPE,
        configuration::billing_defaults::CreateBillingDefault::TYPE,
        configuration::billing_defaults::UpdateBillingDefault::TYPE,
        configuration::delinquency_exclusions::CreateDelinquencyExclusion::TYPE,
        configuration::delinquency_exclusions::UpdateDelinquencyExclusion::TYPE,
        configuration::disconnection_reasons::CreateDisconnectionReason::TYPE,
        configuration::disconnection_reasons::UpdateDisconnectionReason::TYPE,
    ]
};
