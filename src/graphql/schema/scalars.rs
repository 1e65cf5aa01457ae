//! Sonar's custom scalars, and conversions between stored values and GraphQL values.
//!
//! `Int64Bit` is output as a string and accepted as an int or a string; `Date` is
//! `YYYY-MM-DD`; `Datetime` is ISO 8601 with an offset (output in UTC). The other custom
//! scalars are strings checked for their form.

use async_graphql::dynamic::Scalar;
use async_graphql::{Name, Value};
use chrono::{DateTime, SecondsFormat, Utc};

pub use crate::domain::{normalize_color, parse_date, parse_datetime, parse_time, valid_email};
use crate::service::read::collection::FilterValue;

pub fn parse_i64(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub fn format_datetime(d: &DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A coordinate within `limit` degrees, from a number or a numeric string; kept as text so
/// that no precision is lost.
pub fn parse_coordinate(value: &Value, limit: f64) -> Option<String> {
    let text = match value {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    let parsed: f64 = text.parse().ok()?;
    (parsed.is_finite() && parsed.abs() <= limit).then_some(text)
}

fn string_of_form(value: &Value, check: fn(&str) -> bool) -> bool {
    matches!(value, Value::String(s) if check(s))
}

/// The description of one of fathom's own scalars (what its values look like).
pub fn describe(name: &str) -> Option<&'static str> {
    DESCRIPTIONS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| *d)
}

const DESCRIPTIONS: &[(&str, &str)] = &[
    ("Int64Bit", "A 64-bit integer id. Output as a string; accepted as an int or a string."),
    ("Date", "A calendar date, YYYY-MM-DD, in years 1 to 9999."),
    ("Datetime", "An instant, ISO 8601 with an offset (e.g. 2026-01-31T17:00:00-06:00), in years 1 to 9999 once in UTC. Output in UTC."),
    ("HtmlHexColor", "A colour as six hexadecimal digits; a leading # is accepted."),
    ("EmailAddress", "An email address such as name@example.com."),
    ("Latitude", "Degrees north, -90 to 90; a number or a numeric string."),
    ("Longitude", "Degrees east, -180 to 180; a number or a numeric string."),
    ("Time", "A local time of day, HH:MM:SS."),
    ("Text", "A string that may be long."),
    ("Numeric", "A string of digits (e.g. a phone number)."),
    ("URL", "An absolute http(s) URL."),
    ("HttpsUrl", "An absolute https:// URL (http:// is accepted where the server allows it: FATHOM_WEBHOOK_ALLOW_HTTP)."),
    ("Geopoint", "A point as \"latitude,longitude\"."),
];

fn scalar(name: &str) -> Scalar {
    Scalar::new(name).description(describe(name).unwrap_or_default())
}

/// fathom's own scalars, in the order they are registered.
const CUSTOM: &[&str] = &[
    "Int64Bit",
    "Date",
    "Datetime",
    "HtmlHexColor",
    "EmailAddress",
    "Latitude",
    "Longitude",
    "Time",
    "Text",
    "Numeric",
    "URL",
    "HttpsUrl",
    "Geopoint",
];

pub fn scalars() -> Vec<Scalar> {
    CUSTOM
        .iter()
        .map(|name| match validator(name) {
            Some(check) => scalar(name).validator(check),
            None => scalar(name),
        })
        .collect()
}

/// The check a value of scalar `name` must pass, as input and as output (the compiled read
/// path applies it too).
pub fn validator(name: &str) -> Option<fn(&Value) -> bool> {
    Some(match name {
        "Int64Bit" => |v| parse_i64(v).is_some(),
        "Date" => |v| string_of_form(v, |s| parse_date(s).is_some()),
        "Datetime" => |v| string_of_form(v, |s| parse_datetime(s).is_some()),
        "HtmlHexColor" => |v| string_of_form(v, |s| normalize_color(s).is_some()),
        "EmailAddress" => |v| string_of_form(v, valid_email),
        "Latitude" => |v| parse_coordinate(v, 90.0).is_some(),
        "Longitude" => |v| parse_coordinate(v, 180.0).is_some(),
        "Time" => |v| string_of_form(v, |s| parse_time(s).is_some()),
        "Text" => |v| matches!(v, Value::String(_)),
        "Numeric" => |v| {
            string_of_form(v, |s| {
                !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
            })
        },
        "URL" | "HttpsUrl" => {
            |v| string_of_form(v, |s| s.starts_with("http://") || s.starts_with("https://"))
        }
        "Geopoint" => |v| {
            string_of_form(v, |s| {
                s.split_once(',').is_some_and(|(a, b)| {
                    a.trim().parse::<f64>().is_ok_and(|x| x.abs() <= 90.0)
                        && b.trim().parse::<f64>().is_ok_and(|y| y.abs() <= 180.0)
                })
            })
        },
        _ => return None,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Float,
    Bool,
    Date,
    Datetime,
    String,
}

pub fn kind_of(base_type: &str) -> Kind {
    match base_type {
        "Int64Bit" | "Int" => Kind::Int,
        "Float" => Kind::Float,
        "Boolean" => Kind::Bool,
        "Date" => Kind::Date,
        "Datetime" => Kind::Datetime,
        _ => Kind::String,
    }
}

pub fn is_builtin_scalar(base_type: &str) -> bool {
    matches!(
        base_type,
        "Int64Bit"
            | "Int"
            | "Float"
            | "Boolean"
            | "Date"
            | "Datetime"
            | "String"
            | "ID"
            | "HtmlHexColor"
            | "EmailAddress"
            | "Latitude"
            | "Longitude"
            | "Time"
            | "Text"
            | "Numeric"
            | "URL"
            | "HttpsUrl"
            | "Geopoint"
    )
}

/// A stored value as the GraphQL value of a field of `base_type`.
pub fn to_graphql(base_type: &str, value: sea_orm::Value) -> Value {
    use sea_orm::Value as V;
    let enum_like = !is_builtin_scalar(base_type);
    match value {
        V::BigInt(Some(i)) if base_type == "Int64Bit" => Value::String(i.to_string()),
        V::Int(Some(i)) if base_type == "Int64Bit" => Value::String(i.to_string()),
        V::BigInt(Some(i)) => Value::from(i),
        V::Int(Some(i)) => Value::from(i),
        V::Bool(Some(b)) => Value::Boolean(b),
        V::Double(Some(f)) => Value::from(f),
        V::Float(Some(f)) => Value::from(f as f64),
        V::String(Some(s)) if enum_like => Value::Enum(Name::new(s)),
        V::String(Some(s)) => Value::String(s),
        V::ChronoDate(Some(d)) => Value::String(d.format("%Y-%m-%d").to_string()),
        V::ChronoDateTimeUtc(Some(d)) => Value::String(format_datetime(&d)),
        _ => Value::Null,
    }
}

/// A GraphQL input value as a filter value for a field of `base_type`.
pub fn to_filter(base_type: &str, value: &Value) -> Option<FilterValue> {
    Some(match kind_of(base_type) {
        Kind::Int => FilterValue::Int(parse_i64(value)?),
        Kind::Float => match value {
            Value::Number(n) => FilterValue::Float(n.as_f64()?),
            _ => return None,
        },
        Kind::Bool => match value {
            Value::Boolean(b) => FilterValue::Bool(*b),
            _ => return None,
        },
        Kind::Date => match value {
            Value::String(s) => FilterValue::Date(parse_date(s)?),
            _ => return None,
        },
        Kind::Datetime => match value {
            Value::String(s) => FilterValue::Datetime(parse_datetime(s)?),
            _ => return None,
        },
        Kind::String => match value {
            Value::String(s) => FilterValue::Str(s.clone()),
            Value::Enum(n) => FilterValue::Str(n.to_string()),
            _ => return None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_accepted_as_numbers_or_strings_and_nothing_else() {
        assert_eq!(parse_i64(&Value::from(5)), Some(5));
        assert_eq!(parse_i64(&Value::String("1234".into())), Some(1234));
        assert_eq!(parse_i64(&Value::String("12a".into())), None);
        assert_eq!(parse_i64(&Value::Boolean(true)), None);
    }

    #[test]
    fn dates_must_be_real_calendar_days() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2024-2-1").is_none());
    }

    #[test]
    fn coordinates_accept_numbers_and_numeric_strings_within_range() {
        assert_eq!(
            parse_coordinate(&Value::from(39.7817), 90.0).as_deref(),
            Some("39.7817")
        );
        assert_eq!(
            parse_coordinate(&Value::String("-89.65".into()), 180.0).as_deref(),
            Some("-89.65")
        );
        assert_eq!(parse_coordinate(&Value::from(91), 90.0), None);
    }

    #[test]
    fn ids_are_output_as_strings() {
        assert_eq!(
            to_graphql("Int64Bit", sea_orm::Value::BigInt(Some(7))),
            Value::String("7".into())
        );
        assert_eq!(
            to_graphql("Int", sea_orm::Value::BigInt(Some(7))),
            Value::from(7)
        );
    }
}
