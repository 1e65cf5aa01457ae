//! `fathom verify`: books made through the API or by `fathom seed` pass; corrupted rows are
//! named, with exit status 1.

use fathom::service::base::store::Stamped;
use std::process::{Command, Output};

use sea_orm::{ConnectionTrait, Statement};
use serde_json::json;

use crate::common::{self, billed_account, create_address, day, noon};
use fathom::service::billing::pass;

fn fathom(args: &[&str], database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("FATHOM_LOG", "warn")
        .output()
        .expect("run fathom")
}

/// Runs `fathom verify`; returns its exit status and stdout.
fn verify(app: &common::TestApp) -> (i32, String) {
    let out = fathom(&["verify"], &app.url);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    (
        out.status
            .code()
            .unwrap_or_else(|| panic!("killed: {stderr}")),
        format!("{stdout}{stderr}"),
    )
}

const DISCONNECT: &str = "mutation($id: Int64Bit!, $p: Boolean) { disconnectAccount(id: $id, input: {prorate: $p}) { id } }";
const SET_STATUS: &str = "mutation($id: Int64Bit!, $s: Int64Bit) { updateAccount(id: $id, input: {account_status_id: $s}) { id } }";

async fn exec(app: &common::TestApp, sql: String) {
    app.db
        .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap();
}

async fn one_id(app: &common::TestApp, sql: String) -> i64 {
    let row = app
        .db
        .query_one_raw(Statement::from_string(app.db.get_database_backend(), sql))
        .await
        .unwrap()
        .expect("a row");
    row.try_get("", "id").unwrap()
}

async fn bill(app: &common::TestApp, date: &str) {
    pass::run_pass(&app.db, day(date)).await.unwrap();
}

on_both!(a_book_made_through_the_api_passes, |app| {
    // Alice: disconnected with proration on Feb 1 (a final invoice of her one-time charge,
    // less the credit), back on Mar 10: her billing restarts that day.
    let (alice, _) = billed_account(app, "Alice").await;
    app.ok_at(
        noon("2026-02-01"),
        DISCONNECT,
        json!({"id": alice, "p": true}),
    )
    .await;
    app.ok_at(noon("2026-03-10"), SET_STATUS, json!({"id": alice, "s": 1}))
        .await;
    // Bob: billed every month, a scheduled disconnection ahead.
    let (bob, _) = billed_account(app, "Bob").await;
    app.ok_at(
        noon("2026-04-01"),
        "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: \"2026-06-01T00:00:00Z\"}) { id } }",
        json!({"a": bob}),
    )
    .await;
    // Carol: disconnected without proration; later given an address again and a disconnection
    // scheduled (both allowed on a disconnected account, and not left over from it).
    let (carol, _) = billed_account(app, "Carol").await;
    app.ok_at(
        noon("2026-02-01"),
        DISCONNECT,
        json!({"id": carol, "p": false}),
    )
    .await;
    let new_home = create_address(app, "Carol's new home").await;
    app.ok_at(
        noon("2026-02-05"),
        "mutation($id: Int64Bit!, $a: Int64Bit) { updateAccount(id: $id, input: {serviceable_address_id: $a}) { id } }",
        json!({"id": carol, "a": new_home}),
    )
    .await;
    app.ok_at(
        noon("2026-02-06"),
        "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: \"2026-08-01T00:00:00Z\"}) { id } }",
        json!({"a": carol}),
    )
    .await;
    // Dave: away for five days inside a period that was not prorated: billed again from his
    // return, overlapping the period he had paid for.
    let (dave, _) = billed_account(app, "Dave").await;
    app.ok_at(
        noon("2026-01-20"),
        DISCONNECT,
        json!({"id": dave, "p": false}),
    )
    .await;
    app.ok_at(noon("2026-01-25"), SET_STATUS, json!({"id": dave, "s": 1}))
        .await;
    bill(app, "2026-04-15").await;
    app.assert_money_conserved().await;

    let (status, out) = verify(app);
    assert_eq!(status, 0, "{out}");
    for line in [
        "invoices: 10 checked, 0 violations",
        "discounts: 1 checked, 0 violations",
        "debits: 16 checked, 0 violations",
        "account services: 4 checked, 0 violations",
        "disconnected accounts: 1 checked, 0 violations",
        "the books are right",
    ] {
        assert!(out.contains(line), "{line:?} in {out}");
    }
});

on_both!(a_book_made_by_the_seeder_passes, |app| {
    let out = fathom(&["seed", "--accounts", "30", "--months", "6"], &app.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (status, out) = verify(app);
    assert_eq!(status, 0, "{out}");
    // Every check ran over the seeded rows (30 accounts, each with at least one service) and
    // found nothing.
    let services_checked: u64 = out
        .lines()
        .find_map(|l| l.strip_prefix("account services: "))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(services_checked >= 30, "{out}");
    assert!(out.contains("the books are right"), "{out}");
    assert!(!out.contains("violation:"), "{out}");
});

on_both!(corrupted_rows_fail_the_check_and_are_named, |app| {
    let (alice, alice_address) = billed_account(app, "Alice").await;
    let (bob, _) = billed_account(app, "Bob").await;
    app.ok_at(
        noon("2026-02-01"),
        DISCONNECT,
        json!({"id": alice, "p": true}),
    )
    .await;
    bill(app, "2026-02-15").await;
    let (status, out) = verify(app);
    assert_eq!(status, 0, "before: {out}");

    // A debit's amount changed: its invoice's total no longer adds up.
    let debit = one_id(
        app,
        format!(
            "SELECT MIN(id) AS id FROM debits WHERE account_id = {bob} AND invoice_id IS NOT NULL"
        ),
    )
    .await;
    let invoice = one_id(
        app,
        format!("SELECT invoice_id AS id FROM debits WHERE id = {debit}"),
    )
    .await;
    exec(
        app,
        format!("UPDATE debits SET amount = amount + 100 WHERE id = {debit}"),
    )
    .await;
    // A credit's remaining amount changed.
    let credit = one_id(
        app,
        format!("SELECT id FROM discounts WHERE account_id = {alice}"),
    )
    .await;
    exec(
        app,
        format!("UPDATE discounts SET amount_remaining = amount_remaining + 1 WHERE id = {credit}"),
    )
    .await;
    // The disconnected account's address assigned to it again, as if never released.
    exec(
        app,
        format!("UPDATE addresses SET addressable_id = {alice}, addressable_type = 'Account' WHERE id = {alice_address}"),
    )
    .await;
    // A pending disconnection from before the disconnection, as if never cancelled.
    use sea_orm::{ActiveModelTrait, Set};
    let before = noon("2026-01-20");
    let pending = fathom::entity::scheduled_event::ActiveModel {
        account_id: Set(alice),
        event: Set("DISCONNECT_ACCOUNT".into()),
        datetime: Set(noon("2026-03-01")),
        status: Set("PENDING".into()),
        complete: Set(false),
        attempts: Set(0),
        created_by_user_id: Set(1),
        ..Default::default()
    }
    .stamped(before)
    .insert(&app.db)
    .await
    .unwrap();
    // A gap in Bob's billed periods.
    let (second, service) = {
        let row = app
            .db
            .query_one_raw(Statement::from_string(
                app.db.get_database_backend(),
                format!("SELECT MAX(id) AS id, MAX(account_service_id) AS s FROM debits WHERE account_id = {bob} AND account_service_id IS NOT NULL"),
            ))
            .await
            .unwrap()
            .unwrap();
        (
            row.try_get::<i64>("", "id").unwrap(),
            row.try_get::<i64>("", "s").unwrap(),
        )
    };
    exec(
        app,
        format!("UPDATE debits SET prorated_from = '2026-02-17' WHERE id = {second}"),
    )
    .await;

    let (status, out) = verify(app);
    assert_eq!(status, 1, "{out}");
    for line in [
        format!("violation: Invoice {invoice}: total_debits = the sum of its debits"),
        format!("violation: Discount {credit}: amount = amount_remaining + what was applied"),
        format!("violation: Account {alice}: a disconnected account keeps no serviceable address"),
        format!("found address {alice_address} assigned"),
        format!("violation: Account {alice}: no pending DISCONNECT_ACCOUNT"),
        format!("found scheduled event {} PENDING", pending.id),
        format!("violation: AccountService {service}: each day the account was active is charged: expected account {bob}'s service"),
        "found 2026-02-15 active and not charged".into(),
        "invoices: 4 checked, 1 violation".into(),
        "discounts: 1 checked, 1 violation".into(),
        "account services: 2 checked, 1 violation".into(),
        "disconnected accounts: 1 checked, 2 violations".into(),
        "5 violation(s)".into(),
    ] {
        assert!(out.contains(&line), "{line:?} in {out}");
    }
});

#[test]
fn verify_cannot_check_a_database_without_fathoms_tables_and_says_so_with_status_2() {
    let path = std::env::temp_dir().join(format!("fathom_verify_{}.db", std::process::id()));
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let out = fathom(&["verify"], &url);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("fathom: "));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
}
