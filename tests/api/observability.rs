//! What an operator sees: `X-Request-Id` on every answer, one structured log line per request,
//! and `/metrics` in Prometheus' text format with the series a dashboard needs.

use fathom::service::base::store::Stamped;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use sea_orm::{ActiveModelTrait, Set};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common;
use fathom::service::base::clock;

fn request_id(headers: &HeaderMap) -> String {
    headers["x-request-id"].to_str().unwrap().to_owned()
}

fn is_fresh_id(id: &str) -> bool {
    id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

fn graphql(token: Option<&str>, id: Option<&str>, body: String) -> Request<Body> {
    let mut builder = Request::post("/api/graphql").header("content-type", "application/json");
    if let Some(token) = token {
        builder = builder.header("authorization", format!("Bearer {token}"));
    }
    if let Some(id) = id {
        builder = builder.header("x-request-id", id);
    }
    builder.body(Body::from(body)).unwrap()
}

on_both!(every_answer_carries_a_request_id, |app| {
    let me = json!({"query": "{ me { username } }"}).to_string();
    let requests = [
        ("ok", graphql(Some(&app.token), None, me.clone())),
        ("unauthenticated", graphql(None, None, me.clone())),
        (
            "too large",
            graphql(Some(&app.token), None, "x".repeat(2 * 1024 * 1024)),
        ),
        (
            "health",
            Request::get("/healthz").body(Body::empty()).unwrap(),
        ),
        (
            "no such path",
            Request::get("/nowhere").body(Body::empty()).unwrap(),
        ),
    ];
    let mut seen = Vec::new();
    for (what, request) in requests {
        let (_, headers, _) = app.send_full(request).await;
        let id = request_id(&headers);
        assert!(is_fresh_id(&id), "{what}: {id}");
        seen.push(id);
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 5, "each request has an id of its own");

    // A sane id from the client (or a proxy) is kept; another is replaced.
    let (_, headers, _) = app
        .send_full(graphql(Some(&app.token), Some("edge-7f3a:42"), me.clone()))
        .await;
    assert_eq!(request_id(&headers), "edge-7f3a:42");
    for insane in ["two words", &"a".repeat(129)] {
        let (_, headers, _) = app
            .send_full(graphql(Some(&app.token), Some(insane), me.clone()))
            .await;
        assert!(is_fresh_id(&request_id(&headers)), "{insane}");
    }
});

/// One HTTP/1.1 exchange over a plain socket: the status line and the body.
fn http(port: u16, request: &str) -> std::io::Result<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(30)))?;
    stream.write_all(request.as_bytes())?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    Ok(response)
}

// The real binary, so that FATHOM_LOG_FORMAT and the process's own subscriber are what is
// tested (a subscriber set for one test thread is not reliable among parallel tests).
#[test]
fn json_logs_have_one_line_per_request_with_its_id_token_operation_duration_and_status() {
    use std::io::{BufRead, BufReader, Read};
    use std::process::{Command, Stdio};
    let path = std::env::temp_dir().join(format!("fathom_logs_{}.db", std::process::id()));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_fathom"))
        .arg("serve")
        .env(
            "DATABASE_URL",
            format!("sqlite://{}?mode=rwc", path.display()),
        )
        .env("FATHOM_BIND", format!("127.0.0.1:{port}"))
        .env("FATHOM_LOG", "info")
        .env("FATHOM_LOG_FORMAT", "json")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start fathom");
    // The admin token is printed once, on stdout, after the server is bound.
    let token = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("fathom_"))
        .expect("an admin token");
    let query = json!({"query": "query WhoAmI { me { username } }"}).to_string();
    let ok = http(
        port,
        &format!(
            "POST /api/graphql HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nX-Request-Id: log-test-1\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{query}",
            query.len()
        ),
    )
    .unwrap();
    assert!(ok.starts_with("HTTP/1.1 200"), "{ok}");
    let refused = http(
        port,
        &format!(
            "POST /api/graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nX-Request-Id: log-test-2\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{query}",
            query.len()
        ),
    )
    .unwrap();
    assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
    // The log line is written as the answer leaves: give it a moment, then stop the server.
    std::thread::sleep(std::time::Duration::from_millis(300));
    child.kill().unwrap();
    let mut text = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut text)
        .unwrap();
    child.wait().unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }

    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let access = |id: &str| -> Vec<&Value> {
        lines
            .iter()
            .filter(|l| l["target"] == "fathom::access" && l["request_id"] == id)
            .collect()
    };
    let ok = access("log-test-1");
    assert_eq!(ok.len(), 1, "one line per request: {text}");
    let ok = ok[0];
    assert_eq!(ok["level"], "INFO");
    assert_eq!(ok["message"], "request");
    assert_eq!(ok["method"], "POST");
    assert_eq!(ok["path"], "/api/graphql");
    assert_eq!(ok["status"], 200);
    assert!(ok["token_id"].as_i64().is_some_and(|id| id > 0), "{ok}");
    assert_eq!(ok["operation"], "WhoAmI");
    assert!(
        ok["duration_ms"].as_f64().is_some_and(|ms| ms >= 0.0),
        "{ok}"
    );
    assert!(ok["timestamp"].is_string());

    let refused = access("log-test-2");
    assert_eq!(refused.len(), 1, "{text}");
    assert_eq!(refused[0]["status"], 401);
    assert!(
        refused[0].get("token_id").is_none(),
        "no token: {}",
        refused[0]
    );
}

#[test]
fn the_log_format_comes_from_a_flag_or_the_environment() {
    use clap::Parser;
    let cli =
        fathom::cli::Cli::try_parse_from(["fathom", "--log-format", "json", "migrate"]).unwrap();
    assert_eq!(cli.config.log_format, fathom::config::LogFormat::Json);
    let cli = fathom::cli::Cli::try_parse_from(["fathom", "migrate"]).unwrap();
    // FATHOM_LOG_FORMAT is not set for the tests: text by default.
    if std::env::var_os("FATHOM_LOG_FORMAT").is_none() {
        assert_eq!(cli.config.log_format, fathom::config::LogFormat::Text);
    }
    assert!(
        fathom::cli::Cli::try_parse_from(["fathom", "--log-format", "xml", "migrate"]).is_err()
    );
}

/// One metric family of a scrape: its HELP, its TYPE and its samples (name, labels, value).
#[derive(Default, Debug)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

/// A strict reader of Prometheus' text format (0.0.4): every line is a HELP, a TYPE, or a
/// sample of a family whose HELP and TYPE came before it; names, labels and values well formed.
fn parse_exposition(text: &str) -> HashMap<String, Family> {
    fn is_name(s: &str) -> bool {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    }
    let mut families: HashMap<String, Family> = HashMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP name text");
            assert!(is_name(name), "{line}");
            let family = families.entry(name.to_owned()).or_default();
            assert!(family.help.is_none(), "one HELP per family: {line}");
            assert!(family.samples.is_empty(), "HELP before samples: {line}");
            family.help = Some(help.to_owned());
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name type");
            assert!(is_name(name), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            let family = families.entry(name.to_owned()).or_default();
            assert!(family.kind.is_none(), "one TYPE per family: {line}");
            assert!(family.samples.is_empty(), "TYPE before samples: {line}");
            family.kind = Some(kind.to_owned());
            continue;
        }
        assert!(!line.starts_with('#'), "no other comments expected: {line}");
        // name{labels} value
        let (series, value) = line.rsplit_once(' ').expect("a sample: name value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("a number: {line}")),
        };
        let (name, labels) = match series.split_once('{') {
            None => (series, BTreeMap::new()),
            Some((name, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = BTreeMap::new();
                let mut chars = body.chars().peekable();
                while chars.peek().is_some() {
                    let key: String = chars.by_ref().take_while(|&c| c != '=').collect();
                    assert!(is_name(&key), "label name {key:?}: {line}");
                    assert_eq!(chars.next(), Some('"'), "{line}");
                    let mut value = String::new();
                    loop {
                        match chars.next().expect("a closed label value") {
                            '\\' => value.push(chars.next().expect("an escape")),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    labels.insert(key, value);
                    match chars.next() {
                        None => break,
                        Some(',') => {}
                        Some(c) => panic!("unexpected {c:?}: {line}"),
                    }
                }
                (name, labels)
            }
        };
        assert!(is_name(name), "{line}");
        let family_name = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix).filter(|base| {
                    families.get(*base).and_then(|f| f.kind.as_deref()) == Some("histogram")
                })
            })
            .unwrap_or(name);
        let family = families
            .get_mut(family_name)
            .unwrap_or_else(|| panic!("a sample of an undeclared family: {line}"));
        assert!(family.help.is_some(), "HELP for {family_name}");
        assert!(family.kind.is_some(), "TYPE for {family_name}");
        family.samples.push((name.to_owned(), labels, value));
    }
    families
}

fn value(
    families: &HashMap<String, Family>,
    family: &str,
    sample: &str,
    labels: &[(&str, &str)],
) -> Option<f64> {
    families
        .get(family)?
        .samples
        .iter()
        .find_map(|(name, l, v)| {
            (name == sample
                && labels
                    .iter()
                    .all(|(k, want)| l.get(*k).map(String::as_str) == Some(*want)))
            .then_some(*v)
        })
}

on_both!(
    metrics_are_prometheus_text_with_the_series_of_an_operators_dashboard,
    |app| {
        let metrics = Arc::new(fathom::metrics::Metrics::new());
        let mut config = fathom::config::Config::for_database("unused");
        config.limits.rate_limit_per_minute = 1;
        config.limits.rate_limit_burst = 6;
        let router =
            fathom::app::router_with_metrics(app.db.clone(), &config, metrics.clone()).unwrap();
        let send = |request: Request<Body>| {
            let router = router.clone();
            async move { router.oneshot(request).await.unwrap().status() }
        };
        let account = common::create_account(app, "Overdue", 1).await;
        let token = Some(app.token.as_str());
        let q = |query: &str| json!({ "query": query }).to_string();
        // Traffic: named, anonymous, a field error, a name too long to be a label, no token,
        // and a token over its rate.
        let named = q("query WhoAmI { me { username } }");
        assert_eq!(
            send(graphql(token, None, named.clone())).await,
            StatusCode::OK
        );
        assert_eq!(send(graphql(token, None, named)).await, StatusCode::OK);
        assert_eq!(
            send(graphql(
                token,
                None,
                q("{ accounts { entities { id account_status { name } } } }")
            ))
            .await,
            StatusCode::OK
        );
        assert_eq!(
            send(graphql(
                token,
                None,
                q("{ disconnect_account_preview(id: 999999) { prorate } }")
            ))
            .await,
            StatusCode::OK
        );
        let long_name = format!("query {} {{ me {{ username }} }}", "Q".repeat(65));
        assert_eq!(
            send(graphql(token, None, q(&long_name))).await,
            StatusCode::OK
        );
        assert_eq!(
            send(graphql(None, None, q("{ me { username } }"))).await,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            send(graphql(token, None, q("{ me { username } }"))).await,
            StatusCode::OK
        );
        assert_eq!(
            send(graphql(token, None, q("{ me { username } }"))).await,
            StatusCode::TOO_MANY_REQUESTS
        );
        // A scheduled event an hour overdue.
        let now = clock::now();
        fathom::entity::scheduled_event::ActiveModel {
            account_id: Set(account),
            event: Set("CHANGE_STATUS".into()),
            datetime: Set(now - chrono::Duration::hours(1)),
            status: Set("PENDING".into()),
            complete: Set(false),
            attempts: Set(0),
            created_by_user_id: Set(1),
            primary_event_object_id: Set(Some("2".into())),
            ..Default::default()
        }
        .stamped(now)
        .insert(&app.db)
        .await
        .unwrap();
        // A billing pass, as the worker runs it.
        let report = fathom::worker::bill_today(&app.db, &metrics).await.unwrap();

        let response = router
            .clone()
            .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4"));
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let families = parse_exposition(&text);

        let kind = |name: &str| {
            families
                .get(name)
                .and_then(|f| f.kind.clone())
                .unwrap_or_else(|| panic!("{name} is missing:\n{text}"))
        };
        for (name, expected) in [
            ("fathom_graphql_request_duration_seconds", "histogram"),
            ("fathom_http_requests_total", "counter"),
            ("fathom_graphql_operations_total", "counter"),
            ("fathom_graphql_errors_total", "counter"),
            ("fathom_unauthenticated_total", "counter"),
            ("fathom_rate_limited_total", "counter"),
            ("fathom_relation_batches_total", "counter"),
            ("fathom_db_pool_connections", "gauge"),
            ("fathom_db_pool_max_connections", "gauge"),
            ("fathom_scheduled_event_lag_seconds", "gauge"),
            ("fathom_billing_pass_duration_seconds", "histogram"),
            ("fathom_billing_passes_total", "counter"),
            ("fathom_billing_accounts_billed_total", "counter"),
            ("fathom_billing_last_pass_timestamp_seconds", "gauge"),
        ] {
            assert_eq!(kind(name), expected, "{name}");
        }

        // Every histogram is whole: cumulative buckets up to +Inf, which equals its count.
        for (name, family) in &families {
            if family.kind.as_deref() != Some("histogram") {
                continue;
            }
            let mut series: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
            for (sample, labels, v) in &family.samples {
                if sample.ends_with("_bucket") {
                    let le = labels["le"].as_str();
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    let mut key = labels.clone();
                    key.remove("le");
                    series.entry(format!("{key:?}")).or_default().push((le, *v));
                }
            }
            assert!(!series.is_empty(), "{name} has buckets");
            for (key, buckets) in series {
                assert!(
                    buckets
                        .windows(2)
                        .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                    "{name}{key}: {buckets:?}"
                );
                assert_eq!(buckets.last().unwrap().0, f64::INFINITY, "{name}{key}");
            }
        }

        let duration = "fathom_graphql_request_duration_seconds";
        let count = |labels: &[(&str, &str)]| {
            value(&families, duration, &format!("{duration}_count"), labels)
        };
        assert_eq!(
            count(&[("operation", "WhoAmI"), ("outcome", "ok")]),
            Some(2.0)
        );
        assert!(count(&[("operation", "anonymous"), ("outcome", "ok")]).unwrap() >= 2.0);
        assert_eq!(
            count(&[("operation", "anonymous"), ("outcome", "NOT_FOUND")]),
            Some(1.0)
        );
        assert_eq!(
            count(&[("operation", "other"), ("outcome", "ok")]),
            Some(1.0)
        );
        assert_eq!(
            count(&[("operation", "unknown"), ("outcome", "UNAUTHENTICATED")]),
            Some(1.0)
        );
        assert_eq!(
            count(&[("operation", "unknown"), ("outcome", "RATE_LIMITED")]),
            Some(1.0)
        );
        let bucket_le = |le: &str| {
            value(
                &families,
                duration,
                &format!("{duration}_bucket"),
                &[("operation", "WhoAmI"), ("outcome", "ok"), ("le", le)],
            )
        };
        assert_eq!(bucket_le("+Inf"), Some(2.0));
        assert!(bucket_le("10").is_some(), "fixed buckets up to 10 s");

        let scalar = |name: &str, labels: &[(&str, &str)]| {
            value(&families, name, name, labels).unwrap_or_else(|| panic!("{name}:\n{text}"))
        };
        assert_eq!(scalar("fathom_unauthenticated_total", &[]), 1.0);
        assert_eq!(scalar("fathom_rate_limited_total", &[]), 1.0);
        assert!(scalar("fathom_http_requests_total", &[]) >= 8.0);
        assert!(scalar("fathom_graphql_errors_total", &[]) >= 1.0);
        // Reads went through the compiled path (one statement each), not the relation loader.
        assert!(scalar("fathom_relation_batches_total", &[]) >= 0.0);
        assert!(scalar("fathom_compiled_reads_total", &[("outcome", "compiled")]) >= 1.0);
        let in_use = scalar("fathom_db_pool_connections", &[("state", "in_use")]);
        let idle = scalar("fathom_db_pool_connections", &[("state", "idle")]);
        let max = scalar("fathom_db_pool_max_connections", &[]);
        assert!(max >= 1.0 && in_use + idle <= max, "{in_use} {idle} {max}");
        let lag = scalar("fathom_scheduled_event_lag_seconds", &[]);
        assert!((3590.0..4000.0).contains(&lag), "an hour late: {lag}");
        assert_eq!(
            value(
                &families,
                "fathom_billing_pass_duration_seconds",
                "fathom_billing_pass_duration_seconds_count",
                &[]
            ),
            Some(1.0)
        );
        assert_eq!(
            scalar("fathom_billing_passes_total", &[("outcome", "ok")]),
            1.0
        );
        assert_eq!(
            scalar("fathom_billing_accounts_billed_total", &[]),
            report.accounts_billed as f64
        );
        assert!(scalar("fathom_billing_last_pass_timestamp_seconds", &[]) > 1.7e9);
    }
);
