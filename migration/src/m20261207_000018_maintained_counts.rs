//! Counts kept by the database in the transaction that changes them, so that neither the
//! `accounts` page's `total_count` nor the Activations & Disconnections report has to read a
//! row per account or per event:
//!
//! - `account_counts`: how many accounts there are per company, status, type and archived or
//!   not. A count of a listing filtered by those columns only is a sum over a few rows.
//! - `report_activation_tallies` (`ACTIVATED` events and the win-backs among them),
//!   `report_disconnection_tallies` (disconnection logs, by reason and for non-payment or not,
//!   with their lost MRR) and `report_status_tallies` (`STATUS_UPDATED` events, by previous
//!   and current status): per quarter hour of UTC time ([`TALLY_SECONDS`]; every time zone's
//!   midnight falls on one, so any period of local dates is a range of them) and per company
//!   of the account. Each also has a row per company at [`ALL_TIME`] holding the counts of all
//!   time (activations and status changes only), so that "active at the start of the period"
//!   needs no scan of what came before.
//!
//! Triggers keep them (PostgreSQL: one statement per inserting statement over its transition
//! table, so a bulk `COPY` costs one grouped upsert; a row trigger for updates of accounts.
//! SQLite: row triggers). An account that moves to another company moves its events' counts
//! with it. On PostgreSQL they fire `ALWAYS`, the seeder's replication-role transactions
//! included. Concurrent writers spread over [`SHARDS`] rows per key (by transaction id) instead
//! of queueing on one; readers sum the shards. Nothing here is deleted: logs and events are
//! never updated or deleted, accounts never deleted. `fathom verify` recounts them from the
//! rows.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The width of a tally's time bucket, in seconds: a quarter hour, the finest step of any
/// time zone's offset.
pub const TALLY_SECONDS: i64 = 900;

/// The bucket of the rows that count all time (before any instant a tally holds).
pub const ALL_TIME: i64 = -1_000_000_000_000;

/// Rows per key that concurrent PostgreSQL writers spread over.
pub const SHARDS: i64 = 64;

const TABLES: &[&str] = &[
    "CREATE TABLE account_counts (
  company_id BIGINT NOT NULL, account_status_id BIGINT NOT NULL, account_type_id BIGINT NOT NULL,
  archived BOOLEAN NOT NULL, shard SMALLINT NOT NULL, n BIGINT NOT NULL,
  PRIMARY KEY (company_id, account_status_id, account_type_id, archived, shard))",
    "CREATE TABLE report_activation_tallies (
  bucket BIGINT NOT NULL, company_id BIGINT NOT NULL, shard SMALLINT NOT NULL,
  activations BIGINT NOT NULL, win_backs BIGINT NOT NULL,
  PRIMARY KEY (bucket, company_id, shard))",
    "CREATE TABLE report_disconnection_tallies (
  bucket BIGINT NOT NULL, company_id BIGINT NOT NULL, reason_id BIGINT NOT NULL,
  for_non_payment BOOLEAN NOT NULL, shard SMALLINT NOT NULL,
  disconnections BIGINT NOT NULL, lost_mrr BIGINT NOT NULL,
  PRIMARY KEY (bucket, company_id, reason_id, for_non_payment, shard))",
    "CREATE TABLE report_status_tallies (
  bucket BIGINT NOT NULL, company_id BIGINT NOT NULL, previous_status TEXT NOT NULL,
  current_status TEXT NOT NULL, shard SMALLINT NOT NULL, n BIGINT NOT NULL,
  PRIMARY KEY (bucket, company_id, previous_status, current_status, shard))",
];

/// The pieces of SQL that differ between the databases.
struct Dialect {
    pg: bool,
}

impl Dialect {
    /// The tally bucket of the instant `t`.
    fn bucket(&self, t: &str) -> String {
        if self.pg {
            format!("fathom_bucket({t})")
        } else {
            // strftime('%s') reads the stored text (UTC, with its offset); floored to the bucket.
            format!(
                "(CAST(strftime('%s', {t}) AS INTEGER) - ((CAST(strftime('%s', {t}) AS INTEGER) % {TALLY_SECONDS}) + {TALLY_SECONDS}) % {TALLY_SECONDS})"
            )
        }
    }

    fn shard(&self) -> &'static str {
        if self.pg {
            "fathom_shard()"
        } else {
            "0"
        }
    }
}

/// The SQL of the tally bucket of the instant `t` (`fathom verify` recounts with it).
pub fn bucket_sql(pg: bool, t: &str) -> String {
    Dialect { pg }.bucket(t)
}

/// Where the statements below read their rows and whose counts they change.
struct Source<'a> {
    /// The events (`e`) or logs (`l`) counted: a table, a transition table or a row.
    rows: &'a str,
    /// More conditions on them (`AND …`).
    filter: &'a str,
    /// The company counted under: `a.company_id` (the account's) or a trigger's old or new one.
    company: &'a str,
    /// `1` to add, `-1` to take away.
    sign: i64,
}

/// Counts the `ACTIVATED` events of `s` (and those that won back a disconnected account) per
/// bucket and all time.
fn activations(d: &Dialect, s: &Source) -> String {
    let Source {
        rows,
        filter,
        company,
        sign,
    } = s;
    format!(
        "INSERT INTO report_activation_tallies (bucket, company_id, shard, activations, win_backs) \
         SELECT x.bucket, x.company_id, {shard}, {sign} * COUNT(*), {sign} * SUM(x.win_back) FROM (\
         SELECT {bucket} AS bucket, {company} AS company_id, \
         CASE WHEN EXISTS (SELECT 1 FROM disconnection_logs l WHERE l.account_id = e.account_id \
         AND l.disconnected_at <= e.event_datetime) THEN 1 ELSE 0 END AS win_back \
         FROM {rows} e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'ACTIVATED'{filter} \
         UNION ALL SELECT {ALL_TIME}, {company}, 0 \
         FROM {rows} e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'ACTIVATED'{filter}) x \
         WHERE 1 = 1 GROUP BY x.bucket, x.company_id ORDER BY x.bucket, x.company_id \
         ON CONFLICT (bucket, company_id, shard) DO UPDATE SET activations = report_activation_tallies.activations + excluded.activations, \
         win_backs = report_activation_tallies.win_backs + excluded.win_backs",
        shard = d.shard(),
        bucket = d.bucket("e.event_datetime"),
    )
}

/// Counts the `STATUS_UPDATED` events of `s` per bucket and all time, by previous and current
/// status (`''` for none).
fn status_changes(d: &Dialect, s: &Source) -> String {
    let Source {
        rows,
        filter,
        company,
        sign,
    } = s;
    let pair =
        "COALESCE(e.previous, '') AS previous_status, COALESCE(e.current, '') AS current_status";
    format!(
        "INSERT INTO report_status_tallies (bucket, company_id, previous_status, current_status, shard, n) \
         SELECT x.bucket, x.company_id, x.previous_status, x.current_status, {shard}, {sign} * COUNT(*) FROM (\
         SELECT {bucket} AS bucket, {company} AS company_id, {pair} \
         FROM {rows} e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'STATUS_UPDATED'{filter} \
         UNION ALL SELECT {ALL_TIME}, {company}, {pair} \
         FROM {rows} e JOIN accounts a ON a.id = e.account_id WHERE e.event = 'STATUS_UPDATED'{filter}) x \
         WHERE 1 = 1 GROUP BY x.bucket, x.company_id, x.previous_status, x.current_status \
         ORDER BY x.bucket, x.company_id, x.previous_status, x.current_status \
         ON CONFLICT (bucket, company_id, previous_status, current_status, shard) DO UPDATE SET n = report_status_tallies.n + excluded.n",
        shard = d.shard(),
        bucket = d.bucket("e.event_datetime"),
    )
}

/// Counts the disconnection logs of `s` per bucket, reason (`0` for none) and for non-payment
/// or not, with their lost MRR.
fn disconnections(d: &Dialect, s: &Source) -> String {
    let Source {
        rows,
        filter,
        company,
        sign,
    } = s;
    format!(
        "INSERT INTO report_disconnection_tallies \
         (bucket, company_id, reason_id, for_non_payment, shard, disconnections, lost_mrr) \
         SELECT x.bucket, x.company_id, x.reason_id, x.for_non_payment, {shard}, {sign} * COUNT(*), \
         {sign} * SUM(x.mrr) FROM (\
         SELECT {bucket} AS bucket, {company} AS company_id, COALESCE(l.disconnection_reason_id, 0) AS reason_id, \
         l.for_non_payment AS for_non_payment, COALESCE(l.monthly_recurring_amount, 0) AS mrr \
         FROM {rows} l JOIN accounts a ON a.id = l.account_id WHERE 1 = 1{filter}) x \
         WHERE 1 = 1 GROUP BY x.bucket, x.company_id, x.reason_id, x.for_non_payment \
         ORDER BY x.bucket, x.company_id, x.reason_id, x.for_non_payment \
         ON CONFLICT (bucket, company_id, reason_id, for_non_payment, shard) DO UPDATE SET \
         disconnections = report_disconnection_tallies.disconnections + excluded.disconnections, lost_mrr = report_disconnection_tallies.lost_mrr + excluded.lost_mrr",
        shard = d.shard(),
        bucket = d.bucket("l.disconnected_at"),
    )
}

/// The activations already counted that the new disconnection logs `logs` make win-backs: at
/// or after one of them, with no older log before.
fn late_win_backs(d: &Dialect, logs: &str) -> String {
    format!(
        "INSERT INTO report_activation_tallies (bucket, company_id, shard, activations, win_backs) \
         SELECT {bucket}, a.company_id, {shard}, 0, COUNT(*) \
         FROM account_events e JOIN accounts a ON a.id = e.account_id \
         WHERE e.event = 'ACTIVATED' AND e.account_id IN (SELECT account_id FROM {logs}) \
         AND EXISTS (SELECT 1 FROM {logs} n WHERE n.account_id = e.account_id AND n.disconnected_at <= e.event_datetime) \
         AND NOT EXISTS (SELECT 1 FROM disconnection_logs o WHERE o.account_id = e.account_id \
         AND o.disconnected_at <= e.event_datetime AND o.id NOT IN (SELECT id FROM {logs})) \
         GROUP BY 1, 2 ORDER BY 1, 2 \
         ON CONFLICT (bucket, company_id, shard) DO UPDATE SET win_backs = report_activation_tallies.win_backs + excluded.win_backs",
        shard = d.shard(),
        bucket = d.bucket("e.event_datetime"),
    )
}

/// Counts the accounts `rows` (`a`) under their company, status, type and archived or not.
fn new_accounts(d: &Dialect, rows: &str) -> String {
    format!(
        "INSERT INTO account_counts (company_id, account_status_id, account_type_id, archived, shard, n) \
         SELECT a.company_id, a.account_status_id, a.account_type_id, a.archived_at IS NOT NULL, {shard}, COUNT(*) \
         FROM {rows} a WHERE 1 = 1 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4 \
         ON CONFLICT (company_id, account_status_id, account_type_id, archived, shard) DO UPDATE SET n = account_counts.n + excluded.n",
        shard = d.shard(),
    )
}

/// An updated account (`OLD`, `NEW`) counted under its new key instead of its old one: one
/// statement, the two rows in key order (two writers lock them in the same order).
fn moved_account(d: &Dialect) -> String {
    format!(
        "INSERT INTO account_counts (company_id, account_status_id, account_type_id, archived, shard, n) \
         SELECT k.company_id, k.account_status_id, k.account_type_id, k.archived, {shard}, k.n FROM (\
         SELECT OLD.company_id AS company_id, OLD.account_status_id AS account_status_id, \
         OLD.account_type_id AS account_type_id, OLD.archived_at IS NOT NULL AS archived, -1 AS n \
         UNION ALL SELECT NEW.company_id, NEW.account_status_id, NEW.account_type_id, NEW.archived_at IS NOT NULL, 1) k \
         WHERE 1 = 1 ORDER BY 1, 2, 3, 4 \
         ON CONFLICT (company_id, account_status_id, account_type_id, archived, shard) DO UPDATE SET n = account_counts.n + excluded.n",
        shard = d.shard(),
    )
}

/// An account that changed company (`OLD`, `NEW`): its events and logs counted under the new
/// company instead of the old one.
fn moved_company(d: &Dialect) -> Vec<String> {
    let mut out = Vec::new();
    for (company, sign) in [("OLD.company_id", -1), ("NEW.company_id", 1)] {
        let events = Source {
            rows: "account_events",
            filter: " AND e.account_id = NEW.id",
            company,
            sign,
        };
        let logs = Source {
            rows: "disconnection_logs",
            filter: " AND l.account_id = NEW.id",
            company,
            sign,
        };
        out.push(activations(d, &events));
        out.push(status_changes(d, &events));
        out.push(disconnections(d, &logs));
    }
    out
}

/// What the tables count, from the rows as they are (the migration's backfill; `fathom verify`
/// compares the tables with it).
pub fn backfill(pg: bool) -> Vec<String> {
    let d = Dialect { pg };
    let all = |rows| Source {
        rows,
        filter: "",
        company: "a.company_id",
        sign: 1,
    };
    vec![
        new_accounts(&d, "accounts"),
        activations(&d, &all("account_events")),
        status_changes(&d, &all("account_events")),
        disconnections(&d, &all("disconnection_logs")),
    ]
}

/// The kept tables: name, key columns (without `shard`), counted columns.
const KEPT: &[(&str, &[&str], &[&str])] = &[
    (
        "account_counts",
        &[
            "company_id",
            "account_status_id",
            "account_type_id",
            "archived",
        ],
        &["n"],
    ),
    (
        "report_activation_tallies",
        &["bucket", "company_id"],
        &["activations", "win_backs"],
    ),
    (
        "report_disconnection_tallies",
        &["bucket", "company_id", "reason_id", "for_non_payment"],
        &["disconnections", "lost_mrr"],
    ),
    (
        "report_status_tallies",
        &["bucket", "company_id", "previous_status", "current_status"],
        &["n"],
    ),
];

/// PostgreSQL statements, one per kept table, that fold its shards into shard 0: the rows no
/// writer holds (`SKIP LOCKED`), locked in key order as writers lock them, deleted and added
/// to shard 0 in one statement. A bulk load leaves a row per bucket per loading transaction
/// and busy writers up to [`SHARDS`] per key: folded, a year of tallies is a few tens of
/// thousands of rows. The worker runs them every minute, the seeder once at its end. (SQLite
/// keeps one shard.)
pub fn compaction() -> Vec<String> {
    KEPT.iter()
        .map(|(table, keys, values)| {
            let keys_list = keys.join(", ");
            let join: Vec<String> = keys.iter().map(|k| format!("t.{k} = p.{k}")).collect();
            let returning: Vec<String> = keys
                .iter()
                .chain(values.iter())
                .map(|c| format!("t.{c}"))
                .collect();
            let sums: Vec<String> = values.iter().map(|v| format!("SUM({v})")).collect();
            let set: Vec<String> = values
                .iter()
                .map(|v| format!("{v} = {table}.{v} + excluded.{v}"))
                .collect();
            format!(
                "WITH picked AS (SELECT {keys_list}, shard FROM {table} WHERE shard <> 0 \
                 ORDER BY {keys_list}, shard FOR UPDATE SKIP LOCKED), \
                 moved AS (DELETE FROM {table} t USING picked p WHERE {join} AND t.shard = p.shard \
                 RETURNING {returning}) \
                 INSERT INTO {table} ({keys_list}, shard, {values_list}) \
                 SELECT {keys_list}, 0, {sums} FROM moved GROUP BY {keys_list} ORDER BY {keys_list} \
                 ON CONFLICT ({keys_list}, shard) DO UPDATE SET {set}",
                join = join.join(" AND "),
                returning = returning.join(", "),
                values_list = values.join(", "),
                sums = sums.join(", "),
                set = set.join(", "),
            )
        })
        .collect()
}

const PG_FUNCTIONS: &[&str] = &[
    "CREATE OR REPLACE FUNCTION fathom_bucket(t timestamptz) RETURNS bigint AS $$ \
     SELECT (floor(extract(epoch FROM t) / 900) * 900)::bigint $$ LANGUAGE sql IMMUTABLE",
    "CREATE OR REPLACE FUNCTION fathom_shard() RETURNS smallint AS $$ \
     SELECT (txid_current() % 64)::smallint $$ LANGUAGE sql VOLATILE",
];

/// PostgreSQL's trigger functions and triggers: `(function, body statements, trigger)`.
fn pg_triggers() -> Vec<(&'static str, Vec<String>, &'static str)> {
    let d = Dialect { pg: true };
    let new = |rows| Source {
        rows,
        filter: "",
        company: "a.company_id",
        sign: 1,
    };
    vec![
        (
            "fathom_count_new_accounts",
            vec![new_accounts(&d, "new_rows")],
            "CREATE TRIGGER tr_accounts_counted AFTER INSERT ON accounts REFERENCING NEW TABLE AS new_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION fathom_count_new_accounts()",
        ),
        (
            "fathom_count_moved_account",
            vec![moved_account(&d)],
            "CREATE TRIGGER tr_accounts_recounted AFTER UPDATE OF account_status_id, account_type_id, company_id, archived_at \
             ON accounts FOR EACH ROW WHEN (OLD.account_status_id <> NEW.account_status_id \
             OR OLD.account_type_id <> NEW.account_type_id OR OLD.company_id <> NEW.company_id \
             OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL)) EXECUTE FUNCTION fathom_count_moved_account()",
        ),
        (
            "fathom_tally_moved_company",
            moved_company(&d),
            "CREATE TRIGGER tr_accounts_company_tallies AFTER UPDATE OF company_id ON accounts FOR EACH ROW \
             WHEN (OLD.company_id <> NEW.company_id) EXECUTE FUNCTION fathom_tally_moved_company()",
        ),
        (
            "fathom_tally_new_events",
            // Each kind counted only when the statement inserted some: a disconnection inserts
            // a status change, a reactivation an activation.
            vec![
                format!(
                    "IF EXISTS (SELECT 1 FROM new_rows WHERE event = 'ACTIVATED') THEN {}; END IF",
                    activations(&d, &new("new_rows"))
                ),
                format!(
                    "IF EXISTS (SELECT 1 FROM new_rows WHERE event = 'STATUS_UPDATED') THEN {}; END IF",
                    status_changes(&d, &new("new_rows"))
                ),
            ],
            "CREATE TRIGGER tr_account_events_tallied AFTER INSERT ON account_events REFERENCING NEW TABLE AS new_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION fathom_tally_new_events()",
        ),
        (
            "fathom_tally_new_logs",
            vec![
                disconnections(&d, &new("new_rows")),
                late_win_backs(&d, "new_rows"),
            ],
            "CREATE TRIGGER tr_disconnection_logs_tallied AFTER INSERT ON disconnection_logs REFERENCING NEW TABLE AS new_rows \
             FOR EACH STATEMENT EXECUTE FUNCTION fathom_tally_new_logs()",
        ),
    ]
}

/// SQLite's triggers (row triggers; the new row read as a one-row table).
/// [`late_win_backs`] for the one log a row trigger of SQLite inserts, written in terms of
/// `NEW`, so that SQLite finds the account's activations by its index. (The general form, with
/// the log as a one-row subquery, made SQLite read every activation of the book for each log:
/// seeding 100,000 accounts took 146 s instead of 15.) The unary `+` keeps SQLite off the
/// index on `(event, event_datetime)`, which it chose without statistics (a seeding book is
/// analyzed only at its end) and which reads every activation after the disconnection: 60 s
/// for the same seeding.
fn late_win_backs_of_new(d: &Dialect) -> String {
    format!(
        "INSERT INTO report_activation_tallies (bucket, company_id, shard, activations, win_backs) \
         SELECT {bucket}, a.company_id, {shard}, 0, COUNT(*) \
         FROM account_events e JOIN accounts a ON a.id = e.account_id \
         WHERE e.account_id = NEW.account_id AND +e.event = 'ACTIVATED' \
         AND NEW.disconnected_at <= +e.event_datetime \
         AND NOT EXISTS (SELECT 1 FROM disconnection_logs o WHERE o.account_id = e.account_id \
         AND o.disconnected_at <= e.event_datetime AND o.id <> NEW.id) \
         GROUP BY 1, 2 ORDER BY 1, 2 \
         ON CONFLICT (bucket, company_id, shard) DO UPDATE SET win_backs = report_activation_tallies.win_backs + excluded.win_backs",
        shard = d.shard(),
        bucket = d.bucket("e.event_datetime"),
    )
}

/// SQLite's trigger on a new disconnection log (also what migration 19 puts in place of the
/// first version).
pub fn sqlite_disconnection_trigger() -> String {
    let d = Dialect { pg: false };
    let log = "(SELECT NEW.id AS id, NEW.account_id AS account_id, NEW.disconnected_at AS disconnected_at, \
               NEW.disconnection_reason_id AS disconnection_reason_id, NEW.for_non_payment AS for_non_payment, \
               NEW.monthly_recurring_amount AS monthly_recurring_amount)";
    let new = Source {
        rows: log,
        filter: "",
        company: "a.company_id",
        sign: 1,
    };
    format!(
        "CREATE TRIGGER tr_disconnection_logs_tallied AFTER INSERT ON disconnection_logs BEGIN {}; {}; END",
        disconnections(&d, &new),
        late_win_backs_of_new(&d)
    )
}

fn sqlite_triggers() -> Vec<String> {
    let d = Dialect { pg: false };
    let event = "(SELECT NEW.id AS id, NEW.account_id AS account_id, NEW.event AS event, \
                 NEW.event_datetime AS event_datetime, NEW.previous AS previous, NEW.\"current\" AS \"current\")";
    let account =
        "(SELECT NEW.company_id AS company_id, NEW.account_status_id AS account_status_id, \
                   NEW.account_type_id AS account_type_id, NEW.archived_at AS archived_at)";
    let new = |rows| Source {
        rows,
        filter: "",
        company: "a.company_id",
        sign: 1,
    };
    let body = |statements: Vec<String>| {
        statements
            .into_iter()
            .map(|s| s + ";")
            .collect::<Vec<_>>()
            .join(" ")
    };
    vec![
        format!(
            "CREATE TRIGGER tr_accounts_counted AFTER INSERT ON accounts BEGIN {} END",
            body(vec![new_accounts(&d, account)])
        ),
        format!(
            "CREATE TRIGGER tr_accounts_recounted AFTER UPDATE OF account_status_id, account_type_id, company_id, archived_at \
             ON accounts WHEN OLD.account_status_id <> NEW.account_status_id \
             OR OLD.account_type_id <> NEW.account_type_id OR OLD.company_id <> NEW.company_id \
             OR (OLD.archived_at IS NULL) <> (NEW.archived_at IS NULL) BEGIN {} END",
            body(vec![moved_account(&d)])
        ),
        format!(
            "CREATE TRIGGER tr_accounts_company_tallies AFTER UPDATE OF company_id ON accounts \
             WHEN OLD.company_id <> NEW.company_id BEGIN {} END",
            body(moved_company(&d))
        ),
        format!(
            "CREATE TRIGGER tr_account_events_tallied AFTER INSERT ON account_events \
             WHEN NEW.event = 'ACTIVATED' BEGIN {} END",
            body(vec![activations(&d, &new(event))])
        ),
        format!(
            "CREATE TRIGGER tr_account_events_status_tallied AFTER INSERT ON account_events \
             WHEN NEW.event = 'STATUS_UPDATED' BEGIN {} END",
            body(vec![status_changes(&d, &new(event))])
        ),
        sqlite_disconnection_trigger(),
    ]
}

/// The triggers: name, table, and whether PostgreSQL has it too (SQLite counts an event's two
/// kinds with a trigger each, PostgreSQL with one statement trigger).
const TRIGGERS: &[(&str, &str, bool)] = &[
    ("tr_accounts_counted", "accounts", true),
    ("tr_accounts_recounted", "accounts", true),
    ("tr_accounts_company_tallies", "accounts", true),
    ("tr_account_events_tallied", "account_events", true),
    ("tr_account_events_status_tallied", "account_events", false),
    ("tr_disconnection_logs_tallied", "disconnection_logs", true),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let pg = manager.get_database_backend() == DbBackend::Postgres;
        for sql in TABLES {
            db.execute_unprepared(sql).await?;
        }
        if pg {
            for sql in PG_FUNCTIONS {
                db.execute_unprepared(sql).await?;
            }
        }
        // The counts of the rows there are, before the triggers count what comes.
        for sql in backfill(pg) {
            db.execute_unprepared(&sql).await?;
        }
        if pg {
            for (function, statements, trigger) in pg_triggers() {
                let body: String = statements.iter().map(|s| format!("{s};\n")).collect();
                db.execute_unprepared(&format!(
                    "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$\nBEGIN\n{body}RETURN NULL;\nEND $$ LANGUAGE plpgsql"
                ))
                .await?;
                db.execute_unprepared(trigger).await?;
            }
            // The seeder's transactions set session_replication_role = replica (to skip the
            // foreign keys' own triggers): these must fire there too.
            for (trigger, table, _) in TRIGGERS.iter().filter(|t| t.2) {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ENABLE ALWAYS TRIGGER {trigger}"
                ))
                .await?;
            }
        } else {
            for sql in sqlite_triggers() {
                db.execute_unprepared(&sql).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let pg = manager.get_database_backend() == DbBackend::Postgres;
        for (trigger, table, _) in TRIGGERS {
            db.execute_unprepared(&if pg {
                format!("DROP TRIGGER IF EXISTS {trigger} ON {table}")
            } else {
                format!("DROP TRIGGER IF EXISTS {trigger}")
            })
            .await?;
        }
        if pg {
            for (function, _, _) in pg_triggers() {
                db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {function}()"))
                    .await?;
            }
            for function in ["fathom_bucket(timestamptz)", "fathom_shard()"] {
                db.execute_unprepared(&format!("DROP FUNCTION IF EXISTS {function}"))
                    .await?;
            }
        }
        for table in [
            "report_status_tallies",
            "report_disconnection_tallies",
            "report_activation_tallies",
            "account_counts",
        ] {
            db.execute_unprepared(&format!("DROP TABLE IF EXISTS {table}"))
                .await?;
        }
        Ok(())
    }
}
