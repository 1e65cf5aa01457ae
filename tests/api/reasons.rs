//! Why customers leave: the disconnection reasons Administrators keep, and the reason, comment
//! and user every disconnection records (now, scheduled, or by the delinquency pass), in its
//! log, its preview and its webhook payload.

use serde_json::{json, Value};

use crate::common::{self, billed_account, error_code, noon};
use fathom::service::{base::clock, lifecycle::scheduled};

const LIST: &str = "{ disconnection_reasons(sorter: [{attribute: \"id\", direction: ASC}]) { entities { id name voluntary active } } }";
const CREATE: &str = "mutation($input: CreateDisconnectionReasonMutationInput) { createDisconnectionReason(input: $input) { id name voluntary active } }";
const UPDATE: &str = "mutation($id: Int64Bit!, $input: UpdateDisconnectionReasonMutationInput) { updateDisconnectionReason(id: $id, input: $input) { id name voluntary active } }";
const SETTINGS: &str = "mutation($input: UpdateBillingSettingsMutationInput) { updateBillingSettings(input: $input) { disconnection_reason_required delinquency_disconnection_reason_id } }";
const DISCONNECT: &str = "mutation($id: Int64Bit!, $input: DisconnectAccountMutationInput) { disconnectAccount(id: $id, input: $input) { id } }";
const PREVIEW: &str = "query($id: Int64Bit!, $input: DisconnectAccountMutationInput) { disconnect_account_preview(id: $id, input: $input) { comment disconnection_reason { name voluntary } final_invoice_total_debits } }";
const LOGS: &str = "query($id: Int64Bit!) { disconnection_logs(account_id: $id) { entities { comment disconnected_by_user_id scheduled_event_id disconnection_reason_id disconnection_reason { name voluntary } } } }";
const SCHEDULE: &str = "mutation($input: CreateScheduledEventMutationInput) { createScheduledEvent(input: $input) { id disconnection_reason_id comment } }";
const RESCHEDULE: &str = "mutation($id: Int64Bit!, $input: UpdateScheduledEventMutationInput) { updateScheduledEvent(id: $id, input: $input) { id disconnection_reason_id comment } }";

fn id(value: &Value) -> i64 {
    value.as_str().unwrap().parse().unwrap()
}

/// The id of the reason named `name`.
async fn reason(app: &common::TestApp, name: &str) -> i64 {
    let list = app.ok(LIST, json!({})).await;
    let found = list["disconnection_reasons"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no reason {name}: {list}"))
        .clone();
    id(&found["id"])
}

/// `query` is refused with `VALIDATION_FAILED` naming `field`, and writes nothing.
async fn refused(app: &common::TestApp, query: &str, variables: Value, field: &str) {
    let before = app.fingerprint().await;
    let body = app.gql(query, variables.clone()).await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("VALIDATION_FAILED"),
        "{variables}: {body}"
    );
    assert_eq!(
        body["errors"][0]["extensions"]["field"], field,
        "{variables}: {body}"
    );
    assert_eq!(app.fingerprint().await, before, "{variables} wrote nothing");
}

on_both!(
    the_reasons_are_seeded_then_added_renamed_and_deactivated_by_administrators_only,
    |app| {
        let seeded = app.ok(LIST, json!({})).await["disconnection_reasons"]["entities"].clone();
        let names: Vec<(&str, bool)> = seeded
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                (
                    r["name"].as_str().unwrap(),
                    r["voluntary"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("Non-payment", false),
                ("Moving away", true),
                ("Price", true),
                ("Switched provider", true),
                ("Service quality", true),
                ("No longer needed", true),
                ("Service area closed", false),
                ("Other", true),
            ]
        );
        assert!(seeded
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["active"] == true));
        let non_payment = reason(app, "Non-payment").await;
        let settings = app
            .ok(
                "{ billing_setting { disconnection_reason_required delinquency_disconnection_reason_id } }",
                json!({}),
            )
            .await;
        assert_eq!(
            settings["billing_setting"],
            json!({"disconnection_reason_required": false, "delinquency_disconnection_reason_id": non_payment.to_string()})
        );

        let tower = app
            .ok(
                CREATE,
                json!({"input": {"name": "Tower removed", "voluntary": false}}),
            )
            .await["createDisconnectionReason"]
            .clone();
        assert_eq!(tower["active"], true);
        assert_eq!(tower["voluntary"], false);
        let renamed = app
            .ok(
                UPDATE,
                json!({"id": tower["id"], "input": {"name": "Tower decommissioned", "active": false}}),
            )
            .await["updateDisconnectionReason"]
            .clone();
        assert_eq!(
            renamed,
            json!({"id": tower["id"], "name": "Tower decommissioned", "voluntary": false, "active": false})
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM logs WHERE loggable_type = 'DisconnectionReason'")
                .await,
            2,
            "an audit row for each change"
        );

        // Bad input: each refused, naming its field, writing nothing.
        for (query, variables, field) in [
            (
                CREATE,
                json!({"input": {"name": "price", "voluntary": true}}),
                "name",
            ),
            (
                CREATE,
                json!({"input": {"name": "  ", "voluntary": true}}),
                "name",
            ),
            (
                CREATE,
                json!({"input": {"name": "x".repeat(101), "voluntary": true}}),
                "name",
            ),
            (
                UPDATE,
                json!({"id": tower["id"], "input": {"name": "Other"}}),
                "name",
            ),
            (
                UPDATE,
                json!({"id": non_payment, "input": {"active": false}}),
                "active",
            ),
            (
                SETTINGS,
                json!({"input": {"delinquency_disconnection_reason_id": tower["id"]}}),
                "delinquency_disconnection_reason_id",
            ),
            (
                SETTINGS,
                json!({"input": {"delinquency_disconnection_reason_id": 999_999}}),
                "delinquency_disconnection_reason_id",
            ),
            (
                SETTINGS,
                json!({"input": {"delinquency_disconnection_reason_id": non_payment, "unset_delinquency_disconnection_reason_id": true}}),
                "unset_delinquency_disconnection_reason_id",
            ),
        ] {
            refused(app, query, variables, field).await;
        }
        let body = app
            .gql(UPDATE, json!({"id": 999_999, "input": {"name": "Gone"}}))
            .await;
        assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");

        // Billing users and Read Only users read the list; only Administrators change it.
        for role in ["Billing", "Read Only"] {
            let token = common::token_with_role(app, role, &role.replace(' ', "_")).await;
            let body = app.gql_as(&token, LIST, json!({})).await;
            assert!(body.get("errors").is_none(), "{role}: {body}");
            let body = app
                .gql_as(
                    &token,
                    CREATE,
                    json!({"input": {"name": "By someone", "voluntary": true}}),
                )
                .await;
            assert_eq!(
                error_code(&body).as_deref(),
                Some("FORBIDDEN"),
                "{role}: {body}"
            );
        }
    }
);

on_both!(
    a_disconnection_records_its_reason_comment_and_user_in_its_log_and_preview,
    |app| {
        let moving = reason(app, "Moving away").await;
        let (account, _) = billed_account(app, "Why").await;
        let t = noon("2026-01-20");
        let input = json!({"prorate": true, "disconnection_reason_id": moving, "comment": "  moving to Lisbon  "});
        let preview = app
            .ok_at(t, PREVIEW, json!({"id": account, "input": input}))
            .await["disconnect_account_preview"]
            .clone();
        assert_eq!(preview["comment"], "moving to Lisbon");
        assert_eq!(
            preview["disconnection_reason"],
            json!({"name": "Moving away", "voluntary": true})
        );

        // Bad reasons and comments: refused before anything is written, preview included.
        let inactive = app
            .ok(
                CREATE,
                json!({"input": {"name": "Retired reason", "voluntary": true, "active": false}}),
            )
            .await["createDisconnectionReason"]["id"]
            .clone();
        for bad in [
            json!({"disconnection_reason_id": 999_999}),
            json!({"disconnection_reason_id": inactive}),
        ] {
            refused(
                app,
                DISCONNECT,
                json!({"id": account, "input": bad}),
                "disconnection_reason_id",
            )
            .await;
            refused(
                app,
                PREVIEW,
                json!({"id": account, "input": bad}),
                "disconnection_reason_id",
            )
            .await;
        }
        refused(
            app,
            DISCONNECT,
            json!({"id": account, "input": {"comment": "x".repeat(2001)}}),
            "comment",
        )
        .await;
        // Required by billing settings: no reason is refused; with one it goes through.
        app.ok(
            SETTINGS,
            json!({"input": {"disconnection_reason_required": true}}),
        )
        .await;
        refused(
            app,
            DISCONNECT,
            json!({"id": account, "input": {"prorate": true}}),
            "disconnection_reason_id",
        )
        .await;
        refused(
            app,
            DISCONNECT,
            json!({"id": account}),
            "disconnection_reason_id",
        )
        .await;

        app.ok_at(t, DISCONNECT, json!({"id": account, "input": input}))
            .await;
        let admin = app
            .ok(
                "{ users(username: \"admin\") { entities { id } } }",
                json!({}),
            )
            .await["users"]["entities"][0]["id"]
            .clone();
        let logs =
            app.ok(LOGS, json!({"id": account})).await["disconnection_logs"]["entities"].clone();
        assert_eq!(
            logs,
            json!([{
                "comment": "moving to Lisbon",
                "disconnected_by_user_id": admin,
                "scheduled_event_id": null,
                "disconnection_reason_id": moving.to_string(),
                "disconnection_reason": {"name": "Moving away", "voluntary": true},
            }])
        );
        // The reason's own list of logs.
        let of_reason = app
            .ok(
                "query($id: Int64Bit) { disconnection_reasons(id: $id) { entities { disconnection_logs { entities { account_id } } } } }",
                json!({"id": moving}),
            )
            .await;
        assert_eq!(
            of_reason["disconnection_reasons"]["entities"][0]["disconnection_logs"]["entities"],
            json!([{"account_id": account.to_string()}])
        );
        assert!(common::violations(app).await.is_empty());
    }
);

on_both!(
    a_scheduled_disconnection_carries_its_reason_and_comment_to_the_log,
    |app| {
        let price = reason(app, "Price").await;
        let quality = reason(app, "Service quality").await;
        let (account, _) = billed_account(app, "Later").await;
        let at = noon("2026-01-20");
        let event = app
            .ok_at(
                at,
                SCHEDULE,
                json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-02-01T12:00:00Z", "disconnection_reason_id": price, "comment": "found cheaper"}}),
            )
            .await["createScheduledEvent"]
            .clone();
        assert_eq!(event["disconnection_reason_id"], price.to_string());
        assert_eq!(event["comment"], "found cheaper");

        // Only a disconnection takes a reason; a bad one is refused on create and update.
        for (input, field) in [
            (
                json!({"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "2", "datetime": "2026-02-01T12:00:00Z", "disconnection_reason_id": price}),
                "disconnection_reason_id",
            ),
            (
                json!({"account_id": account, "event": "CHANGE_STATUS", "primary_event_object_id": "2", "datetime": "2026-02-01T12:00:00Z", "comment": "why"}),
                "comment",
            ),
            (
                json!({"account_id": account, "event": "DISCONNECT_ACCOUNT", "datetime": "2026-02-02T12:00:00Z", "disconnection_reason_id": 999_999}),
                "disconnection_reason_id",
            ),
        ] {
            let before = app.fingerprint().await;
            let body = clock::at_instant(at, app.gql(SCHEDULE, json!({"input": input}))).await;
            assert_eq!(
                error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
            assert_eq!(app.fingerprint().await, before);
        }
        for (input, field) in [
            (
                json!({"disconnection_reason_id": 999_999}),
                "disconnection_reason_id",
            ),
            (
                json!({"disconnection_reason_id": quality, "unset_disconnection_reason_id": true}),
                "unset_disconnection_reason_id",
            ),
        ] {
            let before = app.fingerprint().await;
            let body = clock::at_instant(
                at,
                app.gql(RESCHEDULE, json!({"id": event["id"], "input": input})),
            )
            .await;
            assert_eq!(
                error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
            assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body}");
            assert_eq!(app.fingerprint().await, before);
        }
        let changed = app
            .ok_at(
                at,
                RESCHEDULE,
                json!({"id": event["id"], "input": {"disconnection_reason_id": quality}}),
            )
            .await["updateScheduledEvent"]
            .clone();
        assert_eq!(changed["disconnection_reason_id"], quality.to_string());
        assert_eq!(changed["comment"], "found cheaper", "kept");

        let report = scheduled::run_due(&app.db, noon("2026-02-01"))
            .await
            .unwrap();
        assert_eq!(report.completed, 1, "{report:?}");
        let logs =
            app.ok(LOGS, json!({"id": account})).await["disconnection_logs"]["entities"].clone();
        assert_eq!(logs.as_array().unwrap().len(), 1);
        assert_eq!(logs[0]["comment"], "found cheaper");
        assert_eq!(
            logs[0]["disconnection_reason"],
            json!({"name": "Service quality", "voluntary": true})
        );
        assert_eq!(logs[0]["scheduled_event_id"], event["id"]);
    }
);
