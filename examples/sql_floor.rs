//! The benchmark's SQL floor on SQLite (`bash bench/run` builds and runs it): the statements a
//! minimal implementation of a workload needs, sent through the same driver and connection
//! settings as fathom (sqlx; WAL, `synchronous = FULL`, foreign keys on, 32 MiB of page
//! cache, the query planner stability guarantee), with no GraphQL, no HTTP and no ORM.
//! PostgreSQL's floors are pgbench scripts; this plays pgbench's part for SQLite, where a load
//! generator must run in the server's process.
//!
//! ```text
//! sql_floor --url sqlite://book.db --script floor.sql --items items.txt [--clients 4]
//!           [--seconds 10] [--write] [--batch N]
//! ```
//!
//! `floor.sql` holds statements separated by lines holding only `;`, with `:name` parameters.
//! `items.txt` holds one item per line as `name=value` pairs separated by spaces (integers);
//! each item runs every statement once. With `--write`, `--batch` items (one by default) run
//! in one transaction (`BEGIN IMMEDIATE`, as fathom's writes do); a read's statements run in
//! autocommit, as a read needs no transaction. With `--seconds` the items are cycled until the
//! time is up; without it each item runs once. Prints one line: `FLOOR {"ops": …, "n": …, …}`
//! (items per second and items done; p50 and p99 of a transaction's time).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sea_orm::sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sea_orm::sqlx::{self, Executor};

struct Args {
    url: String,
    script: String,
    items: String,
    clients: usize,
    seconds: Option<f64>,
    write: bool,
    batch: usize,
}

fn args() -> Args {
    let mut out = Args {
        url: String::new(),
        script: String::new(),
        items: String::new(),
        clients: 4,
        seconds: None,
        write: false,
        batch: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--url" => out.url = value(),
            "--script" => out.script = value(),
            "--items" => out.items = value(),
            "--clients" => out.clients = value().parse().expect("--clients N"),
            "--seconds" => out.seconds = Some(value().parse().expect("--seconds S")),
            "--write" => out.write = true,
            "--batch" => out.batch = value().parse().expect("--batch N"),
            other => panic!("unknown argument {other}"),
        }
    }
    out
}

/// One statement with `:name` turned into `?`, and the names in order.
fn prepare(sql: &str) -> (String, Vec<String>) {
    let (mut text, mut names) = (String::new(), Vec::new());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_name = chars
            .peek()
            .is_some_and(|n| n.is_ascii_alphabetic() || *n == '_');
        if c == ':' && starts_name && !text.ends_with(':') {
            let mut name = String::new();
            while let Some(&n) = chars.peek() {
                if n.is_ascii_alphanumeric() || n == '_' {
                    name.push(n);
                    chars.next();
                } else {
                    break;
                }
            }
            text.push('?');
            names.push(name);
        } else {
            text.push(c);
        }
    }
    (text, names)
}

#[tokio::main]
async fn main() {
    let args = args();
    let script = std::fs::read_to_string(&args.script).expect("the script");
    let statements: Arc<Vec<(String, Vec<String>)>> = Arc::new(
        script
            .split("\n;\n")
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(prepare)
            .collect(),
    );
    let items: Arc<Vec<HashMap<String, i64>>> = Arc::new(
        std::fs::read_to_string(&args.items)
            .expect("the items")
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|line| {
                line.split_whitespace()
                    .map(|pair| {
                        let (k, v) = pair.split_once('=').expect("name=value");
                        (k.to_owned(), v.parse().expect("an integer"))
                    })
                    .collect()
            })
            .collect(),
    );
    let path = args.url.trim_start_matches("sqlite://");
    let path = path.split('?').next().unwrap_or(path);
    let options = SqliteConnectOptions::new()
        .filename(path)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(60))
        .foreign_keys(true)
        // fathom's page cache per connection (src/db.rs).
        .pragma("cache_size", "-32768");
    let pool = SqlitePoolOptions::new()
        .max_connections(args.clients as u32)
        .after_connect(|conn, _| Box::pin(fathom_core::db::sqlite_stable_plans(conn)))
        .connect_with(options)
        .await
        .expect("open the database");

    let next = Arc::new(AtomicUsize::new(0));
    let deadline = args
        .seconds
        .map(|s| Instant::now() + Duration::from_secs_f64(s));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..args.clients {
        let (pool, statements, items, next) = (
            pool.clone(),
            statements.clone(),
            items.clone(),
            next.clone(),
        );
        let (write, batch) = (args.write, args.batch.max(1));
        tasks.push(tokio::spawn(async move {
            let (mut latencies, mut done) = (Vec::new(), 0usize);
            let mut conn = pool.acquire().await.expect("a connection");
            loop {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    break;
                }
                let first = next.fetch_add(batch, Ordering::Relaxed);
                let last = match deadline {
                    None if first >= items.len() => break,
                    None => (first + batch).min(items.len()),
                    Some(_) => first + batch,
                };
                let at = Instant::now();
                if write {
                    conn.execute("BEGIN IMMEDIATE").await.expect("begin");
                }
                for i in first..last {
                    let item = &items[i % items.len()];
                    for (sql, names) in statements.iter() {
                        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql.as_str()));
                        for name in names {
                            query =
                                query.bind(*item.get(name).expect("a value for each parameter"));
                        }
                        query
                            .fetch_all(&mut *conn)
                            .await
                            .expect("a floor statement");
                    }
                }
                if write {
                    conn.execute("COMMIT").await.expect("commit");
                }
                done += last - first;
                latencies.push(at.elapsed().as_secs_f64() * 1000.0);
            }
            (latencies, done)
        }));
    }
    let (mut latencies, mut done) = (Vec::new(), 0usize);
    for task in tasks {
        let (mine, n) = task.await.expect("a client");
        latencies.extend(mine);
        done += n;
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "FLOOR {{\"ops\": {:.3}, \"n\": {}, \"p50\": {:.3}, \"p99\": {:.3}, \"seconds\": {:.3}}}",
        done as f64 / elapsed,
        done,
        pick(0.5),
        pick(0.99),
        elapsed
    );
}
