//! Crash safety: the real binary, killed with SIGKILL in the middle of a burst of
//! disconnections, leaves every account wholly disconnected or untouched, and loses no
//! disconnection it acknowledged; killed while delivering webhooks, it loses no dispatch.
//! Slow, so `#[ignore]`d; `.ci/run` runs it.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, create_address, noon};
use fathom::service::{
    base::{clock, settings},
    billing::pass,
};

const ACCOUNTS: usize = 40;

/// A port for a server a test starts: below Linux's ephemeral range (32768 and up), so that no
/// client socket of another test is given it meanwhile, and never the same one twice in a run
/// (the kernel's port 0 handed out ports that a concurrent test's connections then took, and a
/// restarted server once answered as another test's).
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    const FIRST: u32 = 20_000;
    const SPAN: u32 = 12_000;
    let start = std::process::id().wrapping_mul(7919) % SPAN;
    loop {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        assert!(n < SPAN, "no free port left for test servers");
        let port = (FIRST + (start + n) % SPAN) as u16;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn start(url: &str, port: u16) -> Child {
    start_with(url, port, &[])
}

/// `fathom serve` on `url` at `port`, with the environment `env` (`FATHOM_JOBS`, …).
pub fn start_with(url: &str, port: u16, env: &[(&str, &str)]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("serve")
        .envs(env.iter().copied())
        .env("DATABASE_URL", url)
        .env("FATHOM_BIND", format!("127.0.0.1:{port}"))
        .env("FATHOM_LOG", "warn")
        // Webhook receivers of these tests listen on 127.0.0.1, over http.
        .env("FATHOM_WEBHOOK_ALLOW_HTTP", "true")
        .env("FATHOM_WEBHOOK_ALLOW_PRIVATE", "true")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start fathom")
}

/// One HTTP/1.1 request; the status and the body.
pub async fn post(port: u16, token: &str, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /api/graphql HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

pub async fn one(app: &common::TestApp, sql: String) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// `n` active accounts built through the API, each with a serviceable address, a billed
/// recurring service running past today (to be credited) and an uninvoiced one-time charge
/// (for the final invoice): what a disconnection changes everywhere.
pub async fn disconnectable_book(app: &common::TestApp, n: usize) -> Vec<i64> {
    // A book of active accounts, each with a serviceable address, a billed recurring service
    // (to be credited) and an uninvoiced one-time charge (for the final invoice).
    let t0 = noon("2026-01-15");
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let install = app.one_time_service("Install", 2500, false).await;
    let mut accounts = Vec::new();
    for i in 0..n {
        let address = create_address(app, &format!("{i} Crash St")).await;
        let account = app.account_activated_at(&format!("Crash {i}"), t0).await;
        app.ok_at(t0, "mutation($id: Int64Bit!, $a: Int64Bit) { updateAccount(id: $id, input: {serviceable_address_id: $a}) { id } }", json!({"id": account, "a": address})).await;
        app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": fiber})).await;
        app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { createAccountOneTimeTransaction(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": install})).await;
        accounts.push(account);
    }
    // Bill far ahead so that every account has a recurring debit running past today.
    let today = settings::local_date(&app.db, clock::now()).await.unwrap();
    pass::run_pass(&app.db, common::day("2026-01-15"))
        .await
        .unwrap();
    let far = (today + chrono::Duration::days(1)).to_string();
    pass::run_pass(&app.db, common::day(&far)).await.unwrap();
    for &account in &accounts {
        app.ok_at(noon(&far), "mutation($a: Int64Bit!, $s: Int64Bit!) { createAccountOneTimeTransaction(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": install})).await;
    }

    accounts
}

/// Each of `accounts` is either wholly disconnected (one log, inactive, its final invoice, no
/// open debit, its address released and its assignment ended, a credit) or untouched (none of
/// that, its open debits still there); each of `acknowledged` is wholly disconnected. The
/// number wholly disconnected.
pub async fn assert_whole_or_untouched(
    app: &common::TestApp,
    accounts: &[i64],
    acknowledged: &[i64],
) -> usize {
    let mut disconnected = 0;
    for &account in accounts {
        let logs = one(
            app,
            format!("SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account}"),
        )
        .await;
        let inactive = one(
            app,
            format!(
                "SELECT COUNT(*) AS n FROM accounts WHERE id = {account} AND account_status_id = 2"
            ),
        )
        .await;
        let credits = one(
            app,
            format!("SELECT COUNT(*) AS n FROM discounts WHERE account_id = {account}"),
        )
        .await;
        let invoiced_finally = one(app, format!("SELECT COUNT(*) AS n FROM disconnection_logs l JOIN invoices i ON i.id = l.final_invoice_id WHERE l.account_id = {account}")).await;
        let open_debits = one(app, format!("SELECT COUNT(*) AS n FROM debits WHERE account_id = {account} AND invoice_id IS NULL")).await;
        let assigned = one(app, format!("SELECT COUNT(*) AS n FROM addresses WHERE addressable_id = {account} AND serviceable = {}", if app.backend == "postgres" { "true" } else { "1" })).await;
        let ended = one(app, format!("SELECT COUNT(*) AS n FROM serviceable_address_account_assignment_histories WHERE account_id = {account} AND end_date IS NOT NULL")).await;
        let whole = (
            logs,
            inactive,
            invoiced_finally,
            open_debits,
            assigned,
            ended,
        ) == (1, 1, 1, 0, 0, 1)
            && credits >= 1;
        let untouched =
            (logs, inactive, credits, assigned, ended) == (0, 0, 0, 1, 0) && open_debits >= 1;
        assert!(whole || untouched, "account {account} is half disconnected: logs {logs}, inactive {inactive}, credits {credits}, final invoice {invoiced_finally}, open debits {open_debits}, address {assigned}, ended {ended}");
        if whole {
            disconnected += 1;
        }
        if acknowledged.contains(&account) {
            assert!(
                whole,
                "account {account}'s acknowledged disconnection was lost"
            );
        }
    }
    disconnected
}

async fn run(app: &common::TestApp) {
    let accounts = disconnectable_book(app, ACCOUNTS).await;
    let port = free_port();
    let mut server = start(&app.url, port);
    common::wait_healthy(port).await;

    // The burst: four disconnections in flight at a time; SIGKILL after the tenth answer.
    let token = app.token.clone();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(i64, bool)>(ACCOUNTS);
    let sem = std::sync::Arc::new(tokio::sync::Semaphore::new(4));
    let mut tasks = Vec::new();
    for &account in &accounts {
        let (tx, token, sem) = (tx.clone(), token.clone(), sem.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = sem.acquire_owned().await.unwrap();
            let body = json!({"query": "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { id } }", "variables": {"id": account}}).to_string();
            let acknowledged = match post(port, &token, &body).await {
                Ok((200, body)) => !body.contains("\"errors\"") && body.contains("disconnectAccount"),
                _ => false,
            };
            let _ = tx.send((account, acknowledged)).await;
        }));
    }
    drop(tx);
    let mut acknowledged = Vec::new();
    let mut answers = 0;
    while let Some((account, ok)) = rx.recv().await {
        answers += 1;
        if ok {
            acknowledged.push(account);
        }
        if answers == 10 {
            server.kill().expect("SIGKILL");
            break;
        }
    }
    let _ = server.wait();
    for task in tasks {
        task.abort();
    }
    // Answers that raced the kill may still arrive; an answer received is an acknowledgement.
    while let Ok((account, ok)) = rx.try_recv() {
        if ok {
            acknowledged.push(account);
        }
    }
    assert!(
        !acknowledged.is_empty(),
        "some disconnections were acknowledged before the kill"
    );

    // Restart on the same database: it must come up and serve.
    let port = free_port();
    let mut server = start(&app.url, port);
    common::wait_healthy(port).await;
    let (status, body) = post(
        port,
        &token,
        r#"{"query":"{ accounts { page_info { total_count } } }"}"#,
    )
    .await
    .unwrap();
    assert_eq!(status, 200, "{body}");
    let _ = server.kill();
    let _ = server.wait();

    let disconnected = assert_whole_or_untouched(app, &accounts, &acknowledged).await;
    assert!(disconnected >= acknowledged.len());
    assert!(disconnected < ACCOUNTS, "the kill came mid-burst");
    app.assert_money_conserved().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_crash_mid_burst_leaves_each_account_wholly_disconnected_or_untouched_sqlite() {
    let app = common::TestApp::sqlite().await;
    run(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_crash_mid_burst_leaves_each_account_wholly_disconnected_or_untouched_postgres() {
    let Some(app) = common::TestApp::postgres().await else {
        return;
    };
    run(&app).await;
    app.finish().await;
}

/// `events` accounts, each billed and with a scheduled disconnection due on Feb 1, 2026.
pub async fn due_disconnections(app: &common::TestApp, events: usize) -> Vec<i64> {
    let t0 = noon("2026-01-15");
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let mut accounts = Vec::new();
    for i in 0..events {
        let account = app.account_activated_at(&format!("Shared {i}"), t0).await;
        app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": fiber})).await;
        app.ok_at(t0, "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: \"2026-02-01T12:00:00Z\", prorate: true}) { id } }", json!({"a": account})).await;
        accounts.push(account);
    }
    pass::run_pass(&app.db, common::day("2026-01-15"))
        .await
        .unwrap();
    accounts
}

/// Every scheduled event was carried out, each account disconnected once by its event (one
/// log, one proration credit), and money is conserved.
pub async fn assert_each_disconnected_once(app: &common::TestApp, accounts: &[i64]) {
    assert_eq!(
        one(
            app,
            "SELECT COUNT(*) AS n FROM scheduled_events WHERE status <> 'COMPLETED'".to_owned()
        )
        .await,
        0
    );
    for &account in accounts {
        let logs = one(app, format!("SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account} AND scheduled_event_id IS NOT NULL")).await;
        let credits = one(
            app,
            format!("SELECT COUNT(*) AS n FROM discounts WHERE account_id = {account}"),
        )
        .await;
        assert_eq!((logs, credits), (1, 1), "account {account}: exactly once");
    }
    app.assert_money_conserved().await;
}

/// The scheduler, killed mid-run and started again, carries out every due event exactly once.
async fn scheduler_run(app: &common::TestApp) {
    const EVENTS: usize = 40;
    let accounts = due_disconnections(app, EVENTS).await;

    let completed = || {
        one(
            app,
            "SELECT COUNT(*) AS n FROM scheduled_events WHERE status = 'COMPLETED'".to_owned(),
        )
    };
    // Small batches, so that the kill falls between batches as well as inside one.
    let mut worker = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("run-scheduled")
        .env("DATABASE_URL", &app.url)
        .env("FATHOM_SCHEDULER_BATCH", "3")
        .env("FATHOM_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while completed().await < 5 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    worker.kill().expect("SIGKILL");
    let _ = worker.wait();
    let before_restart = completed().await;
    eprintln!(
        "{before_restart} of {EVENTS} events completed before the kill ({})",
        app.backend
    );

    let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(["run-scheduled", "--once"])
        .env("DATABASE_URL", &app.url)
        .env("FATHOM_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    assert_eq!(completed().await, EVENTS as i64, "every event carried out");
    assert_each_disconnected_once(app, &accounts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_scheduler_killed_mid_run_carries_out_every_event_exactly_once_sqlite() {
    let app = common::TestApp::sqlite().await;
    scheduler_run(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_scheduler_killed_mid_run_carries_out_every_event_exactly_once_postgres() {
    let Some(app) = common::TestApp::postgres().await else {
        return;
    };
    scheduler_run(&app).await;
    app.finish().await;
}

/// Two worker processes started at once over the same due events share them: every event is
/// carried out once, by one of them.
async fn two_workers(app: &common::TestApp) {
    const EVENTS: usize = 60;
    let accounts = due_disconnections(app, EVENTS).await;
    let worker = || {
        Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(["run-scheduled", "--once", "--batch", "4"])
            .env("DATABASE_URL", &app.url)
            .env("FATHOM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (worker(), worker());
    let mut completed = Vec::new();
    for child in [a, b] {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // "scheduled events: N completed, …"
        let n: usize = stdout
            .split("scheduled events: ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{stdout}"));
        completed.push(n);
    }
    eprintln!(
        "two workers completed {} and {} of {EVENTS} events ({})",
        completed[0], completed[1], app.backend
    );
    assert_eq!(completed.iter().sum::<usize>(), EVENTS, "each event once");
    assert_each_disconnected_once(app, &accounts).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts the real binary twice; run by .ci/run"]
async fn two_workers_share_due_events_without_doing_any_twice_sqlite() {
    let app = common::TestApp::sqlite().await;
    two_workers(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts the real binary twice; run by .ci/run"]
async fn two_workers_share_due_events_without_doing_any_twice_postgres() {
    let Some(app) = common::TestApp::postgres().await else {
        return;
    };
    two_workers(&app).await;
    app.finish().await;
}

/// `fathom bill` killed with SIGKILL mid-pass and run again bills every due period once:
/// every account has one invoice of the pass date, and `fathom verify` passes.
async fn billing_killed(app: &common::TestApp) {
    const ACCOUNTS: usize = 200;
    let t0 = noon("2026-01-15");
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let phone = app.recurring_service("Phone", 1500, 3).await;
    for i in 0..ACCOUNTS {
        let account = app.account_activated_at(&format!("Bill {i}"), t0).await;
        for service in [fiber, phone] {
            app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": service})).await;
        }
    }
    let bill = |batch: &str| {
        let mut command = Command::new(env!("CARGO_BIN_EXE_fathom"));
        command
            .args(["bill", "--date", "2026-04-20", "--batch", batch])
            .env("DATABASE_URL", &app.url)
            .env("FATHOM_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    let invoiced = || {
        one(
            app,
            "SELECT COUNT(*) AS n FROM invoices WHERE date = '2026-04-20'".to_owned(),
        )
    };
    let mut first = bill("2").spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while invoiced().await < 10 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let before = invoiced().await;
    eprintln!(
        "{before} of {ACCOUNTS} accounts billed before the kill ({})",
        app.backend
    );
    assert!(
        (1..ACCOUNTS as i64).contains(&before),
        "the kill came mid-pass"
    );

    let out = bill("50").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!("{} account(s)", ACCOUNTS as i64 - before)),
        "the rerun billed the rest: {stdout}"
    );
    assert!(stderr.contains("due account(s) done"), "progress: {stderr}");
    assert_eq!(invoiced().await, ACCOUNTS as i64);
    assert_eq!(
        one(
            app,
            "SELECT COUNT(*) AS n FROM (SELECT account_id FROM invoices WHERE date = '2026-04-20' \
             GROUP BY account_id HAVING COUNT(*) > 1) twice"
                .to_owned()
        )
        .await,
        0,
        "no account invoiced twice"
    );
    // Cycles Jan 15, Feb 15, Mar 15 and Apr 15: four monthly periods and two quarterly
    // ones (Jan 15, Apr 15), once each.
    assert_eq!(
        one(app, "SELECT COUNT(*) AS n FROM debits".to_owned()).await,
        ACCOUNTS as i64 * 6
    );
    let verify = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("verify")
        .env("DATABASE_URL", &app.url)
        .env("FATHOM_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    app.assert_billing_is_contiguous().await;
    app.assert_money_conserved().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_billing_pass_killed_mid_run_and_run_again_bills_every_period_once_sqlite() {
    let app = common::TestApp::sqlite().await;
    billing_killed(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_billing_pass_killed_mid_run_and_run_again_bills_every_period_once_postgres() {
    let Some(app) = common::TestApp::postgres().await else {
        return;
    };
    billing_killed(&app).await;
    app.finish().await;
}

/// The server killed with SIGKILL while a slow receiver holds a webhook POST, then started
/// again: every dispatch is delivered at least once, none is lost (the killed claim runs out
/// and the dispatch is sent again).
async fn webhooks_killed(app: &common::TestApp) {
    const DISPATCHES: usize = 6;
    let (url, receiver) =
        crate::webhooks::Receiver::start_slow(&[], Duration::from_millis(700)).await;
    crate::webhooks::endpoint(app, &url, &[("Account", "CREATED")]).await;
    for i in 0..DISPATCHES {
        common::create_account(app, &format!("Hooked {i}"), 1).await;
    }
    let port = free_port();
    let mut server = start(&app.url, port);
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.got().len() < 2 {
        assert!(
            Instant::now() < deadline,
            "no delivery began ({})",
            app.backend
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The second POST is being answered, slowly: kill the server under it.
    server.kill().expect("SIGKILL");
    let _ = server.wait();
    let before = receiver.got().len();
    assert!(
        before < DISPATCHES,
        "the kill came mid-delivery ({})",
        app.backend
    );

    let mut server = start(&app.url, free_port());
    let succeeded =
        "SELECT COUNT(*) AS n FROM webhook_endpoint_event_dispatches WHERE last_status = 'SUCCESS'";
    let deadline = Instant::now() + Duration::from_secs(90);
    while one(app, succeeded.into()).await < DISPATCHES as i64 {
        assert!(
            Instant::now() < deadline,
            "dispatches not all delivered ({})",
            app.backend
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = server.kill();
    let _ = server.wait();
    let ids = receiver.distinct_ids();
    assert_eq!(
        ids.len(),
        DISPATCHES,
        "each dispatch received ({})",
        app.backend
    );
    assert_eq!(
        one(
            app,
            "SELECT COUNT(*) AS n FROM webhook_endpoint_event_dispatches".into()
        )
        .await,
        DISPATCHES as i64
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_server_killed_mid_delivery_loses_no_webhook_sqlite() {
    let app = common::TestApp::sqlite().await;
    webhooks_killed(&app).await;
    app.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn a_server_killed_mid_delivery_loses_no_webhook_postgres() {
    let Some(app) = common::TestApp::postgres().await else {
        return;
    };
    webhooks_killed(&app).await;
    app.finish().await;
}
