//! When the database goes away (DESIGN "Faults", README "Reliability"): PostgreSQL clusters of
//! the tests' own (initdb in a temporary directory, on a free port, as the `postgres` user),
//! restarted, stopped and failed over under load of the real `fathom` binary; SQLite on a full
//! disk (a small tmpfs mount) and killed mid-checkpoint. Each checks what a client saw (a
//! success, or 503 `UNAVAILABLE` with `Retry-After`, nothing else) and that every acknowledged
//! write is whole and nothing refused was written. Slow, and they mount and start databases,
//! so `#[ignore]`d; `.ci/run` runs them.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{self, TestApp};
use crate::crash::{self, free_port, one, start_with};
use crate::replica::{as_postgres, pg_bin};

/// A PostgreSQL cluster of one test: stopped (immediately) and removed when dropped.
struct Cluster {
    dir: PathBuf,
    port: u16,
}

impl Cluster {
    fn pg_ctl(&self, args: &[&str]) -> std::process::Output {
        let log = self.dir.join("server.log");
        let mut all = vec![
            "-D",
            self.dir.to_str().unwrap(),
            "-l",
            log.to_str().unwrap(),
        ];
        all.extend_from_slice(args);
        as_postgres(&pg_bin().join("pg_ctl"), &all)
    }

    fn must(&self, what: &str, out: std::process::Output) {
        assert!(
            out.status.success(),
            "{what}: {}{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default()
        );
    }

    /// An empty directory for a cluster on a free port, owned by `postgres`.
    fn place() -> Cluster {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("fathom_cluster_{port}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        }
        let _ = Command::new("chown")
            .args(["postgres:postgres", dir.to_str().unwrap()])
            .status();
        Cluster { dir, port }
    }

    /// Settings appended to the cluster's postgresql.conf (a later line wins).
    fn configure(&self, extra: &str) {
        use std::io::Write;
        let mut conf = std::fs::OpenOptions::new()
            .append(true)
            .open(self.dir.join("postgresql.conf"))
            .unwrap();
        write!(
            conf,
            "\nport = {}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             shared_buffers = 32MB\nmax_connections = 100\nwal_level = replica\n\
             max_wal_senders = 4\n{extra}\n",
            self.port,
            self.dir.display()
        )
        .unwrap();
    }

    /// A new cluster (initdb), with `extra` settings, started.
    fn init(extra: &str) -> Cluster {
        let cluster = Cluster::place();
        let dir = cluster.dir.to_str().unwrap().to_owned();
        let out = as_postgres(
            &pg_bin().join("initdb"),
            &["-D", &dir, "-U", "postgres", "-A", "trust", "--no-sync"],
        );
        cluster.must("initdb", out);
        cluster.configure(extra);
        std::fs::write(
            cluster.dir.join("pg_hba.conf"),
            "local all all trust\nhost all all 127.0.0.1/32 trust\n\
             host replication all 127.0.0.1/32 trust\n",
        )
        .unwrap();
        cluster.start();
        cluster
    }

    /// A hot standby of `primary` (pg_basebackup -R), started, streaming. It asks for no
    /// synchronous standby of its own, so that once promoted it takes writes alone.
    fn standby_of(primary: &Cluster) -> Cluster {
        let cluster = Cluster::place();
        let port = primary.port.to_string();
        let out = as_postgres(
            &pg_bin().join("pg_basebackup"),
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "postgres",
                "-D",
                cluster.dir.to_str().unwrap(),
                "-R",
                "-X",
                "stream",
                "-c",
                "fast",
            ],
        );
        cluster.must("pg_basebackup", out);
        cluster.configure("hot_standby = on\nsynchronous_standby_names = ''");
        cluster.start();
        cluster
    }

    fn start(&self) {
        let out = self.pg_ctl(&["-w", "-t", "60", "start"]);
        self.must("pg_ctl start", out);
    }

    /// `pg_ctl stop` in `mode` (`fast`, `immediate`).
    fn stop(&self, mode: &str) {
        let out = self.pg_ctl(&["-m", mode, "-w", "-t", "60", "stop"]);
        self.must("pg_ctl stop", out);
    }

    fn restart_fast(&self) {
        let out = self.pg_ctl(&["-m", "fast", "-w", "-t", "60", "restart"]);
        self.must("pg_ctl restart", out);
    }

    fn promote(&self) {
        let out = self.pg_ctl(&["-w", "-t", "60", "promote"]);
        self.must("pg_ctl promote", out);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One HTTP/1.1 request to a server on `port`: the status, the head (lowercased) and the body.
async fn http(
    port: u16,
    method: &str,
    path: &str,
    token: &str,
    body: &str,
) -> std::io::Result<(u16, String, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    Ok((status, head.to_ascii_lowercase(), body.to_owned()))
}

/// What a client got.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    /// 200 and no error.
    Ok,
    /// 503, `Retry-After`, every error `UNAVAILABLE`.
    Unavailable,
    /// Anything else: a failure of the test.
    Bad(String),
}

fn classify(answer: std::io::Result<(u16, String, String)>, took: Duration) -> Seen {
    let (status, head, body) = match answer {
        Ok(answer) => answer,
        Err(e) => return Seen::Bad(format!("no answer: {e}")),
    };
    if took > Duration::from_secs(12) {
        return Seen::Bad(format!("answered after {took:?}, past the request timeout"));
    }
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let codes: Vec<&str> = parsed["errors"]
        .as_array()
        .map(|errors| {
            errors
                .iter()
                .map(|e| e["extensions"]["code"].as_str().unwrap_or("none"))
                .collect()
        })
        .unwrap_or_default();
    match status {
        200 if codes.is_empty() && parsed["data"].is_object() => Seen::Ok,
        503 if !codes.is_empty()
            && codes.iter().all(|c| *c == "UNAVAILABLE")
            && head.contains("\r\nretry-after: ") =>
        {
            Seen::Unavailable
        }
        _ => Seen::Bad(format!("{status} {head} {body}")),
    }
}

const DISCONNECT: &str = "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { id account_status_id } }";
const PAGE: &str = "{ accounts(paginator: {page: 1, records_per_page: 10}) { entities { id name account_status { name } } page_info { total_count } } }";

/// Clients of a server under test: `writers` disconnecting accounts from a queue (each account
/// tried once), `readers` reading a page of accounts, until `stop`; every answer recorded with
/// when it came.
struct Load {
    stop: Arc<std::sync::atomic::AtomicBool>,
    /// (account, what the client saw, when)
    writes: Arc<Mutex<Vec<(i64, Seen, Instant)>>>,
    reads: Arc<Mutex<Vec<(Seen, Instant)>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    fn start(port: u16, token: &str, accounts: &[i64], writers: usize, readers: usize) -> Load {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let queue = Arc::new(Mutex::new(
            accounts.iter().copied().collect::<VecDeque<_>>(),
        ));
        let writes = Arc::new(Mutex::new(Vec::new()));
        let reads = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for _ in 0..writers {
            let (stop, queue, writes, token) = (
                stop.clone(),
                queue.clone(),
                writes.clone(),
                token.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let Some(account) = queue.lock().unwrap().pop_front() else {
                        break;
                    };
                    let body = json!({"query": DISCONNECT, "variables": {"id": account}});
                    let started = Instant::now();
                    let answer =
                        http(port, "POST", "/api/graphql", &token, &body.to_string()).await;
                    let seen = classify(answer, started.elapsed());
                    writes.lock().unwrap().push((account, seen, Instant::now()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        for _ in 0..readers {
            let (stop, reads, token) = (stop.clone(), reads.clone(), token.to_owned());
            tasks.push(tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let body = json!({"query": PAGE}).to_string();
                    let started = Instant::now();
                    let answer = http(port, "POST", "/api/graphql", &token, &body).await;
                    let seen = classify(answer, started.elapsed());
                    reads.lock().unwrap().push((seen, Instant::now()));
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }));
        }
        Load {
            stop,
            writes,
            reads,
            tasks,
        }
    }

    /// Tells the clients to send nothing more (those in flight finish).
    fn halt(&self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    async fn finish(self) -> (Vec<(i64, Seen, Instant)>, Vec<(Seen, Instant)>) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        let writes = self.writes.lock().unwrap().clone();
        let reads = self.reads.lock().unwrap().clone();
        (writes, reads)
    }

    fn acknowledged(&self) -> usize {
        let writes = self.writes.lock().unwrap();
        writes
            .iter()
            .filter(|(_, seen, _)| *seen == Seen::Ok)
            .count()
    }
}

/// Waits until `check` holds (a minute at most).
async fn until(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `fathom verify` on `url` passes.
fn assert_verify_passes(url: &str) {
    let verify = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("verify")
        .env("DATABASE_URL", url)
        .env("FATHOM_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}

fn no_bad_answers(writes: &[(i64, Seen, Instant)], reads: &[(Seen, Instant)]) {
    let bad: Vec<String> = writes
        .iter()
        .map(|(_, seen, _)| seen)
        .chain(reads.iter().map(|(seen, _)| seen))
        .filter_map(|seen| match seen {
            Seen::Bad(what) => Some(what.clone()),
            _ => None,
        })
        .collect();
    assert!(
        bad.is_empty(),
        "{} bad answers, first: {}",
        bad.len(),
        bad[0]
    );
}

/// The primary restarted (`pg_ctl restart -m fast`) and then stopped for longer than a
/// request waits for a connection, under 16 clients (8 disconnecting, 8 reading), with
/// scheduled disconnections falling due while it is down: every client gets a success or
/// 503 `UNAVAILABLE` with `Retry-After` within the request timeout, never anything else;
/// `/readyz` says 503 while it is down; the pool recovers by itself within seconds of the
/// database's return; every acknowledged disconnection is whole, every refused one wrote
/// nothing (the count of successes equals the count of logs), `fathom verify` passes; the
/// scheduler carries out each event that fell due during the outage exactly once, the webhook
/// worker delivers every disconnection log's webhook once, and a billing pass and a
/// delinquency pass caught by the outage, run again, bill each period and decide each account
/// once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts, restarts and stops a PostgreSQL cluster of its own; run by .ci/run"]
async fn a_primary_restarted_and_stopped_under_load_answers_503_and_loses_nothing() {
    let cluster = Cluster::init("");
    let url = cluster.url();
    let mut app = TestApp::postgres_at(&url).await;
    app.lift_rate_limit();
    let accounts = crash::disconnectable_book(&app, 400).await;
    let scheduled = crash::disconnectable_book(&app, 6).await;
    // Every disconnection log is sent to a receiver that answers slowly, so that deliveries
    // are in flight when the database goes away.
    let (hook, receiver) =
        crate::webhooks::Receiver::start_slow(&[], Duration::from_millis(150)).await;
    crate::webhooks::endpoint(&app, &hook, &[("DisconnectionLog", "CREATED")]).await;
    let port = free_port();
    let mut server = start_with(&url, port, &[("FATHOM_RATE_LIMIT_PER_MINUTE", "0")]);
    common::wait_healthy(port).await;

    let load = Load::start(port, &app.token, &accounts, 8, 8);
    until("the first disconnections", async || {
        load.acknowledged() >= 10
    })
    .await;
    cluster.restart_fast();
    until("disconnections after the restart", async || {
        load.acknowledged() >= 30
    })
    .await;

    // Scheduled disconnections due four seconds from now: inside the outage below.
    let due = (chrono::Utc::now() + chrono::Duration::seconds(4)).to_rfc3339();
    for &account in &scheduled {
        app.ok("mutation($a: Int64Bit!, $at: Datetime!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: $at}) { id } }", json!({"a": account, "at": due})).await;
    }

    // Down for longer than a request waits for a connection: refusals, and /readyz says so.
    cluster.stop("fast");
    let down = Instant::now();
    let mut readyz_down = false;
    while down.elapsed() < Duration::from_secs(9) {
        let started = Instant::now();
        let ready = http(port, "GET", "/readyz", "", "").await.unwrap();
        assert!(started.elapsed() < Duration::from_secs(12));
        if ready.0 == 503 && ready.2.contains("database unreachable") {
            readyz_down = true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(readyz_down, "/readyz never said the database was down");
    let refused_during_outage = {
        let writes = load.writes.lock().unwrap();
        writes
            .iter()
            .filter(|(_, seen, at)| *seen == Seen::Unavailable && *at > down)
            .count()
    };
    cluster.start();
    let back = Instant::now();
    until("a success after the return", async || {
        let reads = load.reads.lock().unwrap();
        reads
            .iter()
            .any(|(seen, at)| *seen == Seen::Ok && *at > back)
    })
    .await;
    let recovered = back.elapsed();
    let acknowledged_before = load.acknowledged();
    until("disconnections after the return", async || {
        load.acknowledged() >= acknowledged_before + 20
    })
    .await;
    let (writes, reads) = load.finish().await;

    no_bad_answers(&writes, &reads);
    assert!(
        refused_during_outage > 0,
        "no client was told UNAVAILABLE while the database was down"
    );
    assert!(
        recovered < Duration::from_secs(5),
        "the pool took {recovered:?} to recover"
    );
    let acknowledged: Vec<i64> = writes
        .iter()
        .filter(|(_, seen, _)| *seen == Seen::Ok)
        .map(|(account, _, _)| *account)
        .collect();
    let refused: Vec<i64> = writes
        .iter()
        .filter(|(_, seen, _)| *seen == Seen::Unavailable)
        .map(|(account, _, _)| *account)
        .collect();
    assert!(!refused.is_empty());
    eprintln!(
        "restart: {} acknowledged, {} refused ({refused_during_outage} while down), {} reads; recovered {recovered:?} after the start",
        acknowledged.len(),
        refused.len(),
        reads.len()
    );
    let disconnected = crash::assert_whole_or_untouched(&app, &accounts, &acknowledged).await;
    assert_eq!(
        disconnected,
        acknowledged.len(),
        "a refused disconnection was written"
    );
    let logs = one(
        &app,
        "SELECT COUNT(*) AS n FROM disconnection_logs WHERE scheduled_event_id IS NULL".into(),
    )
    .await;
    assert_eq!(logs as usize, acknowledged.len());

    // The scheduler resumed: each event that fell due in the outage carried out once.
    until("the scheduled events", async || {
        one(
            &app,
            "SELECT COUNT(*) AS n FROM scheduled_events WHERE status = 'COMPLETED'".into(),
        )
        .await
            == scheduled.len() as i64
    })
    .await;
    for &account in &scheduled {
        let logs = one(
            &app,
            format!("SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account}"),
        )
        .await;
        assert_eq!(logs, 1, "account {account} disconnected once by its event");
    }
    // The webhook worker resumed: every log's dispatch delivered, none sent twice.
    let logs = one(&app, "SELECT COUNT(*) AS n FROM disconnection_logs".into()).await;
    until("every webhook delivered", async || {
        one(
            &app,
            "SELECT COUNT(*) AS n FROM webhook_endpoint_event_dispatches WHERE last_status = 'SUCCESS'"
                .into(),
        )
        .await
            == logs
    })
    .await;
    assert_eq!(receiver.distinct_ids().len() as i64, logs);
    assert_eq!(
        receiver.got().len() as i64,
        logs,
        "a webhook was sent twice"
    );
    // A billing pass (next month's periods) and a delinquency pass, in small batches, as
    // processes of their own, caught by a second outage; run again to the end, they bill each
    // period once and decide each account once (verify checks both).
    let today = chrono::Utc::now().date_naive();
    let bill_date = (today + chrono::Duration::days(35)).to_string();
    let today = today.to_string();
    let pass = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("FATHOM_LOG", "warn")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut billing = pass(&["bill", "--date", &bill_date, "--batch", "7"]);
    let mut delinquency = pass(&["delinquency", "--date", &today, "--batch", "7"]);
    tokio::time::sleep(Duration::from_millis(300)).await;

    cluster.stop("fast");
    tokio::time::sleep(Duration::from_secs(3)).await;
    cluster.start();
    let _ = billing.wait();
    let _ = delinquency.wait();
    for args in [
        ["bill", "--date", bill_date.as_str(), "--batch", "7"],
        ["delinquency", "--date", today.as_str(), "--batch", "7"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_fathom"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("FATHOM_LOG", "warn")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let _ = server.kill();
    let _ = server.wait();
    assert_verify_passes(&url);
    app.assert_billing_is_contiguous().await;
    app.assert_money_conserved().await;
    drop(app);
}

/// The database stops answering without closing anything (every process of the cluster stopped
/// with SIGSTOP, as a hung host or a partition looks): a read and a mutation are answered 503
/// `UNAVAILABLE` with `Retry-After` by their time limit (3 s here, plus the second fathom gives
/// a ping), not 408; the mutation wrote nothing; once the database runs again, both succeed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "stops a PostgreSQL cluster of its own with SIGSTOP; run by .ci/run"]
async fn a_database_that_stops_answering_is_unavailable_at_the_time_limit() {
    let cluster = Cluster::init("");
    let url = cluster.url();
    let mut app = TestApp::postgres_at(&url).await;
    app.lift_rate_limit();
    let accounts = crash::disconnectable_book(&app, 2).await;
    let port = free_port();
    let mut server = start_with(
        &url,
        port,
        &[
            ("FATHOM_REQUEST_TIMEOUT_SECS", "3"),
            ("FATHOM_JOBS", "none"),
        ],
    );
    common::wait_healthy(port).await;
    let page = json!({"query": PAGE}).to_string();
    let ask = |body: String| {
        let token = app.token.clone();
        async move {
            let started = Instant::now();
            let answer = http(port, "POST", "/api/graphql", &token, &body).await;
            (classify(answer, started.elapsed()), started.elapsed())
        }
    };
    assert_eq!(ask(page.clone()).await.0, Seen::Ok);

    let postmaster = std::fs::read_to_string(cluster.dir.join("postmaster.pid")).unwrap();
    let postmaster = postmaster.lines().next().unwrap().trim().to_owned();
    let children = Command::new("pgrep")
        .args(["-P", &postmaster])
        .output()
        .unwrap();
    let mut pids = vec![postmaster];
    pids.extend(
        String::from_utf8_lossy(&children.stdout)
            .split_whitespace()
            .map(String::from),
    );
    let signal = |which: &str| {
        let status = Command::new("kill")
            .arg(which)
            .args(&pids)
            .status()
            .unwrap();
        assert!(status.success());
    };
    signal("-STOP");
    let disconnect = json!({"query": DISCONNECT, "variables": {"id": accounts[0]}}).to_string();
    let (read, read_took) = ask(page.clone()).await;
    let (write, write_took) = ask(disconnect.clone()).await;
    signal("-CONT");
    assert_eq!(read, Seen::Unavailable, "after {read_took:?}");
    assert_eq!(write, Seen::Unavailable, "after {write_took:?}");
    for took in [read_took, write_took] {
        assert!(took < Duration::from_secs(6), "{took:?}");
    }
    let logs = one(&app, "SELECT COUNT(*) AS n FROM disconnection_logs".into()).await;
    assert_eq!(logs, 0, "the refused disconnection wrote nothing");
    // Running again: both succeed (the pool's connections that hung are replaced).
    until("a success once the database runs again", async || {
        ask(page.clone()).await.0 == Seen::Ok
    })
    .await;
    assert_eq!(ask(disconnect).await.0, Seen::Ok);
    crash::assert_whole_or_untouched(&app, &accounts, &accounts[..1]).await;
    let _ = server.kill();
    let _ = server.wait();
    drop(app);
}

/// A primary with a synchronous hot standby (a commit is acknowledged once the standby has
/// it); fathom given both hosts (`target_session_attrs=read-write`). Under 8 disconnecting
/// clients the primary is killed (`pg_ctl stop -m immediate`) and the standby promoted:
/// fathom writes to the new primary within 10 s of the promotion, and every disconnection
/// acknowledged before the kill (or after) is whole on the new primary; `fathom verify` passes
/// there.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "starts a PostgreSQL primary and standby of its own and fails over; run by .ci/run"]
async fn a_failover_to_a_synchronous_standby_loses_no_acknowledged_write() {
    let primary = Cluster::init("synchronous_standby_names = '*'");
    let standby = Cluster::standby_of(&primary);
    let mut app = TestApp::postgres_at(&primary.url()).await;
    app.lift_rate_limit();
    until("the standby to be synchronous", async || {
        one(
            &app,
            "SELECT COUNT(*) AS n FROM pg_stat_replication WHERE sync_state = 'sync'".into(),
        )
        .await
            == 1
    })
    .await;
    let accounts = crash::disconnectable_book(&app, 300).await;
    let both = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        primary.port, standby.port
    );
    let port = free_port();
    let mut server = start_with(
        &both,
        port,
        &[
            ("FATHOM_JOBS", "none"),
            ("FATHOM_RATE_LIMIT_PER_MINUTE", "0"),
        ],
    );
    common::wait_healthy(port).await;

    let load = Load::start(port, &app.token, &accounts, 8, 0);
    until("the first disconnections", async || {
        load.acknowledged() >= 20
    })
    .await;
    primary.stop("immediate");
    let killed = Instant::now();
    standby.promote();
    let promoted = Instant::now();
    until("a disconnection on the new primary", async || {
        let writes = load.writes.lock().unwrap();
        writes
            .iter()
            .any(|(_, seen, at)| *seen == Seen::Ok && *at > promoted)
    })
    .await;
    let first_write = {
        let writes = load.writes.lock().unwrap();
        writes
            .iter()
            .filter(|(_, seen, at)| *seen == Seen::Ok && *at > promoted)
            .map(|(_, _, at)| *at)
            .min()
            .unwrap()
    };
    let before_kill = {
        let writes = load.writes.lock().unwrap();
        writes
            .iter()
            .filter(|(_, seen, at)| *seen == Seen::Ok && *at < killed)
            .count()
    };
    let acknowledged_now = load.acknowledged();
    until("more disconnections on the new primary", async || {
        load.acknowledged() >= acknowledged_now + 20
    })
    .await;
    let (writes, reads) = load.finish().await;
    no_bad_answers(&writes, &reads);
    assert!(before_kill >= 20);
    let took = first_write.duration_since(promoted);
    eprintln!(
        "failover: promotion took {:?}; first write on the new primary {took:?} after it; {} acknowledged, {} refused",
        promoted.duration_since(killed),
        writes.iter().filter(|(_, s, _)| *s == Seen::Ok).count(),
        writes.iter().filter(|(_, s, _)| *s == Seen::Unavailable).count()
    );
    assert!(
        took < Duration::from_secs(10),
        "fathom wrote to the new primary {took:?} after the promotion"
    );
    let acknowledged: Vec<i64> = writes
        .iter()
        .filter(|(_, seen, _)| *seen == Seen::Ok)
        .map(|(account, _, _)| *account)
        .collect();
    let _ = server.kill();
    let _ = server.wait();

    // Read on the new primary: every acknowledged disconnection is there, whole.
    app.db = fathom::db::connect(&standby.url()).await.unwrap();
    let standby_now = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT CAST(pg_is_in_recovery() AS INTEGER) AS n".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i32>("", "n")
        .unwrap();
    assert_eq!(standby_now, 0, "the standby was promoted");
    crash::assert_whole_or_untouched(&app, &accounts, &acknowledged).await;
    assert_verify_passes(&standby.url());
    drop(app);
    drop(standby);
    drop(primary);
}

/// A tmpfs mount of `megabytes`, for one test; unmounted when dropped.
struct SmallDisk(PathBuf);

impl SmallDisk {
    fn mount(megabytes: u32) -> SmallDisk {
        let dir = std::env::temp_dir().join(format!("fathom_disk_{}", free_port()));
        std::fs::create_dir_all(&dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m")])
            .arg("tmpfs")
            .arg(&dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mount a tmpfs (the test needs root): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(dir)
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.0.join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        let chunk = vec![7u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn integrity(app: &TestApp) -> String {
    let row = app
        .db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "PRAGMA integrity_check".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<String>(0).unwrap()
}

/// SQLite on a full disk: each disconnection is 503 `UNAVAILABLE` with `Retry-After` and
/// writes nothing (the database's fingerprint unchanged, reads still answered); once there is
/// room again the file is intact (`PRAGMA integrity_check`, `fathom verify`) and the same
/// disconnections succeed, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "mounts a small tmpfs (root); run by .ci/run"]
async fn a_full_disk_is_unavailable_and_leaves_sqlite_intact() {
    let disk = SmallDisk::mount(12);
    let app = TestApp::sqlite_at(&disk.0.join("fathom.db")).await;
    let accounts = crash::disconnectable_book(&app, 4).await;
    // An empty WAL, so that the next write needs new room on the disk.
    app.db
        .execute_unprepared("PRAGMA wal_checkpoint(TRUNCATE)")
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(disk.0.join("fathom.db-wal"))
            .unwrap()
            .len(),
        0
    );
    let before = app.fingerprint().await;
    let filler = disk.fill();
    for &account in &accounts {
        let request = common::graphql_request(
            Some(&app.token),
            json!({"query": DISCONNECT, "variables": {"id": account}}).to_string(),
        );
        let (status, headers, body) = app.send_full(request).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(
            headers.get("retry-after").and_then(|v| v.to_str().ok()),
            Some("2")
        );
        let body: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(common::error_code(&body).as_deref(), Some("UNAVAILABLE"));
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(
            !message.contains("sqlite") && !message.contains("disk"),
            "{message}"
        );
    }
    // Reads still answer, and nothing was written.
    let page = app.ok(PAGE, json!({})).await;
    assert_eq!(page["accounts"]["page_info"]["total_count"], 4);
    assert_eq!(app.fingerprint().await, before);

    std::fs::remove_file(filler).unwrap();
    assert_eq!(integrity(&app).await, "ok");
    assert!(common::violations(&app).await.is_empty());
    for &account in &accounts {
        app.ok(DISCONNECT, json!({"id": account})).await;
    }
    crash::assert_whole_or_untouched(&app, &accounts, &accounts).await;
    assert_eq!(integrity(&app).await, "ok");
    assert_verify_passes(&app.url);
    drop(app);
    drop(disk);
}

/// SQLite, the server killed with SIGKILL three times under 4 disconnecting clients, with a
/// checkpoint after every commit (`FATHOM_SQLITE_WAL_AUTOCHECKPOINT=1`, so that a kill under
/// writes lands in a checkpoint): every acknowledged disconnection is whole after each restart,
/// the file is intact (`PRAGMA integrity_check`), `fathom verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "starts and kills the real binary; run by .ci/run"]
async fn sqlite_killed_mid_checkpoint_loses_no_acknowledged_write() {
    let mut app = TestApp::sqlite().await;
    app.lift_rate_limit();
    let accounts = crash::disconnectable_book(&app, 120).await;
    let mut acknowledged = Vec::new();
    let mut tried = 0;
    for round in 0..3 {
        let port = free_port();
        let mut server = start_with(
            &app.url,
            port,
            &[
                ("FATHOM_SQLITE_WAL_AUTOCHECKPOINT", "1"),
                ("FATHOM_JOBS", "none"),
            ],
        );
        common::wait_healthy(port).await;
        let load = Load::start(port, &app.token, &accounts[tried..], 4, 0);
        until("disconnections before the kill", async || {
            load.acknowledged() >= 10
        })
        .await;
        load.halt();
        server.kill().expect("SIGKILL");
        let _ = server.wait();
        let (writes, _) = load.finish().await;
        tried += writes.len();
        for (account, seen, _) in &writes {
            match seen {
                Seen::Ok => acknowledged.push(*account),
                // Cut off by the kill: no answer at all, which the client cannot take for one.
                Seen::Bad(what) if what.starts_with("no answer") || what.starts_with("0 ") => {}
                other => panic!("round {round}: account {account}: {other:?}"),
            }
        }
        assert_eq!(integrity(&app).await, "ok", "round {round}");
    }
    let disconnected = crash::assert_whole_or_untouched(&app, &accounts, &acknowledged).await;
    assert!(disconnected >= acknowledged.len());
    assert_verify_passes(&app.url);
    app.assert_money_conserved().await;
}
