//! Webhooks: endpoints and subscriptions through the API, the outbox written with the change
//! it reports, and delivery to a real receiver on 127.0.0.1 (signed, retried, in order, once
//! per worker).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use fathom::service::{
    base::clock,
    webhooks::{
        delivery::{self, Delivery},
        endpoints::{self, Policy},
    },
};

use crate::common::{self, create_account, error_code, TestApp};

const CREATE: &str = "mutation($input: CreateWebhookEndpointMutationInput) { createWebhookEndpoint(input: $input) { id name endpoint enabled signing_secret webhook_endpoint_events { entities { id model event } } } }";
const DISPATCHES: &str = "{ webhook_endpoint_event_dispatches { entities { id payload last_status attempts sent_at webhook_endpoint_id webhook_endpoint_event { model event } webhook_endpoint_event_dispatch_attempts { entities { status response_code response } } } } }";
const DISCONNECT: &str = "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { id account_status_id } }";

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    pub id: String,
    signature: String,
    content_type: String,
    body: String,
}

/// A webhook receiver on 127.0.0.1: records every POST and answers the statuses of its
/// script in turn (200 once the script is used up).
#[derive(Clone, Default)]
pub struct Receiver {
    got: Arc<Mutex<Vec<Got>>>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16]) -> (String, Receiver) {
        Self::start_slow(script, Duration::ZERO).await
    }

    /// A receiver that takes `delay` to answer each request (recorded on arrival).
    pub async fn start_slow(script: &[u16], delay: Duration) -> (String, Receiver) {
        let receiver = Receiver {
            got: Default::default(),
            script: Arc::new(Mutex::new(script.iter().copied().collect())),
        };
        let state = receiver.clone();
        let router = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let state = state.clone();
                async move {
                    let header = |name: &str| {
                        headers
                            .get(name)
                            .and_then(|v| v.to_str().ok())
                            .unwrap_or_default()
                            .to_owned()
                    };
                    state.got.lock().unwrap().push(Got {
                        id: header("x-fathom-webhook-id"),
                        signature: header("x-fathom-signature"),
                        content_type: header("content-type"),
                        body,
                    });
                    let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
                    tokio::time::sleep(delay).await;
                    // A redirect points back here: followed, it would show as one more request.
                    (
                        StatusCode::from_u16(status).unwrap(),
                        [(axum::http::header::LOCATION, "/hook")],
                        format!("answered {status}"),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        (format!("http://127.0.0.1:{port}/hook"), receiver)
    }

    pub fn got(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }

    /// The dispatch ids received, each once, in order.
    pub fn distinct_ids(&self) -> Vec<i64> {
        let mut ids: Vec<i64> = self.got().iter().map(|g| g.id.parse().unwrap()).collect();
        ids.sort();
        ids.dedup();
        ids
    }
}

fn delivery() -> Delivery {
    Delivery::new(Policy {
        allow_http: true,
        allow_private: true,
    })
    .unwrap()
}

fn id_of(value: &Value) -> i64 {
    value.as_str().unwrap().parse().unwrap()
}

/// Creates an endpoint subscribed to `pairs`; returns its id and signing secret.
pub async fn endpoint(app: &TestApp, url: &str, pairs: &[(&str, &str)]) -> (i64, String) {
    let pairs: Vec<Value> = pairs
        .iter()
        .map(|(m, e)| json!({"model": m, "event": e}))
        .collect();
    let data = app
        .ok(
            CREATE,
            json!({"input": {"name": "crm", "endpoint": url, "enabled": true, "model_events": pairs}}),
        )
        .await;
    let created = &data["createWebhookEndpoint"];
    (
        id_of(&created["id"]),
        created["signing_secret"].as_str().unwrap().to_owned(),
    )
}

async fn dispatches(app: &TestApp) -> Vec<Value> {
    app.ok(DISPATCHES, json!({})).await["webhook_endpoint_event_dispatches"]["entities"]
        .as_array()
        .unwrap()
        .clone()
}

/// Checks `got`'s signature with `secret` and returns its body as JSON.
fn verified(got: &Got, secret: &str) -> Value {
    let (t, v1) = got
        .signature
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .unwrap_or_else(|| panic!("a signature: {}", got.signature));
    let expected = endpoints::hex(&delivery::hmac_sha256(
        secret.as_bytes(),
        format!("{t}.{}", got.body).as_bytes(),
    ));
    assert_eq!(v1, expected, "the signature of {}", got.body);
    assert_eq!(got.content_type, "application/json");
    let body: Value = serde_json::from_str(&got.body).unwrap();
    assert_eq!(
        body["id"].to_string(),
        got.id,
        "X-Fathom-Webhook-Id is the dispatch id"
    );
    body
}

async fn deliver(app: &TestApp, at: DateTime<Utc>) -> delivery::DeliveryReport {
    delivery::deliver_due(&app.db, &delivery(), at, 100)
        .await
        .unwrap()
}

on_both!(model_events_are_listed_and_others_refused, |app| {
    let data = app
        .ok(
            "{ webhook_model_events { entities { model events } page_info { total_count } } }",
            json!({}),
        )
        .await;
    let listed: Vec<(String, Vec<String>)> = data["webhook_model_events"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["model"].as_str().unwrap().to_owned(),
                e["events"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_str().unwrap().to_owned())
                    .collect(),
            )
        })
        .collect();
    let expected: Vec<(String, Vec<String>)> = [
        ("Account", &["CREATED", "UPDATED"][..]),
        ("AccountService", &["ATTACHED", "DETACHED"]),
        ("Debit", &["CREATED"]),
        ("DisconnectionLog", &["CREATED"]),
        ("Discount", &["CREATED"]),
        ("Invoice", &["CREATED"]),
        ("Payment", &["CREATED", "UPDATED"]),
        ("ReversedPayment", &["CREATED"]),
        ("ScheduledEvent", &["CREATED", "UPDATED", "DELETED"]),
        ("VoidedPayment", &["CREATED"]),
    ]
    .iter()
    .map(|(m, e)| (m.to_string(), e.iter().map(|s| s.to_string()).collect()))
    .collect();
    assert_eq!(listed, expected);

    // An unknown pair, a bad URL, an empty name: VALIDATION_FAILED, nothing written.
    let before = app.fingerprint().await;
    for input in [
        json!({"name": "x", "endpoint": "https://example.com/h", "enabled": true, "model_events": [{"model": "Account", "event": "DELETED"}]}),
        json!({"name": "x", "endpoint": "https://example.com/h", "enabled": true, "model_events": [{"model": "Contact", "event": "CREATED"}]}),
        json!({"name": "x", "endpoint": "ftp://example.com/h", "enabled": true}),
        json!({"name": "x", "endpoint": "https://user:pw@example.com/h", "enabled": true}),
        json!({"name": " ", "endpoint": "https://example.com/h", "enabled": true}),
    ] {
        let body = app.gql(CREATE, json!({"input": input})).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{input}: {body}"
        );
    }
    let body = app
        .gql(CREATE, json!({"input": {"name": "x", "endpoint": "https://example.com/h", "enabled": true, "model_events": [{"model": "Account", "event": "DELETED"}]}}))
        .await;
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("Account UPDATED") && message.contains("ScheduledEvent DELETED"),
        "{message}"
    );
    assert_eq!(app.fingerprint().await, before);

    // The secret is shown once; a subscription cannot be made twice.
    let (id, secret) = endpoint(app, "https://example.com/h", &[("Account", "CREATED")]).await;
    assert!(secret.len() >= 32, "{secret}");
    let read = app
        .ok("{ webhook_endpoints { entities { id signing_secret webhook_endpoint_events { entities { model event } } } } }", json!({}))
        .await;
    assert_eq!(
        read["webhook_endpoints"]["entities"][0]["signing_secret"],
        Value::Null
    );
    let again = app
        .gql("mutation($input: CreateWebhookEndpointEventMutationInput) { createWebhookEndpointEvent(input: $input) { id } }",
            json!({"input": {"webhook_endpoint_id": id, "model": "Account", "event": "CREATED"}}))
        .await;
    assert_eq!(error_code(&again).as_deref(), Some("CONFLICT"), "{again}");

    // Deleted endpoints are not listed (and are NOT_FOUND to change).
    app.ok(
        "mutation($id: Int64Bit!) { deleteWebhookEndpoint(id: $id) { success } }",
        json!({"id": id}),
    )
    .await;
    let read = app
        .ok("{ webhook_endpoints { entities { id } } }", json!({}))
        .await;
    assert_eq!(read["webhook_endpoints"]["entities"], json!([]));
    let body = app
        .gql("mutation($id: Int64Bit!) { updateWebhookEndpoint(id: $id, input: {enabled: false}) { id } }", json!({"id": id}))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");
});

// DESIGN §3: Billing has every permission but USERS_MANAGE and SETTINGS_WRITE, so it manages
// webhooks; Read Only does not.
on_both!(billing_manages_webhooks_and_read_only_does_not, |app| {
    let billing = common::token_with_role(app, "Billing", "billing1").await;
    let read_only = common::token_with_role(app, "Read Only", "reader1").await;
    for query in [
        "{ webhook_endpoints { entities { id } } }",
        "{ webhook_model_events { entities { model } } }",
        "mutation { createWebhookEndpoint(input: {name: \"x\", endpoint: \"https://example.com/h\", enabled: true}) { id } }",
    ] {
        let body = app.gql_as(read_only.as_str(), query, json!({})).await;
        assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"), "{query}: {body}");
        let body = app.gql_as(billing.as_str(), query, json!({})).await;
        assert!(body.get("errors").is_none(), "{query}: {body}");
    }
});

on_both!(a_disconnection_reaches_the_endpoint_signed, |app| {
    let (url, receiver) = Receiver::start(&[]).await;
    let (endpoint_id, secret) = endpoint(
        app,
        &url,
        &[
            ("Account", "UPDATED"),
            ("DisconnectionLog", "CREATED"),
            ("Invoice", "CREATED"),
            ("Discount", "CREATED"),
        ],
    )
    .await;
    let (account, _) = common::billed_account(app, "Hooked").await;
    let before = dispatches(app).await.len();
    // The account was changed while billed (Account UPDATED by its address, the billing pass's
    // invoice...): those are dispatches too.
    assert!(before >= 1, "{before}");
    let t = common::noon("2026-01-20");
    // With a reason (the first seeded one, Non-payment) and a comment: the payload carries both.
    app.ok_at(
        t,
        "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true, disconnection_reason_id: 1, comment: \"card declined\"}) { id } }",
        json!({"id": account}),
    )
    .await;
    let all = dispatches(app).await;
    let new: Vec<&Value> = all[before..].iter().collect();
    let kinds: Vec<(String, String)> = new
        .iter()
        .map(|d| {
            let p: Value = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
            (
                p["model"].as_str().unwrap().to_owned(),
                p["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for wanted in [
        ("Account", "UPDATED"),
        ("DisconnectionLog", "CREATED"),
        ("Invoice", "CREATED"),
        ("Discount", "CREATED"),
    ] {
        assert!(
            kinds.iter().any(|(m, e)| m == wanted.0 && e == wanted.1),
            "{wanted:?} among {kinds:?}"
        );
    }
    assert!(new
        .iter()
        .all(|d| d["last_status"] == "PENDING" && id_of(&d["webhook_endpoint_id"]) == endpoint_id));

    // Delivered, one endpoint in order: every due dispatch goes out, each signed.
    // (The billing pass ran at the real time, after `t`: deliver once all are due.)
    let due = Utc::now() + chrono::Duration::minutes(1);
    let mut rounds = 0;
    while deliver(app, due).await.delivered > 0 {
        rounds += 1;
        assert!(rounds < 100);
    }
    let got = receiver.got();
    assert_eq!(got.len(), all.len(), "every dispatch delivered once");
    let ids: Vec<i64> = got.iter().map(|g| g.id.parse().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "in order of change");
    let bodies: Vec<Value> = got.iter().map(|g| verified(g, &secret)).collect();
    let update = bodies
        .iter()
        .rev()
        .find(|b| b["model"] == "Account" && b["event"] == "UPDATED")
        .unwrap();
    assert_eq!(update["object"]["id"], account);
    assert_eq!(update["object"]["next_recurring_charge_amount"], 0);
    let status = &update["changes"]["account_status_id"];
    assert!(status.is_array() && status[0] != status[1], "{update}");
    let log = bodies
        .iter()
        .find(|b| b["model"] == "DisconnectionLog")
        .unwrap();
    assert_eq!(log["object"]["account_id"], account);
    assert_eq!(log["changes"], Value::Null);
    // Why, and by whom.
    assert_eq!(log["object"]["disconnection_reason_id"], 1);
    assert_eq!(log["object"]["comment"], "card declined");
    assert!(log["object"]["disconnected_by_user_id"].is_i64(), "{log}");
    assert!(
        log["occurred_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-01-20T"),
        "{log}"
    );

    let after = dispatches(app).await;
    for d in &after {
        assert_eq!(d["last_status"], "SUCCESS", "{d}");
        assert_eq!(d["attempts"], 1);
        assert_eq!(
            d["webhook_endpoint_event_dispatch_attempts"]["entities"][0]["response_code"],
            200
        );
    }

    // A refused disconnection (the account is no longer active) enqueues nothing.
    let fingerprint = app.fingerprint().await;
    let body = app.gql(DISCONNECT, json!({"id": account})).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("ACCOUNT_NOT_ACTIVE"),
        "{body}"
    );
    assert_eq!(app.fingerprint().await, fingerprint);
    assert_eq!(deliver(app, due).await, Default::default());
});

on_both!(
    a_failing_endpoint_gets_the_dispatch_again_until_it_answers,
    |app| {
        let (url, receiver) = Receiver::start(&[500, 500, 200]).await;
        let (_, secret) = endpoint(app, &url, &[("Account", "CREATED")]).await;
        let t0 = common::noon("2026-03-02");
        let first = clock::at_instant(t0, create_account(app, "One", 1)).await;
        let second = clock::at_instant(t0, create_account(app, "Two", 1)).await;

        let report = deliver(app, t0).await;
        assert_eq!((report.delivered, report.failed_attempts), (0, 1));
        // Not due again yet; and the second waits behind the first (one endpoint, in order).
        assert_eq!(
            deliver(app, t0 + chrono::Duration::seconds(30)).await,
            Default::default()
        );
        let report = deliver(app, t0 + chrono::Duration::minutes(2)).await;
        assert_eq!((report.delivered, report.failed_attempts), (0, 1));
        let report = deliver(app, t0 + chrono::Duration::minutes(10)).await;
        assert_eq!((report.delivered, report.failed_attempts), (1, 0));
        let report = deliver(app, t0 + chrono::Duration::minutes(10)).await;
        assert_eq!((report.delivered, report.failed_attempts), (1, 0));

        let got = receiver.got();
        let accounts: Vec<i64> = got
            .iter()
            .map(|g| verified(g, &secret)["object"]["id"].as_i64().unwrap())
            .collect();
        assert_eq!(accounts, vec![first, first, first, second]);
        assert_eq!(got[0].id, got[2].id, "the same dispatch id each time");

        let all = dispatches(app).await;
        assert_eq!(all.len(), 2);
        assert_eq!(all[0]["last_status"], "SUCCESS");
        assert_eq!(all[0]["attempts"], 3);
        let attempts = &all[0]["webhook_endpoint_event_dispatch_attempts"]["entities"];
        let codes: Vec<Value> = attempts
            .as_array()
            .unwrap()
            .iter()
            .map(|a| json!([a["status"], a["response_code"]]))
            .collect();
        assert_eq!(
            codes,
            vec![
                json!(["FAIL", 500]),
                json!(["FAIL", 500]),
                json!(["SUCCESS", 200])
            ]
        );
        assert_eq!(attempts[0]["response"], "answered 500");
        assert_eq!(all[1]["attempts"], 1);
    }
);

on_both!(a_dispatch_is_given_up_after_twelve_attempts, |app| {
    let (url, receiver) = Receiver::start(&[503; 20]).await;
    endpoint(app, &url, &[("Account", "CREATED")]).await;
    let t0 = common::noon("2026-03-02");
    clock::at_instant(t0, create_account(app, "Never", 1)).await;
    let mut at = t0;
    let mut given_up = 0;
    for _ in 0..12 {
        given_up += deliver(app, at).await.given_up;
        at += chrono::Duration::days(2);
    }
    assert_eq!(receiver.got().len(), 12);
    assert_eq!(given_up, 1);
    let all = dispatches(app).await;
    assert_eq!(all[0]["last_status"], "FAIL");
    assert_eq!(all[0]["attempts"], 12);
    assert_eq!(
        deliver(app, at + chrono::Duration::days(30)).await,
        Default::default()
    );
});

on_both!(two_workers_deliver_each_dispatch_once, |app| {
    let (url_a, a) = Receiver::start(&[]).await;
    let (url_b, b) = Receiver::start(&[]).await;
    endpoint(app, &url_a, &[("Account", "CREATED")]).await;
    endpoint(app, &url_b, &[("Account", "CREATED")]).await;
    let t0 = common::noon("2026-03-02");
    for i in 0..15 {
        clock::at_instant(t0, create_account(app, &format!("A{i}"), 1)).await;
    }
    let one = delivery();
    let two = delivery();
    loop {
        let (x, y) = tokio::join!(
            delivery::deliver_due(&app.db, &one, t0, 100),
            delivery::deliver_due(&app.db, &two, t0, 100),
        );
        if x.unwrap().delivered + y.unwrap().delivered == 0 {
            break;
        }
    }
    for receiver in [a, b] {
        let mut ids: Vec<String> = receiver.got().into_iter().map(|g| g.id).collect();
        assert_eq!(ids.len(), 15, "{ids:?}");
        let in_order = ids.clone();
        ids.sort_by_key(|i| i.parse::<i64>().unwrap());
        assert_eq!(in_order, ids, "each endpoint in order");
        ids.dedup();
        assert_eq!(ids.len(), 15, "no dispatch twice");
    }
});

on_both!(a_test_webhook_is_sent_at_once, |app| {
    let (url, receiver) = Receiver::start(&[418, 302]).await;
    let (id, secret) = endpoint(app, &url, &[]).await;
    const TEST: &str = "mutation($id: Int64Bit!) { generateTestWebhook(id: $id) { success status_code response } }";
    // A refusal, then a redirect (an answer like any other: not followed, not a success), then
    // a success.
    for (success, status) in [(false, 418), (false, 302), (true, 200)] {
        let data = app.ok(TEST, json!({"id": id})).await;
        assert_eq!(
            data["generateTestWebhook"],
            json!({"success": success, "status_code": status, "response": format!("answered {status}")})
        );
    }
    let got = receiver.got();
    assert_eq!(got.len(), 3, "the redirect was not followed");
    assert_eq!(verified(&got[2], &secret)["event"], "TEST");
    // Nothing stored.
    assert!(dispatches(app).await.is_empty());
    // An endpoint nobody listens on: an answer, not an error.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        format!("http://127.0.0.1:{port}/hook")
    };
    let (id, _) = endpoint(app, &closed, &[]).await;
    let data = app.ok(TEST, json!({"id": id})).await;
    assert_eq!(data["generateTestWebhook"]["success"], false);
    assert_eq!(data["generateTestWebhook"]["status_code"], 0);
});

/// Private addresses are refused unless allowed, when the name is resolved.
#[tokio::test]
async fn private_addresses_are_refused_at_delivery() {
    let (url, receiver) = Receiver::start(&[]).await;
    let strict = Delivery::new(Policy {
        allow_http: true,
        allow_private: false,
    })
    .unwrap();
    let answer = strict.send(&url, "k", 1, "{}".into()).await;
    assert!(!answer.success);
    assert!(answer.response.contains("private"), "{answer:?}");
    let by_name = url.replace("127.0.0.1", "localhost");
    let answer = strict.send(&by_name, "k", 1, "{}".into()).await;
    assert!(!answer.success);
    assert!(answer.response.contains("private"), "{answer:?}");
    let https_only = Delivery::new(Policy::default()).unwrap();
    let answer = https_only.send(&url, "k", 1, "{}".into()).await;
    assert!(answer.response.contains("https"), "{answer:?}");
    assert!(receiver.got().is_empty());
}

// The outbox keeps the disconnection within its statement budget (DESIGN §9: 15 on
// PostgreSQL): the dispatches travel in the statement that writes the audit rows; reporting
// the disconnection log itself needs its id first, one statement more. Pinned exactly.
on_both!(
    with_subscribers_a_disconnection_stays_within_its_budget,
    |app| {
        let (url, receiver) = Receiver::start(&[]).await;
        let account_only = [
            ("Account", "UPDATED"),
            ("Invoice", "CREATED"),
            ("Discount", "CREATED"),
        ];
        for (round, pairs) in [
            &account_only[..],
            &[("Account", "UPDATED"), ("DisconnectionLog", "CREATED")][..],
        ]
        .into_iter()
        .enumerate()
        {
            let (id, _) = endpoint(app, &url, pairs).await;
            let (account, _) = common::billed_account(app, &format!("Budget {round}")).await;
            let other = app
                .account_activated_at(&format!("Warm {round}"), common::noon("2026-01-15"))
                .await;
            let before = dispatches(app).await.len();
            let statements = common::statements_of_a_disconnection(app, account, other).await;
            // SQLite: one statement more than without subscribers (the dispatches), and one less
            // than disconnect.rs's budget test, whose account has a scheduled disconnection to
            // cancel (SQLite cancels only when there is one; PostgreSQL always tries, first).
            let pinned = match (app.backend, round) {
                ("postgres", 0) => 11,
                ("postgres", _) => 13,
                _ => 16,
            };
            assert_eq!(statements, pinned, "round {round} on {}", app.backend);
            let new = dispatches(app).await.len() - before;
            // Round 0: both accounts, the final invoice, the proration credit; round 1: both
            // accounts and both disconnection logs.
            assert_eq!(new, 4, "round {round}");
            app.ok(
                "mutation($id: Int64Bit!) { deleteWebhookEndpoint(id: $id) { success } }",
                json!({"id": id}),
            )
            .await;
        }
        assert!(receiver.got().is_empty());
    }
);

// Every pair webhook_model_events lists is reported by the mutations (and the passes) that
// make such a change.
on_both!(every_listed_pair_is_reported, |app| {
    let (url, _receiver) = Receiver::start(&[]).await;
    let all: Vec<(&str, &str)> = endpoints::MODEL_EVENTS
        .iter()
        .flat_map(|(m, events)| events.iter().map(move |e| (*m, *e)))
        .collect();
    endpoint(app, &url, &all).await;
    // An account activated, given an address and a service (billed by the pass), and a
    // one-time charge.
    let (account, _) = common::billed_account(app, "Everything").await;
    let t = common::noon("2026-01-20");
    // A second service added mid-period (a prorated debit), then removed with proration (a
    // credit).
    let extra = app.recurring_service("Extra", 3000, 1).await;
    let added = app
        .ok_at(t, "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }",
            json!({"input": {"account_id": account, "service_id": extra, "quantity": 1}}))
        .await;
    app.ok_at(t, "mutation($id: Int64Bit!) { deleteAccountService(id: $id, input: {prorate: true}) { success } }",
        json!({"id": added["addServiceToAccount"]["id"]}))
        .await;
    // A scheduled event created, changed and deleted; another cancelled by the disconnection.
    let schedule = "mutation($a: Int64Bit!, $at: Datetime!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: $at}) { id } }";
    let event = app
        .ok_at(
            t,
            schedule,
            json!({"a": account, "at": "2026-03-01T12:00:00Z"}),
        )
        .await;
    let event = event["createScheduledEvent"]["id"].clone();
    app.ok_at(t, "mutation($id: Int64Bit!) { updateScheduledEvent(id: $id, input: {description: \"later\"}) { id } }", json!({"id": event}))
        .await;
    app.ok_at(
        t,
        "mutation($id: Int64Bit!) { deleteScheduledEvent(id: $id) { success } }",
        json!({"id": event}),
    )
    .await;
    app.ok_at(
        t,
        schedule,
        json!({"a": account, "at": "2026-04-01T12:00:00Z"}),
    )
    .await;
    // Payments: one kept, one reversed, one voided the same day.
    let pay = "mutation($a: Int64Bit!, $n: Int!) { createPayment(input: {account_id: $a, amount: $n, payment_type: CASH}) { id } }";
    app.ok_at(t, pay, json!({"a": account, "n": 100})).await;
    let reversed = app.ok_at(t, pay, json!({"a": account, "n": 50})).await;
    app.ok_at(
        t,
        "mutation($id: Int64Bit!) { reversePayment(id: $id, input: {amount: 50}) { id } }",
        json!({"id": reversed["createPayment"]["id"]}),
    )
    .await;
    let voided = app.ok_at(t, pay, json!({"a": account, "n": 20})).await;
    app.ok_at(
        t,
        "mutation($id: Int64Bit!) { voidPayment(id: $id, input: {amount: 20}) { id } }",
        json!({"id": voided["createPayment"]["id"]}),
    )
    .await;
    app.ok_at(t, DISCONNECT, json!({"id": account})).await;

    let mut seen: Vec<(String, String)> = dispatches(app)
        .await
        .iter()
        .map(|d| {
            let p: Value = serde_json::from_str(d["payload"].as_str().unwrap()).unwrap();
            assert_eq!(d["webhook_endpoint_event"]["model"], p["model"]);
            assert_eq!(d["webhook_endpoint_event"]["event"], p["event"]);
            (
                p["model"].as_str().unwrap().to_owned(),
                p["event"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    seen.sort();
    seen.dedup();
    let mut expected: Vec<(String, String)> = all
        .iter()
        .map(|(m, e)| (m.to_string(), e.to_string()))
        .collect();
    expected.sort();
    assert_eq!(seen, expected);
});
