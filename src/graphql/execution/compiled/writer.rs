//! Writing a [`Plan`]'s answer: the rows the statement returned, straight to the response's
//! JSON, checked as the general path would check them (a value it would refuse makes the
//! request fall back).

use std::fmt::Write as _;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

use super::*;
use crate::graphql::schema::scalars;

impl Plan {
    pub(super) fn write(&self, pages: &[serde_json::Value]) -> Option<String> {
        // A page of 100 short rows fits without growing.
        let mut w = String::with_capacity(8 * 1024);
        w.push_str("{\"data\":{");
        for (i, root) in self.roots.iter().enumerate() {
            if i > 0 {
                w.push(',');
            }
            match root {
                RootOut::Typename(key) => {
                    write_key(&mut w, key);
                    w.push_str("\"Query\"");
                }
                RootOut::Connection { key, page, out } => {
                    write_key(&mut w, key);
                    write_connection(&mut w, out, pages.get(*page)?)?;
                }
            }
        }
        w.push_str("}}");
        Some(w)
    }
}
fn write_key(w: &mut String, key: &str) {
    // Response keys are GraphQL names: nothing to escape.
    w.push('"');
    w.push_str(key);
    w.push_str("\":");
}

fn write_str(w: &mut String, s: &str) {
    // serde_json escapes exactly as the general path's serializer does.
    w.push_str(&serde_json::to_string(s).unwrap_or_default());
}

fn write_connection(w: &mut String, out: &ConnOut, page: &serde_json::Value) -> Option<()> {
    let page = page.as_array()?;
    let total = page.first().and_then(|t| t.as_u64());
    let rows = page.get(1).and_then(|r| r.as_array());
    w.push('{');
    for (i, field) in out.fields.iter().enumerate() {
        if i > 0 {
            w.push(',');
        }
        match field {
            ConnField::Typename(key, name) => {
                write_key(w, key);
                write_str(w, name);
            }
            ConnField::Entities(key, fields) => {
                write_key(w, key);
                w.push('[');
                for (j, row) in rows?.iter().enumerate() {
                    if j > 0 {
                        w.push(',');
                    }
                    write_row(w, fields, row.as_array()?)?;
                }
                w.push(']');
            }
            ConnField::PageInfo(key, fields) => {
                write_key(w, key);
                w.push('{');
                for (j, field) in fields.iter().enumerate() {
                    if j > 0 {
                        w.push(',');
                    }
                    match field {
                        PageField::Typename(key) => {
                            write_key(w, key);
                            w.push_str("\"PageInfo\"");
                        }
                        PageField::Page(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", out.page);
                        }
                        PageField::RecordsPerPage(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", out.records_per_page);
                        }
                        PageField::TotalCount(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", total?);
                        }
                        PageField::TotalPages(key) => {
                            write_key(w, key);
                            let _ = write!(w, "{}", total?.div_ceil(out.records_per_page.max(1)));
                        }
                    }
                }
                w.push('}');
            }
        }
    }
    w.push('}');
    Some(())
}

fn write_row(w: &mut String, fields: &[Out], row: &[serde_json::Value]) -> Option<()> {
    w.push('{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            w.push(',');
        }
        match field {
            Out::Typename(key, name) => {
                write_key(w, key);
                write_str(w, name);
            }
            Out::Cell {
                key,
                index,
                format,
                non_null,
            } => {
                write_key(w, key);
                let value = row.get(*index)?;
                if value.is_null() {
                    if *non_null {
                        return None;
                    }
                    w.push_str("null");
                } else {
                    write_cell(w, *format, value)?;
                }
            }
            Out::SonarId {
                key,
                index,
                type_name,
            } => {
                write_key(w, key);
                let id = row.get(*index)?.as_i64().unwrap_or_default();
                write_str(w, &format!("{type_name}:{id}"));
            }
            Out::Version { key, index } => {
                write_key(w, key);
                let version = index
                    .and_then(|i| row.get(i))
                    .and_then(|v| v.as_i64())
                    .unwrap_or(0);
                let _ = write!(w, "\"{version}\"");
            }
            Out::ToOne { key, index, fields } => {
                write_key(w, key);
                match row.get(*index)? {
                    serde_json::Value::Null => w.push_str("null"),
                    value => write_row(w, fields, value.as_array()?)?,
                }
            }
            Out::Many { key, index, out } => {
                write_key(w, key);
                write_connection(w, out, row.get(*index)?)?;
            }
        }
    }
    w.push('}');
    Some(())
}

pub(super) fn write_cell(w: &mut String, format: Format, value: &serde_json::Value) -> Option<()> {
    use serde_json::Value as J;
    match (format, value) {
        (Format::IdString, J::Number(n)) => {
            let _ = write!(w, "\"{}\"", n.as_i64()?);
        }
        (Format::Integer(check), J::Number(n)) => {
            let n = n.as_i64()?;
            checked(check, || async_graphql::Value::from(n))?;
            let _ = write!(w, "{n}");
        }
        (Format::Float(check), J::Number(n)) => {
            let n = n.as_f64()?;
            checked(check, || async_graphql::Value::from(n))?;
            let _ = write!(w, "{}", serde_json::Number::from_f64(n)?);
        }
        (Format::Bool, J::Bool(b)) => w.push_str(if *b { "true" } else { "false" }),
        (Format::Bool, J::Number(n)) => w.push_str(if n.as_i64()? != 0 { "true" } else { "false" }),
        (Format::Text(check), J::String(s)) => {
            checked(check, || async_graphql::Value::String(s.clone()))?;
            write_str(w, s);
        }
        (Format::Enum(values), J::String(s)) => {
            if !values.iter().any(|(v, _)| v == s) {
                return None;
            }
            write_str(w, s);
        }
        (Format::Date, J::String(s)) => {
            let date = NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()?;
            let _ = write!(w, "\"{}\"", date.format("%Y-%m-%d"));
        }
        (Format::Datetime, J::String(s)) => {
            write_str(w, &scalars::format_datetime(&stored_instant(s)?));
        }
        _ => return None,
    }
    Some(())
}

/// `Some` when the output type has no check or `value` passes it.
fn checked(check: Check, value: impl FnOnce() -> async_graphql::Value) -> Option<()> {
    match check {
        Some(check) if !check(&value()) => None,
        _ => Some(()),
    }
}

/// An instant as the databases hand it over in JSON: RFC 3339 from PostgreSQL (in the
/// session's time zone) and from what sqlx stores in SQLite; a few other forms SQLite may hold.
pub(super) fn stored_instant(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(s) {
        return Some(at.with_timezone(&Utc));
    }
    for form in ["%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%dT%H:%M:%S%.f%#z"] {
        if let Ok(at) = DateTime::parse_from_str(s, form) {
            return Some(at.with_timezone(&Utc));
        }
    }
    for form in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(at) = NaiveDateTime::parse_from_str(s, form) {
            return Some(at.and_utc());
        }
    }
    None
}
