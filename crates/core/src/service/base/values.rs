//! Values as inputs arrive: ids given as numbers or strings, lists given as one value, dates
//! and texts checked with the field they came in (`VALIDATION_FAILED` naming it).

use serde::{Deserialize, Deserializer};

use crate::error::{AppError, AppResult};

/// An id given as a JSON number or a string of digits (Sonar scripts send both).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Id(pub i64);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Int(i64),
            Str(String),
        }
        match Raw::deserialize(d)? {
            Raw::Int(i) => Ok(Id(i)),
            Raw::Str(s) => s
                .trim()
                .parse()
                .map(Id)
                .map_err(|_| serde::de::Error::custom("not an id")),
        }
    }
}

/// A list argument that may arrive as a single value (Sonar scripts send both).
#[derive(Debug, Clone, PartialEq)]
pub struct OneOrMany<T>(pub Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw<T> {
            Many(Vec<T>),
            One(T),
        }
        Ok(match Raw::deserialize(d)? {
            Raw::Many(v) => OneOrMany(v),
            Raw::One(v) => OneOrMany(vec![v]),
        })
    }
}

/// A `Date` input, or `VALIDATION_FAILED` naming `field`.
pub fn date_input(field: &str, value: &str) -> AppResult<chrono::NaiveDate> {
    crate::domain::parse_date(value)
        .ok_or_else(|| AppError::validation(field, format!("{field} must be YYYY-MM-DD")))
}

/// `Some(value)` unless `value` is empty after trimming; refuses an empty required string.
pub fn required_text(field: &str, value: &str) -> AppResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(AppError::validation(
            field,
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().count() > 255 {
        return Err(AppError::validation(
            field,
            format!("{field} must be at most 255 characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

pub fn optional_text(field: &str, value: Option<&str>) -> AppResult<Option<String>> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => required_text(field, v).map(Some),
    }
}

/// One page of a collection.
#[derive(Debug, Clone)]
pub struct Page<M> {
    pub items: Vec<M>,
    pub page: u64,
    pub records_per_page: u64,
    pub total_count: u64,
}

impl<M> Page<M> {
    pub fn total_pages(&self) -> u64 {
        self.total_count
            .div_ceil(Ord::max(self.records_per_page, 1))
    }
}
