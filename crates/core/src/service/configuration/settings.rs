//! Changing the system setting and the billing settings (`updateSystemSettings`,
//! `updateBillingSettings`): each change is one transaction with its audit row, and bumps the
//! settings generation ([`bump`](crate::service::base::settings::bump)) so that every server reloads them. Kept apart
//! from `settings`, which the audit log itself reads.

use chrono_tz::Tz;
use sea_orm::{DatabaseConnection, Set};

use crate::entity::{account_status, billing_setting, system_setting, user};
use crate::error::{AppError, AppResult};
use crate::service::base::{
    audit,
    clock::now,
    input::UNUSED,
    settings,
    settings::{billing_setting, bump, system_setting},
    store::{begin_write, find, save},
    values::Id,
};
use crate::service::billing::delinquency;
use crate::service::configuration::disconnection_reasons;
use crate::sonar_enums::timezone_name;

crate::input! {
    #[derive(Default)]
    pub struct UpdateSystemSettings as "UpdateSystemSettingsMutationInput" {
        timezone: Option<String> => "Timezone";
    }
}

pub async fn update_system_settings(
    db: &DatabaseConnection,
    user_id: i64,
    input: UpdateSystemSettings,
) -> AppResult<system_setting::Model> {
    let txn = begin_write(db).await?;
    let old = system_setting(&txn).await?;
    let mut am: system_setting::ActiveModel = old.clone().into();
    if let Some(tz) = input.timezone {
        let name = timezone_name(&tz)
            .ok_or_else(|| AppError::validation("timezone", "unknown time zone"))?;
        name.parse::<Tz>().map_err(|_| {
            AppError::validation(
                "timezone",
                format!("{name} is not a time zone fathom knows"),
            )
        })?;
        am.timezone = Set(tz);
    }
    let new = save(&txn, old.id, old.version, am).await?;
    bump(&txn).await?;
    audit::updated(&txn, new.id, user_id, &old, &new, "system settings updated").await?;
    txn.commit().await?;
    Ok(new)
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateBillingSettings as "UpdateBillingSettingsMutationInput" {
        prorate_services: Option<bool> => "Boolean";
        prorate_service_quantity: Option<bool> => "Boolean";
        prorate_account_status_change: Option<bool> => "Boolean";
        prorate_account_delinquency_status_change: Option<bool> => "Boolean";
        prorate_billing_day_change: Option<bool> => "Boolean";
        round_prorated_amounts: Option<bool> => "Boolean";
        autopay_disconnect_invoice: Option<bool> => "Boolean", UNUSED;
        autopay_disconnect_invoice_days: Option<i32> => "Int", UNUSED;
        daily_billing: Option<bool> => "Boolean";
        disconnect_account_status_id: Option<Id> => "Int64Bit", "Must not be an activating status.";
        generate_invoice_on_initial_activation: Option<bool> => "Boolean";
        always_round_taxes_up: Option<bool> => "Boolean", UNUSED;
        unarchive_account_status_id: Option<Id> => "Int64Bit";
        unset_unarchive_account_status_id: Option<bool> => "Boolean";
        minimum_amount_due_for_delinquency: Option<i64> => "Int", "fathom extension: an invoice is delinquent only when more than this is left to pay (cents, default 0).";
        delinquency_disconnect_days: Option<i32> => "Int", "fathom extension: the delinquency pass disconnects an account delinquent for this many days more than its billing default's days_of_delinquency_for_status_switch (switched or not; needs delinquency_user_id).";
        unset_delinquency_disconnect_days: Option<bool> => "Boolean", "fathom extension: the delinquency pass never disconnects.";
        delinquency_user_id: Option<Id> => "Int64Bit", "fathom extension: the user the delinquency pass's disconnections are recorded as.";
        unset_delinquency_user_id: Option<bool> => "Boolean";
        delinquency_check_day_monday: Option<bool> => "Boolean", "fathom extension: whether the delinquency pass switches statuses and disconnects on Mondays (default true; likewise each day).";
        delinquency_check_day_tuesday: Option<bool> => "Boolean";
        delinquency_check_day_wednesday: Option<bool> => "Boolean";
        delinquency_check_day_thursday: Option<bool> => "Boolean";
        delinquency_check_day_friday: Option<bool> => "Boolean";
        delinquency_check_day_saturday: Option<bool> => "Boolean";
        delinquency_check_day_sunday: Option<bool> => "Boolean";
        disconnection_reason_required: Option<bool> => "Boolean", "fathom extension: whether every disconnection (disconnectAccount, a scheduled disconnection, a disconnection run) must give disconnection_reason_id.";
        delinquency_disconnection_reason_id: Option<Id> => "Int64Bit", "fathom extension: the disconnection reason the delinquency pass's disconnections record (an active one).";
        unset_delinquency_disconnection_reason_id: Option<bool> => "Boolean", "fathom extension: the delinquency pass's disconnections record no reason.";
    }
}

pub async fn update_billing_settings(
    db: &DatabaseConnection,
    user_id: i64,
    input: UpdateBillingSettings,
) -> AppResult<billing_setting::Model> {
    let txn = begin_write(db).await?;
    let old = billing_setting(&txn).await?;
    let mut am: billing_setting::ActiveModel = old.clone().into();
    macro_rules! copy {
        ($($field:ident),*) => {$(
            if let Some(v) = input.$field { am.$field = Set(v); }
        )*};
    }
    copy!(
        prorate_services,
        prorate_service_quantity,
        prorate_account_status_change,
        prorate_billing_day_change,
        round_prorated_amounts,
        daily_billing,
        generate_invoice_on_initial_activation,
        always_round_taxes_up,
        delinquency_check_day_monday,
        delinquency_check_day_tuesday,
        delinquency_check_day_wednesday,
        delinquency_check_day_thursday,
        delinquency_check_day_friday,
        delinquency_check_day_saturday,
        delinquency_check_day_sunday,
        disconnection_reason_required
    );
    match (
        input.delinquency_disconnection_reason_id,
        input.unset_delinquency_disconnection_reason_id == Some(true),
    ) {
        (Some(_), true) => {
            return Err(AppError::validation(
                "unset_delinquency_disconnection_reason_id",
                "give delinquency_disconnection_reason_id or unset_delinquency_disconnection_reason_id, not both",
            ))
        }
        (_, true) => am.delinquency_disconnection_reason_id = Set(None),
        (Some(Id(reason_id)), false) => {
            disconnection_reasons::usable(&txn, "delinquency_disconnection_reason_id", reason_id)
                .await?;
            am.delinquency_disconnection_reason_id = Set(Some(reason_id));
        }
        (None, false) => {}
    }
    if let Some(v) = input.minimum_amount_due_for_delinquency {
        if !(0..=i64::from(i32::MAX)).contains(&v) {
            return Err(AppError::validation(
                "minimum_amount_due_for_delinquency",
                format!(
                    "minimum_amount_due_for_delinquency is in cents, from 0 to {}",
                    i32::MAX
                ),
            ));
        }
        am.minimum_amount_due_for_delinquency = Set(v);
    }
    let disconnect_days =
        match (
            input.delinquency_disconnect_days,
            input.unset_delinquency_disconnect_days == Some(true),
        ) {
            (Some(_), true) => return Err(AppError::validation(
                "unset_delinquency_disconnect_days",
                "give delinquency_disconnect_days or unset_delinquency_disconnect_days, not both",
            )),
            (_, true) => None,
            (Some(d), false) if !(0..=3650).contains(&d) => {
                return Err(AppError::validation(
                    "delinquency_disconnect_days",
                    "delinquency_disconnect_days is 0 to 3650",
                ))
            }
            (Some(d), false) => Some(d),
            (None, false) => old.delinquency_disconnect_days,
        };
    am.delinquency_disconnect_days = Set(disconnect_days);
    let delinquency_user = match (
        input.delinquency_user_id,
        input.unset_delinquency_user_id == Some(true),
    ) {
        (Some(_), true) => {
            return Err(AppError::validation(
                "unset_delinquency_user_id",
                "give delinquency_user_id or unset_delinquency_user_id, not both",
            ))
        }
        (_, true) => None,
        (Some(Id(user_id)), false) => {
            let user = find::<user::Entity, _>(&txn, user_id)
                .await
                .map_err(|err| match err {
                    AppError::NotFound(_) => AppError::validation(
                        "delinquency_user_id",
                        format!("user {user_id} does not exist"),
                    ),
                    other => other,
                })?;
            if !user.enabled {
                return Err(AppError::validation(
                    "delinquency_user_id",
                    format!("user {user_id} is disabled"),
                ));
            }
            Some(user_id)
        }
        (None, false) => old.delinquency_user_id,
    };
    if disconnect_days.is_some() && delinquency_user.is_none() {
        return Err(AppError::validation(
            "delinquency_user_id",
            "delinquency_disconnect_days needs delinquency_user_id: the user its disconnections are recorded as",
        ));
    }
    am.delinquency_user_id = Set(delinquency_user);
    if let Some(v) = input.prorate_account_delinquency_status_change {
        am.prorate_account_delinquency_status_change = Set(Some(v));
    }
    if let Some(v) = input.autopay_disconnect_invoice {
        am.autopay_disconnect_invoice = Set(Some(v));
    }
    if let Some(v) = input.autopay_disconnect_invoice_days {
        if v < 0 {
            return Err(AppError::validation(
                "autopay_disconnect_invoice_days",
                "must not be negative",
            ));
        }
        am.autopay_disconnect_invoice_days = Set(Some(v));
    }
    if let Some(Id(status_id)) = input.disconnect_account_status_id {
        let status = find::<account_status::Entity, _>(&txn, status_id)
            .await
            .map_err(|_| {
                AppError::validation(
                    "disconnect_account_status_id",
                    format!("account status {status_id} does not exist"),
                )
            })?;
        if status.activates_account {
            return Err(AppError::validation(
                "disconnect_account_status_id",
                format!("{} activates accounts; a disconnected account must move to a status that does not", status.name),
            ));
        }
        am.disconnect_account_status_id = Set(status_id);
    }
    if input.unset_unarchive_account_status_id == Some(true) {
        am.unarchive_account_status_id = Set(None);
    } else if let Some(Id(status_id)) = input.unarchive_account_status_id {
        find::<account_status::Entity, _>(&txn, status_id)
            .await
            .map_err(|_| {
                AppError::validation(
                    "unarchive_account_status_id",
                    format!("account status {status_id} does not exist"),
                )
            })?;
        am.unarchive_account_status_id = Set(Some(status_id));
    }
    let new = save(&txn, old.id, old.version, am).await?;
    bump(&txn).await?;

    audit::updated(
        &txn,
        new.id,
        user_id,
        &old,
        &new,
        "billing settings updated",
    )
    .await?;
    txn.commit().await?;
    if new.minimum_amount_due_for_delinquency != old.minimum_amount_due_for_delinquency {
        // Which invoices are delinquent depends on it: marked again before answering, in
        // transactions of their own (each locks its accounts first, as payments do).
        let today = settings::local_date(db, now()).await?;
        delinquency::mark_all(db, today, &new).await?;
    }
    Ok(new)
}
