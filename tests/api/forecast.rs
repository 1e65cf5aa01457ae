//! `account_forecast`: what the billing pass, the delinquency pass and the scheduled events
//! would do to an account, written nowhere, and equal to what running those passes day by day
//! then does.

use serde_json::{json, Value};

use crate::common::{self, billed_account, day, noon};
use fathom::service::base::{clock, settings};
use fathom::service::billing::pass;
use fathom::service::lifecycle::{delinquency, scheduled};

const FORECAST: &str = "query($id: Int64Bit!, $until: Date!) { account_forecast(account_id: $id, until: $until) { account_id from until account_status_id is_delinquent next_bill_date delinquent_from invoices { date due_date delinquency_date total_debits remaining_due status debits { service_id amount prorated_from prorated_to } } status_changes { date previous_account_status_id account_status_id cause } disconnection { for_non_payment prorated credit_total account_status_id scheduled_event_id final_invoice { date total_debits remaining_due } } scheduled_events { event completed result_message } } }";
const REALITY: &str = "query($id: Int64Bit!) { accounts(id: $id) { entities { account_status_id is_delinquent next_bill_date invoices(sorter: [{attribute: \"id\", direction: ASC}]) { entities { id date due_date delinquency_date total_debits remaining_due status debits(sorter: [{attribute: \"id\", direction: ASC}]) { entities { service_id amount prorated_from prorated_to } } } } account_events(event: STATUS_UPDATED, sorter: [{attribute: \"id\", direction: ASC}]) { entities { event_datetime previous current } } disconnection_logs { entities { for_non_payment prorated credit_total account_status_id scheduled_event_id final_invoice_id } } } } }";

fn id(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_i64().unwrap(),
    }
}

/// The delinquency rules of the walk-through: grace 3 days, switch after 5, disconnect 10
/// days later as admin. Returns the delinquent status.
async fn rules(app: &common::TestApp) -> i64 {
    let status = id(&app.ok("mutation { createAccountStatus(input: {name: \"Delinquent\", activates_account: true, color: \"FF8800\", icon: ADD759610}) { id } }", json!({})).await["createAccountStatus"]["id"]);
    app.ok(
        "mutation($s: Int64Bit!) { createBillingDefault(input: {name: \"All\", default: true, grace_days: 3, switch_status_after_delinquency: true, days_of_delinquency_for_status_switch: 5, delinquency_account_status_id: $s, delinquency_removal_account_status_id: 1}) { id } }",
        json!({"s": status}),
    )
    .await;
    let admin = app
        .ok(
            "{ users(username: \"admin\") { entities { id } } }",
            json!({}),
        )
        .await["users"]["entities"][0]["id"]
        .clone();
    app.ok(
        "mutation($u: Int64Bit!) { updateBillingSettings(input: {delinquency_disconnect_days: 10, delinquency_user_id: $u}) { id } }",
        json!({"u": admin}),
    )
    .await;
    status
}

/// Runs the delinquency pass, the billing pass and the due scheduled events for every day from
/// `from` to `until`, as the worker would, with "now" at the start of each day (`first` on the
/// first).
async fn run_days(
    app: &common::TestApp,
    first: chrono::DateTime<chrono::Utc>,
    from: &str,
    until: &str,
) {
    let snapshot = settings::snapshot(&app.db).await.unwrap();
    let mut d = day(from);
    while d <= day(until) {
        let at = Ord::max(snapshot.start_of_day(d), first);
        clock::at_instant(at, delinquency::run_pass(&app.db, d))
            .await
            .unwrap();
        clock::at_instant(at, pass::run_pass(&app.db, d))
            .await
            .unwrap();
        let next = d.succ_opt().unwrap();
        let end = snapshot.start_of_day(next) - chrono::Duration::seconds(1);
        clock::at_instant(end, scheduled::run_due(&app.db, end))
            .await
            .unwrap();
        d = next;
    }
}

/// What the forecast said, in the shape reality is read in.
fn foreseen(forecast: &Value) -> Value {
    json!({
        "account_status_id": forecast["account_status_id"],
        "is_delinquent": forecast["is_delinquent"],
        "next_bill_date": forecast["next_bill_date"],
        "invoices": forecast["invoices"],
        "status_changes": forecast["status_changes"].as_array().unwrap().iter().map(|c| json!([c["date"], c["previous_account_status_id"], c["account_status_id"]])).collect::<Vec<_>>(),
        "disconnection": forecast["disconnection"].as_object().map(|d| json!({
            "for_non_payment": d["for_non_payment"], "prorated": d["prorated"], "credit_total": d["credit_total"],
            "account_status_id": d["account_status_id"], "scheduled_event_id": d["scheduled_event_id"],
            "final_invoice_total_debits": d["final_invoice"]["total_debits"],
        })),
    })
}

/// What happened to the account after the invoice `after`, read back.
async fn happened(app: &common::TestApp, account: i64, after: i64) -> Value {
    let a = app.ok(REALITY, json!({"id": account})).await["accounts"]["entities"][0].clone();
    let invoices: Vec<&Value> = a["invoices"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| id(&i["id"]) > after)
        .collect();
    let log = a["disconnection_logs"]["entities"][0].clone();
    json!({
        "account_status_id": a["account_status_id"],
        "is_delinquent": a["is_delinquent"],
        "next_bill_date": a["next_bill_date"],
        "invoices": invoices.iter().map(|i| json!({
            "date": i["date"], "due_date": i["due_date"], "delinquency_date": i["delinquency_date"],
            "total_debits": i["total_debits"], "remaining_due": i["remaining_due"], "status": i["status"],
            "debits": i["debits"]["entities"],
        })).collect::<Vec<_>>(),
        "status_changes": a["account_events"]["entities"].as_array().unwrap().iter()
            .filter(|e| e["event_datetime"].as_str().unwrap() >= "2026-01-20")
            .map(|e| json!([&e["event_datetime"].as_str().unwrap()[..10], e["previous"], e["current"]]))
            .collect::<Vec<_>>(),
        "disconnection": log.as_object().map(|d| json!({
            "for_non_payment": d["for_non_payment"], "prorated": d["prorated"], "credit_total": d["credit_total"],
            "account_status_id": d["account_status_id"], "scheduled_event_id": d["scheduled_event_id"],
            "final_invoice_total_debits": invoices.iter().find(|i| i["id"] == d["final_invoice_id"]).map(|i| i["total_debits"].clone()),
        })),
    })
}

on_both!(
    a_forecast_writes_nothing_and_equals_running_the_passes_day_by_day,
    |app| {
        let delinquent = rules(app).await;
        // Never pays: switched Feb 6, disconnected Feb 16 (a day after its Feb 15 invoice).
        let (owing, _) = billed_account(app, "Owing").await;
        // Pays ahead, then leaves by a scheduled disconnection on Apr 10.
        let (payer, _) = billed_account(app, "Payer").await;
        app.ok_at(
            noon("2026-01-16"),
            "mutation($a: Int64Bit!) { createPayment(input: {account_id: $a, amount: 20000, payment_type: CHECK, apply_to_open_invoices: true}) { id } }",
            json!({"a": payer}),
        )
        .await;
        app.ok_at(
            noon("2026-01-16"),
            "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: \"2026-04-10T15:00:00Z\", prorate: true}) { id } }",
            json!({"a": payer}),
        )
        .await;
        let last_invoice = |a: Value| {
            id(&a["accounts"]["entities"][0]["invoices"]["entities"]
                .as_array()
                .unwrap()
                .last()
                .unwrap()["id"])
        };
        let owing_after = last_invoice(app.ok(REALITY, json!({"id": owing})).await);
        let payer_after = last_invoice(app.ok(REALITY, json!({"id": payer})).await);

        let t = noon("2026-01-20");
        let before = app.fingerprint().await;
        let owing_forecast = app
            .ok_at(t, FORECAST, json!({"id": owing, "until": "2026-04-30"}))
            .await["account_forecast"]
            .clone();
        let payer_forecast = app
            .ok_at(t, FORECAST, json!({"id": payer, "until": "2026-04-30"}))
            .await["account_forecast"]
            .clone();
        assert_eq!(app.fingerprint().await, before, "a forecast writes nothing");

        // What it says, in words.
        assert_eq!(owing_forecast["from"], "2026-01-20");
        assert_eq!(owing_forecast["delinquent_from"], "2026-02-02");
        let causes: Vec<&Value> = owing_forecast["status_changes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["cause"])
            .collect();
        assert_eq!(
            causes,
            vec!["DELINQUENCY_SWITCH", "NON_PAYMENT_DISCONNECTION"]
        );
        assert_eq!(owing_forecast["status_changes"][0]["date"], "2026-02-06");
        assert_eq!(
            owing_forecast["status_changes"][0]["account_status_id"],
            delinquent.to_string()
        );
        assert_eq!(owing_forecast["status_changes"][1]["date"], "2026-02-16");
        assert_eq!(owing_forecast["disconnection"]["for_non_payment"], true);
        assert_eq!(
            owing_forecast["invoices"].as_array().unwrap().len(),
            1,
            "Feb 15's takes the uninvoiced install: the disconnection has nothing left to invoice"
        );
        assert_eq!(
            owing_forecast["disconnection"]["final_invoice"],
            Value::Null
        );
        assert_eq!(
            owing_forecast["disconnection"]["credit_total"], 4643,
            "Feb 17 - Mar 14 of 5000 given back"
        );
        assert_eq!(owing_forecast["invoices"][0]["date"], "2026-02-15");
        assert_eq!(payer_forecast["delinquent_from"], Value::Null);
        assert_eq!(
            payer_forecast["scheduled_events"][0]["event"],
            "DISCONNECT_ACCOUNT"
        );
        assert_eq!(payer_forecast["scheduled_events"][0]["completed"], true);
        assert_eq!(
            payer_forecast["status_changes"][0]["cause"],
            "SCHEDULED_EVENT"
        );
        assert_eq!(payer_forecast["status_changes"][0]["date"], "2026-04-10");
        assert_eq!(
            payer_forecast["invoices"][0]["remaining_due"], 0,
            "paid by what the payment left"
        );

        // Reality, day by day.
        run_days(app, t, "2026-01-20", "2026-04-30").await;
        assert_eq!(
            happened(app, owing, owing_after).await,
            foreseen(&owing_forecast)
        );
        assert_eq!(
            happened(app, payer, payer_after).await,
            foreseen(&payer_forecast)
        );
        app.assert_money_conserved().await;
    }
);

on_both!(
    a_forecast_refuses_a_date_out_of_range_and_an_unknown_account,
    |app| {
        let (account, _) = billed_account(app, "Ann").await;
        let t = noon("2026-01-20");
        for (until, field) in [("2026-01-19", "until"), ("2027-01-22", "until")] {
            let body =
                clock::at_instant(t, app.gql(FORECAST, json!({"id": account, "until": until})))
                    .await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
        }
        let body = clock::at_instant(
            t,
            app.gql(FORECAST, json!({"id": 999999, "until": "2026-02-01"})),
        )
        .await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("NOT_FOUND"),
            "{body}"
        );
        // Today alone is allowed, and so is a year and a day.
        clock::at_instant(
            t,
            app.ok(FORECAST, json!({"id": account, "until": "2026-01-20"})),
        )
        .await;
        clock::at_instant(
            t,
            app.ok(FORECAST, json!({"id": account, "until": "2027-01-21"})),
        )
        .await;
    }
);
