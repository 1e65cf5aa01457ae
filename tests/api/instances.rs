//! Several servers over one PostgreSQL database (DESIGN §10): two real `fathom serve`
//! processes share the scheduled events, the billing and delinquency passes and webhook delivery without doing
//! anything twice or losing anything when one is killed, and what one server changes (a
//! revoked token, a disabled user, a billing setting) the other obeys on its next request.
//! Slow (real processes), so `#[ignore]`d; `.ci/run` runs them.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::{self, TestApp};
use crate::crash::{
    assert_each_disconnected_once, due_disconnections, free_port, one, post, start_with,
};
use fathom::service::access::tokens;

/// A server process, killed when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    async fn start(app: &TestApp, jobs: &str) -> Server {
        Self::start_with(app, &[("FATHOM_JOBS", jobs)]).await
    }

    async fn start_with(app: &TestApp, env: &[(&str, &str)]) -> Server {
        let port = free_port();
        let child = start_with(&app.url, port, env);
        common::wait_healthy(port).await;
        Server { child, port }
    }

    /// A GraphQL request as `token`; the answer's JSON.
    async fn gql(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = json!({"query": query, "variables": variables}).to_string();
        let (status, body) = post(self.port, token, &body).await.expect("an answer");
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("HTTP {status}: {body}"))
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `test` on a fresh PostgreSQL app; prints why when there is none.
macro_rules! on_postgres {
    ($name:ident, |$app:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        #[ignore = "starts several real servers; run by .ci/run"]
        async fn $name() {
            let Some(mut $app) = common::TestApp::postgres().await else {
                return;
            };
            $app.lift_rate_limit();
            let app = &$app;
            async fn run($app: &TestApp) $body
            run(app).await;
            $app.finish().await;
        }
    };
}

async fn wait_until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_postgres!(
    two_servers_carry_out_a_thousand_due_events_once_even_when_one_is_killed,
    |app| {
        const EVENTS: usize = 1000;
        let accounts = due_disconnections(app, EVENTS).await;
        let completed = "SELECT COUNT(*) AS n FROM scheduled_events WHERE status = 'COMPLETED'";
        let mut a = Server::start(app, "scheduler").await;
        let b = Server::start(app, "scheduler").await;
        wait_until(
            "a third of the events",
            Duration::from_secs(300),
            async || one(app, completed.into()).await >= (EVENTS / 3) as i64,
        )
        .await;
        a.kill();
        wait_until("every event", Duration::from_secs(300), async || {
            one(app, completed.into()).await == EVENTS as i64
        })
        .await;
        drop(b);
        assert_each_disconnected_once(app, &accounts).await;
    }
);

on_postgres!(
    two_billing_passes_for_one_date_bill_each_period_once,
    |app| {
        const ACCOUNTS: usize = 60;
        let t0 = common::noon("2026-01-15");
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        for i in 0..ACCOUNTS {
            let account = app.account_activated_at(&format!("Billed {i}"), t0).await;
            app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": fiber})).await;
        }
        let pass = || {
            Command::new(env!("CARGO_BIN_EXE_fathom"))
                .args(["bill", "--date", "2026-06-15", "--batch", "7"])
                .env("DATABASE_URL", &app.url)
                .env("FATHOM_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (first, second) = (pass(), pass());
        for child in [first, second] {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Billed in advance: the periods starting January 15 to June 15, six per account.
        assert_eq!(
            one(
                app,
                "SELECT COUNT(*) AS n FROM debits WHERE account_service_id IS NOT NULL".into()
            )
            .await,
            (ACCOUNTS * 6) as i64
        );
        app.assert_billing_is_contiguous().await;
        app.assert_money_conserved().await;
        let verify = Command::new(env!("CARGO_BIN_EXE_fathom"))
            .arg("verify")
            .env("DATABASE_URL", &app.url)
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
);

on_postgres!(
    what_one_server_changes_the_other_obeys_on_its_next_request,
    |app| {
        let a = Server::start(app, "none").await;
        let b = Server::start(app, "none").await;
        let me = "{ me { username } }";
        // A second administrator's token, used on both servers (so both have it cached).
        let user = app
        .ok("mutation($input: CreateUserMutationInput) { createUser(input: $input) { id } }",
            json!({"input": {"name": "Ops", "username": "ops", "public_name": "Ops", "email_address": "ops@example.com"}}))
        .await;
        let user_id: i64 = user["createUser"]["id"].as_str().unwrap().parse().unwrap();
        let (token_row, token) = tokens::create_token_for_caller(&app.db, user_id, "t")
            .await
            .unwrap();
        let (_, second) = tokens::create_token_for_caller(&app.db, user_id, "u")
            .await
            .unwrap();
        for server in [&a, &b] {
            for t in [token.as_str(), second.as_str()] {
                let body = server.gql(t, me, json!({})).await;
                assert_eq!(body["data"]["me"]["username"], "ops", "{body}");
            }
        }
        // Revoked through A: refused by B at once.
        let body = a
            .gql(
                token.as_str(),
                "mutation($id: Int64Bit!) { deletePersonalAccessToken(id: $id) { success } }",
                json!({"id": token_row.id}),
            )
            .await;
        assert_eq!(
            body["data"]["deletePersonalAccessToken"]["success"], true,
            "{body}"
        );
        let body = b.gql(token.as_str(), me, json!({})).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{body}"
        );
        // The user disabled through A: their other token is refused by B.
        let body = a
        .gql(&app.token, "mutation($id: Int64Bit!) { updateUser(id: $id, input: {enabled: false}) { enabled } }", json!({"id": user_id}))
        .await;
        assert_eq!(body["data"]["updateUser"]["enabled"], false, "{body}");
        let body = b.gql(second.as_str(), me, json!({})).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("UNAUTHENTICATED"),
            "{body}"
        );

        // A billing setting changed through A decides B's next disconnection.
        let (first, _) = common::billed_account(app, "First").await;
        let (next, _) = common::billed_account(app, "Next").await;
        let disconnect = "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }";
        let setting = "mutation($p: Boolean!) { updateBillingSettings(input: {prorate_account_status_change: $p}) { prorate_account_status_change } }";
        let body = a.gql(&app.token, setting, json!({"p": true})).await;
        assert!(body.get("errors").is_none(), "{body}");
        let body = b.gql(&app.token, disconnect, json!({"id": first})).await;
        assert!(body.get("errors").is_none(), "{body}");
        let body = a.gql(&app.token, setting, json!({"p": false})).await;
        assert!(body.get("errors").is_none(), "{body}");
        let body = b.gql(&app.token, disconnect, json!({"id": next})).await;
        assert!(body.get("errors").is_none(), "{body}");
        let logs = app
        .ok("{ disconnection_logs(sorter: [{attribute: \"id\", direction: ASC}]) { entities { account_id prorated proration_source } } }", json!({}))
        .await;
        let logs = &logs["disconnection_logs"]["entities"];
        assert_eq!(logs[0]["prorated"], true, "{logs}");
        assert_eq!(logs[1]["prorated"], false, "{logs}");
        assert_eq!(logs[1]["proration_source"], "BILLING_SETTINGS");
    }
);

on_postgres!(
    two_servers_deliver_each_webhook_once_and_lose_none_when_one_is_killed,
    |app| {
        const ROUND: usize = 40;
        let (url, receiver) =
            crate::webhooks::Receiver::start_slow(&[], Duration::from_millis(40)).await;
        // Four endpoints, so that both servers have work at once.
        for _ in 0..4 {
            crate::webhooks::endpoint(app, &url, &[("Account", "CREATED")]).await;
        }
        let succeeded =
        "SELECT COUNT(*) AS n FROM webhook_endpoint_event_dispatches WHERE last_status = 'SUCCESS'";
        let accounts = async |round: usize| {
            for i in 0..ROUND / 4 {
                common::create_account(app, &format!("Hooked {round}.{i}"), 1).await;
            }
        };
        let mut a = Server::start(app, "webhooks").await;
        let b = Server::start(app, "webhooks").await;

        // Both running: each dispatch once.
        accounts(1).await;
        wait_until("the first round", Duration::from_secs(60), async || {
            one(app, succeeded.into()).await == ROUND as i64
        })
        .await;
        let ids = receiver.distinct_ids();
        assert_eq!(
            (ids.len(), receiver.got().len()),
            (ROUND, ROUND),
            "each once"
        );

        // One killed mid-round: none lost.
        accounts(2).await;
        wait_until(
            "a quarter of the second round",
            Duration::from_secs(60),
            async || one(app, succeeded.into()).await >= (ROUND + ROUND / 4) as i64,
        )
        .await;
        a.kill();
        wait_until("every dispatch", Duration::from_secs(90), async || {
            one(app, succeeded.into()).await == (2 * ROUND) as i64
        })
        .await;
        drop(b);
        let received = receiver.got().len();
        assert_eq!(receiver.distinct_ids().len(), 2 * ROUND, "none lost");
        // Only a POST in flight when A was killed (at most one per endpoint) is sent twice.
        assert!(
            received - 2 * ROUND <= 4,
            "{received} received for {}",
            2 * ROUND
        );
    }
);

// The per-token rate limit holds across servers: a token hammering two servers gets what one
// server would give it (the burst, then the rate), within 10 %.
on_postgres!(the_rate_limit_holds_across_servers, |app| {
    const PER_MINUTE: f64 = 600.0;
    const BURST: f64 = 20.0;
    let env = [
        ("FATHOM_JOBS", "none"),
        ("FATHOM_RATE_LIMIT_PER_MINUTE", "600"),
        ("FATHOM_RATE_LIMIT_BURST", "20"),
    ];
    let servers = [
        Server::start_with(app, &env).await,
        Server::start_with(app, &env).await,
    ];
    let body = json!({"query": "{ me { username } }"}).to_string();
    let started = Instant::now();
    let (mut passed, mut refused) = (0u32, 0u32);
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(6) {
        let server = &servers[i % 2];
        i += 1;
        let (status, answer) = post(server.port, &app.token, &body).await.unwrap();
        match status {
            200 => passed += 1,
            429 => refused += 1,
            other => panic!("HTTP {other}: {answer}"),
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let allowed = BURST + PER_MINUTE / 60.0 * elapsed;
    eprintln!(
        "{passed} passed, {refused} refused in {elapsed:.1} s; the limit allows {allowed:.0}"
    );
    assert!(
        refused > passed,
        "the two servers were hammered ({passed} / {refused})"
    );
    let ratio = passed as f64 / allowed;
    assert!(
        (0.9..=1.1).contains(&ratio),
        "{passed} passed where {allowed:.0} are allowed"
    );
});

on_postgres!(
    an_event_scheduled_through_a_server_without_the_scheduler_runs_on_another_soon,
    |app| {
        // `a` only answers requests; `b` runs the scheduler, idle: it looks for new events at
        // least every MAX_SCHEDULER_SLEEP, since only `a` is woken by the change.
        let a = Server::start(app, "none").await;
        let b = Server::start(app, "scheduler").await;
        let account = app
            .account_activated_at("Soon gone", common::noon("2026-01-05"))
            .await;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let due = chrono::Utc::now() + chrono::Duration::seconds(2);
        let created = a
            .gql(
                &app.token,
                "mutation($input: CreateScheduledEventMutationInput) { createScheduledEvent(input: $input) { id } }",
                json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT",
                    "datetime": due.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)}}),
            )
            .await;
        assert!(created.get("errors").is_none(), "{created}");
        let done = "SELECT COUNT(*) AS n FROM scheduled_events WHERE status = 'COMPLETED'";
        wait_until(
            "the event, run by the other server",
            Duration::from_secs(2) + fathom::worker::MAX_SCHEDULER_SLEEP * 2,
            async || one(app, done.into()).await == 1,
        )
        .await;
        drop((a, b));
    }
);

on_postgres!(
    two_delinquency_passes_one_killed_mid_pass_disconnect_each_account_once,
    |app| {
        const ACCOUNTS: usize = 300;
        let t0 = common::noon("2026-01-15");
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        let mut accounts = Vec::new();
        for i in 0..ACCOUNTS {
            let account = app.account_activated_at(&format!("Owing {i}"), t0).await;
            app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": fiber})).await;
            accounts.push(account);
        }
        // Every account is billed Jan 15, due Jan 29, and never pays: on Feb 20, 22 days
        // delinquent, past the 10 days after which the pass disconnects.
        fathom::service::billing::pass::run_pass(&app.db, common::day("2026-01-15"))
            .await
            .unwrap();
        let admin = app
            .ok(
                "{ users(username: \"admin\") { entities { id } } }",
                json!({}),
            )
            .await["users"]["entities"][0]["id"]
            .clone();
        app.ok(
            "mutation($u: Int64Bit!) { updateBillingSettings(input: {delinquency_disconnect_days: 10, delinquency_user_id: $u}) { delinquency_disconnect_days } }",
            json!({"u": admin}),
        )
        .await;
        let pass = || {
            Command::new(env!("CARGO_BIN_EXE_fathom"))
                .args(["delinquency", "--date", "2026-02-20", "--batch", "7"])
                .env("DATABASE_URL", &app.url)
                .env("FATHOM_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let logs = "SELECT COUNT(*) AS n FROM disconnection_logs WHERE for_non_payment = TRUE";
        let mut first = pass();
        let second = pass();
        wait_until(
            "the first disconnections",
            Duration::from_secs(120),
            async || one(app, logs.into()).await >= 10,
        )
        .await;
        first.kill().expect("SIGKILL");
        let _ = first.wait();
        let at_kill = one(app, logs.into()).await;
        assert!(
            at_kill < ACCOUNTS as i64,
            "the kill came mid-pass ({at_kill} done)"
        );
        let out = second.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // A third pass for the same date finds nothing left to do.
        let third = pass().wait_with_output().unwrap();
        assert!(
            third.status.success(),
            "{}",
            String::from_utf8_lossy(&third.stderr)
        );
        let said = String::from_utf8_lossy(&third.stdout).to_string();
        assert!(said.contains(", 0 disconnected"), "{said}");
        for &account in &accounts {
            let logs = one(
                app,
                format!("SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account} AND for_non_payment = TRUE"),
            )
            .await;
            let changes = one(
                app,
                format!("SELECT COUNT(*) AS n FROM account_events WHERE account_id = {account} AND event = 'STATUS_UPDATED'"),
            )
            .await;
            assert_eq!(
                (logs, changes),
                (1, 1),
                "account {account}: disconnected exactly once"
            );
        }
        app.assert_money_conserved().await;
        let verify = Command::new(env!("CARGO_BIN_EXE_fathom"))
            .arg("verify")
            .env("DATABASE_URL", &app.url)
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{}",
            String::from_utf8_lossy(&verify.stdout)
        );
    }
);

on_postgres!(
    a_disconnection_run_on_two_servers_one_killed_midway_disconnects_each_account_once,
    |app| {
        const ACCOUNTS: usize = 300;
        let t0 = common::noon("2026-01-15");
        let mut accounts = Vec::new();
        for i in 0..ACCOUNTS {
            accounts.push(app.account_activated_at(&format!("Bulk {i}"), t0).await);
        }
        // Ten accounts to a transaction: the run's 300 commit in thirty steps, so the kill
        // lands between two of them however busy the machine is (with 100 to a transaction,
        // the three batches of one server's workers could all commit between two looks).
        let batch = [
            ("FATHOM_JOBS", "scheduler"),
            ("FATHOM_DISCONNECTION_RUN_BATCH", "10"),
        ];
        let mut a = Server::start_with(app, &batch).await;
        let b = Server::start_with(app, &batch).await;
        let created = a
            .gql(
                &app.token,
                "mutation($input: CreateDisconnectionRunMutationInput!) { createDisconnectionRun(input: $input) { id total } }",
                json!({"input": {"name": "bulk", "account_ids": accounts, "disconnection_reason_id": 7}}),
            )
            .await;
        assert_eq!(
            created["data"]["createDisconnectionRun"]["total"], ACCOUNTS,
            "{created}"
        );
        let logs = "SELECT COUNT(*) AS n FROM disconnection_logs";
        wait_until("a third of the run", Duration::from_secs(300), async || {
            one(app, logs.into()).await >= (ACCOUNTS / 3) as i64
        })
        .await;
        a.kill();
        let at_kill = one(app, logs.into()).await;
        assert!(
            at_kill < ACCOUNTS as i64,
            "the kill came midway ({at_kill} done)"
        );
        // The other server (woken at least every MAX_SCHEDULER_SLEEP) finishes it.
        wait_until("the whole run", Duration::from_secs(300), async || {
            one(
                app,
                "SELECT COUNT(*) AS n FROM disconnection_runs WHERE status = 'COMPLETED'".into(),
            )
            .await
                == 1
        })
        .await;
        let counts = one(
            app,
            "SELECT COUNT(*) AS n FROM disconnection_runs WHERE done = 300 AND failed = 0 AND remaining = 0".into(),
        )
        .await;
        assert_eq!(counts, 1);
        for &account in &accounts {
            let logs = one(
                app,
                format!("SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account} AND disconnection_reason_id = 7"),
            )
            .await;
            assert_eq!(logs, 1, "account {account}: disconnected exactly once");
        }
        assert_eq!(one(app, logs.into()).await, ACCOUNTS as i64);
        drop(b);
    }
);
