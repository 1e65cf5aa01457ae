//! Bulk disconnection runs: a dry run from the preview's code, a run carried out by the worker
//! batch by batch with its progress, exactly once per account whatever stops it, cancelled with
//! what is done kept, scheduled for later, selected by search, and every bad input refused with
//! nothing written.

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::common::{self, billed_account, error_code, noon};
use fathom::service::{base::clock, lifecycle::disconnection_runs};

const CREATE: &str = "mutation($input: CreateDisconnectionRunMutationInput!) { createDisconnectionRun(input: $input) { id name status total done failed cancelled remaining datetime disconnection_reason_id comment } }";
const PREVIEW: &str = "query($input: CreateDisconnectionRunMutationInput!) { disconnection_run_preview(input: $input) { total disconnectable refused final_invoice_total credit_total items { account_id would_disconnect error_code final_invoice_total_debits credit_total serviceable_address_id plan { final_invoice_remaining_due } } } }";
const RUN: &str = "query($id: Int64Bit!) { disconnection_runs(id: $id) { entities { status total done failed cancelled remaining started_at finished_at disconnection_run_items(sorter: [{attribute: \"account_id\", direction: ASC}]) { entities { account_id status error_code } } } } }";
const CANCEL: &str = "mutation($id: Int64Bit!) { cancelDisconnectionRun(id: $id) { status done cancelled remaining } }";
const ONE_PREVIEW: &str = "query($id: Int64Bit!) { disconnect_account_preview(id: $id, input: {prorate: true}) { final_invoice_total_debits final_invoice_remaining_due serviceable_address_id credits { amount } } }";

fn id(v: &Value) -> i64 {
    v.as_str().unwrap().parse().unwrap()
}

async fn run_of(app: &common::TestApp, run_id: &Value) -> Value {
    app.ok(RUN, json!({"id": run_id})).await["disconnection_runs"]["entities"][0].clone()
}

/// The disconnection logs of `account`, as (reason id, comment).
async fn logs(app: &common::TestApp, account: i64) -> Vec<(Value, Value)> {
    app.ok(
        "query($id: Int64Bit!) { disconnection_logs(account_id: $id) { entities { disconnection_reason_id comment disconnected_at } } }",
        json!({"id": account}),
    )
    .await["disconnection_logs"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| (l["disconnection_reason_id"].clone(), l["comment"].clone()))
        .collect()
}

/// `query` is refused with `code` (and, for `VALIDATION_FAILED`, naming `field`), writing nothing.
async fn refused(
    app: &common::TestApp,
    query: &str,
    variables: Value,
    code: &str,
    field: Option<&str>,
) {
    let before = app.fingerprint().await;
    let body = app.gql(query, variables.clone()).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some(code),
        "{variables}: {body}"
    );
    if let Some(field) = field {
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
    }
    assert_eq!(
        app.fingerprint().await,
        before,
        "wrote nothing: {variables}"
    );
}

on_both!(
    a_run_previews_then_disconnects_each_account_once_batch_by_batch,
    |app| {
        let mut accounts = Vec::new();
        for name in ["Run A", "Run B", "Run C", "Run D", "Run E"] {
            accounts.push(billed_account(app, name).await.0);
        }
        // One is gone already: the run will fail it as disconnectAccount would.
        app.ok_at(
            noon("2026-01-20"),
            "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
            json!({"id": accounts[2]}),
        )
        .await;
        let input = json!({"name": "Elm St building closed", "account_ids": accounts,
            "prorate": true, "disconnection_reason_id": 7, "comment": "building closed"});

        // The dry run: the preview's numbers, the refusal with its code, nothing written.
        let before = app.fingerprint().await;
        let dry = clock::at_instant(noon("2026-02-01"), app.ok(PREVIEW, json!({"input": input})))
            .await["disconnection_run_preview"]
            .clone();
        assert_eq!(app.fingerprint().await, before, "a dry run writes nothing");
        assert_eq!(
            (
                dry["total"].as_i64(),
                dry["disconnectable"].as_i64(),
                dry["refused"].as_i64()
            ),
            (Some(5), Some(4), Some(1))
        );
        let items = dry["items"].as_array().unwrap();
        assert_eq!(items[2]["error_code"], "ACCOUNT_NOT_ACTIVE");
        assert_eq!(items[2]["plan"], Value::Null);
        let one = clock::at_instant(
            noon("2026-02-01"),
            app.ok(ONE_PREVIEW, json!({"id": accounts[0]})),
        )
        .await["disconnect_account_preview"]
            .clone();
        assert_eq!(
            items[0]["final_invoice_total_debits"],
            one["final_invoice_total_debits"]
        );
        assert_eq!(
            items[0]["plan"]["final_invoice_remaining_due"],
            one["final_invoice_remaining_due"]
        );
        assert_eq!(
            items[0]["serviceable_address_id"],
            one["serviceable_address_id"]
        );
        let credits: i64 = one["credits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["amount"].as_i64().unwrap())
            .sum();
        assert_eq!(items[0]["credit_total"], credits);
        assert_eq!(
            dry["final_invoice_total"],
            4 * one["final_invoice_total_debits"].as_i64().unwrap()
        );

        let created =
            clock::at_instant(noon("2026-02-01"), app.ok(CREATE, json!({"input": input}))).await
                ["createDisconnectionRun"]
                .clone();
        assert_eq!(
            (
                created["status"].as_str(),
                created["total"].as_i64(),
                created["remaining"].as_i64(),
                created["done"].as_i64()
            ),
            (Some("PENDING"), Some(5), Some(5), Some(0))
        );
        assert_eq!(created["disconnection_reason_id"], "7");

        // A worker that stops after one batch of two: two accounts taken, in id order.
        let report = disconnection_runs::run_due(&app.db, noon("2026-02-01"), 2, Some(1))
            .await
            .unwrap();
        assert_eq!(report.done + report.failed, 2, "{report:?}");
        let halfway = run_of(app, &created["id"]).await;
        assert_eq!(halfway["status"], "RUNNING");
        assert_eq!(halfway["remaining"], 3);
        assert!(!halfway["started_at"].is_null());
        // Another worker finishes it; a third finds nothing.
        let rest = disconnection_runs::run_due(&app.db, noon("2026-02-01"), 2, None)
            .await
            .unwrap();
        assert_eq!(report.done + rest.done, 4);
        assert_eq!(report.failed + rest.failed, 1);
        let again = disconnection_runs::run_due(&app.db, noon("2026-02-02"), 100, None)
            .await
            .unwrap();
        assert_eq!(again, disconnection_runs::RunReport::default());

        let done = run_of(app, &created["id"]).await;
        assert_eq!(
            (
                done["status"].as_str(),
                done["done"].as_i64(),
                done["failed"].as_i64(),
                done["remaining"].as_i64()
            ),
            (Some("COMPLETED"), Some(4), Some(1), Some(0))
        );
        assert!(!done["finished_at"].is_null());
        let items = done["disconnection_run_items"]["entities"]
            .as_array()
            .unwrap();
        for (i, item) in items.iter().enumerate() {
            let (status, code) = if i == 2 {
                ("FAILED", json!("ACCOUNT_NOT_ACTIVE"))
            } else {
                ("DONE", Value::Null)
            };
            assert_eq!(
                (item["status"].as_str(), &item["error_code"]),
                (Some(status), &code),
                "{item}"
            );
        }
        // Each account disconnected once, with the run's reason and comment.
        for (i, account) in accounts.iter().enumerate() {
            let logs = logs(app, *account).await;
            assert_eq!(logs.len(), 1, "account {account}: {logs:?}");
            if i != 2 {
                assert_eq!(logs[0], (json!("7"), json!("building closed")));
            }
        }
        assert!(common::violations(app).await.is_empty());
    }
);

on_both!(
    a_scheduled_run_selected_by_search_waits_for_its_datetime_and_can_be_cancelled,
    |app| {
        for name in ["Tower 9 north", "Tower 9 south", "Tower 9 east"] {
            billed_account(app, name).await;
        }
        let other = billed_account(app, "Valley farm").await.0;
        let search = json!([{"string_fields": [{"attribute": "name", "search_value": "tower 9", "match": true, "partial_matching": true}]}]);
        let at = noon("2026-02-01");
        let created = clock::at_instant(at, app.ok(CREATE, json!({"input": {
            "name": "Tower 9 decommissioned", "search": search, "datetime": "2026-02-10T12:00:00Z"}})))
            .await["createDisconnectionRun"]
            .clone();
        assert_eq!(created["total"], 3, "the three tower accounts, not {other}");
        assert_eq!(created["datetime"], "2026-02-10T12:00:00+00:00");
        // Not due before its datetime.
        let early = disconnection_runs::run_due(&app.db, noon("2026-02-09"), 100, None)
            .await
            .unwrap();
        assert_eq!(early, disconnection_runs::RunReport::default());
        assert_eq!(run_of(app, &created["id"]).await["status"], "PENDING");

        // A second run over the same accounts, cancelled before it is due: nothing happens.
        let second = clock::at_instant(
            at,
            app.ok(
                CREATE,
                json!({"input": {
            "name": "duplicate", "search": search, "datetime": "2026-02-11T12:00:00Z"}}),
            ),
        )
        .await["createDisconnectionRun"]
            .clone();
        let cancelled =
            app.ok(CANCEL, json!({"id": second["id"]})).await["cancelDisconnectionRun"].clone();
        assert_eq!(
            cancelled,
            json!({"status": "CANCELLED", "done": 0, "cancelled": 3, "remaining": 0})
        );
        refused(
            app,
            CANCEL,
            json!({"id": second["id"]}),
            "VALIDATION_FAILED",
            Some("id"),
        )
        .await;

        let report = disconnection_runs::run_due(&app.db, noon("2026-02-12"), 100, None)
            .await
            .unwrap();
        assert_eq!(report, disconnection_runs::RunReport { done: 3, failed: 0 });
        let done = run_of(app, &created["id"]).await;
        assert_eq!(done["status"], "COMPLETED");
        refused(
            app,
            CANCEL,
            json!({"id": created["id"]}),
            "VALIDATION_FAILED",
            Some("id"),
        )
        .await;
        // Effective at the run's datetime, as a scheduled disconnection is.
        let disconnected_at = app
            .ok(
                "{ disconnection_logs { entities { disconnected_at } } }",
                json!({}),
            )
            .await["disconnection_logs"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["disconnected_at"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>();
        assert_eq!(disconnected_at, vec!["2026-02-10T12:00:00+00:00"; 3]);
        let other_logs = logs(app, other).await;
        assert!(other_logs.is_empty());
    }
);

on_both!(a_run_cancelled_halfway_keeps_what_it_did, |app| {
    let mut accounts = Vec::new();
    for name in ["Half A", "Half B", "Half C", "Half D"] {
        accounts.push(billed_account(app, name).await.0);
    }
    let created = clock::at_instant(
        noon("2026-02-01"),
        app.ok(
            CREATE,
            json!({"input": {"name": "half", "account_ids": accounts}}),
        ),
    )
    .await["createDisconnectionRun"]
        .clone();
    disconnection_runs::run_due(&app.db, noon("2026-02-01"), 2, Some(1))
        .await
        .unwrap();
    let cancelled =
        app.ok(CANCEL, json!({"id": created["id"]})).await["cancelDisconnectionRun"].clone();
    assert_eq!(
        cancelled,
        json!({"status": "CANCELLED", "done": 2, "cancelled": 2, "remaining": 0})
    );
    let later = disconnection_runs::run_due(&app.db, noon("2026-02-02"), 100, None)
        .await
        .unwrap();
    assert_eq!(later, disconnection_runs::RunReport::default());
    let counts: Vec<usize> = {
        let mut v = Vec::new();
        for a in &accounts {
            v.push(logs(app, *a).await.len());
        }
        v
    };
    assert_eq!(
        counts,
        vec![1, 1, 0, 0],
        "the first two (in id order) stay disconnected"
    );
});

/// Sends `createDisconnectionRun` with an `Idempotency-Key`.
async fn keyed(app: &common::TestApp, key: &str, input: &Value) -> Value {
    let body = json!({"query": CREATE, "variables": {"input": input}}).to_string();
    let request = Request::post("/api/graphql")
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {}", app.token))
        .header("idempotency-key", key)
        .body(Body::from(body))
        .unwrap();
    let response = app.router.clone().oneshot(request).await.unwrap();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

on_both!(
    bad_runs_are_refused_and_write_nothing_and_a_key_creates_one_run,
    |app| {
        let (a, _) = billed_account(app, "Good").await;
        let ok = |extra: Value| {
            let mut input = json!({"name": "x", "account_ids": [a]});
            for (k, v) in extra.as_object().unwrap() {
                input[k] = v.clone();
            }
            json!({"input": input})
        };
        let inactive = app
        .ok("mutation { createDisconnectionReason(input: {name: \"Old\", voluntary: true, active: false}) { id } }", json!({}))
        .await["createDisconnectionReason"]["id"]
        .clone();
        let too_many: Vec<i64> = (1..=disconnection_runs::MAX_ACCOUNTS as i64 + 1).collect();
        for (query, variables, code, field) in [
            (
                CREATE,
                ok(json!({"account_ids": []})),
                "VALIDATION_FAILED",
                Some("account_ids"),
            ),
            (
                CREATE,
                json!({"input": {"name": "x"}}),
                "VALIDATION_FAILED",
                Some("search"),
            ),
            (
                CREATE,
                ok(json!({"general_search": "Good"})),
                "VALIDATION_FAILED",
                Some("account_ids"),
            ),
            (
                CREATE,
                json!({"input": {"name": "x", "general_search": "nobody by this name"}}),
                "VALIDATION_FAILED",
                Some("search"),
            ),
            (
                CREATE,
                json!({"input": {"name": "x", "search": [{"string_fields": [{"attribute": "bogus", "search_value": "x", "match": true}]}]}}),
                "VALIDATION_FAILED",
                None,
            ),
            (
                CREATE,
                ok(json!({"account_ids": [a, a]})),
                "VALIDATION_FAILED",
                Some("account_ids.1"),
            ),
            (
                CREATE,
                ok(json!({"account_ids": [a, 999_999]})),
                "VALIDATION_FAILED",
                Some("account_ids.1"),
            ),
            (
                CREATE,
                ok(json!({"account_ids": too_many})),
                "VALIDATION_FAILED",
                Some("account_ids"),
            ),
            (
                CREATE,
                ok(json!({"company_id": 999})),
                "VALIDATION_FAILED",
                Some("company_id"),
            ),
            (
                CREATE,
                ok(json!({"disconnection_reason_id": inactive})),
                "VALIDATION_FAILED",
                Some("disconnection_reason_id"),
            ),
            (
                CREATE,
                ok(json!({"disconnection_reason_id": 999_999})),
                "VALIDATION_FAILED",
                Some("disconnection_reason_id"),
            ),
            (
                CREATE,
                ok(json!({"name": "  "})),
                "VALIDATION_FAILED",
                Some("name"),
            ),
            (
                CREATE,
                ok(json!({"datetime": "2020-01-01T00:00:00Z"})),
                "SCHEDULED_IN_PAST",
                None,
            ),
            (
                PREVIEW,
                ok(json!({"account_ids": []})),
                "VALIDATION_FAILED",
                Some("account_ids"),
            ),
            (CANCEL, json!({"id": 999_999}), "NOT_FOUND", None),
        ] {
            refused(app, query, variables, code, field).await;
        }
        // Required reasons apply to runs too.
        app.ok("mutation { updateBillingSettings(input: {disconnection_reason_required: true}) { id } }", json!({}))
        .await;
        refused(
            app,
            CREATE,
            ok(json!({})),
            "VALIDATION_FAILED",
            Some("disconnection_reason_id"),
        )
        .await;

        // A Read Only token previews (it reads) but does not run.
        let reader = common::token_with_role(app, "Read Only", "reader").await;
        let body = app
            .gql_as(&reader, CREATE, ok(json!({"disconnection_reason_id": 2})))
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"), "{body}");
        let body = app
            .gql_as(&reader, PREVIEW, ok(json!({"disconnection_reason_id": 2})))
            .await;
        assert!(body.get("errors").is_none(), "{body}");

        // One key, one run: the replay answers the same run.
        let input = ok(json!({"disconnection_reason_id": 2}))["input"].clone();
        let first = keyed(app, "run-key-1", &input).await;
        let second = keyed(app, "run-key-1", &input).await;
        assert!(first.get("errors").is_none(), "{first}");
        assert_eq!(first, second);
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM disconnection_runs")
                .await,
            1
        );
        assert_eq!(
            id(&first["data"]["createDisconnectionRun"]["id"]),
            app.count("SELECT MAX(id) AS n FROM disconnection_runs")
                .await,
            "the one run is the one answered"
        );
    }
);
