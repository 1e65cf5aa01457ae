//! Why customers leave (a fathom extension): the list of disconnection reasons a disconnection
//! may give (`disconnectAccount`, a scheduled disconnection, a disconnection run) and the
//! delinquency pass records. Administrators keep it (`SETTINGS_WRITE`). Names are unique
//! (ignoring case). A reason is never deleted, since logs name it: an inactive one stays on the
//! logs that have it and is refused for new disconnections. The list travels with the settings
//! ([`Snapshot::disconnection_reason`]), so every change bumps the settings generation.
//!
//! [`Snapshot::disconnection_reason`]: crate::service::base::settings::Snapshot::disconnection_reason

use sea_orm::{ActiveModelTrait, ConnectionTrait, DatabaseConnection, EntityTrait, Set};

use crate::entity::disconnection_reason as reason;
use crate::error::{AppError, AppResult};
use crate::service::base::{
    audit,
    clock::now,
    settings::{billing_setting, bump},
    store::{begin_write, find, save, Stamped},
    values::required_text,
};

crate::input! {
    /// Input of `createDisconnectionReason`.
    pub struct CreateDisconnectionReason as "CreateDisconnectionReasonMutationInput" {
        name: String => "String!", "Unique, ignoring case.";
        voluntary: bool => "Boolean!", "Whether the customer chose to leave (false: the ISP disconnected them, e.g. for non-payment).";
        active: Option<bool> => "Boolean", "Whether new disconnections may give it (default true).";
    }
}

crate::input! {
    /// Input of `updateDisconnectionReason`.
    #[derive(Default)]
    pub struct UpdateDisconnectionReason as "UpdateDisconnectionReasonMutationInput" {
        name: Option<String> => "String";
        voluntary: Option<bool> => "Boolean";
        active: Option<bool> => "Boolean", "An inactive reason stays on the disconnection logs that have it; new disconnections cannot give it.";
    }
}

/// The most characters of a reason's name.
pub const MAX_NAME: usize = 100;

fn name(value: &str) -> AppResult<String> {
    let name = required_text("name", value)?;
    if name.chars().count() > MAX_NAME {
        return Err(AppError::validation(
            "name",
            format!("name is at most {MAX_NAME} characters"),
        ));
    }
    Ok(name)
}

/// Refuses `name` when another reason has it (ignoring case).
async fn unique<C: ConnectionTrait>(db: &C, id: i64, name: &str) -> AppResult<()> {
    let lower = name.to_lowercase();
    if let Some(other) = reason::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .find(|r| r.id != id && r.name.to_lowercase() == lower)
    {
        return Err(AppError::validation(
            "name",
            format!(
                "disconnection reason {} is named {} already",
                other.id, other.name
            ),
        ));
    }
    Ok(())
}

/// Reason `id` as a setting that names it (`field`): it must exist and be active.
pub async fn usable<C: ConnectionTrait>(db: &C, field: &str, id: i64) -> AppResult<reason::Model> {
    let found = find::<reason::Entity, _>(db, id)
        .await
        .map_err(|err| match err {
            AppError::NotFound(_) => {
                AppError::validation(field, format!("disconnection reason {id} does not exist"))
            }
            other => other,
        })?;
    if !found.active {
        return Err(AppError::validation(
            field,
            format!("disconnection reason {id} ({}) is inactive", found.name),
        ));
    }
    Ok(found)
}

/// `createDisconnectionReason`.
pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateDisconnectionReason,
) -> AppResult<reason::Model> {
    let name = name(&input.name)?;
    let txn = begin_write(db).await?;
    // The settings generation's row, locked first, orders concurrent writers of the list: the
    // uniqueness check reads what the one before wrote.
    bump(&txn).await?;
    unique(&txn, 0, &name).await?;
    let model = reason::ActiveModel {
        name: Set(name),
        voluntary: Set(input.voluntary),
        active: Set(input.active.unwrap_or(true)),
        ..Default::default()
    }
    .stamped(now())
    .insert(&txn)
    .await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// `updateDisconnectionReason`: the fields given. The reason billing settings give the
/// delinquency pass cannot be made inactive (change that setting first).
pub async fn update(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateDisconnectionReason,
) -> AppResult<reason::Model> {
    let new_name = input.name.as_deref().map(name).transpose()?;
    let txn = begin_write(db).await?;
    bump(&txn).await?;
    let old = find::<reason::Entity, _>(&txn, id).await?;
    let mut am: reason::ActiveModel = old.clone().into();
    if let Some(n) = new_name {
        unique(&txn, id, &n).await?;
        am.name = Set(n);
    }
    if let Some(v) = input.voluntary {
        am.voluntary = Set(v);
    }
    if let Some(active) = input.active {
        if !active
            && billing_setting(&txn)
                .await?
                .delinquency_disconnection_reason_id
                == Some(id)
        {
            return Err(AppError::validation(
                "active",
                format!(
                    "disconnection reason {id} is billing settings' delinquency_disconnection_reason_id: change that first"
                ),
            ));
        }
        am.active = Set(active);
    }
    let saved = save(&txn, id, old.version, am).await?;
    audit::updated(
        &txn,
        id,
        user_id,
        &old,
        &saved,
        "disconnection reason updated",
    )
    .await?;
    txn.commit().await?;
    Ok(saved)
}
