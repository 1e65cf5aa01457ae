use serde_json::{json, Value};

use crate::common::{self, billed_account, error_code, noon};
use fathom::service::{access::tokens, base::clock, billing::pass, lifecycle::scheduled};

const CREATE: &str = "mutation($input: CreateScheduledEventMutationInput) { createScheduledEvent(input: $input) { id status complete datetime event prorate attempts created_by_user_id } }";
const EVENT: &str = "query($id: Int64Bit!) { scheduled_events(id: $id) { entities { status complete executed_at result_message attempts } } }";
const ADD: &str = "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }";

fn instant(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

async fn run_events(app: &common::TestApp, at: &str) -> scheduled::RunReport {
    scheduled::run_due(&app.db, instant(at)).await.unwrap()
}

async fn event(app: &common::TestApp, id: &Value) -> Value {
    app.ok(EVENT, json!({"id": id})).await["scheduled_events"]["entities"][0].clone()
}

on_both!(
    a_scheduled_disconnection_runs_once_effective_at_its_datetime_even_when_late,
    |app| {
        let (account, _) = billed_account(app, "Later").await;
        let created = app
        .ok_at(noon("2026-01-20"), CREATE, json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-02-01T12:00:00Z", "prorate": true, "description": "moving away"}}))
        .await;
        let id = created["createScheduledEvent"]["id"].clone();
        assert_eq!(created["createScheduledEvent"]["status"], "PENDING");
        assert_eq!(created["createScheduledEvent"]["complete"], false);

        assert_eq!(
            run_events(app, "2026-01-31T12:00:00Z").await.completed,
            0,
            "not due yet"
        );
        // The worker runs four days late; the disconnection is still as of February 1st.
        let report = run_events(app, "2026-02-05T08:00:00Z").await;
        assert_eq!(report.completed, 1);
        let done = event(app, &id).await;
        assert_eq!(done["status"], "COMPLETED");
        assert_eq!(done["complete"], true);
        assert_eq!(done["attempts"], 1);
        assert!(done["executed_at"].is_string());

        let logs = app.ok("query($id: Int64Bit!) { disconnection_logs(account_id: $id) { entities { disconnected_at disconnected_by_user_id scheduled_event_id prorated proration_source final_invoice_id } } }", json!({"id": account})).await;
        let log = &logs["disconnection_logs"]["entities"][0];
        assert_eq!(log["disconnected_at"], "2026-02-01T12:00:00+00:00");
        assert_eq!(log["scheduled_event_id"], id);
        assert_eq!(
            log["disconnected_by_user_id"], "1",
            "it acts as the user who scheduled it"
        );
        assert_eq!(log["proration_source"], "INPUT");
        // Feb 2 – Feb 14 credited, as of the scheduled date: 5000 × 13 / 31 → 2097.
        let credit = app.ok("query($id: Int64Bit!) { discounts(account_id: $id) { entities { amount prorated_from } } }", json!({"id": account})).await;
        assert_eq!(
            credit["discounts"]["entities"],
            json!([{"amount": 2097, "prorated_from": "2026-02-02"}])
        );

        let once = app.fingerprint().await;
        assert_eq!(
            run_events(app, "2026-02-06T08:00:00Z").await,
            Default::default()
        );
        assert_eq!(app.fingerprint().await, once, "exactly once");
        app.assert_money_conserved().await;
    }
);

on_both!(two_workers_at_once_carry_out_each_event_once, |app| {
    let mut accounts = Vec::new();
    for i in 0..5 {
        let (account, _) = billed_account(app, &format!("Pair {i}")).await;
        app.ok_at(noon("2026-01-20"), CREATE, json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-02-01T12:00:00Z"}})).await;
        accounts.push(account);
    }
    let (a, b) = tokio::join!(
        run_events(app, "2026-02-02T00:00:00Z"),
        run_events(app, "2026-02-02T00:00:00Z")
    );
    assert_eq!(a.completed + b.completed, 5, "{a:?} {b:?}");
    assert_eq!(a.failed + b.failed, 0);
    let logs = app
        .ok(
            "{ disconnection_logs { entities { account_id scheduled_event_id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        logs["disconnection_logs"]["entities"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    app.assert_money_conserved().await;
});

on_both!(scheduling_refusals_write_nothing, |app| {
    let account = app.account_activated_at("Rules", noon("2026-01-15")).await;
    let t = noon("2026-01-20");
    app.ok_at(t, CREATE, json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-03-01T00:00:00-06:00"}})).await;
    let before = app.fingerprint().await;
    let code = |input: Value| async move {
        clock::at_instant(t, app.code(CREATE, json!({"input": input}))).await
    };
    assert_eq!(code(json!({"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "2", "datetime": "2026-01-19T00:00:00Z"})).await, "SCHEDULED_IN_PAST");
    assert_eq!(code(json!({"account_id": account, "event": "CREDIT_CARD_PAYMENT", "datetime": "2026-03-01T00:00:00Z"})).await, "UNSUPPORTED_EVENT");
    assert_eq!(code(json!({"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-04-01T00:00:00Z"})).await, "CONFLICT", "one pending disconnection per account");
    assert_eq!(code(json!({"account_id": account, "event": "CHANGE_STATUS", "datetime": "2026-03-01T00:00:00Z"})).await, "VALIDATION_FAILED");
    assert_eq!(code(json!({"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "999", "datetime": "2026-03-01T00:00:00Z"})).await, "VALIDATION_FAILED");
    assert_eq!(code(json!({"account_id": 999999, "event": "CHANGE_STATUS", "primary_event_object_id": "2", "datetime": "2026-03-01T00:00:00Z"})).await, "VALIDATION_FAILED");
    assert_eq!(app.fingerprint().await, before);

    let reader = tokens::create_user(&app.db, "reader", "Reader", "r@example.com", "Read Only")
        .await
        .unwrap();
    let (_, token) = tokens::create_token(&app.db, reader.id, "t").await.unwrap();
    let body = app.gql_as(token.as_str(), CREATE, json!({"input": {"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "2", "datetime": "2099-01-01T00:00:00Z"}})).await;
    assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"));
});

on_both!(
    only_pending_events_change_and_deleting_one_cancels_it,
    |app| {
        let account = app
            .account_activated_at("Changer", noon("2026-01-15"))
            .await;
        let t = noon("2026-01-20");
        let created = app.ok_at(t, CREATE, json!({"input": {"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "2", "datetime": "2026-03-01T00:00:00Z"}})).await;
        let id = created["createScheduledEvent"]["id"].clone();
        let update = "mutation($id: Int64Bit!, $input: UpdateScheduledEventMutationInput) { updateScheduledEvent(id: $id, input: $input) { datetime prorate description _version } }";
        let updated = app.ok_at(t, update, json!({"id": id, "input": {"datetime": "2026-02-10T09:00:00-06:00", "description": "moved"}})).await;
        assert_eq!(
            updated["updateScheduledEvent"]["datetime"],
            "2026-02-10T15:00:00+00:00"
        );
        let code = clock::at_instant(
            t,
            app.code(
                update,
                json!({"id": id, "input": {"datetime": "2026-01-01T00:00:00Z"}}),
            ),
        )
        .await;
        assert_eq!(code, "SCHEDULED_IN_PAST");

        run_events(app, "2026-02-11T00:00:00Z").await;
        let status = app.ok("query($id: Int64Bit!) { accounts(id: $id) { entities { account_status_id account_events(event: STATUS_UPDATED) { entities { event_datetime } } } } }", json!({"id": account})).await;
        assert_eq!(status["accounts"]["entities"][0]["account_status_id"], "2");
        assert_eq!(
            status["accounts"]["entities"][0]["account_events"]["entities"][0]["event_datetime"],
            "2026-02-10T15:00:00+00:00"
        );
        let before = app.fingerprint().await;
        assert_eq!(
            app.code(update, json!({"id": id, "input": {"description": "late"}}))
                .await,
            "EVENT_NOT_PENDING"
        );
        assert_eq!(
            app.code(
                "mutation($id: Int64Bit!) { deleteScheduledEvent(id: $id) { success } }",
                json!({"id": id})
            )
            .await,
            "EVENT_NOT_PENDING"
        );
        assert_eq!(app.fingerprint().await, before);

        let other = app.ok(CREATE, json!({"input": {"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "1", "datetime": "2099-01-01T00:00:00Z"}})).await;
        let other_id = other["createScheduledEvent"]["id"].clone();
        let deleted = app
            .ok(
                "mutation($id: Int64Bit!) { deleteScheduledEvent(id: $id) { success } }",
                json!({"id": other_id}),
            )
            .await;
        assert_eq!(deleted["deleteScheduledEvent"]["success"], true);
        assert_eq!(event(app, &other_id).await["status"], "CANCELLED");
    }
);

on_both!(each_supported_event_does_what_its_mutation_does, |app| {
    let t0 = noon("2026-01-15");
    let account = app.account_activated_at("Busy", t0).await;
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let tv = app.recurring_service("TV", 3100, 1).await;
    let install = app.one_time_service("Install", 2500, false).await;
    let tv_as = app
        .ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": tv, "quantity": 1}}),
        )
        .await["addServiceToAccount"]["id"]
        .clone();
    pass::run_pass(&app.db, common::day("2026-01-15"))
        .await
        .unwrap();
    for input in [
        json!({"account_id": account, "event": "ADD_SERVICE", "primary_event_object_id": fiber.to_string(), "amount": 4000, "datetime": "2026-01-25T12:00:00Z"}),
        json!({"account_id": account, "event": "REMOVE_SERVICE", "primary_event_object_id": tv_as, "prorate": true, "datetime": "2026-02-01T12:00:00Z"}),
        json!({"account_id": account, "event": "ONE_TIME_TRANSACTION", "primary_event_object_id": install.to_string(), "description": "Visit", "datetime": "2026-02-03T12:00:00Z"}),
    ] {
        app.ok_at(noon("2026-01-20"), CREATE, json!({"input": input}))
            .await;
    }
    let report = run_events(app, "2026-02-04T00:00:00Z").await;
    assert_eq!(report.completed, 3, "{report:?}");
    let debits = app.ok("query($id: Int64Bit!) { debits(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { amount prorated_from description } } }", json!({"id": account})).await;
    let rows = debits["debits"]["entities"].as_array().unwrap();
    // Fiber at 4000 from Jan 25: 4000 × 21 / 31 = 2709.7 → 2710; then the one-time visit.
    assert_eq!(rows[1]["amount"], 2710);
    assert_eq!(rows[1]["prorated_from"], "2026-01-25");
    assert_eq!(rows[2]["amount"], 2500);
    assert_eq!(rows[2]["description"], "Visit");
    // TV removed on Feb 1: Feb 2 – Feb 14 of 31 days credited: 3100 × 13 / 31 = 1300.
    let credits = app
        .ok(
            "query($id: Int64Bit!) { discounts(account_id: $id) { entities { amount } } }",
            json!({"id": account}),
        )
        .await;
    assert_eq!(credits["discounts"]["entities"], json!([{"amount": 1300}]));
    app.assert_money_conserved().await;
});

on_both!(
    an_event_refused_when_it_runs_is_marked_failed_with_the_reason,
    |app| {
        let account = common::create_account(app, "Frozen", 2).await;
        let created = app.ok_at(noon("2026-01-20"), CREATE, json!({"input": {"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "1", "datetime": "2026-02-01T12:00:00Z"}})).await;
        let id = created["createScheduledEvent"]["id"].clone();
        app.ok(
            "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
            json!({"id": account}),
        )
        .await;
        let report = run_events(app, "2026-02-02T00:00:00Z").await;
        assert_eq!(report.failed, 1);
        let failed = event(app, &id).await;
        assert_eq!(failed["status"], "FAILED");
        assert_eq!(failed["complete"], false);
        assert!(
            failed["result_message"]
                .as_str()
                .unwrap()
                .contains("archived"),
            "{failed}"
        );
        let status = app.ok("query($id: Int64Bit!) { accounts(id: $id, include_archived: true) { entities { account_status_id } } }", json!({"id": account})).await;
        assert_eq!(
            status["accounts"]["entities"][0]["account_status_id"], "2",
            "nothing of it happened"
        );
    }
);

on_both!(
    disconnecting_now_cancels_the_pending_scheduled_disconnection,
    |app| {
        let account = app.account_activated_at("Now", noon("2026-01-15")).await;
        let created = app.ok(CREATE, json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2099-01-01T00:00:00Z"}})).await;
        let id = created["createScheduledEvent"]["id"].clone();
        app.ok(
            "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
            json!({"id": account}),
        )
        .await;
        let cancelled = event(app, &id).await;
        assert_eq!(cancelled["status"], "CANCELLED");
        assert_eq!(run_events(app, "2999-01-02T00:00:00Z").await.completed, 0);
    }
);

on_both!(
    disconnecting_now_while_the_worker_runs_the_scheduled_one_happens_once,
    |app| {
        let mut accounts = Vec::new();
        for i in 0..6 {
            let (account, _) = billed_account(app, &format!("Race {i}")).await;
            app.ok_at(noon("2026-01-20"), CREATE, json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-02-01T12:00:00Z"}})).await;
            accounts.push(account);
        }
        let manual = futures_util::future::join_all(accounts.iter().map(|id| {
            app.gql(
                "mutation($id: Int64Bit!) { disconnectAccount(id: $id) { id } }",
                json!({"id": id}),
            )
        }));
        let worker = scheduled::run_due(&app.db, instant("2026-02-02T00:00:00Z"));
        let (bodies, report) =
            clock::at_instant(noon("2026-02-02"), async { tokio::join!(manual, worker) }).await;
        let report = report.unwrap();
        let mut manual_ok = 0;
        for body in &bodies {
            match error_code(body) {
                None => manual_ok += 1,
                Some(code) => assert!(code == "ACCOUNT_NOT_ACTIVE" || code == "CONFLICT", "{body}"),
            }
        }
        // Each account was disconnected exactly once, by one side or the other.
        let logs = app.ok("{ disconnection_logs(paginator: {page: 1, records_per_page: 100}) { entities { account_id } } }", json!({})).await;
        let mut ids: Vec<String> = logs["disconnection_logs"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["account_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 6);
        assert_eq!(
            logs["disconnection_logs"]["entities"]
                .as_array()
                .unwrap()
                .len(),
            6
        );
        assert_eq!(manual_ok as u64 + report.completed, 6, "{report:?}");
        app.assert_money_conserved().await;
    }
);
