//! Idempotency keys (DESIGN §5): a POST with `Idempotency-Key` runs at most once per key and
//! token for 24 hours; a replay answers the first response and writes nothing; another body
//! is refused; a request still running is refused; a crash between a commit and the answer
//! leaves a key whose replay answers what was committed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use sea_orm::{ConnectionTrait, Statement, TransactionTrait};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::common::{self, billed_account, error_code, TestApp};
use fathom::service::base::{clock, idempotency};

const DISCONNECT: &str = "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { id account_status_id account_status { name } disconnection_logs { entities { id final_invoice_id prorated } } } }";

#[derive(Debug)]
struct Answer {
    status: StatusCode,
    replayed: bool,
    raw: String,
    body: Value,
}

async fn send_keyed(router: Router, token: String, key: String, body: String) -> Answer {
    let request = Request::post("/api/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .header("idempotency-key", key)
        .body(Body::from(body))
        .unwrap();
    let response = router.oneshot(request).await.unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotency-replayed")
        .is_some_and(|v| v == "true");
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let raw = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&raw).unwrap_or(Value::Null);
    Answer {
        status,
        replayed,
        raw,
        body,
    }
}

async fn keyed(app: &TestApp, key: &str, body: &str) -> Answer {
    send_keyed(
        app.router.clone(),
        app.token.clone(),
        key.to_owned(),
        body.to_owned(),
    )
    .await
}

fn disconnect_body(account: i64) -> String {
    json!({ "query": DISCONNECT, "variables": { "id": account } }).to_string()
}

async fn disconnections(app: &TestApp, account: i64) -> i64 {
    app.count(&format!(
        "SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account}"
    ))
    .await
}

on_both!(
    a_replayed_disconnection_answers_the_first_response_and_writes_nothing,
    |app| {
        let (account, _) = billed_account(app, "Replay").await;
        let body = disconnect_body(account);
        let first = keyed(app, "disconnect-replay-1", &body).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.raw);
        assert!(first.body.get("errors").is_none(), "{}", first.raw);
        assert!(!first.replayed, "the first answer is not a replay");
        assert_eq!(
            first.body["data"]["disconnectAccount"]["disconnection_logs"]["entities"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );

        let before = app.fingerprint().await;
        let again = keyed(app, "disconnect-replay-1", &body).await;
        assert_eq!(again.status, StatusCode::OK);
        assert!(again.replayed, "Idempotency-Replayed: true");
        assert_eq!(again.raw, first.raw, "the first response, byte for byte");
        // The same request serialized differently (key order, whitespace) is the same body.
        let reordered = format!(
            "{{ \"variables\": {{ \"id\": {account} }},\n  \"query\": {} }}",
            Value::String(DISCONNECT.into())
        );
        let third = keyed(app, "disconnect-replay-1", &reordered).await;
        assert!(third.replayed);
        assert_eq!(third.raw, first.raw);
        assert_eq!(app.fingerprint().await, before, "a replay writes nothing");
        assert_eq!(disconnections(app, account).await, 1);

        // Without the key it is a new request, refused: the account is disconnected already.
        assert_eq!(
            app.code(DISCONNECT, json!({ "id": account })).await,
            "ACCOUNT_NOT_ACTIVE"
        );
    }
);

on_both!(
    the_same_key_with_another_body_is_refused_and_writes_nothing,
    |app| {
        let (first_account, _) = billed_account(app, "Keyed").await;
        let (second_account, _) = billed_account(app, "Other").await;
        let first = keyed(app, "one-key", &disconnect_body(first_account)).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.raw);

        let before = app.fingerprint().await;
        let other = keyed(app, "one-key", &disconnect_body(second_account)).await;
        assert_eq!(
            other.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            other.raw
        );
        assert_eq!(
            error_code(&other.body).as_deref(),
            Some("IDEMPOTENCY_KEY_REUSED")
        );
        assert!(!other.replayed);
        assert_eq!(app.fingerprint().await, before, "nothing is written");
        assert_eq!(disconnections(app, second_account).await, 0);
    }
);

on_both!(concurrent_requests_with_one_key_run_once, |app| {
    let (account, _) = billed_account(app, "Race").await;
    let body = disconnect_body(account);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            tokio::spawn(send_keyed(
                app.router.clone(),
                app.token.clone(),
                "race".to_owned(),
                body.clone(),
            ))
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    let ran: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK && !a.replayed)
        .collect();
    assert_eq!(ran.len(), 1, "exactly one carried it out: {answers:?}");
    assert!(ran[0].body.get("errors").is_none(), "{}", ran[0].raw);
    for answer in &answers {
        match answer.status {
            StatusCode::OK if answer.replayed => assert_eq!(answer.raw, ran[0].raw),
            StatusCode::OK => {}
            StatusCode::CONFLICT => {
                assert_eq!(error_code(&answer.body).as_deref(), Some("CONFLICT"))
            }
            other => panic!("unexpected {other}: {}", answer.raw),
        }
    }
    assert_eq!(disconnections(app, account).await, 1, "one disconnection");
});

/// A router over `app`'s database (with `config`) whose request stops once, right after the
/// first statement for which `at` holds has run, until the test lets it go: the test knows
/// where the request is, and holds what it needs next before it gets there.
struct Paused {
    router: Router,
    reached: tokio::sync::oneshot::Receiver<()>,
    go: std::sync::mpsc::Sender<()>,
}

fn paused_at(
    app: &TestApp,
    config: &fathom::config::Config,
    at: impl Fn(&str) -> bool + Send + Sync + 'static,
) -> Paused {
    let (reached, reached_rx) = tokio::sync::oneshot::channel();
    let (go, go_rx) = std::sync::mpsc::channel::<()>();
    let reached = std::sync::Mutex::new(Some(reached));
    let go_rx = std::sync::Mutex::new(go_rx);
    let mut db = app.db.clone();
    fathom::db::on_each_statement(&mut db, move |info| {
        if !at(&info.statement.sql) {
            return;
        }
        let Some(reached) = reached.lock().unwrap().take() else {
            return;
        };
        let _ = reached.send(());
        // The hook is synchronous: the request's task waits here, off the runtime's workers.
        tokio::task::block_in_place(|| {
            let _ = go_rx.lock().unwrap().recv_timeout(Duration::from_secs(30));
        });
    });
    Paused {
        router: fathom::app::router(db, config).unwrap(),
        reached: reached_rx,
        go,
    }
}

impl Paused {
    /// Waits until the request has reached its statement.
    async fn reached(&mut self) {
        tokio::time::timeout(Duration::from_secs(30), &mut self.reached)
            .await
            .expect("the request reached the statement it stops after")
            .unwrap();
    }

    fn go(&self) {
        self.go.send(()).unwrap();
    }
}

/// A transaction on a connection of its own that holds what disconnecting `account` must wait
/// for: on PostgreSQL the account's row; on SQLite, which lets one transaction write at a time,
/// the database's write lock (as another process's writer would).
async fn hold_writes_to(app: &TestApp, account: i64) -> sea_orm::DatabaseTransaction {
    let db = sea_orm::Database::connect(app.url.as_str()).await.unwrap();
    let backend = db.get_database_backend();
    let mut options = sea_orm::TransactionOptions::default();
    if backend == sea_orm::DbBackend::Sqlite {
        options.sqlite_transaction_mode = Some(sea_orm::SqliteTransactionMode::Immediate);
    }
    let txn = db.begin_with_options(options).await.unwrap();
    if backend == sea_orm::DbBackend::Postgres {
        txn.execute_raw(Statement::from_string(
            backend,
            format!("SELECT id FROM accounts WHERE id = {account} FOR UPDATE"),
        ))
        .await
        .unwrap();
    }
    txn
}

on_both!(
    a_request_still_running_makes_a_second_one_with_its_key_wait_for_a_409,
    |app| {
        // The first request stops right after claiming its key; then what its disconnection
        // needs is held (the account's row, or SQLite's write lock), so that it is still
        // running, waiting inside its mutation, when the second request comes.
        let (account, _) = billed_account(app, "Held").await;
        let body = disconnect_body(account);
        let config = fathom::config::Config::for_database(&app.url);
        let mut paused = paused_at(app, &config, |sql| {
            sql.starts_with("INSERT INTO \"idempotency_keys\"")
        });
        let first = tokio::spawn(send_keyed(
            paused.router.clone(),
            app.token.clone(),
            "held".to_owned(),
            body.clone(),
        ));
        paused.reached().await;
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM idempotency_keys WHERE \"key\" = 'held' AND status = 'RUNNING'")
                .await,
            1,
            "the first request claimed its key"
        );
        let lock = hold_writes_to(app, account).await;
        paused.go();

        let before = app.fingerprint().await;
        let second = keyed(app, "held", &body).await;
        assert_eq!(second.status, StatusCode::CONFLICT, "{}", second.raw);
        assert_eq!(error_code(&second.body).as_deref(), Some("CONFLICT"));
        assert_eq!(
            app.fingerprint().await,
            before,
            "the refusal writes nothing"
        );
        assert!(!first.is_finished(), "the first request is still waiting");
        assert_eq!(disconnections(app, account).await, 0);

        lock.rollback().await.unwrap();
        let first = first.await.unwrap();
        assert_eq!(first.status, StatusCode::OK, "{}", first.raw);
        assert!(first.body.get("errors").is_none(), "{}", first.raw);
        let third = keyed(app, "held", &body).await;
        assert!(third.replayed);
        assert_eq!(third.raw, first.raw);
        assert_eq!(disconnections(app, account).await, 1);
    }
);

on_both!(
    a_request_stopped_at_its_time_limit_is_finished_by_its_retry_without_repeating_what_committed,
    |app| {
        // The first disconnection commits; the request stops while its answer reads the new
        // status (before the second field starts), and the second account's disconnection is
        // held (its row, or SQLite's write lock), so it waits until the request's time limit
        // stops it.
        let (first, _) = billed_account(app, "Stopped first").await;
        let (second, _) = billed_account(app, "Stopped second").await;
        let mut config = fathom::config::Config::for_database(&app.url);
        config.limits.request_timeout_secs = 1;
        let router = fathom::app::router(app.db.clone(), &config).unwrap();
        let mut paused = paused_at(app, &config, |sql| {
            sql.contains("FROM \"account_statuses\"")
        });
        let body = json!({
            "query": "mutation($a: Int64Bit!, $b: Int64Bit!) { a: disconnectAccount(id: $a) { id account_status_id account_status { name } } b: disconnectAccount(id: $b) { id account_status_id } }",
            "variables": { "a": first, "b": second }
        })
        .to_string();
        let stopped = tokio::spawn(send_keyed(
            paused.router.clone(),
            app.token.clone(),
            "stopped".to_owned(),
            body.clone(),
        ));
        paused.reached().await;
        assert_eq!(disconnections(app, first).await, 1, "the first committed");
        let lock = hold_writes_to(app, second).await;
        paused.go();
        let stopped = stopped.await.unwrap();
        assert_eq!(
            stopped.status,
            StatusCode::REQUEST_TIMEOUT,
            "{}",
            stopped.raw
        );
        lock.rollback().await.unwrap();
        assert_eq!(disconnections(app, first).await, 1);
        assert_eq!(disconnections(app, second).await, 0);

        // The stopped request releases its key as it answers. On SQLite that is a write,
        // which waited for the write lock held until now: until it lands (or the key's lease
        // ends) a retry is told that the request is still running, as a client would be.
        // On PostgreSQL nothing held the release up: the first retry carries the request out.
        let deadline = Instant::now() + Duration::from_secs(30);
        let resumed = loop {
            let answer = send_keyed(
                router.clone(),
                app.token.clone(),
                "stopped".to_owned(),
                body.clone(),
            )
            .await;
            if answer.status != StatusCode::CONFLICT {
                break answer;
            }
            assert_eq!(error_code(&answer.body).as_deref(), Some("CONFLICT"));
            assert!(app.backend == "sqlite", "{}", answer.raw);
            assert!(Instant::now() < deadline, "the key was released");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(resumed.status, StatusCode::OK, "{}", resumed.raw);
        assert!(resumed.body.get("errors").is_none(), "{}", resumed.raw);
        assert!(resumed.replayed, "part of it is a replay");
        assert_eq!(resumed.body["data"]["a"]["id"], first.to_string());
        assert_eq!(resumed.body["data"]["a"]["account_status_id"], "2");
        assert_eq!(resumed.body["data"]["b"]["account_status_id"], "2");
        assert_eq!(
            disconnections(app, first).await,
            1,
            "not disconnected twice"
        );
        assert_eq!(disconnections(app, second).await, 1);

        let again = send_keyed(router, app.token.clone(), "stopped".to_owned(), body).await;
        assert!(again.replayed);
        assert_eq!(again.raw, resumed.raw);
    }
);

on_both!(a_key_longer_than_255_characters_is_refused, |app| {
    let (account, _) = billed_account(app, "Long key").await;
    let before = app.fingerprint().await;
    let answer = keyed(app, &"k".repeat(256), &disconnect_body(account)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.raw);
    assert_eq!(
        error_code(&answer.body).as_deref(),
        Some("VALIDATION_FAILED")
    );
    assert_eq!(
        answer.body["errors"][0]["extensions"]["field"],
        "Idempotency-Key"
    );
    assert_eq!(app.fingerprint().await, before, "nothing is written");
    // 255 is accepted.
    let answer = keyed(app, &"k".repeat(255), &disconnect_body(account)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.raw);
    assert_eq!(disconnections(app, account).await, 1);
});

on_both!(keys_belong_to_their_token, |app| {
    let (first_account, _) = billed_account(app, "Token one").await;
    let (second_account, _) = billed_account(app, "Token two").await;
    let second_token = app
        .ok(
            "mutation { createPersonalAccessToken(input: {name: \"second\"}) { token } }",
            json!({}),
        )
        .await["createPersonalAccessToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = keyed(app, "shared-key", &disconnect_body(first_account)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.raw);
    // The other token's same key, with another body: its own request, carried out.
    let second = send_keyed(
        app.router.clone(),
        second_token.clone(),
        "shared-key".to_owned(),
        disconnect_body(second_account),
    )
    .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.raw);
    assert!(!second.replayed);
    assert!(second.body.get("errors").is_none(), "{}", second.raw);
    assert_eq!(disconnections(app, second_account).await, 1);
    // And each token replays its own.
    let again = send_keyed(
        app.router.clone(),
        second_token,
        "shared-key".to_owned(),
        disconnect_body(second_account),
    )
    .await;
    assert!(again.replayed);
    assert_eq!(again.raw, second.raw);
});

on_both!(
    a_refused_mutation_is_replayed_and_a_request_that_never_ran_frees_its_key,
    |app| {
        let (account, _) = billed_account(app, "Refused").await;
        app.ok(DISCONNECT, json!({ "id": account })).await;
        // The mutation ran and was refused: that answer is the key's (as Stripe keeps errors).
        let refused = keyed(app, "refused", &disconnect_body(account)).await;
        assert_eq!(refused.status, StatusCode::OK);
        assert_eq!(
            error_code(&refused.body).as_deref(),
            Some("ACCOUNT_NOT_ACTIVE")
        );
        let again = keyed(app, "refused", &disconnect_body(account)).await;
        assert!(again.replayed);
        assert_eq!(again.raw, refused.raw);

        // A body that is not JSON never ran: the key stays free for a corrected request.
        let broken = keyed(app, "fixed-later", "{\"query\": ").await;
        assert_eq!(broken.status, StatusCode::BAD_REQUEST, "{}", broken.raw);
        let fixed = keyed(app, "fixed-later", "{\"query\": \"{ me { name } }\"}").await;
        assert_eq!(fixed.status, StatusCode::OK, "{}", fixed.raw);
        assert!(!fixed.replayed);
        assert!(
            fixed.body["data"]["me"]["name"].is_string(),
            "{}",
            fixed.raw
        );
    }
);

on_both!(
    a_replayed_token_creation_does_not_show_the_token_again,
    |app| {
        let body = json!({ "query": "mutation { createPersonalAccessToken(input: {name: \"ci\"}) { id name token } }" })
            .to_string();
        let first = keyed(app, "new-token", &body).await;
        let token = first.body["data"]["createPersonalAccessToken"]["token"]
            .as_str()
            .unwrap_or_else(|| panic!("{}", first.raw))
            .to_owned();
        assert!(token.starts_with("fathom_"));
        let again = keyed(app, "new-token", &body).await;
        assert!(again.replayed);
        let replayed = &again.body["data"]["createPersonalAccessToken"];
        assert_eq!(replayed["token"], Value::Null, "the token is shown once");
        assert_eq!(
            replayed["id"],
            first.body["data"]["createPersonalAccessToken"]["id"]
        );
        assert!(!again.raw.contains(&token));
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM personal_access_tokens WHERE name = 'ci'")
                .await,
            1
        );
    }
);

on_both!(
    a_key_counts_for_24_hours_and_the_worker_purges_it_then,
    |app| {
        let t0 = common::noon("2026-03-01");
        let first =
            clock::at_instant(t0, keyed(app, "daily", "{\"query\": \"{ me { name } }\"}")).await;
        assert_eq!(first.status, StatusCode::OK, "{}", first.raw);
        let within_a_day = clock::at_instant(
            t0 + chrono::Duration::hours(23),
            keyed(app, "daily", "{\"query\": \"{ me { id } }\"}"),
        )
        .await;
        assert_eq!(within_a_day.status, StatusCode::UNPROCESSABLE_ENTITY);
        let next_day = clock::at_instant(
            t0 + chrono::Duration::hours(25),
            keyed(app, "daily", "{\"query\": \"{ me { id } }\"}"),
        )
        .await;
        assert_eq!(next_day.status, StatusCode::OK, "{}", next_day.raw);
        assert!(!next_day.replayed, "an expired key is a new key");
        assert!(next_day.body["data"]["me"]["id"].is_string());

        let purged = idempotency::purge_expired(&app.db, t0 + chrono::Duration::hours(48))
            .await
            .unwrap();
        assert_eq!(purged, 0, "the key claimed again at 25 h counts until 49 h");
        let purged = idempotency::purge_expired(&app.db, t0 + chrono::Duration::hours(49))
            .await
            .unwrap();
        assert_eq!(purged, 1);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM idempotency_keys")
                .await,
            0
        );
    }
);

// The real binary, killed after a keyed request's mutation committed and before it answered.

use crate::crash::free_port;

fn start(url: &str, port: u16, timeout_secs: u64) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("serve")
        .env("DATABASE_URL", url)
        .env("FATHOM_BIND", format!("127.0.0.1:{port}"))
        .env("FATHOM_LOG", "warn")
        .env("FATHOM_REQUEST_TIMEOUT_SECS", timeout_secs.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fathom")
}

/// One keyed HTTP/1.1 POST; the status, whether it is a replay, and the body.
async fn post_http(
    port: u16,
    token: &str,
    key: &str,
    body: &str,
) -> std::io::Result<(u16, bool, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /api/graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or((response.as_str(), ""));
    let replayed = head
        .to_ascii_lowercase()
        .contains("\r\nidempotency-replayed: true");
    Ok((status, replayed, body.to_owned()))
}

/// Operations that read a large page, so that the request goes on well after its first
/// operation (the disconnection) committed (a few hundred milliseconds each in a debug build).
const SLOW_READS: usize = 3;
const SLOW_READ: &str = "{ accounts(paginator: {page: 1, records_per_page: 500}) { entities { id name account_status { name } account_type { name } contacts(paginator: {page: 1, records_per_page: 5}) { entities { name email_address } } addresses(paginator: {page: 1, records_per_page: 5}) { entities { line1 city } } } page_info { total_count } } }";

async fn crash_between_commit_and_answer(app: &TestApp) {
    let (account, _) = billed_account(app, "Crash").await;
    let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(["seed", "--accounts", "3000", "--months", "1"])
        .env("DATABASE_URL", &app.url)
        .env("FATHOM_LOG", "warn")
        .output()
        .expect("seed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut batch = vec![json!({ "query": DISCONNECT, "variables": { "id": account } })];
    batch.extend((0..SLOW_READS).map(|_| json!({ "query": SLOW_READ })));
    let body = Value::Array(batch).to_string();

    // The lease is the request time limit (4 s) + 5 s.
    let port = free_port();
    let mut server = start(&app.url, port, 4);
    common::wait_healthy(port).await;
    let (token, sent) = (app.token.clone(), body.clone());
    let request = tokio::spawn(async move { post_http(port, &token, "crash-key", &sent).await });
    let deadline = Instant::now() + Duration::from_secs(30);
    while app
        .count("SELECT COUNT(*) AS n FROM idempotency_key_writes")
        .await
        == 0
    {
        assert!(Instant::now() < deadline, "the disconnection committed");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    let claimed_at = Instant::now();
    request.abort();
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM idempotency_keys WHERE \"key\" = 'crash-key' AND status = 'RUNNING' AND response_body IS NULL").await,
        1,
        "killed after the commit, before the answer was stored ({})",
        app.backend
    );
    assert_eq!(
        disconnections(app, account).await,
        1,
        "the disconnection committed"
    );
    assert_eq!(
        app.count(&format!("SELECT COUNT(*) AS n FROM idempotency_key_writes WHERE ordinal = 0 AND result_type = 'Account' AND result_id = {account}")).await,
        1,
        "its marker names the account"
    );

    // Restarted: the same request is refused while the dead request's lease runs, then
    // answered from what was committed, without disconnecting again.
    let port = free_port();
    let mut server = start(&app.url, port, 10);
    common::wait_healthy(port).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let (replayed, answer) = loop {
        let sent_at = Instant::now();
        let (status, replayed, answer) = post_http(port, &app.token, "crash-key", &body)
            .await
            .unwrap();
        eprintln!(
            "replay after the crash: HTTP {status} in {:?} ({})",
            sent_at.elapsed(),
            app.backend
        );
        if status == 200 {
            break (replayed, answer);
        }
        assert_eq!(status, 409, "{answer}");
        assert!(answer.contains("CONFLICT"), "{answer}");
        assert!(Instant::now() < deadline, "the lease ended");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert!(
        claimed_at.elapsed() < Duration::from_secs(60),
        "answered once the lease ended"
    );
    assert!(replayed, "Idempotency-Replayed: true");
    let answers: Value = serde_json::from_str(&answer).unwrap();
    let disconnected = &answers[0]["data"]["disconnectAccount"];
    assert!(answers[0].get("errors").is_none(), "{}", answers[0]);
    assert_eq!(disconnected["id"], account.to_string());
    assert_eq!(disconnected["account_status_id"], "2");
    assert_eq!(
        disconnected["disconnection_logs"]["entities"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    for read in answers.as_array().unwrap().iter().skip(1) {
        assert!(read.get("errors").is_none(), "{read}");
        assert!(read["data"]["accounts"]["page_info"]["total_count"].is_number());
    }
    assert_eq!(disconnections(app, account).await, 1, "disconnected once");

    // From now on the stored answer is replayed as it is, writing nothing.
    let before = app.fingerprint().await;
    let (status, replayed, again) = post_http(port, &app.token, "crash-key", &body)
        .await
        .unwrap();
    assert_eq!((status, replayed), (200, true));
    assert_eq!(again, answer);
    assert_eq!(app.fingerprint().await, before);
    let _ = server.kill();
    let _ = server.wait();
    app.assert_money_conserved().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_crash_between_commit_and_answer_leaves_a_key_whose_replay_answers_the_committed_result_sqlite(
) {
    let app = TestApp::sqlite().await;
    crash_between_commit_and_answer(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_crash_between_commit_and_answer_leaves_a_key_whose_replay_answers_the_committed_result_postgres(
) {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    crash_between_commit_and_answer(&app).await;
    app.finish().await;
}

on_both!(a_payment_sent_twice_with_one_key_is_recorded_once, |app| {
    let (account, _) = billed_account(app, "Payer").await;
    let body = json!({
        "query": "mutation($a: Int64Bit!) { createPayment(input: {account_id: $a, amount: 1200, payment_type: CHECK, apply_to_open_invoices: true}) { id amount_remaining } }",
        "variables": { "a": account }
    })
    .to_string();
    let first = keyed(app, "pay-once", &body).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.raw);
    assert!(first.body.get("errors").is_none(), "{}", first.raw);
    let before = app.fingerprint().await;
    let again = keyed(app, "pay-once", &body).await;
    assert!(again.replayed);
    assert_eq!(again.raw, first.raw);
    assert_eq!(app.fingerprint().await, before, "a replay writes nothing");
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM payments WHERE account_id = {account}"
        ))
        .await,
        1
    );
});
