use fathom::service::base::store::Stamped;
use sea_orm::{ActiveModelTrait, ConnectionTrait, Set, Statement};
use serde_json::{json, Value};

use crate::common::{self, billed_account, error_code, noon};
use fathom::service::{access::tokens, base::clock, billing::pass};

const ADD: &str = "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }";
const PREVIEW: &str = r#"query($id: Int64Bit!, $input: DisconnectAccountMutationInput) { disconnect_account_preview(id: $id, input: $input) {
    account { id } prorate proration_source effective_date
    debits { id amount } credits { debit_id amount prorated_from prorated_to }
    final_invoice_total_debits final_invoice_total_discounts final_invoice_remaining_due creates_final_invoice
    serviceable_address_id target_account_status_id
    scheduled_events_to_cancel { id } active_child_accounts { id name }
} }"#;
const DISCONNECT: &str = "mutation($id: Int64Bit!, $input: DisconnectAccountMutationInput) { disconnectAccount(id: $id, input: $input) { id account_status_id account_status { name } } }";
const LOGS: &str = r#"query($id: Int64Bit!) { accounts(id: $id) { entities { disconnection_logs { entities {
    id disconnected_at disconnected_by_user_id serviceable_address_id serviceable_address_reference_record
    final_invoice_id prorated proration_source previous_account_status_id account_status_id scheduled_event_id
} } } } }"#;

on_both!(
    disconnecting_invoices_prorates_releases_and_logs_exactly_what_the_preview_said,
    |app| {
        let (account, address) = billed_account(app, "Jane").await;
        let child = app
            .account_activated_at("Jane's office", noon("2026-01-15"))
            .await;
        app.ok("mutation($p: Int64Bit!, $c: Int64Bit!) { linkAccounts(id: $p, input: {child_account_id: $c}) { id } }", json!({"p": account, "c": child})).await;
        let at = noon("2026-02-01");

        let preview = app
            .ok_at(
                at,
                PREVIEW,
                json!({"id": account, "input": {"prorate": true}}),
            )
            .await["disconnect_account_preview"]
            .clone();
        // Feb 2 – Feb 14 of Jan 15 – Feb 14 is unused: 5000 × 13 / 31 = 2096.8 → 2097.
        assert_eq!(preview["prorate"], true);
        assert_eq!(preview["proration_source"], "INPUT");
        assert_eq!(preview["effective_date"], "2026-02-01");
        assert_eq!(preview["credits"][0]["amount"], 2097);
        assert_eq!(preview["credits"][0]["prorated_from"], "2026-02-02");
        assert_eq!(preview["credits"][0]["prorated_to"], "2026-02-14");
        assert_eq!(preview["final_invoice_total_debits"], 2500);
        assert_eq!(preview["final_invoice_total_discounts"], 2097);
        assert_eq!(preview["final_invoice_remaining_due"], 403);
        assert_eq!(preview["creates_final_invoice"], true);
        assert_eq!(preview["serviceable_address_id"], address.to_string());
        assert_eq!(preview["target_account_status_id"], "2");
        assert_eq!(
            preview["active_child_accounts"],
            json!([{"id": child.to_string(), "name": "Jane's office"}])
        );

        let before = app.fingerprint().await;
        let again = app
            .ok_at(
                at,
                PREVIEW,
                json!({"id": account, "input": {"prorate": true}}),
            )
            .await;
        assert_eq!(
            again["disconnect_account_preview"], preview,
            "a preview is repeatable"
        );
        assert_eq!(app.fingerprint().await, before, "a preview writes nothing");

        let done = app
            .ok_at(
                at,
                DISCONNECT,
                json!({"id": account, "input": {"prorate": true}}),
            )
            .await;
        assert_eq!(
            done["disconnectAccount"]["account_status"]["name"],
            "Inactive"
        );

        let logs = app.ok(LOGS, json!({"id": account})).await;
        let log = &logs["accounts"]["entities"][0]["disconnection_logs"]["entities"][0];
        assert_eq!(log["disconnected_by_user_id"], "1");
        assert_eq!(log["serviceable_address_id"], address.to_string());
        assert!(log["serviceable_address_reference_record"]
            .as_str()
            .unwrap()
            .contains("Jane street"));
        assert_eq!(log["prorated"], true);
        assert_eq!(log["proration_source"], "INPUT");
        assert_eq!(log["previous_account_status_id"], "1");
        assert_eq!(log["account_status_id"], "2");
        assert!(log["scheduled_event_id"].is_null());
        let invoice_id = log["final_invoice_id"].as_str().unwrap().to_owned();

        // The final invoice has exactly the previewed numbers.
        let invoice = app.ok("query($id: Int64Bit!) { invoices(id: $id) { entities { total_debits remaining_due date debits { entities { id amount } } } } }", json!({"id": invoice_id})).await;
        let invoice = &invoice["invoices"]["entities"][0];
        assert_eq!(
            invoice["total_debits"],
            preview["final_invoice_total_debits"]
        );
        assert_eq!(
            invoice["remaining_due"],
            preview["final_invoice_remaining_due"]
        );
        assert_eq!(invoice["debits"]["entities"], preview["debits"]);
        let credits = app.ok("query($id: Int64Bit!) { discounts(account_id: $id) { entities { debit_id amount amount_remaining prorated_from prorated_to } } }", json!({"id": account})).await;
        assert_eq!(
            credits["discounts"]["entities"][0]["debit_id"],
            preview["credits"][0]["debit_id"]
        );
        assert_eq!(credits["discounts"]["entities"][0]["amount"], 2097);
        assert_eq!(credits["discounts"]["entities"][0]["amount_remaining"], 0);

        // The address is free, its history ended on the effective date; history is all kept.
        let addr = app.ok("query($a: Int64Bit!) { addresses(id: $a) { entities { addressable_id serviceable_address_account_assignment_histories { entities { end_date } } } } }", json!({"a": address})).await;
        assert!(addr["addresses"]["entities"][0]["addressable_id"].is_null());
        assert_eq!(
            addr["addresses"]["entities"][0]["serviceable_address_account_assignment_histories"]
                ["entities"][0]["end_date"],
            "2026-02-01"
        );
        let events = app.ok("query($id: Int64Bit!) { account_events(account_id: $id, event: STATUS_UPDATED) { entities { previous current } } }", json!({"id": account})).await;
        assert_eq!(
            events["account_events"]["entities"],
            json!([{"previous": "1", "current": "2"}])
        );
        let audit = app.ok("query($id: Int64Bit!) { logs(loggable_type: \"Account\", loggable_id: $id, general_search: \"disconnected\") { entities { type user_id } } }", json!({"id": account})).await;
        assert_eq!(audit["logs"]["entities"][0]["user_id"], "1");

        // The child stays active and linked.
        let child_row = app.ok("query($id: Int64Bit!) { accounts(id: $id) { entities { parent_account_id account_status { activates_account } } } }", json!({"id": child})).await;
        assert_eq!(
            child_row["accounts"]["entities"][0]["parent_account_id"],
            account.to_string()
        );
        assert_eq!(
            child_row["accounts"]["entities"][0]["account_status"]["activates_account"],
            true
        );
        app.assert_money_conserved().await;
    }
);

on_both!(refused_disconnections_write_nothing, |app| {
    let (account, _) = billed_account(app, "Refused").await;
    let lead = common::create_account(app, "Never active", 2).await;
    let archived = common::create_account(app, "Archived", 2).await;
    app.ok(
        "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
        json!({"id": archived}),
    )
    .await;
    let before = app.fingerprint().await;
    for (id, code) in [
        (999999, "NOT_FOUND"),
        (lead, "ACCOUNT_NOT_ACTIVE"),
        (archived, "ACCOUNT_ARCHIVED"),
    ] {
        assert_eq!(app.code(DISCONNECT, json!({"id": id})).await, code);
        assert_eq!(app.code(PREVIEW, json!({"id": id})).await, code);
    }
    assert_eq!(app.fingerprint().await, before);
    app.ok(DISCONNECT, json!({"id": account})).await;
    let after_first = app.fingerprint().await;
    assert_eq!(
        app.code(DISCONNECT, json!({"id": account})).await,
        "ACCOUNT_NOT_ACTIVE",
        "disconnecting twice is refused"
    );
    assert_eq!(app.fingerprint().await, after_first, "and writes nothing");

    // Missing permission.
    let reader = tokens::create_user(
        &app.db,
        "reader",
        "Reader",
        "reader@example.com",
        "Read Only",
    )
    .await
    .unwrap();
    let (_, token) = tokens::create_token(&app.db, reader.id, "t").await.unwrap();
    let body = app
        .gql_as(token.as_str(), DISCONNECT, json!({"id": lead}))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("FORBIDDEN"));
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("ACCOUNTS_DISCONNECT"));
});

on_both!(without_input_the_billing_setting_decides_proration, |app| {
    let (a, _) = billed_account(app, "Inherit on").await;
    let (b, _) = billed_account(app, "Inherit off").await;
    let (c, _) = billed_account(app, "Input wins").await;
    let at = noon("2026-02-01");
    app.ok_at(at, DISCONNECT, json!({"id": a})).await;
    app.ok(
        "mutation { updateBillingSettings(input: {prorate_account_status_change: false}) { id } }",
        json!({}),
    )
    .await;
    let preview = app.ok_at(at, PREVIEW, json!({"id": b})).await;
    assert_eq!(preview["disconnect_account_preview"]["prorate"], false);
    assert_eq!(
        preview["disconnect_account_preview"]["proration_source"],
        "BILLING_SETTINGS"
    );
    assert_eq!(preview["disconnect_account_preview"]["credits"], json!([]));
    app.ok_at(at, DISCONNECT, json!({"id": b})).await;
    app.ok_at(at, DISCONNECT, json!({"id": c, "input": {"prorate": true}}))
        .await;
    for (id, prorated, source, credits) in [
        (a, true, "BILLING_SETTINGS", 1),
        (b, false, "BILLING_SETTINGS", 0),
        (c, true, "INPUT", 1),
    ] {
        let logs = app.ok(LOGS, json!({"id": id})).await;
        let log = &logs["accounts"]["entities"][0]["disconnection_logs"]["entities"][0];
        assert_eq!(log["prorated"], prorated, "{id}");
        assert_eq!(log["proration_source"], source, "{id}");
        let n = app.ok("query($id: Int64Bit!) { discounts(account_id: $id) { page_info { total_count } } }", json!({"id": id})).await;
        assert_eq!(n["discounts"]["page_info"]["total_count"], credits, "{id}");
    }
    app.assert_money_conserved().await;
});

on_both!(
    with_nothing_uninvoiced_there_is_no_final_invoice_and_credits_stay_on_the_account,
    |app| {
        let t0 = noon("2026-01-15");
        let account = app.account_activated_at("Paid up", t0).await;
        let fiber = app.recurring_service("Fiber", 3100, 1).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        pass::run_pass(&app.db, common::day("2026-01-15"))
            .await
            .unwrap();
        let preview = app
            .ok_at(noon("2026-01-20"), PREVIEW, json!({"id": account}))
            .await;
        assert_eq!(
            preview["disconnect_account_preview"]["creates_final_invoice"],
            false
        );
        app.ok_at(noon("2026-01-20"), DISCONNECT, json!({"id": account}))
            .await;
        let logs = app.ok(LOGS, json!({"id": account})).await;
        assert!(
            logs["accounts"]["entities"][0]["disconnection_logs"]["entities"][0]
                ["final_invoice_id"]
                .is_null()
        );
        // Jan 21 – Feb 14 unused: 3100 × 25 / 31 = 2500, left on the account.
        let credit = app.ok("query($id: Int64Bit!) { discounts(account_id: $id) { entities { amount amount_remaining } } }", json!({"id": account})).await;
        assert_eq!(
            credit["discounts"]["entities"],
            json!([{"amount": 2500, "amount_remaining": 2500}])
        );
        app.assert_money_conserved().await;
    }
);

on_both!(
    pending_scheduled_disconnections_are_cancelled_and_other_events_left_alone,
    |app| {
        let account = app
            .account_activated_at("Scheduled", noon("2026-01-15"))
            .await;
        let mut ids = Vec::new();
        for event in ["DISCONNECT_ACCOUNT", "CHANGE_STATUS"] {
            let at = clock::now();
            let model = fathom::entity::scheduled_event::ActiveModel {
                account_id: Set(account),
                event: Set(event.into()),
                datetime: Set(at + chrono::Duration::days(30)),
                status: Set("PENDING".into()),
                complete: Set(false),
                attempts: Set(0),
                created_by_user_id: Set(1),
                primary_event_object_id: Set(Some("2".into())),
                ..Default::default()
            }
            .stamped(at)
            .insert(&app.db)
            .await
            .unwrap();
            ids.push(model.id);
        }
        let preview = app.ok(PREVIEW, json!({"id": account})).await;
        assert_eq!(
            preview["disconnect_account_preview"]["scheduled_events_to_cancel"],
            json!([{"id": ids[0].to_string()}])
        );
        app.ok(DISCONNECT, json!({"id": account})).await;
        let events = app.ok("query($id: Int64Bit!) { scheduled_events(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { event status complete result_message } } }", json!({"id": account})).await;
        let rows = events["scheduled_events"]["entities"].as_array().unwrap();
        assert_eq!(rows[0]["status"], "CANCELLED");
        assert!(rows[0]["result_message"]
            .as_str()
            .unwrap()
            .contains("disconnected"));
        assert_eq!(rows[1]["status"], "PENDING");
    }
);

on_both!(
    thirty_two_concurrent_disconnections_of_one_account_succeed_once,
    |app| {
        let (account, _) = billed_account(app, "Contended").await;
        let at = noon("2026-02-01");
        let calls = (0..32).map(|_| {
            app.gql(
                DISCONNECT,
                json!({"id": account, "input": {"prorate": true}}),
            )
        });
        let results: Vec<Value> =
            clock::at_instant(at, futures_util::future::join_all(calls)).await;
        let mut ok = 0;
        for body in &results {
            match error_code(body) {
                None => ok += 1,
                Some(code) => assert!(code == "ACCOUNT_NOT_ACTIVE" || code == "CONFLICT", "{body}"),
            }
            assert!(
                !body.to_string().to_lowercase().contains("locked"),
                "{body}"
            );
        }
        assert_eq!(ok, 1, "exactly one disconnection succeeds");
        let count = |sql: String| async move {
            let row = app
                .db
                .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        };
        assert_eq!(
            count(format!(
                "SELECT COUNT(*) AS n FROM disconnection_logs WHERE account_id = {account}"
            ))
            .await,
            1
        );
        assert_eq!(count(format!("SELECT COUNT(*) AS n FROM invoices WHERE account_id = {account} AND message = 'Final invoice'")).await, 1);
        assert_eq!(
            count(format!(
                "SELECT COUNT(*) AS n FROM discounts WHERE account_id = {account}"
            ))
            .await,
            1
        );
        assert_eq!(count(format!("SELECT COUNT(*) AS n FROM account_events WHERE account_id = {account} AND event = 'STATUS_UPDATED'")).await, 1);
        app.assert_money_conserved().await;
    }
);

on_both!(
    a_disconnection_racing_a_billing_pass_never_invoices_a_debit_twice,
    |app| {
        let t0 = noon("2026-01-15");
        let fiber = app.recurring_service("Fiber", 4650, 1).await;
        let mut accounts = Vec::new();
        for i in 0..8 {
            let account = app.account_activated_at(&format!("Race {i}"), t0).await;
            app.ok_at(
                t0,
                ADD,
                json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
            )
            .await;
            accounts.push(account);
        }
        let at = noon("2026-01-20");
        let disconnects = futures_util::future::join_all(
            accounts
                .iter()
                .map(|id| app.gql(DISCONNECT, json!({"id": id}))),
        );
        let pass = pass::run_pass(&app.db, common::day("2026-01-20"));
        let (results, report) =
            clock::at_instant(at, async { tokio::join!(disconnects, pass) }).await;
        report.unwrap();
        for body in results {
            if let Some(code) = error_code(&body) {
                assert_eq!(code, "CONFLICT", "{body}");
            }
        }
        app.assert_money_conserved().await;
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM debits WHERE invoice_id IS NULL".to_owned(),
            ))
            .await
            .unwrap()
            .unwrap();
        let open: i64 = row.try_get("", "n").unwrap();
        let disconnected = app
            .ok(
                "{ disconnection_logs { page_info { total_count } } }",
                json!({}),
            )
            .await["disconnection_logs"]["page_info"]["total_count"]
            .as_i64()
            .unwrap();
        assert!(disconnected >= 1);
        // Every debit of a disconnected account is on exactly one invoice.
        let stray = app
        .db
        .query_one_raw(Statement::from_string(
            app.db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM debits d JOIN disconnection_logs l ON l.account_id = d.account_id WHERE d.invoice_id IS NULL".to_owned(),
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
        assert_eq!(stray, 0, "{open} open debit(s) overall");
    }
);

on_both!(there_is_no_way_to_delete_history, |app| {
    let (account, _) = billed_account(app, "Kept").await;
    app.ok_at(
        noon("2026-02-01"),
        DISCONNECT,
        json!({"id": account, "input": {"prorate": true}}),
    )
    .await;
    let schema = app
        .ok(
            "{ __type(name: \"Mutation\") { fields { name } } }",
            json!({}),
        )
        .await;
    let names: Vec<String> = schema["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_owned())
        .collect();
    for forbidden in [
        "deleteAccount",
        "deleteDebit",
        "deleteInvoice",
        "deleteDiscount",
        "deleteLog",
        "deleteDisconnectionLog",
        "deleteAccountEvent",
    ] {
        assert!(!names.contains(&forbidden.to_owned()), "{forbidden}");
    }
    for table in [
        "accounts",
        "debits",
        "discounts",
        "invoices",
        "invoice_discount_applications",
        "disconnection_logs",
        "account_events",
        "logs",
    ] {
        let refused = app
            .db
            .execute_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("DELETE FROM {table}"),
            ))
            .await;
        assert!(refused.is_err(), "DELETE FROM {table} must be refused");
    }
    let body = app
        .gql("mutation { deleteAccount(id: 1) { success } }", json!({}))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
});

// DESIGN.md §9: one `disconnectAccount` (proration, a billed and an uninvoiced debit, an
// assigned address, a scheduled disconnection to cancel) sends at most 15 statements on
// PostgreSQL, `BEGIN` and `COMMIT` included, authentication excluded. The exact counts are
// pinned (PostgreSQL's within the budget), so that a statement added to the write path shows
// here.
on_both!(a_disconnection_stays_within_its_statement_budget, |app| {
    let (account, _) = billed_account(app, "Budget").await;
    let other = app
        .account_activated_at("Budget two", noon("2026-01-15"))
        .await;
    app.ok_at(
        noon("2026-01-20"),
        "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: \"2026-03-01T12:00:00Z\"}) { id } }",
        json!({"a": account}),
    )
    .await;
    let statements = common::statements_of_a_disconnection(app, account, other).await;
    let pinned = if app.backend == "postgres" { 11 } else { 16 };
    assert_eq!(
        statements, pinned,
        "statements of one disconnection on {}",
        app.backend
    );
    // It did all of it.
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM scheduled_events WHERE account_id = {account} AND status = 'CANCELLED'"
        ))
        .await,
        1
    );
    assert_eq!(
        app.count(&format!(
            "SELECT COUNT(*) AS n FROM discounts WHERE account_id = {account} AND debit_id IS NOT NULL"
        ))
        .await,
        1
    );
    app.assert_money_conserved().await;
});

// The account a disconnection answers with, and the one its audit row keeps, is the account
// as it is afterwards: no next recurring charge, a new `_version`.
on_both!(the_disconnected_account_is_answered_as_it_is_after, |app| {
    let (account, _) = billed_account(app, "Amount").await;
    let before = app
        .ok(
            "query($id: Int64Bit!) { accounts(id: $id) { entities { next_recurring_charge_amount _version } } }",
            json!({"id": account}),
        )
        .await["accounts"]["entities"][0]
        .clone();
    assert_eq!(before["next_recurring_charge_amount"], 5000);
    let after = app
        .ok_at(
            noon("2026-02-01"),
            "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { next_recurring_charge_amount _version } }",
            json!({"id": account}),
        )
        .await["disconnectAccount"]
        .clone();
    assert_eq!(after["next_recurring_charge_amount"], 0);
    assert_ne!(after["_version"], before["_version"]);
    let stored = app
        .ok(
            "query($id: Int64Bit!) { accounts(id: $id) { entities { next_recurring_charge_amount _version } } }",
            json!({"id": account}),
        )
        .await["accounts"]["entities"][0]
        .clone();
    assert_eq!(stored, after, "the answer is the stored account");
    let current = common::last_account_log(app, account, "UPDATED").await;
    assert_eq!(current["next_recurring_charge_amount"], 0);
    assert_eq!(
        current["version"].to_string(),
        after["_version"].as_str().unwrap()
    );
});

// Servers keep the billing settings in memory and check the settings generation with each
// disconnection's lock: a change is seen on the next disconnection when (and only when) the
// generation moved, as every settings mutation makes it, through any server.
on_both!(
    a_settings_change_made_elsewhere_is_seen_by_the_next_disconnection,
    |app| {
        let (a, _) = billed_account(app, "Generation a").await;
        let (b, _) = billed_account(app, "Generation b").await;
        let (c, _) = billed_account(app, "Generation c").await;
        let at = noon("2026-02-01");
        // Billing settings prorate by default; this disconnection reads them into memory.
        app.ok_at(at, DISCONNECT, json!({"id": a})).await;
        let sql = |statement: &str| {
            Statement::from_string(app.db.get_database_backend(), statement.to_owned())
        };
        // A change written without moving the generation is not seen: the copy in memory is
        // what disconnections use.
        app.db
            .execute_raw(sql(
                "UPDATE billing_settings SET prorate_account_status_change = FALSE",
            ))
            .await
            .unwrap();
        app.ok_at(at, DISCONNECT, json!({"id": b})).await;
        // What another server's settings mutation does in its transaction: move the generation.
        app.db
            .execute_raw(sql(
                "UPDATE settings_generations SET generation = generation + 1",
            ))
            .await
            .unwrap();
        app.ok_at(at, DISCONNECT, json!({"id": c})).await;
        for (id, prorated) in [(a, true), (b, true), (c, false)] {
            let logs = app.ok(LOGS, json!({"id": id})).await;
            let log = &logs["accounts"]["entities"][0]["disconnection_logs"]["entities"][0];
            assert_eq!(log["prorated"], prorated, "account {id}");
        }
        // And the mutation moves it itself.
        app.ok(
            "mutation { updateBillingSettings(input: {prorate_account_status_change: true}) { id } }",
            json!({}),
        )
        .await;
        let (d, _) = billed_account(app, "Generation d").await;
        app.ok_at(at, DISCONNECT, json!({"id": d})).await;
        let logs = app.ok(LOGS, json!({"id": d})).await;
        assert_eq!(
            logs["accounts"]["entities"][0]["disconnection_logs"]["entities"][0]["prorated"],
            true
        );
    }
);
