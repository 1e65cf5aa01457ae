//! Churn in the Activations & Disconnections report: disconnections by reason and as
//! voluntary or not, lost MRR, win-backs and the churn rate, per month and for the period,
//! each equal to what hand-written SQL over the same rows answers.

use std::collections::BTreeMap;

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{json, Value};

use crate::common::{self, noon};

const REPORT: &str = r#"query($start: Date, $end: Date, $company: Int64Bit) {
  activations_and_disconnections_report(start_date: $start, end_date: $end, company_id: $company) {
    disconnections(sorter: [{attribute: "disconnected_at", direction: ASC}]) {
      entities { account_id disconnection_reason_id voluntary for_non_payment comment monthly_recurring_amount }
    }
    activations(sorter: [{attribute: "activated_at", direction: ASC}]) { entities { account_id win_back } }
    summary {
      disconnection_count
      churn { ...churn }
      months { month disconnections churn { ...churn } }
    }
  }
}
fragment churn on Churn {
  voluntary_disconnections involuntary_disconnections unspecified_disconnections
  lost_mrr win_backs active_accounts_at_start churn_rate
  disconnections_by_reason { disconnection_reason_id name voluntary disconnections lost_mrr }
}"#;
const DISCONNECT: &str = "mutation($id: Int64Bit!, $input: DisconnectAccountMutationInput) { disconnectAccount(id: $id, input: $input) { id } }";
const REACTIVATE: &str =
    "mutation($id: Int64Bit!) { updateAccount(id: $id, input: {account_status_id: 1}) { id } }";

/// Rows of a hand-written query, each as a map of its columns.
async fn rows(app: &common::TestApp, sql: &str) -> Vec<BTreeMap<String, Value>> {
    let backend = app.db.get_database_backend();
    let found = app
        .db
        .query_all_raw(Statement::from_string(backend, sql.to_owned()))
        .await
        .unwrap();
    found
        .iter()
        .map(|row| {
            row.column_names()
                .into_iter()
                .map(|name| {
                    let value = row
                        .try_get::<Option<i64>>("", &name)
                        .map(|v| v.map_or(Value::Null, Value::from))
                        .or_else(|_| {
                            row.try_get::<Option<bool>>("", &name)
                                .map(|v| v.map_or(Value::Null, Value::from))
                        })
                        .or_else(|_| {
                            row.try_get::<Option<String>>("", &name)
                                .map(|v| v.map_or(Value::Null, Value::from))
                        })
                        .unwrap();
                    (name, value)
                })
                .collect()
        })
        .collect()
}

/// `YYYY-MM` of a timestamp column (the instance time zone is UTC).
fn month_of(backend: DbBackend, column: &str) -> String {
    match backend {
        DbBackend::Postgres => format!("to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM')"),
        _ => format!("substr({column}, 1, 7)"),
    }
}

/// What hand-written SQL says of month `month` (`YYYY-MM`): per reason (id or null) the
/// disconnections and their lost MRR with the reason's voluntary flag and for_non_payment,
/// the win-backs, and the accounts active when it starts (each account's last status event
/// before the month leaves it in an activating status).
async fn by_hand(app: &common::TestApp, month: &str) -> Value {
    let backend = app.db.get_database_backend();
    let logs = month_of(backend, "l.disconnected_at");
    let reasons = rows(
        app,
        &format!(
            "SELECT l.disconnection_reason_id AS reason, r.name AS name, r.voluntary AS voluntary, l.for_non_payment AS fnp, \
             COUNT(*) AS n, CAST(SUM(l.monthly_recurring_amount) AS BIGINT) AS mrr \
             FROM disconnection_logs l LEFT JOIN disconnection_reasons r ON r.id = l.disconnection_reason_id \
             WHERE {logs} = '{month}' GROUP BY l.disconnection_reason_id, r.name, r.voluntary, l.for_non_payment"
        ),
    )
    .await;
    let (mut voluntary, mut involuntary, mut unspecified, mut lost) = (0, 0, 0, 0);
    let mut by_reason: Vec<Value> = Vec::new();
    // SQLite answers booleans as integers.
    let flag = |v: &Value| match v {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => Some(n.as_i64() != Some(0)),
        _ => None,
    };
    for r in &reasons {
        let n = r["n"].as_i64().unwrap();
        match (flag(&r["voluntary"]), flag(&r["fnp"])) {
            (Some(true), _) => voluntary += n,
            (Some(false), _) | (None, Some(true)) => involuntary += n,
            _ => unspecified += n,
        }
        lost += r["mrr"].as_i64().unwrap();
        by_reason.push(json!({
            "disconnection_reason_id": r["reason"].as_i64().map(|id| id.to_string()),
            "name": r["name"], "voluntary": flag(&r["voluntary"]),
            "disconnections": n, "lost_mrr": r["mrr"],
        }));
    }
    by_reason.sort_by_key(|r| {
        let id = r["disconnection_reason_id"]
            .as_str()
            .map(|s| s.parse::<i64>().unwrap());
        (id.is_none(), id)
    });
    let events = month_of(backend, "e.event_datetime");
    let later = month_of(backend, "f.event_datetime");
    let win_backs = rows(
        app,
        &format!(
            "SELECT COUNT(*) AS n FROM account_events e WHERE e.event = 'ACTIVATED' AND {events} = '{month}' \
             AND EXISTS (SELECT 1 FROM disconnection_logs l WHERE l.account_id = e.account_id AND l.disconnected_at <= e.event_datetime)"
        ),
    )
    .await[0]["n"]
        .as_i64()
        .unwrap();
    let active = rows(
        app,
        &format!(
            "SELECT COUNT(*) AS n FROM account_events e JOIN account_statuses s ON CAST(s.id AS TEXT) = e.current \
             WHERE e.event IN ('ACTIVATED', 'STATUS_UPDATED') AND {events} < '{month}' AND s.activates_account = TRUE \
             AND NOT EXISTS (SELECT 1 FROM account_events f WHERE f.account_id = e.account_id \
               AND f.event IN ('ACTIVATED', 'STATUS_UPDATED') AND {later} < '{month}' \
               AND (f.event_datetime > e.event_datetime OR (f.event_datetime = e.event_datetime AND f.id > e.id)))"
        ),
    )
    .await[0]["n"]
        .as_i64()
        .unwrap();
    let disconnections = voluntary + involuntary + unspecified;
    json!({
        "voluntary_disconnections": voluntary,
        "involuntary_disconnections": involuntary,
        "unspecified_disconnections": unspecified,
        "lost_mrr": lost,
        "win_backs": win_backs,
        "active_accounts_at_start": active,
        "churn_rate": (active > 0).then(|| disconnections as f64 / active as f64),
        "disconnections_by_reason": by_reason,
    })
}

/// Four accounts activated on Jan 15 with a $50 monthly service (one with a yearly $120.06
/// service too: $10.01 a month); in February Ada leaves for Price, Ben for Non-payment, Cy
/// without a reason; Ada comes back on Mar 5 and Dee leaves on Mar 10, Moving away.
async fn history(app: &common::TestApp) -> [i64; 4] {
    let (ada, _) = common::billed_account(app, "Ada").await;
    let (ben, _) = common::billed_account(app, "Ben").await;
    let (cy, _) = common::billed_account(app, "Cy").await;
    let (dee, _) = common::billed_account(app, "Dee").await;
    let yearly = app.recurring_service("Yearly support", 12006, 12).await;
    app.ok_at(
        noon("2026-01-15"),
        "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }",
        json!({"a": dee, "s": yearly}),
    )
    .await;
    let disconnect = |account: i64, date: &'static str, input: Value| async move {
        app.ok_at(
            noon(date),
            DISCONNECT,
            json!({"id": account, "input": input}),
        )
        .await;
    };
    disconnect(
        ada,
        "2026-02-10",
        json!({"disconnection_reason_id": 3, "comment": "cheaper elsewhere"}),
    )
    .await;
    disconnect(ben, "2026-02-11", json!({"disconnection_reason_id": 1})).await;
    disconnect(cy, "2026-02-12", json!({})).await;
    app.ok_at(noon("2026-03-05"), REACTIVATE, json!({"id": ada}))
        .await;
    disconnect(dee, "2026-03-10", json!({"disconnection_reason_id": 2})).await;
    [ada, ben, cy, dee]
}

on_both!(
    the_churn_figures_equal_hand_written_sql_per_month_and_for_the_period,
    |app| {
        let [ada, ben, cy, dee] = history(app).await;
        let report = app
            .ok(REPORT, json!({"start": "2026-01-01", "end": "2026-03-31"}))
            .await["activations_and_disconnections_report"]
            .clone();

        // The rows: each disconnection with its reason and lost MRR.
        let rows = &report["disconnections"]["entities"];
        assert_eq!(
            rows,
            &json!([
                {"account_id": ada.to_string(), "disconnection_reason_id": "3", "voluntary": true, "for_non_payment": false, "comment": "cheaper elsewhere", "monthly_recurring_amount": 5000},
                {"account_id": ben.to_string(), "disconnection_reason_id": "1", "voluntary": false, "for_non_payment": false, "comment": null, "monthly_recurring_amount": 5000},
                {"account_id": cy.to_string(), "disconnection_reason_id": null, "voluntary": null, "for_non_payment": false, "comment": null, "monthly_recurring_amount": 5000},
                {"account_id": dee.to_string(), "disconnection_reason_id": "2", "voluntary": true, "for_non_payment": false, "comment": null, "monthly_recurring_amount": 6001},
            ]),
            "12006 a year is 1000.5 a month: rounded half away from zero, 1001"
        );
        let back: Vec<&Value> = report["activations"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|a| a["win_back"] == true)
            .collect();
        assert_eq!(
            back,
            vec![&json!({"account_id": ada.to_string(), "win_back": true})]
        );

        // Each month equals the hand-written SQL, and the figures are the ones expected.
        let months = report["summary"]["months"].as_array().unwrap();
        assert_eq!(months.len(), 3);
        for m in months {
            let month = m["month"].as_str().unwrap();
            assert_eq!(m["churn"], by_hand(app, month).await, "{month}");
        }
        let feb = &months[1]["churn"];
        assert_eq!(feb["active_accounts_at_start"], 4);
        assert_eq!(feb["churn_rate"], 0.75);
        assert_eq!(
            (
                feb["voluntary_disconnections"].as_i64(),
                feb["involuntary_disconnections"].as_i64(),
                feb["unspecified_disconnections"].as_i64(),
                feb["lost_mrr"].as_i64()
            ),
            (Some(1), Some(1), Some(1), Some(15000))
        );
        let mar = &months[2]["churn"];
        assert_eq!(
            mar["active_accounts_at_start"], 1,
            "Dee alone: Ada came back on the 5th"
        );
        assert_eq!(mar["win_backs"], 1);
        assert_eq!(mar["churn_rate"], 1.0);
        assert_eq!(
            months[0]["churn"]["churn_rate"],
            Value::Null,
            "nobody active on Jan 1"
        );

        // The period: the months' sums, the rate over the accounts active at its start.
        let period = &report["summary"]["churn"];
        assert_eq!(period["lost_mrr"], 21001);
        assert_eq!(period["win_backs"], 1);
        assert_eq!(period["active_accounts_at_start"], 0);
        assert_eq!(period["churn_rate"], Value::Null);
        assert_eq!(
            period["disconnections_by_reason"],
            json!([
                {"disconnection_reason_id": "1", "name": "Non-payment", "voluntary": false, "disconnections": 1, "lost_mrr": 5000},
                {"disconnection_reason_id": "2", "name": "Moving away", "voluntary": true, "disconnections": 1, "lost_mrr": 6001},
                {"disconnection_reason_id": "3", "name": "Price", "voluntary": true, "disconnections": 1, "lost_mrr": 5000},
                {"disconnection_reason_id": null, "name": null, "voluntary": null, "disconnections": 1, "lost_mrr": 5000},
            ])
        );
        let from_feb = app
            .ok(REPORT, json!({"start": "2026-02-01", "end": "2026-03-31"}))
            .await["activations_and_disconnections_report"]["summary"]["churn"]
            .clone();
        assert_eq!(from_feb["active_accounts_at_start"], 4);
        assert_eq!(
            from_feb["churn_rate"], 1.0,
            "4 disconnections over 4 active on Feb 1"
        );

        // The rows of one reason, as README's example asks for them.
        let priced = app
            .ok(
                "{ activations_and_disconnections_report(start_date: \"2026-01-01\", end_date: \"2026-06-30\") { disconnections(search: [{integer_fields: [{attribute: \"disconnection_reason_id\", search_value: 3, operator: EQ}]}]) { entities { account_id comment monthly_recurring_amount } } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            priced["activations_and_disconnections_report"]["disconnections"]["entities"],
            json!([{"account_id": ada.to_string(), "comment": "cheaper elsewhere", "monthly_recurring_amount": 5000}])
        );

        // By company: the accounts' own company gives the same; another, nothing.
        let mine = app
            .ok(
                REPORT,
                json!({"start": "2026-01-01", "end": "2026-03-31", "company": 1}),
            )
            .await["activations_and_disconnections_report"]["summary"]
            .clone();
        assert_eq!(mine, report["summary"]);
        let other = app
            .ok(
                REPORT,
                json!({"start": "2026-01-01", "end": "2026-03-31", "company": 999}),
            )
            .await["activations_and_disconnections_report"]["summary"]["churn"]
            .clone();
        assert_eq!(
            other,
            json!({"voluntary_disconnections": 0, "involuntary_disconnections": 0, "unspecified_disconnections": 0,
                "lost_mrr": 0, "win_backs": 0, "active_accounts_at_start": 0, "churn_rate": null, "disconnections_by_reason": []})
        );
    }
);
