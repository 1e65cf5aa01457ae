//! A disconnected account that comes back: every day it is active is charged exactly once, net
//! of credits (`service::billing::reactivation`), the billing pass never leaves an account behind
//! silently, and `fathom verify` sees a book where either went wrong.

use std::process::{Command, Output};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::{json, Value};

use crate::common::{self, day, noon};
use fathom::service::{base::clock, billing::pass, lifecycle::scheduled};

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
    pass::run_pass(&app.db, day(date)).await.unwrap();
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
        // The charge names the return that made it.
        let named = app
            .ok(
                "query($id: Int64Bit!) { debits(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { reactivation_account_event_id } } account_events(account_id: $id, event: ACTIVATED, sorter: [{attribute: \"id\", direction: DESC}]) { entities { id } } }",
                json!({"id": account}),
            )
            .await;
        assert!(named["debits"]["entities"][0]["reactivation_account_event_id"].is_null());
        assert_eq!(
            named["debits"]["entities"][1]["reactivation_account_event_id"],
            named["account_events"]["entities"][0]["id"]
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
        pass::run_pass(&app.db, day("2027-01-06")).await.unwrap();
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
        pass::run_pass(&app.db, day("2027-01-20")).await.unwrap();
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
        pass::run_pass(&app.db, day("2027-01-06")).await.unwrap();
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
        let report = clock::at_instant(
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
        pass::run_pass(&app.db, day("2026-12-06")).await.unwrap();
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

/// What a randomized history says each account service should be charged for: the days its
/// account was active while it was in place, and the days a disconnection without proration
/// left paid for.
#[derive(Debug, Default)]
struct Model {
    active_since: Option<chrono::NaiveDate>,
    /// Days active, inclusive (the disconnection day and the reactivation day included).
    active: Vec<(chrono::NaiveDate, chrono::NaiveDate)>,
    services: Vec<ServiceModel>,
    /// A pending scheduled disconnection: when, and with proration or not.
    pending: Option<(chrono::DateTime<chrono::Utc>, bool)>,
}

#[derive(Debug)]
struct ServiceModel {
    id: i64,
    price: i64,
    /// In place (and charged while active) from this day; `None` until the account is active.
    from: Option<chrono::NaiveDate>,
    /// The last day in place (removed with proration).
    until: Option<chrono::NaiveDate>,
    /// Days paid for while away: what a disconnection without proration left billed.
    tails: Vec<(chrono::NaiveDate, chrono::NaiveDate)>,
}

impl Model {
    fn is_active_on(&self, t: chrono::NaiveDate) -> bool {
        self.active.iter().any(|(a, b)| *a <= t && t <= *b)
            || self.active_since.is_some_and(|a| a <= t)
    }

    fn charged(&self, s: &ServiceModel, t: chrono::NaiveDate) -> bool {
        let in_place = s.from.is_some_and(|f| f <= t) && s.until.is_none_or(|u| t <= u);
        in_place && (self.is_active_on(t) || s.tails.iter().any(|(a, b)| *a <= t && t <= *b))
    }
}

/// A debit (`+`) or credit (`-`) of an account service, as stored.
struct Piece {
    amount: i64,
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
    credit: bool,
}

async fn pieces(app: &common::TestApp, account_service: i64) -> Vec<Piece> {
    let sql = format!(
        "SELECT d.amount AS amount, d.prorated_from AS f, d.prorated_to AS t, 0 AS credit FROM debits d \
         WHERE d.account_service_id = {account_service} AND d.reversed = FALSE \
         UNION ALL SELECT x.amount, x.prorated_from, x.prorated_to, 1 FROM discounts x JOIN debits d ON d.id = x.debit_id \
         WHERE d.account_service_id = {account_service} AND x.reversed = FALSE"
    );
    app.db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| Piece {
            amount: r.try_get("", "amount").unwrap(),
            from: r.try_get("", "f").unwrap(),
            to: r.try_get("", "t").unwrap(),
            credit: r.try_get::<i32>("", "credit").unwrap() == 1,
        })
        .collect()
}

/// The last day billed for each of the account's services in place.
async fn billed_through(app: &common::TestApp, account: i64) -> Vec<(i64, chrono::NaiveDate)> {
    let sql = format!(
        "SELECT s.id AS id, MAX(d.prorated_to) AS t FROM account_services s JOIN debits d ON d.account_service_id = s.id \
         WHERE s.account_id = {account} AND s.removed_at IS NULL AND d.reversed = FALSE GROUP BY s.id"
    );
    app.db
        .query_all_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .iter()
        .map(|r| (r.try_get("", "id").unwrap(), r.try_get("", "t").unwrap()))
        .collect()
}

async fn due(app: &common::TestApp, account: i64, today: chrono::NaiveDate) -> bool {
    next_bill(app, account).await["next_bill_date"]
        .as_str()
        .is_some_and(|d| day(d) <= today)
}

/// A disconnection in the model at `today`: the account's active days end, and without
/// proration each service keeps what was billed past today.
async fn model_disconnect(
    app: &common::TestApp,
    account: i64,
    model: &mut Model,
    today: chrono::NaiveDate,
    prorate: bool,
) {
    let since = model.active_since.take().expect("active");
    model.active.push((since, today));
    model.pending = None;
    if !prorate {
        for (id, through) in billed_through(app, account).await {
            if through > today {
                if let Some(s) = model.services.iter_mut().find(|s| s.id == id) {
                    s.tails.push((today.succ_opt().unwrap(), through));
                }
            }
        }
    }
}

// The property: over randomized histories of two accounts (activations, disconnections with
// and without proration, scheduled ones, reactivations the same day and later, monthly and
// quarterly services added and removed, billing passes on random dates), each account
// service is charged, day by day, exactly for the days the history says it owes: net of
// credits, each such day once and no other day (checked on every day billed so far), and
// in cents the price × those days ÷ the days of their periods, within half a cent for each
// prorated amount (the documented rounding); after every pass each active account's next bill
// date is after the pass; and `fathom verify` finds nothing. The billing pass runs on random
// dates and, as the server's hourly worker would, on the day of a disconnection or a change
// of services of an account that is due (a disconnection does not bill a cycle that fell due
// since the last pass: README). `FATHOM_PROPERTY_CASES` sets the number of histories (3).
on_both!(
    randomized_histories_charge_every_active_day_exactly_once,
    |app| {
        use rand::{Rng, SeedableRng};
        let cases: u64 = std::env::var("FATHOM_PROPERTY_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        let plans = [
            app.recurring_service("Fiber", 4999, 1).await,
            app.recurring_service("Gig", 6000, 1).await,
            app.recurring_service("TV quarterly", 8999, 3).await,
        ];
        let prices = [4999i64, 6000, 8999];
        // The histories follow each other on one calendar (the last pass is the latest).
        let mut start = day("2026-01-15");
        for case in 0..cases {
            let mut rng = rand::rngs::StdRng::seed_from_u64(0xb111_0000 + case);
            let mut today = start + chrono::Duration::days(rng.random_range(0..28));
            // Each change of a day a few minutes after the one before, from 08:00 UTC.
            let minute = std::cell::Cell::new(0i64);
            let instant = |today: chrono::NaiveDate| {
                minute.set(minute.get() + 7);
                noon(&today.to_string()) - chrono::Duration::hours(4)
                    + chrono::Duration::minutes(minute.get())
            };
            let mut accounts = Vec::new();
            for i in 0..2 {
                let id = app
                    .account_activated_at(&format!("P{case}-{i}"), instant(today))
                    .await;
                accounts.push((
                    id,
                    Model {
                        active_since: Some(today),
                        ..Model::default()
                    },
                ));
            }
            let mut history = Vec::new();
            for _ in 0..40 {
                let which = rng.random_range(0..accounts.len());
                let account = accounts[which].0;
                let active = accounts[which].1.active_since.is_some();
                match rng.random_range(0..8) {
                    0 if active => {
                        let prorate = rng.random_bool(0.6);
                        if due(app, account, today).await {
                            pass::run_pass(&app.db, today).await.unwrap();
                        }
                        let model = &mut accounts[which].1;
                        model_disconnect(app, account, model, today, prorate).await;
                        app.ok_at(
                            instant(today),
                            DISCONNECT,
                            json!({"id": account, "p": prorate}),
                        )
                        .await;
                        history.push(format!("{today} disconnect {account} prorate={prorate}"));
                    }
                    1 if !active => {
                        app.ok_at(instant(today), SET_STATUS, json!({"id": account, "s": 1}))
                            .await;
                        let model = &mut accounts[which].1;
                        model.active_since = Some(today);
                        for s in model.services.iter_mut().filter(|s| s.from.is_none()) {
                            s.from = Some(today);
                        }
                        history.push(format!("{today} reactivate {account}"));
                    }
                    2 => {
                        if active && due(app, account, today).await {
                            pass::run_pass(&app.db, today).await.unwrap();
                        }
                        let k = rng.random_range(0..plans.len());
                        let added = app
                            .ok_at(instant(today), ADD, json!({"input": {"account_id": account, "service_id": plans[k], "quantity": 1, "prorate": true}}))
                            .await;
                        let id: i64 = added["addServiceToAccount"]["id"]
                            .as_str()
                            .unwrap()
                            .parse()
                            .unwrap();
                        accounts[which].1.services.push(ServiceModel {
                            id,
                            price: prices[k],
                            from: active.then_some(today),
                            until: None,
                            tails: Vec::new(),
                        });
                        history.push(format!("{today} add {id} to {account}"));
                    }
                    3 => {
                        let in_place: Vec<i64> = accounts[which]
                            .1
                            .services
                            .iter()
                            .filter(|s| s.until.is_none())
                            .map(|s| s.id)
                            .collect();
                        if in_place.is_empty() {
                            continue;
                        }
                        if active && due(app, account, today).await {
                            pass::run_pass(&app.db, today).await.unwrap();
                        }
                        let id = in_place[rng.random_range(0..in_place.len())];
                        app.ok_at(instant(today), "mutation($id: Int64Bit!) { deleteAccountService(id: $id, input: {prorate: true}) { success } }", json!({"id": id})).await;
                        let s = accounts[which]
                            .1
                            .services
                            .iter_mut()
                            .find(|s| s.id == id)
                            .unwrap();
                        s.until = Some(today);
                        for tail in s.tails.iter_mut() {
                            tail.1 = tail.1.min(today);
                        }
                        history.push(format!("{today} remove {id}"));
                    }
                    4 => {
                        pass::run_pass(&app.db, today).await.unwrap();
                        for (id, model) in &accounts {
                            if model.active_since.is_some() {
                                let next = next_bill(app, *id).await["next_bill_date"]
                                    .as_str()
                                    .map(day);
                                assert!(
                                    next.is_some_and(|n| n > today),
                                    "account {id} billed through {today}: {next:?}\n{}",
                                    history.join("\n")
                                );
                            }
                        }
                        history.push(format!("{today} bill"));
                    }
                    6 if active && accounts[which].1.pending.is_none() => {
                        let when = noon(
                            &(today + chrono::Duration::days(rng.random_range(1..8))).to_string(),
                        ) - chrono::Duration::hours(6);
                        let prorate = rng.random_bool(0.5);
                        app.ok_at(instant(today), "mutation($a: Int64Bit!, $d: Datetime!, $p: Boolean) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: $d, prorate: $p}) { id } }", json!({"a": account, "d": when.to_rfc3339(), "p": prorate})).await;
                        accounts[which].1.pending = Some((when, prorate));
                        history.push(format!("{today} schedule a disconnection of {account} at {when} prorate={prorate}"));
                    }
                    _ => {
                        // A few days pass; scheduled disconnections falling due run on time.
                        let next_day = today + chrono::Duration::days(rng.random_range(1..15));
                        let mut due_events: Vec<(chrono::DateTime<chrono::Utc>, usize, bool)> =
                            accounts
                                .iter()
                                .enumerate()
                                .filter_map(|(i, (_, m))| m.pending.map(|(w, p)| (w, i, p)))
                                .filter(|(w, _, _)| w.date_naive() <= next_day)
                                .collect();
                        due_events.sort();
                        for (when, i, prorate) in due_events {
                            let account = accounts[i].0;
                            let on = when.date_naive();
                            if due(app, account, on).await {
                                pass::run_pass(&app.db, on).await.unwrap();
                            }
                            model_disconnect(app, account, &mut accounts[i].1, on, prorate).await;
                            let report = scheduled::run_due_in(&app.db, when, 50).await.unwrap();
                            assert_eq!(report.completed, 1, "{report:?}\n{}", history.join("\n"));
                            history.push(format!(
                                "{on} scheduled disconnection of {account} prorate={prorate}"
                            ));
                        }
                        today = next_day;
                        minute.set(0);
                    }
                }
            }
            // A last pass, then every account service against the history.
            pass::run_pass(&app.db, today).await.unwrap();
            for (account, model) in &accounts {
                for s in &model.services {
                    let pieces = pieces(app, s.id).await;
                    let Some(last) = pieces.iter().map(|p| p.to).max() else {
                        assert!(
                            s.from.is_none_or(|f| s.until.is_some_and(|u| u < f))
                                || model.active_since.is_none()
                                    && s.tails.is_empty()
                                    && !model
                                        .active
                                        .iter()
                                        .any(|(_, b)| s.from.is_some_and(|f| f <= *b)),
                            "service {} of account {account} was never billed\n{}",
                            s.id,
                            history.join("\n")
                        );
                        continue;
                    };
                    let first = pieces.iter().map(|p| p.from).min().unwrap();
                    let mut expected_cents = 0f64;
                    let mut rounded = 0u32;
                    let mut t = Ord::min(first, s.from.unwrap_or(first));
                    while t <= last {
                        let covered: i64 = pieces
                            .iter()
                            .filter(|p| p.from <= t && t <= p.to)
                            .map(|p| if p.credit { -1 } else { 1 })
                            .sum();
                        let owed = model.charged(s, t);
                        assert_eq!(covered, owed as i64, "account {account} service {} on {t}: charged {covered} times, owes {owed}\n{}", s.id, history.join("\n"));
                        if owed {
                            let period = pieces
                                .iter()
                                .filter(|p| !p.credit && p.from <= t && t <= p.to)
                                .max_by_key(|p| (p.to - p.from).num_days())
                                .unwrap();
                            expected_cents += period.amount as f64
                                / ((period.to - period.from).num_days() + 1) as f64;
                        }
                        t = t.succ_opt().unwrap();
                    }
                    for p in &pieces {
                        if p.credit || p.amount != s.price {
                            rounded += 1;
                        }
                    }
                    let actual: i64 = pieces
                        .iter()
                        .map(|p| if p.credit { -p.amount } else { p.amount })
                        .sum();
                    assert!(
                        (actual as f64 - expected_cents).abs() <= 0.5 * rounded as f64 + 1e-6,
                        "account {account} service {}: charged {actual} net, owes {expected_cents:.2} ({rounded} rounded amounts)\n{}",
                        s.id,
                        history.join("\n")
                    );
                }
            }
            let report = fathom::tooling::verify::verify(&app.db, |_| {})
                .await
                .unwrap();
            assert!(report.is_clean(), "{report:?}\n{}", history.join("\n"));
            start = today.succ_opt().unwrap();
        }
        app.assert_money_conserved().await;
    }
);
