//! Small value rules shared by the edge (GraphQL scalars) and the service layer.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};

/// The years a date or an instant (in UTC) may fall in. Both databases store them as text or
/// as values that sort correctly only within four-digit years; outside them the output
/// scalars could not print them either.
pub const YEARS: std::ops::RangeInclusive<i32> = 1..=9999;

/// A `Date`: exactly `YYYY-MM-DD`, a real calendar day, in years 1–9999.
pub fn parse_date(s: &str) -> Option<NaiveDate> {
    if s.len() != 10 {
        return None;
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| YEARS.contains(&d.year()))
}

/// A `Datetime`: RFC 3339 with an offset, in years 1–9999 once converted to UTC
/// (`9999-12-31T23:00:00-14:00` is in year 10000 and refused).
pub fn parse_datetime(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .filter(|d| YEARS.contains(&d.year()))
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
    fn instants_must_fall_in_years_1_to_9999_in_utc() {
        assert!(parse_datetime("9999-12-31T23:00:00Z").is_some());
        assert!(parse_datetime("9999-12-31T23:00:00-14:00").is_none());
        assert!(parse_datetime("0001-01-01T00:00:00+01:00").is_none());
        assert!(parse_datetime("2026-01-31T17:00:00-06:00").is_some());
    }

    #[test]
    fn dates_must_fall_in_years_1_to_9999() {
        assert!(parse_date("0000-12-31").is_none());
        assert!(parse_date("0001-01-01").is_some());
        assert!(parse_date("9999-12-31").is_some());
    }

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

/// Declares a closed set of values stored as text: the enum, its stored text (`as_str`) and
/// `parse` back from it.
macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and shown through the API.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The value whose stored text is `text`.
            pub fn parse(text: &str) -> Option<$name> {
                match text {
                    $($text => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl From<$name> for sea_orm::Value {
            fn from(value: $name) -> sea_orm::Value {
                value.as_str().into()
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.as_str().to_owned()
            }
        }
    };
}

stored_enum! {
    /// The kinds of scheduled event fathom carries out (`scheduled_events.event`). Sonar has
    /// more; scheduling another is `UNSUPPORTED_EVENT`.
    EventKind {
        DisconnectAccount = "DISCONNECT_ACCOUNT",
        ChangeStatus = "CHANGE_STATUS",
        AddService = "ADD_SERVICE",
        RemoveService = "REMOVE_SERVICE",
        OneTimeTransaction = "ONE_TIME_TRANSACTION",
    }
}

stored_enum! {
    /// Where a scheduled event stands (`scheduled_events.status`).
    EventStatus {
        /// Waiting for its datetime (or for a retry).
        Pending = "PENDING",
        Completed = "COMPLETED",
        /// Refused when it ran, or out of retries.
        Failed = "FAILED",
        /// Deleted, or made moot by a disconnection; kept as the record of what was planned.
        Cancelled = "CANCELLED",
    }
}

stored_enum! {
    /// How a service is billed (`services.type`, copied onto debits and discounts).
    ServiceType {
        /// Every billing cycle (or every `billing_frequency` cycles).
        Recurring = "RECURRING",
        /// Once, when added or charged.
        OneTime = "ONETIME",
    }
}

stored_enum! {
    /// Whether a service charges the account or credits it (`services.application`).
    ServiceApplication {
        Debit = "DEBIT",
        Credit = "CREDIT",
    }
}

stored_enum! {
    /// What an audit row records (`logs.type`).
    LogType {
        Created = "CREATED",
        Updated = "UPDATED",
        Deleted = "DELETED",
        Attached = "ATTACHED",
        Detached = "DETACHED",
        /// A change made by fathom itself (the billing pass, the scheduler).
        System = "SYSTEM",
    }
}
