//! A disconnected account that comes back: every day it is active is charged exactly once, net
//! of credits (`service::reactivation`), the billing pass never leaves an account behind
//! silently, and `fathom verify` sees a book where either went wrong.

use std::process::{Command, Output};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::common::{self, day, noon};

const ADD: &str = "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }";
const DISCONNECT: &str = "mutation($id: Int64Bit!, $p: Boolean) { disconnectAccount(id: $id, input: {prorate: $p}) { id next_bill_date next_recurring_charge_amount } }";
const SET_STATUS: &str = "mutation($id: Int64Bit!, $s: Int64Bit) { updateAccount(id: $id, input: {account_status_id: $s}) { next_bill_date next_recurring_charge_amount } }";
const DEBITS: &str = "query($id: Int64Bit!) { debits(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { amount prorated_from prorated_to invoice_id } } }";
const CREDITS: &str = "query($id: Int64Bit!) { discounts(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { amount prorated_from prorated_to } } }";

fn fathom(args: &[&str], database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("FATHOM_LOG", "error")
        .output()
        .expect("run fathom")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// At `hour` o'clock UTC of `date`.
fn at(date: &str, hour: u32) -> chrono::DateTime<chrono::Utc> {
    noon(date) + chrono::Duration::hours(hour as i64 - 12)
}

/// An account activated at noon on `date` with a monthly service of `amount`, billed that day
/// (so its first period, `date` to a month less a day, is charged in advance).
async fn billed_on(app: &common::TestApp, name: &str, date: &str, amount: i64) -> i64 {
    let account = app.account_activated_at(name, noon(date)).await;
    let service = app
        .recurring_service(&format!("{name} plan"), amount, 1)
        .await;
    app.ok_at(
        noon(date),
        ADD,
        json!({"input": {"account_id": account, "service_id": service, "quantity": 1}}),
    )
    .await;
    fathom::service::billing::run_pass(&app.db, day(date))
        .await
        .unwrap();
    account
}

/// `(amount, from, to)` of each of the account's debits, oldest first.
async fn debits(app: &common::TestApp, account: i64) -> Vec<(i64, String, String)> {
    rows(app, DEBITS, "debits", account).await
}

async fn credits(app: &common::TestApp, account: i64) -> Vec<(i64, String, String)> {
    rows(app, CREDITS, "discounts", account).await
}

async fn rows(
    app: &common::TestApp,
    query: &str,
    root: &str,
    account: i64,
) -> Vec<(i64, String, String)> {
    app.ok(query, json!({"id": account})).await[root]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["amount"].as_i64().unwrap(),
                d["prorated_from"].as_str().unwrap().to_owned(),
                d["prorated_to"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn owned(rows: &[(i64, &str, &str)]) -> Vec<(i64, String, String)> {
    rows.iter()
        .map(|(a, f, t)| (*a, f.to_string(), t.to_string()))
        .collect()
}

/// What the account owes net: its debits less its credits.
async fn net(app: &common::TestApp, account: i64) -> i64 {
    debits(app, account).await.iter().map(|d| d.0).sum::<i64>()
        - credits(app, account).await.iter().map(|c| c.0).sum::<i64>()
}

async fn next_bill(app: &common::TestApp, account: i64) -> Value {
    app.ok(
        "query($id: Int64Bit!) { accounts(id: $id) { entities { next_bill_date next_recurring_charge_amount } } }",
        json!({"id": account}),
    )
    .await["accounts"]["entities"][0]
        .clone()
}

/// `fathom verify`'s exit status and output.
fn verify(app: &common::TestApp) -> (i32, String) {
    let out = fathom(&["verify"], &app.url);
    (out.status.code().unwrap_or(-1), text(&out))
}

// The scenario, through the README's commands: billed today, disconnected today with
// proration (credit for the 30 unused days of 31: 6000 × 30 / 31 = 5806.45 → 5806), set back
// to active the same day. The credited days are charged again (5806: the same days, the same
// amount), the account keeps its cycle (next bill a month ahead, 6000 due then), `fathom bill`
// today bills nothing more and a month ahead bills the next period, and `fathom verify` passes.
on_both!(
    an_account_disconnected_and_reactivated_the_same_day_is_billed_every_day_once,
    |app| {
        let account = billed_on(app, "Wrong account", "2026-12-06", 6000).await;
        let off = app
            .ok_at(
                at("2026-12-06", 13),
                DISCONNECT,
                json!({"id": account, "p": true}),
            )
            .await;
        assert!(off["disconnectAccount"]["next_bill_date"].is_null());
        assert_eq!(
            credits(app, account).await,
            owned(&[(5806, "2026-12-07", "2027-01-05")])
        );

        let back = app
            .ok_at(
                at("2026-12-06", 14),
                SET_STATUS,
                json!({"id": account, "s": 1}),
            )
            .await;
        assert_eq!(back["updateAccount"]["next_bill_date"], "2027-01-06");
        assert_eq!(back["updateAccount"]["next_recurring_charge_amount"], 6000);
        assert_eq!(
            debits(app, account).await,
            owned(&[
                (6000, "2026-12-06", "2027-01-05"),
                (5806, "2026-12-07", "2027-01-05"),
            ])
        );
        assert_eq!(
            net(app, account).await,
            6000,
            "the period is charged in full"
        );

        let today = fathom(&["bill", "--date", "2026-12-06"], &app.url);
        assert!(today.status.success(), "{}", text(&today));
        assert!(
            text(&today).contains("billed 2026-12-06: 0 account(s)"),
            "{}",
            text(&today)
        );
        let ahead = fathom(&["bill", "--date", "2027-01-06"], &app.url);
        assert!(ahead.status.success(), "{}", text(&ahead));
        assert!(
            text(&ahead).contains("billed 2027-01-06: 1 account(s), 1 debit(s), 1 invoice(s)"),
            "{}",
            text(&ahead)
        );
        assert_eq!(
            debits(app, account).await.last().unwrap(),
            &(6000, "2027-01-06".into(), "2027-02-05".into())
        );
        // The January invoice takes the charge of the credited days and the credit.
        let invoice = app
            .ok(
                "query($id: Int64Bit!) { invoices(account_id: $id, sorter: [{attribute: \"id\", direction: DESC}]) { entities { date total_debits remaining_due } } }",
                json!({"id": account}),
            )
            .await["invoices"]["entities"][0]
            .clone();
        assert_eq!(
            invoice,
            json!({"date": "2027-01-06", "total_debits": 11806, "remaining_due": 6000})
        );
        assert_eq!(
            next_bill(app, account).await["next_bill_date"],
            "2027-02-06"
        );
        app.assert_money_conserved().await;
        let (status, out) = verify(app);
        assert_eq!(status, 0, "{out}");
        assert!(
            out.contains("active accounts: 1 checked, 0 violations"),
            "{out}"
        );
    }
);

// Back later in the same period: the days away (Dec 11 – 19) are not charged, the rest of the
// period from the return is. Credit 6000 × 26 / 31 = 5032.26 → 5032; charge from Dec 20,
// 6000 × 17 / 31 = 3290.32 → 3290; net 4258 for 22 days (6000 × 22 / 31 = 4258.06).
on_both!(
    an_account_back_later_in_a_credited_period_is_charged_from_its_return,
    |app| {
        let account = billed_on(app, "Mover", "2026-12-06", 6000).await;
        app.ok_at(
            noon("2026-12-10"),
            DISCONNECT,
            json!({"id": account, "p": true}),
        )
        .await;
        let back = app
            .ok_at(
                noon("2026-12-20"),
                SET_STATUS,
                json!({"id": account, "s": 1}),
            )
            .await;
        assert_eq!(back["updateAccount"]["next_bill_date"], "2027-01-06");
        assert_eq!(back["updateAccount"]["next_recurring_charge_amount"], 6000);
        assert_eq!(
            credits(app, account).await,
            owned(&[(5032, "2026-12-11", "2027-01-05")])
        );
        assert_eq!(
            debits(app, account).await,
            owned(&[
                (6000, "2026-12-06", "2027-01-05"),
                (3290, "2026-12-20", "2027-01-05"),
            ])
        );
        assert_eq!(net(app, account).await, 4258);
        let (status, out) = verify(app);
        assert_eq!(status, 0, "{out}");
    }
);

// Disconnected without proration, the rest of the period stays paid: back within it, nothing
// is charged again, and the next period is billed on the old cycle.
on_both!(
    an_account_back_within_a_period_it_paid_for_is_not_charged_twice,
    |app| {
        let account = billed_on(app, "Paid up", "2026-12-06", 6000).await;
        app.ok_at(
            noon("2026-12-10"),
            DISCONNECT,
            json!({"id": account, "p": false}),
        )
        .await;
        let back = app
            .ok_at(
                noon("2026-12-20"),
                SET_STATUS,
                json!({"id": account, "s": 1}),
            )
            .await;
        assert_eq!(back["updateAccount"]["next_bill_date"], "2027-01-06");
        assert_eq!(back["updateAccount"]["next_recurring_charge_amount"], 6000);
        assert_eq!(
            debits(app, account).await,
            owned(&[(6000, "2026-12-06", "2027-01-05")])
        );
        fathom::service::billing::run_pass(&app.db, day("2027-01-06"))
            .await
            .unwrap();
        assert_eq!(
            debits(app, account).await,
            owned(&[
                (6000, "2026-12-06", "2027-01-05"),
                (6000, "2027-01-06", "2027-02-05"),
            ])
        );
        let (status, out) = verify(app);
        assert_eq!(status, 0, "{out}");
    }
);

// Away past the end of what was billed: billing restarts on the day of the return, with that
// day as the new billing day, and the time away is never charged.
on_both!(
    an_account_back_in_a_later_period_starts_a_new_cycle_that_day,
    |app| {
        let account = billed_on(app, "Snowbird", "2026-12-06", 6000).await;
        app.ok_at(
            noon("2026-12-10"),
            DISCONNECT,
            json!({"id": account, "p": true}),
        )
        .await;
        let back = app
            .ok_at(
                noon("2027-01-20"),
                SET_STATUS,
                json!({"id": account, "s": 1}),
            )
            .await;
        assert_eq!(back["updateAccount"]["next_bill_date"], "2027-01-20");
        assert_eq!(back["updateAccount"]["next_recurring_charge_amount"], 6000);
        assert_eq!(debits(app, account).await.len(), 1, "nothing charged yet");
        fathom::service::billing::run_pass(&app.db, day("2027-01-20"))
            .await
            .unwrap();
        assert_eq!(
            debits(app, account).await,
            owned(&[
                (6000, "2026-12-06", "2027-01-05"),
                (6000, "2027-01-20", "2027-02-19"),
            ])
        );
        assert_eq!(
            next_bill(app, account).await["next_bill_date"],
            "2027-02-20"
        );
        let (status, out) = verify(app);
        assert_eq!(status, 0, "{out}");
    }
);

// Three disconnections with proration and three returns: two on the first day, one a week
// later. Each return charges again exactly what the disconnection before it credited (the
// second same-day charge starts on the same day as the first: allowed for a reactivation's
// charges), so the month nets to the days the account was active: all 31 but Dec 14 – 19.
on_both!(
    several_disconnections_and_returns_charge_each_active_day_once,
    |app| {
        let account = billed_on(app, "Undecided", "2026-12-06", 6000).await;
        for (off, on) in [(13, 14), (15, 16)] {
            app.ok_at(
                at("2026-12-06", off),
                DISCONNECT,
                json!({"id": account, "p": true}),
            )
            .await;
            let back = app
                .ok_at(
                    at("2026-12-06", on),
                    SET_STATUS,
                    json!({"id": account, "s": 1}),
                )
                .await;
            assert_eq!(back["updateAccount"]["next_bill_date"], "2027-01-06");
            assert_eq!(net(app, account).await, 6000);
        }
        app.ok_at(
            noon("2026-12-13"),
            DISCONNECT,
            json!({"id": account, "p": true}),
        )
        .await;
        app.ok_at(
            noon("2026-12-20"),
            SET_STATUS,
            json!({"id": account, "s": 1}),
        )
        .await;
        let rows = debits(app, account).await;
        assert_eq!(
            rows.iter()
                .map(|d| (d.1.as_str(), d.2.as_str()))
                .collect::<Vec<_>>(),
            [
                ("2026-12-06", "2027-01-05"),
                ("2026-12-07", "2027-01-05"),
                ("2026-12-07", "2027-01-05"),
                ("2026-12-20", "2027-01-05"),
            ]
        );
        // 25 of 31 days: 6000 × 25 / 31 = 4838.71; three roundings of at most half a cent
        // each (the last credit and the last charge; the same-day pairs cancel exactly).
        let owed = net(app, account).await;
        assert!((4838..=4840).contains(&owed), "{owed}");
        assert_eq!(
            next_bill(app, account).await,
            json!({"next_bill_date": "2027-01-06", "next_recurring_charge_amount": 6000})
        );
        let (status, out) = verify(app);
        assert_eq!(status, 0, "{out}");
        app.assert_money_conserved().await;
    }
);

// A service added while the account was away is charged from the return to the end of the
// period on the account's cycle (here Dec 20 – Jan 5 of Dec 6 – Jan 5: 3100 × 17 / 31 = 1700).
on_both!(
    a_service_added_while_away_is_charged_from_the_return,
    |app| {
        let account = billed_on(app, "Upgrader", "2026-12-06", 6000).await;
        app.ok_at(
            noon("2026-12-10"),
            DISCONNECT,
            json!({"id": account, "p": true}),
        )
        .await;
        let tv = app.recurring_service("TV", 3100, 1).await;
        app.ok_at(
            noon("2026-12-15"),
            ADD,
            json!({"input": {"account_id": account, "service_id": tv, "quantity": 1}}),
        )
        .await;
        let back = app
            .ok_at(
                noon("2026-12-20"),
                SET_STATUS,
                json!({"id": account, "s": 1}),
            )
            .await;
        assert_eq!(back["updateAccount"]["next_recurring_charge_amount"], 9100);
        assert_eq!(
            debits(app, account).await,
            owned(&[
                (6000, "2026-12-06", "2027-01-05"),
                (3290, "2026-12-20", "2027-01-05"),
                (1700, "2026-12-20", "2027-01-05"),
            ])
        );
        fathom::service::billing::run_pass(&app.db, day("2027-01-06"))
            .await
            .unwrap();
        assert_eq!(debits(app, account).await.len(), 5, "both billed on Jan 6");
        let (status, out) = verify(app);
        assert_eq!(status, 0, "{out}");
    }
);

async fn exec(app: &common::TestApp, sql: String) {
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap();
}

// An account the pass cannot bill (its next period already has a debit, written by hand) is
// not skipped silently: `fathom bill` names it and exits 1, the worker's pass counts it in
// `/metrics`, and `fathom verify` reports it behind the last pass.
on_both!(
    an_account_the_pass_cannot_bill_is_reported_and_counted,
    |app| {
        use fathom::entity::debit;
        use sea_orm::{ActiveModelTrait, EntityTrait, QueryOrder, Set};
        let stuck = billed_on(app, "Stuck", "2026-11-06", 6000).await;
        let fine = billed_on(app, "Fine", "2026-11-06", 6000).await;
        let first = debit::Entity::find()
            .order_by_asc(debit::Column::Id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.account_id, stuck);
        let mut copy: debit::ActiveModel = first.into();
        copy.id = sea_orm::ActiveValue::NotSet;
        copy.invoice_id = Set(None);
        copy.prorated_from = Set(Some(day("2026-12-06")));
        copy.prorated_to = Set(Some(day("2027-01-05")));
        copy.insert(&app.db).await.unwrap();

        let out = fathom(&["bill", "--date", "2026-12-06"], &app.url);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            text(&out).contains(&format!(
                "could not bill 1 account(s) due by 2026-12-06: {stuck}"
            )),
            "{}",
            text(&out)
        );
        assert_eq!(next_bill(app, fine).await["next_bill_date"], "2027-01-06");
        assert_eq!(next_bill(app, stuck).await["next_bill_date"], "2026-12-06");
        let (status, out) = verify(app);
        assert_eq!(status, 1, "{out}");
        assert!(
            out.contains(&format!(
                "violation: Account {stuck}: billed through the last billing pass: expected a next bill date after 2026-12-06"
            )),
            "{out}"
        );
        assert!(out.contains("found next bill date 2026-12-06"), "{out}");

        // The worker's pass, as `serve` runs it: counted in /metrics.
        let metrics = std::sync::Arc::new(fathom::metrics::Metrics::new());
        let config = fathom::config::Config::for_database(&app.url);
        let router =
            fathom::app::router_with_metrics(app.db.clone(), &config, metrics.clone()).unwrap();
        let report = fathom::service::at_instant(
            noon("2026-12-06"),
            fathom::worker::bill_today(&app.db, &metrics),
        )
        .await
        .unwrap();
        assert_eq!(report.failed_accounts, [stuck]);
        let request = axum::http::Request::get("/metrics")
            .body(axum::body::Body::empty())
            .unwrap();
        let (_, _, body) = common::answer(&router, request).await;
        let text = String::from_utf8_lossy(&body);
        assert!(
            text.lines()
                .any(|l| l == "fathom_billing_accounts_failed_total 1"),
            "{text}"
        );
    }
);

// `fathom verify` on a live book: an active day that no debit pays for, a day paid for twice,
// and an account left behind by the last pass are each named with the account.
on_both!(
    verify_names_an_account_with_a_day_unpaid_paid_twice_or_left_unbilled,
    |app| {
        let unpaid = billed_on(app, "Unpaid", "2026-12-06", 6000).await;
        let twice = billed_on(app, "Twice", "2026-12-06", 6000).await;
        let behind = billed_on(app, "Behind", "2026-12-06", 6000).await;
        // Unpaid: disconnected and back the same day, then the charge of the credited days
        // taken away (reversed), as the old rule left it: nothing charged for them.
        app.ok_at(
            at("2026-12-06", 13),
            DISCONNECT,
            json!({"id": unpaid, "p": true}),
        )
        .await;
        app.ok_at(
            at("2026-12-06", 14),
            SET_STATUS,
            json!({"id": unpaid, "s": 1}),
        )
        .await;
        fathom::service::billing::run_pass(&app.db, day("2026-12-06"))
            .await
            .unwrap();
        let (status, out) = verify(app);
        assert_eq!(status, 0, "before: {out}");

        exec(app, format!("UPDATE debits SET reversed = TRUE WHERE account_id = {unpaid} AND reactivation_account_event_id IS NOT NULL")).await;
        // Twice: a second debit over the days of its first.
        exec(app, format!("INSERT INTO debits (account_id, company_id, service_id, account_service_id, amount, quantity, service_name, type, number_of_months, prorated_from, prorated_to, reversed, created_at, updated_at, version) SELECT account_id, company_id, service_id, account_service_id, amount, quantity, service_name, type, number_of_months, '2026-12-20', '2027-01-19', reversed, created_at, updated_at, 1 FROM debits WHERE account_id = {twice}")).await;
        // Behind: its next bill date put back, as a pass that could not bill it leaves it.
        exec(
            app,
            format!("UPDATE accounts SET next_bill_date = '2026-12-06' WHERE id = {behind}"),
        )
        .await;
        let service_of =
            |account: i64| format!("SELECT id FROM account_services WHERE account_id = {account}");
        let unpaid_service = app
            .rows_of(&format!(
                "SELECT CAST(id AS TEXT) AS t FROM ({}) x",
                service_of(unpaid)
            ))
            .await[0]
            .clone();
        let twice_service = app
            .rows_of(&format!(
                "SELECT CAST(id AS TEXT) AS t FROM ({}) x",
                service_of(twice)
            ))
            .await[0]
            .clone();

        let (status, out) = verify(app);
        assert_eq!(status, 1, "{out}");
        for line in [
            format!("violation: AccountService {unpaid_service}: each day the account was active is charged: expected account {unpaid}'s service"),
            "found 2026-12-07 active and not charged".to_owned(),
            format!("violation: AccountService {twice_service}: no day is charged twice, net of credits: expected account {twice}'s service"),
            "found 2026-12-20 charged 2 times".to_owned(),
            format!("violation: Account {behind}: billed through the last billing pass"),
            "account services: 3 checked, 2 violations".to_owned(),
            "active accounts: 3 checked, 1 violation".to_owned(),
        ] {
            assert!(out.contains(&line), "{line:?} in {out}");
        }
    }
);
