//! Dates when no account is switched or disconnected for non-payment (Sonar's
//! `DelinquencyExclusion`): a day and a month, of one year or (`year` null) of every year.
//! [`excludes`] is what the delinquency pass asks.

use chrono::{Datelike, NaiveDate};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait,
    QueryFilter, Set,
};

use crate::entity::delinquency_exclusion as exclusion;
use crate::error::{AppError, AppResult};
use crate::service::base::{
    audit,
    clock::now,
    store::{begin_write, find, save, Stamped},
    values::required_text,
};

crate::input! {
    /// Input of `createDelinquencyExclusion`.
    pub struct CreateDelinquencyExclusion as "CreateDelinquencyExclusionMutationInput" {
        name: String => "String!";
        day: i32 => "Int!", "1 to 31, a day the month has.";
        month: i32 => "Int!", "1 to 12.";
        year: Option<i32> => "Int", "Leave it out for the day and month of every year.";
    }
}

crate::input! {
    /// Input of `updateDelinquencyExclusion`.
    #[derive(Default)]
    pub struct UpdateDelinquencyExclusion as "UpdateDelinquencyExclusionMutationInput" {
        name: Option<String> => "String";
        day: Option<i32> => "Int";
        month: Option<i32> => "Int";
        year: Option<i32> => "Int";
        unset_year: Option<bool> => "Boolean", "Make it the day and month of every year.";
    }
}

/// Checks a day, month and year: the date must exist (February 29 only in a leap year, or
/// every year when `year` is null: then it is the 29th in leap years only).
fn check(day: i32, month: i32, year: Option<i32>) -> AppResult<()> {
    if !(1..=12).contains(&month) {
        return Err(AppError::validation("month", "month is 1 to 12"));
    }
    if let Some(y) = year {
        if !(1..=9999).contains(&y) {
            return Err(AppError::validation("year", "year is 1 to 9999"));
        }
    }
    // A leap year stands for every year when none is given.
    let probe = year.unwrap_or(2000);
    if day < 1 || NaiveDate::from_ymd_opt(probe, month as u32, day as u32).is_none() {
        return Err(AppError::validation(
            "day",
            format!(
                "day {day} is not a day of month {month}{}",
                match year {
                    Some(y) => format!(" in {y}"),
                    None => String::new(),
                }
            ),
        ));
    }
    Ok(())
}

/// `createDelinquencyExclusion`.
pub async fn create(
    db: &DatabaseConnection,
    user_id: i64,
    input: CreateDelinquencyExclusion,
) -> AppResult<exclusion::Model> {
    let name = required_text("name", &input.name)?;
    check(input.day, input.month, input.year)?;
    let txn = begin_write(db).await?;
    let model = exclusion::ActiveModel {
        name: Set(name),
        day: Set(input.day),
        month: Set(input.month),
        year: Set(input.year),
        ..Default::default()
    }
    .stamped(now())
    .insert(&txn)
    .await?;
    audit::created(&txn, model.id, user_id, &model).await?;
    txn.commit().await?;
    Ok(model)
}

/// `updateDelinquencyExclusion`: the fields given; `unset_year` makes it yearly.
pub async fn update(
    db: &DatabaseConnection,
    user_id: i64,
    id: i64,
    input: UpdateDelinquencyExclusion,
) -> AppResult<exclusion::Model> {
    if input.unset_year == Some(true) && input.year.is_some() {
        return Err(AppError::validation(
            "unset_year",
            "give year or unset_year, not both",
        ));
    }
    let txn = begin_write(db).await?;
    let old = find::<exclusion::Entity, _>(&txn, id).await?;
    let day = input.day.unwrap_or(old.day);
    let month = input.month.unwrap_or(old.month);
    let year = if input.unset_year == Some(true) {
        None
    } else {
        input.year.or(old.year)
    };
    check(day, month, year)?;
    let mut am: exclusion::ActiveModel = old.clone().into();
    if let Some(name) = &input.name {
        am.name = Set(required_text("name", name)?);
    }
    am.day = Set(day);
    am.month = Set(month);
    am.year = Set(year);
    let new = save(&txn, id, old.version, am).await?;
    audit::updated(
        &txn,
        id,
        user_id,
        &old,
        &new,
        "delinquency exclusion updated",
    )
    .await?;
    txn.commit().await?;
    Ok(new)
}

/// `deleteDelinquencyExclusion`: a setting, not history, so it goes (with its audit row).
pub async fn delete(db: &DatabaseConnection, user_id: i64, id: i64) -> AppResult<()> {
    let txn = begin_write(db).await?;
    let old = find::<exclusion::Entity, _>(&txn, id).await?;
    exclusion::Entity::delete_many()
        .filter(Condition::all().add(exclusion::Column::Id.eq(id)))
        .exec(&txn)
        .await?;
    audit::deleted(&txn, id, user_id, &old).await?;
    txn.commit().await?;
    Ok(())
}

/// Whether `date` is excluded: an exclusion of its day and month, of its year or of every
/// year. One statement.
pub async fn excludes<C: ConnectionTrait>(db: &C, date: NaiveDate) -> AppResult<bool> {
    let found = exclusion::Entity::find()
        .filter(exclusion::Column::Day.eq(date.day() as i32))
        .filter(exclusion::Column::Month.eq(date.month() as i32))
        .filter(
            Condition::any()
                .add(exclusion::Column::Year.is_null())
                .add(exclusion::Column::Year.eq(date.year())),
        )
        .one(db)
        .await?;
    Ok(found.is_some())
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_date_must_exist_and_february_29_is_yearly_only_as_a_leap_day() {
        assert!(check(29, 2, None).is_ok());
        assert!(check(29, 2, Some(2028)).is_ok());
        assert_eq!(
            check(29, 2, Some(2027)).unwrap_err().to_string(),
            "day 29 is not a day of month 2 in 2027"
        );
        assert!(check(31, 4, None).is_err());
        assert!(check(0, 1, None).is_err());
        assert!(check(1, 13, None).is_err());
        assert!(check(1, 1, Some(0)).is_err());
        assert!(check(25, 12, Some(2026)).is_ok());
    }
}
