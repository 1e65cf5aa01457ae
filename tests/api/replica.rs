//! The read replica (DESIGN §10): a real streaming replica of the local PostgreSQL, made with
//! `pg_basebackup -R` into a temporary directory and started with `pg_ctl` on a free port (as
//! the `postgres` user), stopped and removed at the end. The report answered from it equals the
//! primary's once replay caught up; with replay paused past the allowed lag, and with it
//! stopped, the report still answers, from the primary, and the fallback is counted. Needs the primary to allow replication from
//! 127.0.0.1 (`.ci/run` sees to it). Slow, so `#[ignore]`d; `.ci/run` runs it.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

use crate::common::{self, TestApp};

/// A streaming replica of the local primary, for one test.
struct LocalReplica {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
}

/// Runs `program` with `args` as the `postgres` user (through `runuser` when we are root).
pub fn as_postgres(program: &PathBuf, args: &[&str]) -> std::process::Output {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let mut command = if root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    };
    command.args(args).output().expect("run a PostgreSQL tool")
}

/// Where Debian keeps PostgreSQL's server programs (`initdb`, `pg_ctl`, `pg_basebackup`).
pub fn pg_bin() -> PathBuf {
    std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL's programs in /usr/lib/postgresql")
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .find(|b| b.join("pg_basebackup").exists())
        .expect("pg_basebackup")
}

impl LocalReplica {
    async fn start(primary: &TestApp) -> LocalReplica {
        let bin = pg_bin();
        let port = crate::crash::free_port();
        let dir = std::env::temp_dir().join(format!("fathom_replica_{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let _ = Command::new("chown")
            .args(["postgres:postgres", dir.to_str().unwrap()])
            .status();
        let out = as_postgres(
            &bin.join("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                "5432",
                "-U",
                "postgres",
                "-D",
                dir.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        assert!(
            out.status.success(),
            "pg_basebackup: {} (does pg_hba.conf allow replication from 127.0.0.1? .ci/run adds it)",
            String::from_utf8_lossy(&out.stderr)
        );
        // A standby needs these at least as high as its primary's.
        let mut settings = String::new();
        for name in [
            "max_connections",
            "max_worker_processes",
            "max_wal_senders",
            "max_prepared_transactions",
            "max_locks_per_transaction",
        ] {
            let row = primary
                .db
                .query_one_raw(Statement::from_string(
                    DbBackend::Postgres,
                    format!("SELECT current_setting('{name}') AS v"),
                ))
                .await
                .unwrap()
                .unwrap();
            let value: String = row.try_get("", "v").unwrap();
            settings.push_str(&format!("{name} = {value}\n"));
        }
        // Debian keeps the configuration outside the data directory: the copy gets its own.
        let conf = format!(
            "port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             hot_standby = on\nssl = off\nshared_buffers = 32MB\nfsync = off\n{settings}",
            dir.display()
        );
        std::fs::write(dir.join("postgresql.conf"), conf).unwrap();
        std::fs::write(
            dir.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        let _ = Command::new("chown")
            .args(["-R", "postgres:postgres", dir.to_str().unwrap()])
            .status();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let replica = LocalReplica { dir, bin, port };
        let log = replica.dir.join("server.log");
        let out = as_postgres(
            &replica.bin.join("pg_ctl"),
            &[
                "-D",
                replica.dir.to_str().unwrap(),
                "-l",
                log.to_str().unwrap(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        replica
    }

    /// `url` (the test's primary URL, with its schema) pointed at the replica.
    fn url_like(&self, url: &str) -> String {
        url.replacen(":5432/", &format!(":{}/", self.port), 1)
    }

    /// Stops the replica, `mode` being `pg_ctl`'s (`fast`, `immediate`).
    fn stop(&self, mode: &str) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", self.dir.to_str().unwrap(), "-m", mode, "-w", "stop"],
        );
    }
}

impl Drop for LocalReplica {
    fn drop(&mut self) {
        self.stop("immediate");
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const REPORT: &str = "{ activations_and_disconnections_report(start_date: \"2026-01-01\", end_date: \"2026-12-31\") { summary { activation_count disconnection_count months { month activations disconnections } } activations { entities { account_name activated_at } page_info { total_count } } disconnections { entities { account_name disconnected_at } } } }";

async fn get(router: &axum::Router, path: &str) -> String {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let (_, _, bytes) = common::answer(router, request).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

async fn report(router: &axum::Router, token: &str) -> Value {
    let request = common::graphql_request(Some(token), json!({"query": REPORT}).to_string());
    let (_, _, bytes) = common::answer(router, request).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body
}

fn counter(metrics: &str, name: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{name} in {metrics}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts a real PostgreSQL replica; run by .ci/run"]
async fn reports_read_the_replica_and_fall_back_to_the_primary_when_it_lags_or_stops() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    let replica = LocalReplica::start(&app).await;
    // Activations and disconnections, written on the primary after the copy was made.
    for (i, day) in ["2026-02-03", "2026-05-06", "2026-09-10"]
        .iter()
        .enumerate()
    {
        let account = app
            .account_activated_at(&format!("Replicated {i}"), common::noon(day))
            .await;
        if i != 1 {
            app.ok_at(
                common::noon("2026-10-01"),
                "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
                json!({"id": account}),
            )
            .await;
        }
    }
    let mut config = fathom::config::Config::for_database(&app.url);
    config.read_replica_url = Some(replica.url_like(&app.url));
    let with_replica = fathom::app::router(app.db.clone(), &config).unwrap();

    // Once replay has caught up, the replica's report is the primary's.
    let primary = report(&app.router, &app.token).await;
    assert_eq!(
        primary["data"]["activations_and_disconnections_report"]["summary"]["activation_count"],
        3
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let answer = report(&with_replica, &app.token).await;
        if answer == primary {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica never caught up: {answer} vs {primary}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = get(&with_replica, "/metrics").await;
    assert!(
        counter(&metrics, "fathom_replica_reads_total") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        counter(&metrics, "fathom_replica_fallbacks_total"),
        0.0,
        "{metrics}"
    );
    assert!(get(&with_replica, "/readyz").await.contains("replica ok"));

    // Replay paused while the primary moves on: once the replica lags more than
    // FATHOM_MAX_REPLICA_LAG (1 s here), the report reads the primary, which already counts
    // the new activation; /readyz says `lagging`. Replay resumed, the replica serves again.
    let mut config = fathom::config::Config::for_database(&app.url);
    config.read_replica_url = Some(replica.url_like(&app.url));
    config.max_replica_lag = 1;
    let strict = fathom::app::router(app.db.clone(), &config).unwrap();
    let standby = sea_orm::Database::connect(replica.url_like(&app.url))
        .await
        .unwrap();
    standby
        .execute_unprepared("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    app.account_activated_at("Replicated late", common::noon("2026-11-11"))
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let primary = report(&app.router, &app.token).await;
    assert_eq!(
        primary["data"]["activations_and_disconnections_report"]["summary"]["activation_count"],
        4
    );
    assert_eq!(report(&strict, &app.token).await, primary);
    let metrics = get(&strict, "/metrics").await;
    assert!(
        counter(&metrics, "fathom_replica_fallbacks_total") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        counter(&metrics, "fathom_replica_reads_total"),
        0.0,
        "{metrics}"
    );
    assert!(
        counter(&metrics, "fathom_replica_lag_seconds") > 1.0,
        "{metrics}"
    );
    let ready = get(&strict, "/readyz").await;
    assert!(
        ready.starts_with("ready") && ready.contains("replica lagging"),
        "{ready}"
    );
    standby
        .execute_unprepared("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(&strict, "/readyz").await.contains("replica ok") {
        assert!(Instant::now() < deadline, "replay never resumed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(report(&strict, &app.token).await, primary);
    let metrics = get(&strict, "/metrics").await;
    assert!(
        counter(&metrics, "fathom_replica_reads_total") >= 1.0,
        "{metrics}"
    );
    standby.close().await.unwrap();

    // The replica stopped: the report still answers, from the primary, and it is counted.
    replica.stop("immediate");
    tokio::time::sleep(fathom::replica::CHECK_EVERY).await;
    assert_eq!(report(&with_replica, &app.token).await, primary);
    let metrics = get(&with_replica, "/metrics").await;
    assert!(
        counter(&metrics, "fathom_replica_fallbacks_total") >= 1.0,
        "{metrics}"
    );
    let ready = get(&with_replica, "/readyz").await;
    assert!(
        ready.starts_with("ready") && ready.contains("replica down"),
        "{ready}"
    );
    drop(replica);
    app.finish().await;
}

/// A replica that stops between two checks of its health (`pg_ctl stop -m fast`, the check
/// made to stand for ten minutes): the next report is sent to it, fails there for a connection
/// reason, and is answered from the primary in the same request, with no error; the fallback is
/// counted, and the reads after it go to the primary until the next check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts a real PostgreSQL replica; run by .ci/run"]
async fn a_report_sent_to_a_replica_that_just_stopped_is_answered_from_the_primary() {
    let Some(app) = TestApp::postgres().await else {
        panic!("this test needs FATHOM_TEST_POSTGRES_URL");
    };
    let replica = LocalReplica::start(&app).await;
    for (i, day) in ["2026-03-03", "2026-07-07"].iter().enumerate() {
        let account = app
            .account_activated_at(&format!("Stopped {i}"), common::noon(day))
            .await;
        app.ok_at(
            common::noon("2026-10-01"),
            "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
            json!({"id": account}),
        )
        .await;
    }
    let mut config = fathom::config::Config::for_database(&app.url);
    config.read_replica_url = Some(replica.url_like(&app.url));
    config.replica_check_secs = 600;
    let with_replica = fathom::app::router(app.db.clone(), &config).unwrap();
    let primary = report(&app.router, &app.token).await;
    assert_eq!(
        primary["data"]["activations_and_disconnections_report"]["summary"]["disconnection_count"],
        2
    );
    // The replica serves once it is streaming and has replayed the disconnections. A check
    // stands ten minutes here: /readyz checks again until one finds the replica fine.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !get(&with_replica, "/readyz").await.contains("replica ok") {
        assert!(Instant::now() < deadline, "the replica never became usable");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    while report(&with_replica, &app.token).await != primary {
        assert!(Instant::now() < deadline, "the replica never caught up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = get(&with_replica, "/metrics").await;
    let reads = counter(&metrics, "fathom_replica_reads_total");
    assert!(reads >= 1.0, "{metrics}");
    assert_eq!(counter(&metrics, "fathom_replica_fallbacks_total"), 0.0);

    replica.stop("fast");
    // Sent to the replica (its last check said ok), read again from the primary: the same
    // answer, no error (report() asserts that), in well under the request timeout.
    let started = Instant::now();
    assert_eq!(report(&with_replica, &app.token).await, primary);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    let metrics = get(&with_replica, "/metrics").await;
    assert!(
        counter(&metrics, "fathom_replica_fallbacks_total") >= 1.0,
        "{metrics}"
    );
    assert_eq!(
        counter(&metrics, "fathom_replica_reads_total"),
        reads,
        "the failed read is not counted as the replica's: {metrics}"
    );
    // The replica now counts as down: the next report goes straight to the primary.
    let started = Instant::now();
    assert_eq!(report(&with_replica, &app.token).await, primary);
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(replica);
    app.finish().await;
}
