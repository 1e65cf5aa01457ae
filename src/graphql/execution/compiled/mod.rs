//! The compiled read path: a query whose every field the compiler understands (root
//! collections, their pages, columns, relations, `page_info`, `__typename`, with aliases,
//! fragments, `@skip`/`@include` and variables) is answered by one SQL statement
//! ([`crate::service::read::selection`]) and written straight to JSON, without the general
//! executor building a value per field.
//!
//! It is an optimisation only. Anything else — another root field, a computed field, a
//! missing permission, a value the general path would refuse (a `null` in a non-null field, a
//! stored value outside its enum), a database error — returns `None` somewhere below, and the
//! request runs through the general resolvers, which give the same answer or the errors the
//! client must see. The document has passed async-graphql's validation before a plan runs
//! (see `crate::app`), so the values reaching here have their declared types. A differential
//! test (tests/api/compiled.rs) holds both paths to the same JSON.

pub mod cache;
mod plan;
mod writer;

use sea_orm::DatabaseConnection;

use crate::db::inline::InlineReads;
use crate::error::AppError;

use crate::service::read::selection::{self, Page};

pub use plan::plan;

/// The extension of the validating schema ([`crate::graphql::schema::build_validator`]): a request that
/// passed validation stops where execution would begin.
pub struct ValidateOnly;

impl async_graphql::extensions::ExtensionFactory for ValidateOnly {
    fn create(&self) -> std::sync::Arc<dyn async_graphql::extensions::Extension> {
        std::sync::Arc::new(ValidateOnly)
    }
}

#[async_graphql::async_trait::async_trait]
impl async_graphql::extensions::Extension for ValidateOnly {
    async fn execute(
        &self,
        _ctx: &async_graphql::extensions::ExtensionContext<'_>,
        _operation_name: Option<&str>,
        _next: async_graphql::extensions::NextExecute<'_>,
    ) -> async_graphql::Response {
        async_graphql::Response::new(async_graphql::Value::Null)
    }
}

/// Why a plan gives no answer of its own (other than falling back).
enum Refusal {
    /// A cached authentication that no longer holds.
    Stale,
    /// The database could not serve the statement.
    Unavailable(AppError),
}

/// A compiled query: the pages one statement reads, and how to write the answer.
pub struct Plan {
    pages: Vec<Page>,
    roots: Vec<RootOut>,
}

enum RootOut {
    Typename(String),
    Connection {
        key: String,
        page: usize,
        out: ConnOut,
    },
}

struct ConnOut {
    page: u64,
    records_per_page: u64,
    fields: Vec<ConnField>,
}

enum ConnField {
    Typename(String, &'static str),
    Entities(String, Vec<Out>),
    PageInfo(String, Vec<PageField>),
}

enum PageField {
    Typename(String),
    Page(String),
    RecordsPerPage(String),
    TotalCount(String),
    TotalPages(String),
}

/// One field of a row.
enum Out {
    Typename(String, &'static str),
    Cell {
        key: String,
        index: usize,
        format: Format,
        non_null: bool,
    },
    SonarId {
        key: String,
        index: usize,
        type_name: &'static str,
    },
    Version {
        key: String,
        index: Option<usize>,
    },
    ToOne {
        key: String,
        index: usize,
        fields: Vec<Out>,
    },
    Many {
        key: String,
        index: usize,
        out: ConnOut,
    },
}

/// The output check of a scalar type that has one ([`scalars::validator`]).
type Check = Option<fn(&async_graphql::Value) -> bool>;

/// How a stored value is written, as [`scalars::to_graphql`] and the scalar's validator
/// would write it.
#[derive(Clone, Copy)]
enum Format {
    /// An integer column as `Int64Bit`: a string.
    IdString,
    Integer(Check),
    Float(Check),
    Bool,
    /// A string, checked by the output type's validator when it has one.
    Text(Check),
    /// A string that must be one of the enum's values.
    Enum(&'static [(&'static str, &'static str)]),
    Date,
    Datetime,
}

/// What running a plan came to.
pub enum Outcome {
    /// The whole response body (`{"data":…}`).
    Answer(String),
    /// The general resolvers must answer.
    Fallback,
    /// The cached authentication the plan was made for is no longer current.
    Stale,
    /// The database could not serve the statement (`UNAVAILABLE`): the general path would
    /// find it so too, so the request answers this at once.
    Unavailable(AppError),
}

impl Plan {
    /// Runs the plan. `check` is a cached authentication to confirm in the same statement:
    /// the token's hash and the stamp it had. On SQLite, `inline` runs the statement on this
    /// thread when it can ([`crate::db::inline`]); the pool of `db` otherwise.
    pub async fn run(
        &self,
        db: &DatabaseConnection,
        inline: Option<&InlineReads>,
        check: Option<(&str, &str)>,
    ) -> Outcome {
        match self.answer(db, inline, check).await {
            Ok(Some(body)) => Outcome::Answer(body),
            Ok(None) => Outcome::Fallback,
            Err(Refusal::Stale) => Outcome::Stale,
            Err(Refusal::Unavailable(err)) => Outcome::Unavailable(err),
        }
    }

    async fn answer(
        &self,
        db: &DatabaseConnection,
        inline: Option<&InlineReads>,
        check: Option<(&str, &str)>,
    ) -> Result<Option<String>, Refusal> {
        let json = match (self.pages.is_empty(), check) {
            (true, None) => Ok("[null]".to_owned()),
            _ => selection::read(db, inline, check.map(|(hash, _)| hash), &self.pages).await,
        };
        let json = match json {
            Ok(json) => json,
            Err(err @ AppError::Unavailable(_)) => return Err(Refusal::Unavailable(err)),
            Err(err) => {
                tracing::debug!(error = %err, "compiled read fell back to the resolvers");
                return Ok(None);
            }
        };
        let Ok(serde_json::Value::Array(mut pages)) = serde_json::from_str(&json) else {
            return Ok(None);
        };
        if pages.is_empty() {
            return Ok(None);
        }
        let stamp = pages.remove(0);
        if let Some((_, expected)) = check {
            if stamp.as_str() != Some(expected) {
                return Err(Refusal::Stale);
            }
        }
        Ok(self.write(&pages))
    }
}

#[cfg(test)]
mod tests {
    use super::plan::format;
    use super::writer::{stored_instant, write_cell};
    use super::*;
    use crate::auth::CurrentUser;
    use crate::graphql::schema::scalars;
    use crate::service::read::selection::ColumnKind;
    use async_graphql::Variables;

    fn planned(query: &str, permissions: Vec<crate::auth::Permission>) -> bool {
        let doc = async_graphql::parser::parse_query(query).unwrap();
        let user = CurrentUser {
            user_id: 1,
            token_id: 1,
            permissions,
        };
        plan(&doc, None, &Variables::default(), &user).is_some()
    }

    #[test]
    fn a_caller_without_the_read_permission_is_left_to_the_resolvers() {
        use crate::auth::Permission::{AccountsRead, BillingRead};
        let accounts = "{ accounts { entities { name } } }";
        let invoices = "{ accounts { entities { name invoices { entities { id } } } } }";
        assert!(planned(accounts, vec![AccountsRead]));
        assert!(!planned(accounts, vec![]));
        assert!(!planned(invoices, vec![AccountsRead]));
        assert!(planned(invoices, vec![AccountsRead, BillingRead]));
        // Mutations, introspection and computed fields are never compiled.
        assert!(!planned("mutation { __typename }", vec![AccountsRead]));
        assert!(!planned(
            "{ __schema { types { name } } }",
            vec![AccountsRead]
        ));
        assert!(!planned(
            "{ roles { entities { applied_permissions } } }",
            vec![AccountsRead]
        ));
    }

    #[test]
    fn stored_instants_in_every_form_read_back_as_the_same_utc_instant() {
        let expected = "2026-03-01T17:30:05+00:00";
        for stored in [
            "2026-03-01T17:30:05+00:00",
            "2026-03-01T11:30:05-06:00",
            "2026-03-01T17:30:05.25+00:00",
            "2026-03-01 17:30:05",
            "2026-03-01 17:30:05+00:00",
        ] {
            let at = stored_instant(stored).expect(stored);
            assert_eq!(scalars::format_datetime(&at), expected, "{stored}");
        }
        assert!(stored_instant("yesterday").is_none());
    }

    #[test]
    fn formats_follow_the_general_resolvers() {
        assert!(matches!(
            format("Int64Bit", ColumnKind::BigInt),
            Some(Format::IdString)
        ));
        assert!(matches!(
            format("Int", ColumnKind::Int),
            Some(Format::Integer(None))
        ));
        // An enum stored as a number is not guessed at.
        assert!(format("Country", ColumnKind::BigInt).is_none());
        assert!(format("Datetime", ColumnKind::Other).is_none());
        let mut w = String::new();
        write_cell(&mut w, Format::Float(None), &serde_json::json!(2)).unwrap();
        assert_eq!(w, "2.0");
        // A value its scalar's check refuses is left to the general path (which reports it).
        let latitude = format("Latitude", ColumnKind::Double).unwrap();
        assert!(write_cell(&mut w, latitude, &serde_json::json!(91.5)).is_none());
        assert!(write_cell(&mut w, latitude, &serde_json::json!(41.5)).is_some());
    }
}
