//! Test harness: a fresh fathom (migrated, seeded) on SQLite or PostgreSQL, driven through
//! its router exactly as HTTP clients drive it.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use fathom::service::{base::clock, billing::pass};
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{json, Value};
use tower::ServiceExt;

use fathom::config::Config;

pub struct TestApp {
    pub router: Router,
    /// The same server with the compiled read path turned off: every query [`TestApp::gql_as`]
    /// sends is also answered here, and the two answers must agree.
    pub general: Router,
    pub db: DatabaseConnection,
    pub token: String,
    pub backend: &'static str,
    /// A database URL that reaches this test's data (for running the `fathom` binary on it).
    pub url: String,
    /// What [`Drop`] removes: this test's database, also when the test fails.
    cleanup: Option<Cleanup>,
}

/// `FATHOM_TEST_POSTGRES_URL`, the PostgreSQL that the PostgreSQL half of each test runs on.
/// When it is not set the PostgreSQL half is skipped, and the first test to notice says so on
/// one line that the test runner does not capture; with `FATHOM_TEST_REQUIRE_POSTGRES=1` (set
/// by `.ci/run`) a missing URL fails the test instead.
pub fn postgres_url() -> Option<String> {
    static SAID: std::sync::Once = std::sync::Once::new();
    let url = std::env::var("FATHOM_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        assert!(
            std::env::var_os("FATHOM_TEST_REQUIRE_POSTGRES").is_none(),
            "FATHOM_TEST_REQUIRE_POSTGRES is set but FATHOM_TEST_POSTGRES_URL is not"
        );
        SAID.call_once(|| {
            use std::io::Write;
            // Written to the process's stderr, not through eprintln!, which the runner captures.
            let _ = writeln!(
                std::io::stderr(),
                "FATHOM_TEST_POSTGRES_URL is not set: the PostgreSQL half of every test is skipped"
            );
        });
    }
    url
}

/// A file of `../shared`, the contract checked out beside the project, for the tests that
/// hold the code to it. A clone on its own has no `../shared`: then the test that asked says on
/// one line, which the test runner does not capture, that it was skipped, and passes (`None`);
/// with `FATHOM_TEST_REQUIRE_SHARED=1` (set by `.ci/run`) a missing file fails it instead.
pub fn shared_file(test: &str, name: &str) -> Option<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared")
        .join(name);
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(text),
        Err(e) => {
            assert!(
                std::env::var_os("FATHOM_TEST_REQUIRE_SHARED").is_none(),
                "FATHOM_TEST_REQUIRE_SHARED is set but {} cannot be read: {e}",
                path.display()
            );
            use std::io::Write;
            // Written to the process's stderr, not through eprintln!, which the runner captures.
            let _ = writeln!(
                std::io::stderr(),
                "{test}: skipped, {} cannot be read ({e}): check the contract out in ../shared beside the project",
                path.display()
            );
            None
        }
    }
}

enum Cleanup {
    /// The test removes the database itself.
    Nothing,
    SqliteFile(std::path::PathBuf),
    PostgresSchema {
        admin_url: String,
        schema: String,
    },
}

fn unique(prefix: &str) -> String {
    use rand::Rng;
    format!(
        "{prefix}_{:012x}",
        rand::rng().random::<u64>() & 0xffff_ffff_ffff
    )
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let path = std::env::temp_dir().join(format!("{}.db", unique("fathom_test")));
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::start(&url, None, "sqlite", Cleanup::SqliteFile(path)).await
    }

    /// A fresh fathom in the SQLite file `path` (removed with the app).
    pub async fn sqlite_at(path: &std::path::Path) -> TestApp {
        let url = format!("sqlite://{}?mode=rwc", path.display());
        Self::start(&url, None, "sqlite", Cleanup::SqliteFile(path.to_owned())).await
    }

    /// A fresh fathom in the PostgreSQL database at `url`, one the test owns (a cluster of its
    /// own, removed by the test).
    pub async fn postgres_at(url: &str) -> TestApp {
        Self::start(url, None, "postgres", Cleanup::Nothing).await
    }

    /// `None` when `FATHOM_TEST_POSTGRES_URL` is not set (see [`postgres_url`]).
    pub async fn postgres() -> Option<TestApp> {
        let admin_url = postgres_url()?;
        let schema = unique("t");
        let admin = fathom::db::connect(&admin_url)
            .await
            .expect("connect to PostgreSQL");
        admin
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                format!("CREATE SCHEMA {schema}"),
            ))
            .await
            .expect("create schema");
        admin.close().await.ok();
        Some(
            Self::start(
                &admin_url,
                Some(&schema),
                "postgres",
                Cleanup::PostgresSchema {
                    admin_url: admin_url.clone(),
                    schema: schema.clone(),
                },
            )
            .await,
        )
    }

    async fn start(
        url: &str,
        schema: Option<&str>,
        backend: &'static str,
        cleanup: Cleanup,
    ) -> TestApp {
        let mut config = Config::for_database(url);
        // Webhook receivers in tests listen on 127.0.0.1, over http.
        config.limits.webhooks.allow_http = true;
        config.limits.webhooks.allow_private = true;
        // As `fathom serve` connects: statements limited to a second past the request timeout.
        let db = fathom::db::connect_with(url, schema, Some(config.limits.statement_timeout()))
            .await
            .expect("connect");
        fathom::db::migrate(&db).await.expect("migrate");
        let token = fathom::tooling::seed::seed_defaults(&db)
            .await
            .expect("seed")
            .expect("a new admin token");
        let router = fathom::app::router(db.clone(), &config).expect("router");
        let mut general_config = config.clone();
        general_config.compiled_reads = false;
        let general = fathom::app::router(db.clone(), &general_config).expect("router");
        let url = match schema {
            Some(schema) => {
                let sep = if url.contains('?') { "&" } else { "?" };
                format!("{url}{sep}options=-c%20search_path%3D{schema}")
            }
            None => url.to_owned(),
        };
        TestApp {
            router,
            general,
            db,
            token,
            backend,
            url,
            cleanup: Some(cleanup),
        }
    }

    /// Turns the per-token rate limit off on this app's routers (for tests that build large
    /// books through the API).
    pub fn lift_rate_limit(&mut self) {
        let mut config = Config::for_database(&self.url);
        config.limits.webhooks.allow_http = true;
        config.limits.webhooks.allow_private = true;
        config.limits.rate_limit_per_minute = 0;
        self.router = fathom::app::router(self.db.clone(), &config).expect("router");
        config.compiled_reads = false;
        self.general = fathom::app::router(self.db.clone(), &config).expect("router");
    }

    /// Closes the connection and removes the test's database (as dropping the app does).
    pub async fn finish(self) {
        self.db.clone().close().await.ok();
    }

    /// Sends a raw request; returns the status and the body parsed as JSON (or as a string).
    pub async fn send(&self, request: Request<Body>) -> (StatusCode, Value) {
        let (status, _, bytes) = answer(&self.router, request).await;
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        (status, body)
    }

    /// Sends a raw request; returns the status, the headers and the body as text.
    pub async fn send_full(
        &self,
        request: Request<Body>,
    ) -> (StatusCode, axum::http::HeaderMap, String) {
        let (status, headers, bytes) = answer(&self.router, request).await;
        (
            status,
            headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    pub async fn post_raw(
        &self,
        token: Option<&str>,
        body: impl Into<Body>,
    ) -> (StatusCode, Value) {
        self.send(graphql_request(token, body)).await
    }

    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let request = json!({ "query": query, "variables": variables }).to_string();
        let (status, body) = self.post_raw(Some(token), request.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        if !query.trim_start().starts_with("mutation") {
            // Every read of every test, answered by the general resolvers too.
            let general = graphql_request(Some(token), request);
            let (_, _, bytes) = answer(&self.general, general).await;
            let general: Value = serde_json::from_slice(&bytes).expect("JSON");
            assert_eq!(
                comparable(body.clone()),
                comparable(general),
                "the compiled and general paths answer {query} differently"
            );
        }
        body
    }

    /// Runs a query as admin and returns the whole response (`data` and `errors`).
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        self.gql_as(&self.token, query, variables).await
    }

    /// Runs a query as admin that must succeed; returns `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let body = self.gql(query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body}");
        body["data"].clone()
    }

    /// Runs a query as admin that must fail; returns the first error's code.
    pub async fn code(&self, query: &str, variables: Value) -> String {
        let body = self.gql(query, variables).await;
        error_code(&body).unwrap_or_else(|| panic!("expected an error: {body}"))
    }

    /// A snapshot of the database's rows, to show that a refused request wrote nothing: for
    /// each table, its row count and a hash of its rows (every column read as text, the rows
    /// sorted), so that any insert, delete or change of a value shows, whether or not it
    /// bumped `version`. Every table of the test's database is read (found in the catalogue,
    /// so a new table is covered), but for what is written whatever the work did (a request's
    /// authentication, a billing pass's record of itself): see [`NOT_FINGERPRINTED`].
    pub async fn fingerprint(&self) -> Vec<(String, i64, u64)> {
        use std::hash::{Hash, Hasher};
        let backend = self.db.get_database_backend();
        let catalogue = match backend {
            DbBackend::Postgres => {
                "SELECT CAST(c.relname AS TEXT) AS t, CAST(a.attname AS TEXT) AS c \
                 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_attribute a ON a.attrelid = c.oid \
                 WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
                 AND NOT a.attisdropped ORDER BY c.relname, a.attnum"
            }
            _ => {
                "SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p \
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 ORDER BY m.name, p.cid"
            }
        };
        let mut tables: Vec<(String, Vec<String>)> = Vec::new();
        for row in self
            .db
            .query_all_raw(Statement::from_string(backend, catalogue.to_owned()))
            .await
            .unwrap()
        {
            let table: String = row.try_get("", "t").unwrap();
            let column: String = row.try_get("", "c").unwrap();
            if NOT_FINGERPRINTED.contains(&(table.as_str(), "*"))
                || NOT_FINGERPRINTED.contains(&(table.as_str(), column.as_str()))
            {
                continue;
            }
            match tables.last_mut() {
                Some((last, columns)) if *last == table => columns.push(column),
                _ => tables.push((table, vec![column])),
            }
        }
        assert!(
            tables.iter().any(|(t, _)| t == "accounts"),
            "the catalogue lists the tables: {tables:?}"
        );
        let mut out = Vec::new();
        for (table, columns) in tables {
            // Each value as its length and its text, so that no two rows read alike; NULL apart.
            let row_text = columns
                .iter()
                .map(|c| {
                    format!(
                        "CASE WHEN \"{c}\" IS NULL THEN 'N' ELSE 'V' || CAST(LENGTH(CAST(\"{c}\" AS TEXT)) AS TEXT) || ':' || CAST(\"{c}\" AS TEXT) END"
                    )
                })
                .collect::<Vec<_>>()
                .join(" || ");
            let sql = format!("SELECT {row_text} AS t FROM \"{table}\"");
            let mut rows = self.rows_of(&sql).await;
            rows.sort_unstable();
            let mut hasher = std::collections::hash_map::DefaultHasher::new();
            rows.hash(&mut hasher);
            out.push((table, rows.len() as i64, hasher.finish()));
        }
        out
    }
}

/// What [`TestApp::fingerprint`] leaves out, as `(table, column)` (`"*"`: the whole table),
/// each written whatever the work it goes with did. Authenticating any request: on PostgreSQL
/// every operation spends a permit of its token's shared rate-limit bucket (a row of
/// `rate_limit_buckets`), and a token's `last_used_at` is stamped at most once a minute. And
/// the log of billing passes, where every completed pass counts itself (`billing_passes`), a
/// second one for a date that bills nothing included; no request writes it.
pub const NOT_FINGERPRINTED: &[(&str, &str)] = &[
    ("rate_limit_buckets", "*"),
    ("personal_access_tokens", "last_used_at"),
    ("billing_passes", "*"),
    ("delinquency_passes", "*"),
];

/// A POST of `body` to /api/graphql as JSON, with `token` as its bearer token if given.
pub fn graphql_request(token: Option<&str>, body: impl Into<Body>) -> Request<Body> {
    let mut builder = Request::post("/api/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    builder.body(body.into()).unwrap()
}

/// What `router` answers to `request`: its status, headers and body.
pub async fn answer(
    router: &Router,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, axum::body::Bytes) {
    let response = router.clone().oneshot(request).await.expect("router");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, bytes)
}

/// An answer in a form two equal answers share: the general executor places an object's keys
/// in the order its fields finish (two async fields may come either way) and validation
/// reports some errors in hash order, so keys compare as sets (serde_json's map is sorted)
/// and errors as a sorted list.
pub fn comparable(mut value: Value) -> Value {
    fn sort_errors(value: &mut Value) {
        if let Some(Value::Array(errors)) = value.get_mut("errors") {
            errors.sort_by_key(|e| e.to_string());
        }
    }
    sort_errors(&mut value);
    if let Value::Array(items) = &mut value {
        items.iter_mut().for_each(sort_errors);
    }
    value
}

/// Removes the test's database when the app goes away, also when the test panicked: the
/// SQLite file, or the PostgreSQL schema (dropped over a connection of its own, on a thread
/// with its own runtime, since `Drop` cannot wait on the test's).
impl Drop for TestApp {
    fn drop(&mut self) {
        match self.cleanup.take() {
            Some(Cleanup::SqliteFile(path)) => {
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
                }
            }
            Some(Cleanup::PostgresSchema { admin_url, schema }) => {
                let _ = std::thread::spawn(move || {
                    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                    else {
                        return;
                    };
                    runtime.block_on(async {
                        if let Ok(admin) = fathom::db::connect(&admin_url).await {
                            let _ = admin
                                .execute_raw(Statement::from_string(
                                    DbBackend::Postgres,
                                    format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
                                ))
                                .await;
                            admin.close().await.ok();
                        }
                    });
                })
                .join();
            }
            Some(Cleanup::Nothing) | None => {}
        }
    }
}

pub fn error_code(body: &Value) -> Option<String> {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .map(String::from)
}

/// Runs the test body on SQLite, and on PostgreSQL when `FATHOM_TEST_POSTGRES_URL` is set
/// (see [`postgres_url`]).
#[macro_export]
macro_rules! on_both {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            use super::*;
            async fn run($app: &common::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = common::TestApp::sqlite().await;
                run(&app).await;
                app.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(app) = common::TestApp::postgres().await else {
                    return;
                };
                run(&app).await;
                app.finish().await;
            }
        }
    };
}

/// Creates an account through the API and returns its id.
pub async fn create_account(app: &TestApp, name: &str, status_id: i64) -> i64 {
    let data = app
        .ok(
            "mutation($input: CreateAccountMutationInput) { createAccount(input: $input) { id } }",
            json!({ "input": {
                "name": name, "account_status_id": status_id, "account_type_id": 1, "company_id": 1,
                "primary_contact": { "name": format!("{name} contact"), "email_address": "someone@example.com" }
            }}),
        )
        .await;
    data["createAccount"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Creates a serviceable address through the API and returns its id.
pub async fn create_address(app: &TestApp, line1: &str) -> i64 {
    let data = app
        .ok(
            "mutation($input: CreateServiceableAddressMutationInput) { createServiceableAddress(input: $input) { id } }",
            json!({ "input": {
                "line1": line1, "city": "Springfield", "subdivision": "US_IL", "zip": "62701", "country": "US",
                "latitude": 39.78, "longitude": -89.65
            }}),
        )
        .await;
    data["createServiceableAddress"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Noon UTC of a date, as an instant for [`fathom::service::base::clock::at_instant`].
pub fn noon(date: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(&format!("{date}T12:00:00+00:00"))
        .unwrap()
        .with_timezone(&chrono::Utc)
}

pub fn day(date: &str) -> chrono::NaiveDate {
    chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap()
}

impl TestApp {
    /// Runs a query as admin with "now" fixed at `instant`; must succeed.
    pub async fn ok_at(
        &self,
        instant: chrono::DateTime<chrono::Utc>,
        query: &str,
        variables: Value,
    ) -> Value {
        clock::at_instant(instant, self.ok(query, variables)).await
    }

    /// Creates a recurring service and returns its id.
    pub async fn recurring_service(&self, name: &str, amount: i64, months: i64) -> i64 {
        let data = self
            .ok(
                "mutation($input: CreateRecurringServiceMutationInput) { createRecurringService(input: $input) { id } }",
                json!({"input": {"enabled": true, "name": name, "application": "DEBIT", "amount": amount, "billing_frequency": months}}),
            )
            .await;
        data["createRecurringService"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Creates a one-time service and returns its id.
    pub async fn one_time_service(&self, name: &str, amount: i64, credit: bool) -> i64 {
        let application = if credit { "CREDIT" } else { "DEBIT" };
        let data = self
            .ok(
                "mutation($input: CreateOneTimeServiceMutationInput) { createOneTimeService(input: $input) { id } }",
                json!({"input": {"enabled": true, "name": name, "application": application, "amount": amount}}),
            )
            .await;
        data["createOneTimeService"]["id"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Creates an active account at `instant` (so it activates on that date) and returns its id.
    pub async fn account_activated_at(
        &self,
        name: &str,
        instant: chrono::DateTime<chrono::Utc>,
    ) -> i64 {
        clock::at_instant(instant, create_account(self, name, 1)).await
    }

    /// The number a `SELECT COUNT(*) AS n …` (or any query with one column `n`) answers.
    pub async fn count(&self, sql: &str) -> i64 {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        row.try_get("", "n").unwrap()
    }

    /// The text column `t` of every row `sql` answers.
    pub async fn rows_of(&self, sql: &str) -> Vec<String> {
        self.db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .unwrap()
            .iter()
            .map(|row| row.try_get("", "t").unwrap())
            .collect()
    }

    /// Each account service's recurring debits cover contiguous, non-overlapping periods, and
    /// every proration credit lies within its debit and does not exceed it.
    pub async fn assert_billing_is_contiguous(&self) {
        let rows = self
            .db
            .query_all_raw(Statement::from_string(
                self.db.get_database_backend(),
                "SELECT account_service_id, prorated_from, prorated_to FROM debits WHERE account_service_id IS NOT NULL ORDER BY account_service_id, prorated_from".to_owned(),
            ))
            .await
            .unwrap();
        let mut previous: Option<(i64, chrono::NaiveDate)> = None;
        for row in rows {
            let service: i64 = row.try_get("", "account_service_id").unwrap();
            let from: chrono::NaiveDate = row.try_get("", "prorated_from").unwrap();
            let to: chrono::NaiveDate = row.try_get("", "prorated_to").unwrap();
            assert!(
                from <= to,
                "a period ends before it starts ({})",
                self.backend
            );
            if let Some((prev_service, prev_to)) = previous {
                if prev_service == service {
                    assert_eq!(
                        from,
                        prev_to.succ_opt().unwrap(),
                        "account service {service}: a gap or an overlap ({})",
                        self.backend
                    );
                }
            }
            previous = Some((service, to));
        }
        let bad = self
            .count(
                "SELECT COUNT(*) AS n FROM discounts x JOIN debits d ON d.id = x.debit_id WHERE x.amount > d.amount OR x.prorated_to <> d.prorated_to OR x.prorated_from < d.prorated_from OR x.prorated_from > d.prorated_to",
            )
            .await;
        assert_eq!(
            bad, 0,
            "proration credits stay within their debits ({})",
            self.backend
        );
    }

    /// DESIGN §6's money invariants, over every invoice and discount.
    pub async fn assert_money_conserved(&self) {
        let checks = [
            ("invoice total_debits = sum of its debits",
             "SELECT COUNT(*) AS n FROM invoices i WHERE i.void = FALSE AND i.total_debits <> (SELECT COALESCE(SUM(d.amount), 0) FROM debits d WHERE d.invoice_id = i.id)"),
            ("invoice remaining_due = total_debits - credits applied - payments applied",
             "SELECT COUNT(*) AS n FROM invoices i WHERE i.void = FALSE AND i.remaining_due <> i.total_debits - (SELECT COALESCE(SUM(a.amount), 0) FROM invoice_discount_applications a WHERE a.invoice_id = i.id AND a.undone = FALSE) - (SELECT COALESCE(SUM(p.amount), 0) FROM invoice_payment_applications p WHERE p.invoice_id = i.id AND p.undone = FALSE)"),
            ("a void invoice has no debits, nothing due, nothing applied",
             "SELECT COUNT(*) AS n FROM invoices i WHERE i.void = TRUE AND (i.remaining_due <> 0 OR EXISTS (SELECT 1 FROM debits d WHERE d.invoice_id = i.id) OR EXISTS (SELECT 1 FROM invoice_discount_applications a WHERE a.invoice_id = i.id AND a.undone = FALSE) OR EXISTS (SELECT 1 FROM invoice_payment_applications p WHERE p.invoice_id = i.id AND p.undone = FALSE))"),
            ("payment amount = amount_remaining + applied (not undone), nothing left once undone",
             "SELECT COUNT(*) AS n FROM payments x WHERE (x.reversed = FALSE AND x.amount <> x.amount_remaining + (SELECT COALESCE(SUM(a.amount), 0) FROM invoice_payment_applications a WHERE a.payment_id = x.id AND a.undone = FALSE)) OR (x.reversed = TRUE AND (x.amount_remaining <> 0 OR EXISTS (SELECT 1 FROM invoice_payment_applications a WHERE a.payment_id = x.id AND a.undone = FALSE)))"),
            ("a payment's 0 <= amount_remaining <= amount", "SELECT COUNT(*) AS n FROM payments WHERE amount_remaining < 0 OR amount_remaining > amount"),
            ("discount amount = amount_remaining + applied",
             "SELECT COUNT(*) AS n FROM discounts x WHERE x.amount <> x.amount_remaining + (SELECT COALESCE(SUM(a.amount), 0) FROM invoice_discount_applications a WHERE a.discount_id = x.id AND a.undone = FALSE)"),
            ("0 <= amount_remaining <= amount", "SELECT COUNT(*) AS n FROM discounts WHERE amount_remaining < 0 OR amount_remaining > amount"),
            ("remaining_due >= 0", "SELECT COUNT(*) AS n FROM invoices WHERE remaining_due < 0"),
            ("a debit is credited at most once", "SELECT COUNT(*) AS n FROM (SELECT debit_id FROM discounts WHERE debit_id IS NOT NULL GROUP BY debit_id HAVING COUNT(*) > 1) x"),
        ];
        for (what, sql) in checks {
            assert_eq!(self.count(sql).await, 0, "{what} ({})", self.backend);
        }
    }
}

/// An account activated on Jan 15 with a $50 monthly service billed for Jan 15 – Feb 14, a
/// serviceable address, and an uninvoiced $25 one-time charge.
pub async fn billed_account(app: &TestApp, name: &str) -> (i64, i64) {
    let t0 = noon("2026-01-15");
    let address = create_address(app, &format!("{name} street")).await;
    let account = app.account_activated_at(name, t0).await;
    app.ok_at(t0, "mutation($id: Int64Bit!, $a: Int64Bit) { updateAccount(id: $id, input: {serviceable_address_id: $a}) { id } }", json!({"id": account, "a": address})).await;
    let fiber = app
        .recurring_service(&format!("{name} fiber"), 5000, 1)
        .await;
    app.ok_at(
        t0,
        "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }",
        json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
    )
    .await;
    pass::run_pass(&app.db, day("2026-01-15")).await.unwrap();
    let install = app
        .one_time_service(&format!("{name} install"), 2500, false)
        .await;
    app.ok_at(t0, "mutation($s: Int64Bit!, $a: Int64Bit!) { createAccountOneTimeTransaction(input: {service_id: $s, account_id: $a, quantity: 1}) { id } }", json!({"s": install, "a": account})).await;
    (account, address)
}

/// A router over `app`'s database whose connection counts the statements it sends (through
/// sea-orm's metric hook, which sees every statement but `BEGIN`, `COMMIT` and `ROLLBACK`),
/// with the rate limit out of the way.
pub async fn counting(
    app: &TestApp,
) -> (axum::Router, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let mut db = app.db.clone();
    let seen = count.clone();
    fathom::db::on_each_statement(&mut db, move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let mut config = fathom::config::Config::for_database(&app.url);
    config.limits.rate_limit_per_minute = 1_000_000;
    config.limits.rate_limit_burst = 1_000_000;
    (fathom::app::router(db, &config).unwrap(), count)
}

/// The statements one `disconnectAccount` of `account` (with proration) sends, `BEGIN` and
/// `COMMIT` included and authentication not, at 2026-02-01 noon; a disconnection of `other`
/// first warms what a server keeps (the token, the settings). Each part is counted, none
/// assumed: the statements sea-orm's hook sees, less those that authenticate (they read or
/// stamp `personal_access_tokens`), plus two for each write transaction opened (its `BEGIN`,
/// and the `COMMIT` that ends it: the disconnection answered without errors, so none rolled
/// back), which that hook does not see.
pub async fn statements_of_a_disconnection(app: &TestApp, account: i64, other: i64) -> usize {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let mut db = app.db.clone();
    let record = seen.clone();
    fathom::db::on_each_statement(&mut db, move |info| {
        record.lock().unwrap().push(info.statement.sql.clone());
    });
    let transactions = Arc::new(AtomicUsize::new(0));
    let opened = transactions.clone();
    let _hook = fathom::db::on_each_transaction(&app.db, move || {
        opened.fetch_add(1, Ordering::SeqCst);
    });
    let mut config = fathom::config::Config::for_database(&app.url);
    config.limits.rate_limit_per_minute = 1_000_000;
    config.limits.rate_limit_burst = 1_000_000;
    let router = fathom::app::router(db, &config).unwrap();
    let send = |id: i64| {
        let body = json!({
            "query": "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { id next_recurring_charge_amount } }",
            "variables": {"id": id},
        });
        let router = router.clone();
        let token = app.token.clone();
        async move {
            let request = graphql_request(Some(&token), body.to_string());
            let (_, _, bytes) =
                clock::at_instant(noon("2026-02-01"), answer(&router, request)).await;
            let answer: Value = serde_json::from_slice(&bytes).unwrap();
            assert!(answer.get("errors").is_none(), "{answer}");
        }
    };
    send(other).await;
    seen.lock().unwrap().clear();
    transactions.store(0, Ordering::SeqCst);
    send(account).await;
    let seen = seen.lock().unwrap().clone();
    let (authentication, work): (Vec<&String>, Vec<&String>) = seen
        .iter()
        .partition(|sql| sql.contains("personal_access_tokens"));
    let transactions = transactions.load(Ordering::SeqCst);
    assert!(
        !authentication.is_empty() && transactions >= 1,
        "the request authenticated ({authentication:?}) and wrote in a transaction ({transactions})"
    );
    work.len() + 2 * transactions
}

/// A personal access token of a new user `username` with the built-in role `role`.
pub async fn token_with_role(app: &TestApp, role: &str, username: &str) -> String {
    let role_id = app
        .ok(
            "query($name: String) { roles(name: $name) { entities { id } } }",
            json!({"name": role}),
        )
        .await["roles"]["entities"][0]["id"]
        .clone();
    let user = app
        .ok(
            "mutation($input: CreateUserMutationInput) { createUser(input: $input) { id } }",
            json!({"input": {"name": username, "username": username, "public_name": username, "email_address": "someone@example.com", "role_id": role_id}}),
        )
        .await;
    let user_id: i64 = user["createUser"]["id"].as_str().unwrap().parse().unwrap();
    fathom::service::access::tokens::create_token_for_caller(&app.db, user_id, "t")
        .await
        .unwrap()
        .1
        .as_str()
        .to_owned()
}

/// The `current` record (parsed) of the last audit row of type `kind` about account `account`,
/// read through the `logs` collection.
pub async fn last_account_log(app: &TestApp, account: i64, kind: &str) -> Value {
    let logs = app
        .ok(
            "query($id: Int64Bit) { logs(loggable_type: \"Account\", loggable_id: $id) { entities { type current } } }",
            serde_json::json!({"id": account}),
        )
        .await;
    let last = logs["logs"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|l| l["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} audit row for account {account}"))
        .clone();
    serde_json::from_str(last["current"].as_str().unwrap()).unwrap()
}

/// Waits until a `fathom serve` on `port` answers `/healthz` (a minute at most).
pub async fn wait_healthy(port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::time::Instant::now() < deadline {
        if let Ok(mut stream) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            let _ = stream
                .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .await;
            let mut out = String::new();
            let _ = stream.read_to_string(&mut out).await;
            if out.starts_with("HTTP/1.1 200") {
                return;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("fathom did not become healthy");
}

/// `fathom verify`'s violations in `app`'s database, as text.
pub async fn violations(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    fathom::tooling::verify::verify(&app.db, |progress| {
        if let fathom::tooling::verify::Progress::Violation(v) = progress {
            found.push(v.to_string());
        }
    })
    .await
    .unwrap();
    found
}
