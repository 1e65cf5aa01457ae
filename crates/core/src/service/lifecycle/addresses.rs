//! Serviceable addresses, mailing addresses, and the assignment of a serviceable address to
//! at most one account at a time (with its history).

use chrono::NaiveDate;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    PaginatorTrait, QueryFilter, Set,
};

use crate::entity::{address, serviceable_address_account_assignment_history as history};
use crate::error::{AppError, AppResult};
use crate::service::base::store::Stamped;
use crate::service::base::{
    audit,
    clock::now,
    compose,
    store::{self, begin_write, find, save},
    values::{optional_text, required_text, Id},
};

pub const PHYSICAL: &str = "PHYSICAL";
pub const MAILING: &str = "MAILING";

crate::input! {
    pub struct CreateServiceableAddress as "CreateServiceableAddressMutationInput" {
        id: Option<Id> => "Int64Bit";
        line1: String => "String!";
        line2: Option<String> => "String";
        city: String => "String!";
        subdivision: Option<String> => "Subdivision";
        zip: String => "String!";
        country: String => "Country!";
        latitude: serde_json::Value => "Latitude!";
        longitude: serde_json::Value => "Longitude!";
        timezone: Option<String> => "Timezone";
        address_status_id: Option<Id> => "Int64Bit";
        is_anchor: Option<bool> => "Boolean";
        anchor_address_id: Option<Id> => "Int64Bit";
        billing_default_id: Option<Id> => "Int64Bit";
        attainable_download_speed: Option<i32> => "Int";
        attainable_upload_speed: Option<i32> => "Int";
    }
}

crate::input! {
    #[derive(Default)]
    pub struct UpdateServiceableAddress as "UpdateServiceableAddressMutationInput" {
        line1: Option<String> => "String";
        line2: Option<String> => "String";
        city: Option<String> => "String";
        subdivision: Option<String> => "Subdivision";
        zip: Option<String> => "String";
        country: Option<String> => "Country";
        latitude: Option<serde_json::Value> => "Latitude";
        longitude: Option<serde_json::Value> => "Longitude";
        timezone: Option<String> => "Timezone";
        address_status_id: Option<Id> => "Int64Bit";
        is_anchor: Option<bool> => "Boolean";
        anchor_address_id: Option<Id> => "Int64Bit";
        billing_default_id: Option<Id> => "Int64Bit";
        attainable_download_speed: Option<i32> => "Int";
        attainable_upload_speed: Option<i32> => "Int";
        unset_line2: Option<bool> => "Boolean";
        unset_anchor_address_id: Option<bool> => "Boolean";
        unset_billing_default_id: Option<bool> => "Boolean";
        unset_attainable_download_speed: Option<bool> => "Boolean";
        unset_attainable_upload_speed: Option<bool> => "Boolean";
    }
}

crate::input! {
    /// A mailing address given with `createAccount`.
    pub struct MailingAddress as "CreateAddressMutationInput" {
        line1: String => "String!";
        line2: Option<String> => "String";
        city: String => "String!";
        subdivision: Option<String> => "Subdivision";
        zip: String => "String!";
        country: String => "Country!";
        address_status_id: Option<Id> => "Int64Bit";
    }
}

fn coordinate(field: &str, value: &serde_json::Value, limit: f64) -> AppResult<String> {
    let text = match value {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.trim().to_owned(),
        _ => String::new(),
    };
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() && v.abs() <= limit => Ok(text),
        _ => Err(AppError::validation(
            field,
            format!("{field} must be a number between -{limit} and {limit}"),
        )),
    }
}

fn speed(field: &str, value: Option<i32>) -> AppResult<Option<i32>> {
    match value {
        Some(v) if v < 0 => Err(AppError::validation(
            field,
            format!("{field} must not be negative"),
        )),
        other => Ok(other),
    }
}

pub async fn create_serviceable(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateServiceableAddress,
) -> AppResult<address::Model> {
    let txn = begin_write(db).await?;
    let at = now();
    let mut am = address::ActiveModel {
        r#type: Set(PHYSICAL.into()),
        serviceable: Set(true),
        line1: Set(Some(required_text("line1", &input.line1)?)),
        line2: Set(optional_text("line2", input.line2.as_deref())?),
        city: Set(Some(required_text("city", &input.city)?)),
        subdivision: Set(input.subdivision),
        zip: Set(Some(required_text("zip", &input.zip)?)),
        country: Set(Some(input.country)),
        latitude: Set(Some(coordinate("latitude", &input.latitude, 90.0)?)),
        longitude: Set(Some(coordinate("longitude", &input.longitude, 180.0)?)),
        timezone: Set(input.timezone),
        address_status_id: Set(input.address_status_id.map(|i| i.0)),
        is_anchor: Set(input.is_anchor.unwrap_or(false)),
        anchor_address_id: Set(input.anchor_address_id.map(|i| i.0)),
        billing_default_id: Set(input.billing_default_id.map(|i| i.0)),
        attainable_download_speed: Set(speed(
            "attainable_download_speed",
            input.attainable_download_speed,
        )?),
        attainable_upload_speed: Set(speed(
            "attainable_upload_speed",
            input.attainable_upload_speed,
        )?),
        ..Default::default()
    }
    .stamped(at);
    if let Some(Id(anchor)) = input.anchor_address_id {
        find::<address::Entity, _>(&txn, anchor)
            .await
            .map_err(|_| {
                AppError::validation(
                    "anchor_address_id",
                    format!("address {anchor} does not exist"),
                )
            })?;
    }
    if let Some(Id(id)) = input.id {
        store::free_id::<address::Entity, _>(&txn, id).await?;
        am.id = Set(id);
    }
    let model = am.insert(&txn).await?;
    if input.id.is_some() {
        store::bump_sequence(&txn, "addresses").await?;
    }
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

async fn serviceable<C: ConnectionTrait>(db: &C, id: i64) -> AppResult<address::Model> {
    let model = find::<address::Entity, _>(db, id).await?;
    if !model.serviceable {
        return Err(AppError::NotFound(format!(
            "serviceable address {id} does not exist"
        )));
    }
    Ok(model)
}

pub async fn update_serviceable(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateServiceableAddress,
) -> AppResult<address::Model> {
    let txn = begin_write(db).await?;
    let old = serviceable(&txn, id).await?;
    let mut am: address::ActiveModel = old.clone().into();
    if let Some(v) = &input.line1 {
        am.line1 = Set(Some(required_text("line1", v)?));
    }
    if input.unset_line2 == Some(true) {
        am.line2 = Set(None);
    } else if let Some(v) = &input.line2 {
        am.line2 = Set(optional_text("line2", Some(v))?);
    }
    if let Some(v) = &input.city {
        am.city = Set(Some(required_text("city", v)?));
    }
    if let Some(v) = input.subdivision {
        am.subdivision = Set(Some(v));
    }
    if let Some(v) = &input.zip {
        am.zip = Set(Some(required_text("zip", v)?));
    }
    if let Some(v) = input.country {
        am.country = Set(Some(v));
    }
    if let Some(v) = &input.latitude {
        am.latitude = Set(Some(coordinate("latitude", v, 90.0)?));
    }
    if let Some(v) = &input.longitude {
        am.longitude = Set(Some(coordinate("longitude", v, 180.0)?));
    }
    if let Some(v) = input.timezone {
        am.timezone = Set(Some(v));
    }
    if let Some(Id(v)) = input.address_status_id {
        am.address_status_id = Set(Some(v));
    }
    if let Some(v) = input.is_anchor {
        am.is_anchor = Set(v);
    }
    if input.unset_anchor_address_id == Some(true) {
        am.anchor_address_id = Set(None);
    } else if let Some(Id(anchor)) = input.anchor_address_id {
        if anchor == id {
            return Err(AppError::validation(
                "anchor_address_id",
                "an address cannot anchor itself",
            ));
        }
        find::<address::Entity, _>(&txn, anchor)
            .await
            .map_err(|_| {
                AppError::validation(
                    "anchor_address_id",
                    format!("address {anchor} does not exist"),
                )
            })?;
        am.anchor_address_id = Set(Some(anchor));
    }
    if input.unset_billing_default_id == Some(true) {
        am.billing_default_id = Set(None);
    } else if let Some(Id(v)) = input.billing_default_id {
        am.billing_default_id = Set(Some(v));
    }
    if input.unset_attainable_download_speed == Some(true) {
        am.attainable_download_speed = Set(None);
    } else if input.attainable_download_speed.is_some() {
        am.attainable_download_speed = Set(speed(
            "attainable_download_speed",
            input.attainable_download_speed,
        )?);
    }
    if input.unset_attainable_upload_speed == Some(true) {
        am.attainable_upload_speed = Set(None);
    } else if input.attainable_upload_speed.is_some() {
        am.attainable_upload_speed = Set(speed(
            "attainable_upload_speed",
            input.attainable_upload_speed,
        )?);
    }
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(&txn, id, user_id, &old, &new, "serviceable address updated").await?;
    txn.commit().await?;
    Ok(new)
}

/// Deletes a serviceable address that was never assigned to an account; once it was, it is
/// part of an account's history and stays.
pub async fn delete_serviceable(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = serviceable(&txn, id).await?;
    let ever = history::Entity::find()
        .filter(history::Column::AddressId.eq(id))
        .count(&txn)
        .await?;
    if ever > 0 || old.addressable_id.is_some() {
        return Err(AppError::Conflict(format!(
            "address {id} has been assigned to an account and is kept as part of its history"
        )));
    }
    let linked = address::Entity::find()
        .filter(address::Column::AnchorAddressId.eq(id))
        .count(&txn)
        .await?;
    if linked > 0 {
        return Err(AppError::Conflict(format!(
            "address {id} anchors {linked} other address(es)"
        )));
    }
    address::Entity::delete_by_id(id).exec(&txn).await?;
    audit::deleted(&txn, id, user_id, &old).await?;
    txn.commit().await?;
    Ok(())
}

/// The serviceable address currently assigned to `account_id`, if any.
pub async fn assigned_to<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
) -> AppResult<Option<address::Model>> {
    Ok(address::Entity::find()
        .filter(address::Column::AddressableId.eq(account_id))
        .filter(address::Column::Serviceable.eq(true))
        .one(db)
        .await?)
}

/// Assigns the free serviceable address `address_id` to `account_id` from `date`. An address
/// assigned elsewhere is a `CONFLICT` (also under a race: the update is conditional).
pub async fn assign<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    address_id: i64,
    date: NaiveDate,
) -> AppResult<()> {
    let address = find::<address::Entity, _>(db, address_id)
        .await
        .map_err(|_| {
            AppError::validation(
                "serviceable_address_id",
                format!("address {address_id} does not exist"),
            )
        })?;
    if !address.serviceable {
        return Err(AppError::validation(
            "serviceable_address_id",
            format!("address {address_id} is not serviceable"),
        ));
    }
    if address.addressable_id == Some(account_id) {
        return Ok(());
    }
    if let Some(other) = address.addressable_id {
        return Err(AppError::Conflict(format!(
            "address {address_id} is assigned to account {other}"
        )));
    }
    release_assigned(db, account_id, date).await?;
    let at = now();
    let result = address::Entity::update_many()
        .col_expr(address::Column::AddressableId, Expr::value(account_id))
        .col_expr(address::Column::AddressableType, Expr::value("Account"))
        .col_expr(address::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            address::Column::Version,
            Expr::col(address::Column::Version).add(1),
        )
        .filter(address::Column::Id.eq(address_id))
        .filter(address::Column::AddressableId.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AppError::Conflict(format!(
            "address {address_id} was just assigned to another account"
        )));
    }
    history::ActiveModel {
        address_id: Set(address_id),
        account_id: Set(account_id),
        start_date: Set(date),
        end_date: Set(None),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?;
    Ok(())
}

/// Releases the serviceable address assigned to `account_id`, if any, ending its history row
/// on `date`, and returns it as it was. One statement on PostgreSQL, two on SQLite.
pub async fn release_assigned<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    date: NaiveDate,
) -> AppResult<Option<address::Model>> {
    use sea_orm::QueryTrait;
    let at = now();
    let free = address::Entity::update_many()
        .col_expr(
            address::Column::AddressableId,
            Expr::value(Option::<i64>::None),
        )
        .col_expr(
            address::Column::AddressableType,
            Expr::value(Option::<String>::None),
        )
        .col_expr(address::Column::UpdatedAt, Expr::value(at))
        .col_expr(
            address::Column::Version,
            Expr::col(address::Column::Version).add(1),
        )
        .filter(address::Column::AddressableId.eq(account_id))
        .filter(address::Column::Serviceable.eq(true));
    let end = |which: Expr| {
        history::Entity::update_many()
            .col_expr(history::Column::EndDate, Expr::value(date))
            .col_expr(history::Column::UpdatedAt, Expr::value(at))
            .col_expr(
                history::Column::Version,
                Expr::col(history::Column::Version).add(1),
            )
            .filter(history::Column::AccountId.eq(account_id))
            .filter(history::Column::EndDate.is_null())
            .filter(which)
    };
    let backend = db.get_database_backend();
    let released = if backend == DbBackend::Postgres {
        let statement = compose::postgres(
            "WITH a AS ({0} RETURNING *), h AS ({1}) SELECT * FROM a",
            vec![
                free.build(backend),
                end(Expr::cust("\"address_id\" IN (SELECT id FROM a)")).build(backend),
            ],
        );
        db.query_one_raw(statement)
            .await?
            .map(|row| <address::Model as sea_orm::FromQueryResult>::from_query_result(&row, ""))
            .transpose()?
    } else {
        let released = free.exec_with_returning(db).await?.into_iter().next();
        if let Some(address) = &released {
            end(history::Column::AddressId.eq(address.id))
                .exec(db)
                .await?;
        }
        released
    };
    // What the address was: assigned to the account (the snapshot kept in logs is the same).
    Ok(released.map(|mut a| {
        a.addressable_id = Some(account_id);
        a.addressable_type = Some("Account".into());
        a
    }))
}

/// Creates `account_id`'s mailing address.
pub async fn create_mailing<C: ConnectionTrait>(
    db: &C,
    account_id: i64,
    input: MailingAddress,
) -> AppResult<address::Model> {
    let at = now();
    Ok(address::ActiveModel {
        addressable_type: Set(Some("Account".into())),
        addressable_id: Set(Some(account_id)),
        r#type: Set(MAILING.into()),
        serviceable: Set(false),
        line1: Set(Some(required_text("mailing_address.line1", &input.line1)?)),
        line2: Set(optional_text(
            "mailing_address.line2",
            input.line2.as_deref(),
        )?),
        city: Set(Some(required_text("mailing_address.city", &input.city)?)),
        subdivision: Set(input.subdivision),
        zip: Set(Some(required_text("mailing_address.zip", &input.zip)?)),
        country: Set(Some(input.country)),
        address_status_id: Set(input.address_status_id.map(|i| i.0)),
        is_anchor: Set(false),
        ..Default::default()
    }
    .stamped(at)
    .insert(db)
    .await?)
}

/// A one-line text snapshot of an address (kept in disconnection logs).
pub fn snapshot(a: &address::Model) -> String {
    [
        a.line1.as_deref(),
        a.line2.as_deref(),
        a.city.as_deref(),
        a.subdivision.as_deref(),
        a.zip.as_deref(),
        a.country.as_deref(),
    ]
    .into_iter()
    .flatten()
    .filter(|s| !s.is_empty())
    .collect::<Vec<_>>()
    .join(", ")
}
