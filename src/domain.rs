//! Small value rules shared by the edge (GraphQL scalars) and the service layer.

use chrono::{NaiveDate, NaiveTime};

/// A `Date`: exactly `YYYY-MM-DD`, a real calendar day.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

/// A `Time`: `HH:MM:SS` (or `HH:MM`).
pub fn parse_time(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M"))
        .ok()
}

/// `RRGGBB`, with or without a leading `#`; stored without it, upper-case.
pub fn normalize_color(s: &str) -> Option<String> {
    let hex = s.strip_prefix('#').unwrap_or(s);
    (hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| hex.to_ascii_uppercase())
}

/// A plausible email address: something@domain.tld, no spaces, at most 254 characters.
pub fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
        && s.len() <= 254
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_accept_a_leading_hash_and_refuse_other_forms() {
        assert_eq!(normalize_color("#00ff00").as_deref(), Some("00FF00"));
        assert_eq!(normalize_color("00FF00").as_deref(), Some("00FF00"));
        assert_eq!(normalize_color("#0f0"), None);
        assert_eq!(normalize_color("zzzzzz"), None);
    }

    #[test]
    fn email_addresses_need_a_local_part_and_a_dotted_domain() {
        assert!(valid_email("jane@example.com"));
        assert!(!valid_email("jane@example"));
        assert!(!valid_email("@example.com"));
        assert!(!valid_email("jane doe@example.com"));
    }
}
