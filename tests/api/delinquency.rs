//! Delinquency: invoices delinquent once past their due date and grace days with more than the
//! minimum left, accounts delinquent with them, kept by payments at once and by the delinquency
//! pass for its date; billing defaults' status switch and its removal; disconnection for
//! non-payment through `disconnectAccount`'s code, only on check days that are not exclusion
//! dates; refusals that write nothing; `fathom verify` agreeing.

use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

use crate::common::{self, billed_account, day, noon, violations};
use fathom::service::base::clock;
use fathom::service::lifecycle::delinquency::{self, DelinquencyReport};

const CREATE_DEFAULT: &str = "mutation($input: CreateBillingDefaultMutationInput) { createBillingDefault(input: $input) { id name default grace_days switch_status_after_delinquency days_of_delinquency_for_status_switch delinquency_account_status_id delinquency_removal_account_status_id delinquency_account_status { name } } }";
const UPDATE_DEFAULT: &str = "mutation($id: Int64Bit!, $input: UpdateBillingDefaultMutationInput) { updateBillingDefault(id: $id, input: $input) { id grace_days account_type_id } }";
const DELETE_DEFAULT: &str =
    "mutation($id: Int64Bit!) { deleteBillingDefault(id: $id) { success } }";
const SETTINGS: &str = "mutation($input: UpdateBillingSettingsMutationInput) { updateBillingSettings(input: $input) { minimum_amount_due_for_delinquency delinquency_disconnect_days delinquency_user_id delinquency_check_day_sunday } }";
const STATUS: &str = "mutation($name: String!) { createAccountStatus(input: {name: $name, activates_account: true, color: \"FF8800\", icon: ADD759610}) { id } }";
const ACCOUNT: &str = "query($id: Int64Bit!) { accounts(id: $id) { entities { is_delinquent account_status_id invoices(sorter: [{attribute: \"id\", direction: ASC}]) { entities { id due_date delinquency_date delinquent remaining_due } } } } }";
const PAY: &str = "mutation($input: CreatePaymentMutationInput) { createPayment(input: $input) { id amount_remaining } }";
const LOGS: &str = "query($id: Int64Bit!) { disconnection_logs(account_id: $id) { entities { for_non_payment disconnected_by_user_id final_invoice_id serviceable_address_id comment disconnection_reason { name voluntary } } } }";

fn id(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().unwrap(),
        other => other.as_i64().unwrap(),
    }
}

async fn account(app: &common::TestApp, account: i64) -> Value {
    app.ok(ACCOUNT, json!({"id": account})).await["accounts"]["entities"][0].clone()
}

/// The type and message of the account's last audit row.
async fn last_log(app: &common::TestApp, account: i64) -> (String, String) {
    let logs = app
        .ok(
            "query($id: Int64Bit) { logs(loggable_type: \"Account\", loggable_id: $id, sorter: [{attribute: \"id\", direction: DESC}]) { entities { type message } } }",
            json!({"id": account}),
        )
        .await;
    let last = &logs["logs"]["entities"][0];
    (
        last["type"].as_str().unwrap().to_owned(),
        last["message"].as_str().unwrap().to_owned(),
    )
}

/// The delinquency pass for `date`, with "now" at noon of that date.
async fn pass(app: &common::TestApp, date: &str) -> DelinquencyReport {
    clock::at_instant(noon(date), delinquency::run_pass(&app.db, day(date)))
        .await
        .unwrap()
}

/// A "Delinquent" status (activating) and the default billing default: 3 grace days, switch
/// after 5 days of delinquency, back to status 1 once paid. Returns the delinquent status.
async fn rules(app: &common::TestApp) -> i64 {
    let delinquent =
        id(&app.ok(STATUS, json!({"name": "Delinquent"})).await["createAccountStatus"]["id"]);
    let created = app
        .ok(
            CREATE_DEFAULT,
            json!({"input": {"name": "Residential", "default": true, "grace_days": 3,
                "switch_status_after_delinquency": true, "days_of_delinquency_for_status_switch": 5,
                "delinquency_account_status_id": delinquent, "delinquency_removal_account_status_id": 1}}),
        )
        .await["createBillingDefault"]
        .clone();
    assert_eq!(created["grace_days"], 3);
    assert_eq!(created["delinquency_account_status"]["name"], "Delinquent");
    delinquent
}

on_both!(
    an_invoice_is_delinquent_after_its_grace_days_the_account_switches_and_a_payment_restores_it,
    |app| {
        let delinquent = rules(app).await;
        // Billed Jan 15: 5000 due Jan 29, delinquent after Feb 1 (3 grace days).
        let (acct, _) = billed_account(app, "Ada").await;
        let a = account(app, acct).await;
        let invoice = a["invoices"]["entities"][0].clone();
        assert_eq!(invoice["due_date"], "2026-01-29");
        assert_eq!(invoice["delinquency_date"], "2026-02-01");
        assert_eq!(invoice["delinquent"], false);

        // On its delinquency date it is not delinquent yet; the day after it is.
        pass(app, "2026-02-01").await;
        assert_eq!(account(app, acct).await["is_delinquent"], false);
        let report = pass(app, "2026-02-02").await;
        assert_eq!(report.marked.invoices_now_delinquent, 1);
        assert_eq!(report.marked.accounts_now_delinquent, 1);
        assert_eq!(report.accounts_switched, 0, "1 day of 5");
        let a = account(app, acct).await;
        assert_eq!(a["is_delinquent"], true);
        assert_eq!(a["invoices"]["entities"][0]["delinquent"], true);
        assert_eq!(a["account_status_id"], "1");
        // Filtering on the flags works like any column.
        let found = app
            .ok("{ accounts(is_delinquent: true) { entities { id } } invoices(delinquent: true) { entities { account_id } } }", json!({}))
            .await;
        assert_eq!(
            found["accounts"]["entities"],
            json!([{"id": acct.to_string()}])
        );
        assert_eq!(
            found["invoices"]["entities"][0]["account_id"],
            acct.to_string()
        );

        // Five days of delinquency on Feb 6: switched, once.
        pass(app, "2026-02-05").await;
        assert_eq!(account(app, acct).await["account_status_id"], "1");
        let report = pass(app, "2026-02-06").await;
        assert_eq!(report.accounts_switched, 1);
        assert_eq!(
            account(app, acct).await["account_status_id"],
            delinquent.to_string()
        );
        let again = pass(app, "2026-02-06").await;
        assert_eq!(again.accounts_switched, 0, "exactly once a day: {again:?}");
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) AS n FROM account_events WHERE account_id = {acct} AND event = 'STATUS_UPDATED' AND current = '{delinquent}'")).await,
            1
        );
        assert_eq!(
            last_log(app, acct).await,
            (
                "SYSTEM".to_string(),
                "account delinquent: status switched".to_string()
            )
        );
        assert_eq!(violations(app).await, Vec::<String>::new());

        // A part payment leaves it delinquent; paying the rest restores it in the payment's
        // own transaction.
        app.ok_at(
            noon("2026-02-07"),
            PAY,
            json!({"input": {"account_id": acct, "amount": 1000, "payment_type": "CASH", "apply_to_open_invoices": true}}),
        )
        .await;
        let a = account(app, acct).await;
        assert_eq!(a["is_delinquent"], true);
        assert_eq!(a["account_status_id"], delinquent.to_string());
        app.ok_at(
            noon("2026-02-07"),
            PAY,
            json!({"input": {"account_id": acct, "amount": 4000, "payment_type": "CASH", "apply_to_open_invoices": true}}),
        )
        .await;
        let a = account(app, acct).await;
        assert_eq!(a["is_delinquent"], false);
        assert_eq!(a["invoices"]["entities"][0]["delinquent"], false);
        assert_eq!(a["account_status_id"], "1", "restored by the payment");
        assert_eq!(
            last_log(app, acct).await,
            (
                "UPDATED".to_string(),
                "account no longer delinquent: status restored".to_string()
            )
        );
        assert_eq!(pass(app, "2026-02-08").await.accounts_restored, 0);
        app.assert_money_conserved().await;
        assert_eq!(violations(app).await, Vec::<String>::new());
    }
);

on_both!(
    the_minimum_amount_due_keeps_a_small_balance_from_being_delinquent,
    |app| {
        rules(app).await;
        let (acct, _) = billed_account(app, "Bo").await;
        app.ok(
            SETTINGS,
            json!({"input": {"minimum_amount_due_for_delinquency": 500}}),
        )
        .await;
        app.ok_at(
            noon("2026-01-20"),
            PAY,
            json!({"input": {"account_id": acct, "amount": 4500, "payment_type": "CASH", "apply_to_open_invoices": true}}),
        )
        .await;
        pass(app, "2026-02-10").await;
        assert_eq!(
            account(app, acct).await["is_delinquent"],
            false,
            "500 left is not more than 500"
        );
        app.ok(
            SETTINGS,
            json!({"input": {"minimum_amount_due_for_delinquency": 499}}),
        )
        .await;
        // A change of the minimum marks every invoice again in its own transaction.
        assert_eq!(account(app, acct).await["is_delinquent"], true);
        let report = pass(app, "2026-02-10").await;
        assert_eq!(report.marked, Default::default(), "nothing left to mark");
        app.ok(
            SETTINGS,
            json!({"input": {"minimum_amount_due_for_delinquency": 500}}),
        )
        .await;
        assert_eq!(account(app, acct).await["is_delinquent"], false);
        assert_eq!(violations(app).await, Vec::<String>::new());
    }
);

on_both!(
    the_pass_disconnects_for_non_payment_on_check_days_that_are_not_excluded,
    |app| {
        let delinquent = rules(app).await;
        let admin = id(&app
            .ok(
                "{ users(username: \"admin\") { entities { id } } }",
                json!({}),
            )
            .await["users"]["entities"][0]["id"]);
        // Disconnected 10 days after the switch (5 + 10 days of delinquency): Feb 16.
        app.ok(
            SETTINGS,
            json!({"input": {"delinquency_disconnect_days": 10, "delinquency_user_id": admin,
                "delinquency_check_day_monday": false}}),
        )
        .await;
        app.ok(
            "mutation { createDelinquencyExclusion(input: {name: \"Storm\", day: 17, month: 2, year: 2026}) { id } }",
            json!({}),
        )
        .await;
        let (acct, address) = billed_account(app, "Cy").await;
        pass(app, "2026-02-06").await;
        assert_eq!(
            account(app, acct).await["account_status_id"],
            delinquent.to_string()
        );
        // Feb 16 2026 is a Monday (not a check day), Feb 17 is excluded: marked, not acted on.
        for date in ["2026-02-15", "2026-02-16", "2026-02-17"] {
            let report = pass(app, date).await;
            assert_eq!(report.accounts_disconnected, 0, "{date}: {report:?}");
        }
        let monday = pass(app, "2026-02-16").await;
        assert!(!monday.check_day && !monday.acted());
        let excluded = pass(app, "2026-02-17").await;
        assert!(excluded.excluded && !excluded.acted());
        assert_eq!(
            account(app, acct).await["account_status_id"],
            delinquent.to_string()
        );

        let report = pass(app, "2026-02-18").await;
        assert_eq!(report.accounts_disconnected, 1, "{report:?}");
        let a = account(app, acct).await;
        assert_eq!(
            a["account_status_id"], "2",
            "billing settings' disconnect status"
        );
        let logs =
            app.ok(LOGS, json!({"id": acct})).await["disconnection_logs"]["entities"].clone();
        assert_eq!(logs.as_array().unwrap().len(), 1);
        assert_eq!(logs[0]["for_non_payment"], true);
        assert_eq!(
            logs[0]["disconnection_reason"],
            json!({"name": "Non-payment", "voluntary": false}),
            "billing settings' delinquency_disconnection_reason_id"
        );
        assert_eq!(logs[0]["comment"], Value::Null);
        assert_eq!(logs[0]["disconnected_by_user_id"], admin.to_string());
        assert_eq!(logs[0]["serviceable_address_id"], address.to_string());
        assert!(
            !logs[0]["final_invoice_id"].is_null(),
            "the uninvoiced 2500 is invoiced"
        );
        assert_eq!(
            app.count(&format!("SELECT COUNT(*) AS n FROM serviceable_address_account_assignment_histories WHERE account_id = {acct} AND end_date IS NULL")).await,
            0,
            "the address is released"
        );
        // Once: a second pass (or a second server) finds nothing to do.
        assert_eq!(pass(app, "2026-02-18").await.accounts_disconnected, 0);
        app.assert_money_conserved().await;
        assert_eq!(violations(app).await, Vec::<String>::new());
    }
);

on_both!(
    billing_defaults_and_delinquency_settings_refuse_what_cannot_work_and_write_nothing,
    |app| {
        let inactive = id(&app.ok("mutation { createAccountStatus(input: {name: \"Suspended\", activates_account: false, color: \"888888\", icon: ADD759610}) { id } }", json!({})).await["createAccountStatus"]["id"]);
        let first = id(&app
            .ok(
                CREATE_DEFAULT,
                json!({"input": {"name": "Default", "default": true}}),
            )
            .await["createBillingDefault"]["id"]);
        let before = app.fingerprint().await;
        for (input, field) in [
            (json!({"name": "X", "grace_days": -1}), "grace_days"),
            (json!({"name": "X", "grace_days": 4000}), "grace_days"),
            (json!({"name": "X", "default": true}), "default"),
            (
                json!({"name": "X", "delinquency_account_status_id": inactive}),
                "delinquency_account_status_id",
            ),
            (
                json!({"name": "X", "delinquency_removal_account_status_id": 999999}),
                "delinquency_removal_account_status_id",
            ),
            (
                json!({"name": "X", "switch_status_after_delinquency": true}),
                "delinquency_account_status_id",
            ),
            (
                json!({"name": "X", "account_type_id": 999999}),
                "account_type_id",
            ),
            (json!({"name": " "}), "name"),
        ] {
            let body = app.gql(CREATE_DEFAULT, json!({"input": input})).await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{input}: {body}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["field"], field,
                "{input}: {body}"
            );
        }
        let body = app.gql(UPDATE_DEFAULT, json!({"id": first, "input": {"grace_days": 2, "unset_account_type_id": true, "account_type_id": 1}})).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{body}"
        );
        for (input, field) in [
            (
                json!({"delinquency_disconnect_days": 5}),
                "delinquency_user_id",
            ),
            (
                json!({"delinquency_disconnect_days": -1}),
                "delinquency_disconnect_days",
            ),
            (
                json!({"delinquency_user_id": 999999}),
                "delinquency_user_id",
            ),
            (
                json!({"minimum_amount_due_for_delinquency": -1}),
                "minimum_amount_due_for_delinquency",
            ),
        ] {
            let body = app.gql(SETTINGS, json!({"input": input})).await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{input}: {body}"
            );
            assert_eq!(
                body["errors"][0]["extensions"]["field"], field,
                "{input}: {body}"
            );
        }
        assert_eq!(app.fingerprint().await, before, "refusals write nothing");

        // What is allowed: a billing default per account type, changed, then deleted.
        let typed = app
            .ok(
                CREATE_DEFAULT,
                json!({"input": {"name": "Business", "grace_days": 10}}),
            )
            .await["createBillingDefault"]["id"]
            .clone();
        let changed = app
            .ok(
                UPDATE_DEFAULT,
                json!({"id": typed, "input": {"account_type_id": 1, "grace_days": 7}}),
            )
            .await["updateBillingDefault"]
            .clone();
        assert_eq!(changed["grace_days"], 7);
        assert_eq!(changed["account_type_id"], "1");
        let body = app
            .gql(
                CREATE_DEFAULT,
                json!({"input": {"name": "Dup", "account_type_id": 1}}),
            )
            .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "account_type_id",
            "{body}"
        );
        app.ok(DELETE_DEFAULT, json!({"id": typed})).await;
        let left = app
            .ok("{ billing_defaults { entities { id name } } }", json!({}))
            .await;
        assert_eq!(
            left["billing_defaults"]["entities"],
            json!([{"id": first.to_string(), "name": "Default"}])
        );
    }
);

on_both!(
    verify_names_delinquency_flags_that_disagree_with_the_invoices,
    |app| {
        rules(app).await;
        let (paid, _) = billed_account(app, "Di").await;
        let (owing, _) = billed_account(app, "Ed").await;
        app.ok_at(
            noon("2026-01-20"),
            PAY,
            json!({"input": {"account_id": paid, "amount": 5000, "payment_type": "CASH", "apply_to_open_invoices": true}}),
        )
        .await;
        pass(app, "2026-02-03").await;
        assert_eq!(account(app, owing).await["is_delinquent"], true);
        assert_eq!(account(app, paid).await["is_delinquent"], false);
        assert_eq!(violations(app).await, Vec::<String>::new());
        let owing_invoice = id(&account(app, owing).await["invoices"]["entities"][0]["id"]);
        let paid_invoice = id(&account(app, paid).await["invoices"]["entities"][0]["id"]);
        for sql in [
            format!("UPDATE accounts SET is_delinquent = TRUE WHERE id = {paid}"),
            format!("UPDATE invoices SET delinquent = TRUE WHERE id = {paid_invoice}"),
            format!("UPDATE invoices SET delinquent = FALSE WHERE id = {owing_invoice}"),
        ] {
            app.db.execute_unprepared(&sql).await.unwrap();
        }
        let found = violations(app).await;
        assert_eq!(
            found,
            vec![
                format!("Invoice {paid_invoice}: a delinquent invoice is not void, owes more than the minimum and is past its delinquency date: expected not void, more than 0 due, its delinquency date before {}, found void false, 0 due, delinquency date 2026-02-01", app_today(app).await),
                format!("Invoice {owing_invoice}: an invoice owing more than the minimum past its delinquency date at the last delinquency pass is delinquent: expected delinquent since the delinquency pass of 2026-02-03, found not delinquent, 5000 due"),
                format!("Account {paid}: a delinquent account has an unpaid invoice past its delinquency date: expected an invoice with more than 0 due past its delinquency date, found none"),
                format!("Account {owing}: is_delinquent exactly when one of its invoices is delinquent: expected is_delinquent false, as its invoices are, found is_delinquent true"),
            ]
        );
    }
);

/// Today in the instance time zone (UTC in tests).
async fn app_today(_app: &common::TestApp) -> String {
    clock::now().date_naive().to_string()
}

on_both!(
    thirty_two_reversals_racing_the_delinquency_pass_leave_each_account_marked_once_and_the_books_right,
    |app| {
        const ACCOUNTS: usize = 32;
        let delinquent = rules(app).await;
        // Switch at once: the pass acts on every account a reversal made delinquent before it.
        app.ok(
            "mutation { updateBillingDefault(id: 1, input: {days_of_delinquency_for_status_switch: 0}) { id } }",
            json!({}),
        )
        .await;
        let t0 = noon("2026-01-15");
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        let mut payments = Vec::new();
        for i in 0..ACCOUNTS {
            let account = app.account_activated_at(&format!("Racer {i}"), t0).await;
            app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": fiber})).await;
            payments.push(account);
        }
        fathom::service::billing::pass::run_pass(&app.db, day("2026-01-15"))
            .await
            .unwrap();
        let mut paid = Vec::new();
        for account in payments {
            let payment = app
                .ok_at(
                    noon("2026-01-20"),
                    PAY,
                    json!({"input": {"account_id": account, "amount": 5000, "payment_type": "CHECK", "apply_to_open_invoices": true}}),
                )
                .await["createPayment"]["id"]
                .clone();
            paid.push((account, payment));
        }
        // The checks bounce while the pass of Feb 10 runs.
        let reversals = paid.iter().map(|(_, payment)| {
            app.gql(
                "mutation($id: Int64Bit!) { reversePayment(id: $id, input: {amount: 5000}) { id } }",
                json!({"id": payment}),
            )
        });
        let run = delinquency::run_pass(&app.db, day("2026-02-10"));
        let (answers, report) = clock::at_instant(
            noon("2026-02-10"),
            futures_util::future::join(futures_util::future::join_all(reversals), run),
        )
        .await;
        let report = report.unwrap();
        assert_eq!(report.failed, 0, "{report:?}");
        let mut reversed = 0;
        for ((acct, _), body) in paid.iter().zip(&answers) {
            let a = account(app, *acct).await;
            match common::error_code(body) {
                None => {
                    reversed += 1;
                    assert_eq!(a["is_delinquent"], true, "account {acct}: {body}");
                }
                Some(code) => {
                    assert_eq!(code, "CONFLICT", "only a retryable conflict: {body}");
                    assert_eq!(a["is_delinquent"], false, "account {acct}");
                }
            }
            let switches = app
                .count(&format!("SELECT COUNT(*) AS n FROM account_events WHERE account_id = {acct} AND event = 'STATUS_UPDATED'"))
                .await;
            assert!(switches <= 1, "account {acct} switched {switches} times");
            assert_eq!(
                switches == 1,
                a["account_status_id"].as_str() == Some(delinquent.to_string().as_str()),
                "account {acct}"
            );
        }
        assert!(reversed >= ACCOUNTS / 2, "{reversed} of {ACCOUNTS} reversed");
        // Nothing applied twice, nothing lost: every reversed payment pays nothing.
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM invoice_payment_applications WHERE undone = FALSE AND payment_id IN (SELECT id FROM payments WHERE reversed = TRUE)").await,
            0
        );
        // The next pass switches whoever the race left behind, once.
        pass(app, "2026-02-11").await;
        for (acct, body) in paid.iter().map(|(a, _)| a).zip(&answers) {
            let expected = if common::error_code(body).is_none() {
                delinquent.to_string()
            } else {
                "1".to_string()
            };
            assert_eq!(account(app, *acct).await["account_status_id"], expected);
        }
        app.assert_money_conserved().await;
        assert_eq!(violations(app).await, Vec::<String>::new());
    }
);

on_both!(
    a_pass_for_an_earlier_date_keeps_todays_marks_and_restores_nobody,
    |app| {
        let delinquent = rules(app).await;
        let (acct, _) = billed_account(app, "Fay").await;
        pass(app, "2026-02-06").await;
        assert_eq!(
            account(app, acct).await["account_status_id"],
            delinquent.to_string()
        );
        // A pass for Feb 1 (before the invoice's delinquency date) run on Feb 10.
        let report = clock::at_instant(
            noon("2026-02-10"),
            delinquency::run_pass(&app.db, day("2026-02-01")),
        )
        .await
        .unwrap();
        assert_eq!(report.accounts_restored, 0, "{report:?}");
        assert_eq!(report.marked, Default::default(), "marks are as of today");
        let a = account(app, acct).await;
        assert_eq!(a["is_delinquent"], true);
        assert_eq!(a["account_status_id"], delinquent.to_string());
        assert_eq!(violations(app).await, Vec::<String>::new());
    }
);

on_both!(
    a_payment_that_clears_an_account_succeeds_when_its_removal_status_no_longer_activates,
    |app| {
        let delinquent = rules(app).await;
        let good = id(
            &app.ok(STATUS, json!({"name": "Good standing"})).await["createAccountStatus"]["id"]
        );
        app.ok(
            "mutation($g: Int64Bit!) { updateBillingDefault(id: 1, input: {delinquency_removal_account_status_id: $g}) { id } }",
            json!({"g": good}),
        )
        .await;
        let (acct, _) = billed_account(app, "Gus").await;
        pass(app, "2026-02-06").await;
        assert_eq!(
            account(app, acct).await["account_status_id"],
            delinquent.to_string()
        );
        app.ok(
            "mutation($g: Int64Bit!) { updateAccountStatus(id: $g, input: {activates_account: false}) { id } }",
            json!({"g": good}),
        )
        .await;
        app.ok_at(
            noon("2026-02-07"),
            PAY,
            json!({"input": {"account_id": acct, "amount": 5000, "payment_type": "CASH", "apply_to_open_invoices": true}}),
        )
        .await;
        let a = account(app, acct).await;
        assert_eq!(a["is_delinquent"], false, "the payment is recorded");
        assert_eq!(
            a["account_status_id"],
            delinquent.to_string(),
            "not moved to a status that would stop its billing"
        );
        assert_eq!(violations(app).await, Vec::<String>::new());
    }
);

on_both!(
    a_status_or_type_a_billing_default_names_cannot_be_deleted,
    |app| {
        let status =
            id(&app.ok(STATUS, json!({"name": "Late payer"})).await["createAccountStatus"]["id"]);
        let business = id(&app
            .ok(
                "mutation { createAccountType(input: {name: \"Business\", type: COMMERCIAL}) { id } }",
                json!({}),
            )
            .await["createAccountType"]["id"]);
        app.ok(
            CREATE_DEFAULT,
            json!({"input": {"name": "Business rules", "account_type_id": business, "switch_status_after_delinquency": true,
                "delinquency_account_status_id": status, "delinquency_removal_account_status_id": 1}}),
        )
        .await;
        for (query, id) in [
            (
                "mutation($id: Int64Bit!) { deleteAccountStatus(id: $id) { success } }",
                status,
            ),
            (
                "mutation($id: Int64Bit!) { deleteAccountType(id: $id) { success } }",
                business,
            ),
        ] {
            let before = app.fingerprint().await;
            let body = app.gql(query, json!({"id": id})).await;
            assert_eq!(
                common::error_code(&body).as_deref(),
                Some("CONFLICT"),
                "{body}"
            );
            let message = body["errors"][0]["message"].as_str().unwrap();
            assert!(message.contains("billing default"), "{message}");
            assert_eq!(app.fingerprint().await, before, "nothing deleted");
        }
    }
);
