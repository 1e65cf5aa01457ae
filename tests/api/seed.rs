//! `fathom seed`: the bulk seeder's book, checked through the API and in SQL, and the API
//! working on it afterwards.

use std::process::Command;

use serde_json::json;

use crate::common::{self, TestApp};
use fathom::service::billing::pass;

fn fathom(args: &[&str], database_url: &str) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_fathom"))
        .args(args)
        .env("DATABASE_URL", database_url)
        .env("FATHOM_LOG", "warn")
        .output()
        .expect("run fathom")
}

fn seed(app: &TestApp, accounts: u64, months: u32) -> String {
    let out = fathom(
        &[
            "seed",
            "--accounts",
            &accounts.to_string(),
            "--months",
            &months.to_string(),
        ],
        &app.url,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

const REPORT: &str = "query($start: Date, $end: Date) { activations_and_disconnections_report(start_date: $start, end_date: $end) { summary { activation_count disconnection_count months { activations disconnections } } } }";

on_both!(
    seeding_writes_a_whole_book_that_the_api_keeps_using,
    |app| {
        let stdout = seed(app, 200, 12);
        assert!(
            stdout.contains("seeded 200 account(s) with 12 month(s)"),
            "{stdout}"
        );
        assert!(stdout.contains("debits"), "a summary per table: {stdout}");

        let data = app
            .ok(
                "{ accounts(include_archived: true) { page_info { total_count } } }",
                json!({}),
            )
            .await;
        assert_eq!(data["accounts"]["page_info"]["total_count"], 200);
        app.assert_money_conserved().await;
        app.assert_billing_is_contiguous().await;

        // Every account was created (and audited), activated, has a contact and an address history.
        for (what, sql) in [
        ("an audit row per account", "SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE l.loggable_type = 'Account' AND l.loggable_id = a.id AND l.type = 'CREATED')"),
        ("an ACTIVATED event per account", "SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM account_events e WHERE e.account_id = a.id AND e.event = 'ACTIVATED')"),
        ("a primary contact per account", "SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM contacts c WHERE c.contactable_id = a.id AND c.\"primary\" = TRUE)"),
        ("an address history per account", "SELECT COUNT(*) AS n FROM accounts a WHERE NOT EXISTS (SELECT 1 FROM serviceable_address_account_assignment_histories h WHERE h.account_id = a.id)"),
        ("active accounts billed through today, with their address", "SELECT COUNT(*) AS n FROM accounts a WHERE a.account_status_id = 1 AND (a.next_recurring_charge_amount <= 0 OR NOT EXISTS (SELECT 1 FROM addresses d WHERE d.addressable_id = a.id AND d.serviceable = TRUE))"),
        // Disconnected accounts: a log, an audit row, a closed history, no address, no billing.
        ("a log per disconnected account", "SELECT COUNT(*) AS n FROM accounts a WHERE a.account_status_id = 2 AND NOT EXISTS (SELECT 1 FROM disconnection_logs l WHERE l.account_id = a.id)"),
        ("an audit row per disconnection", "SELECT COUNT(*) AS n FROM disconnection_logs d WHERE NOT EXISTS (SELECT 1 FROM logs l WHERE l.loggable_type = 'Account' AND l.loggable_id = d.account_id AND l.type = 'UPDATED')"),
        ("no open history for a disconnected account", "SELECT COUNT(*) AS n FROM serviceable_address_account_assignment_histories h JOIN accounts a ON a.id = h.account_id WHERE a.account_status_id = 2 AND h.end_date IS NULL"),
        ("no address kept by a disconnected account", "SELECT COUNT(*) AS n FROM addresses d JOIN accounts a ON a.id = d.addressable_id WHERE a.account_status_id = 2 AND d.serviceable = TRUE"),
        ("no billing of a disconnected account", "SELECT COUNT(*) AS n FROM accounts WHERE account_status_id = 2 AND next_bill_date IS NOT NULL"),
        ("an address held by one open history row at most", "SELECT COUNT(*) AS n FROM (SELECT address_id FROM serviceable_address_account_assignment_histories WHERE end_date IS NULL GROUP BY address_id HAVING COUNT(*) > 1) x"),
        ("pending disconnections only for active accounts", "SELECT COUNT(*) AS n FROM scheduled_events e JOIN accounts a ON a.id = e.account_id WHERE e.status = 'PENDING' AND a.account_status_id <> 1"),
        ("a completed event per scheduled disconnection", "SELECT COUNT(*) AS n FROM disconnection_logs l JOIN scheduled_events e ON e.id = l.scheduled_event_id WHERE e.status <> 'COMPLETED'"),
    ] {
        assert_eq!(app.count(sql).await, 0, "{what} ({})", app.backend);
    }
        let disconnected = app
            .count("SELECT COUNT(*) AS n FROM disconnection_logs")
            .await;
        assert_eq!(
            disconnected,
            app.count("SELECT COUNT(*) AS n FROM accounts WHERE account_status_id = 2")
                .await
        );
        assert!(disconnected > 0, "some accounts left");
        assert!(
            app.count("SELECT COUNT(*) AS n FROM scheduled_events WHERE status = 'PENDING'")
                .await
                > 0
        );
        assert!(
            app.count("SELECT COUNT(*) AS n FROM invoice_discount_applications")
                .await
                > 0
        );
        assert!(
            app.count("SELECT COUNT(*) AS n FROM accounts WHERE parent_account_id IS NOT NULL")
                .await
                > 0
        );
        // Most invoices are paid, a few are not: the accounts that owe past a due date are
        // delinquent, as the delinquency pass would have marked them, and only they.
        let payments = app.count("SELECT COUNT(*) AS n FROM payments").await;
        let invoices = app.count("SELECT COUNT(*) AS n FROM invoices").await;
        assert!(
            payments * 10 > invoices * 7,
            "{payments} payments for {invoices} invoices"
        );
        let delinquent = app
            .count("SELECT COUNT(*) AS n FROM accounts WHERE is_delinquent = TRUE")
            .await;
        assert!(
            delinquent > 0 && delinquent < 40,
            "{delinquent} of 200 accounts delinquent"
        );
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM invoices WHERE delinquent = TRUE AND (remaining_due = 0 OR delinquency_date >= CURRENT_DATE)").await,
            0
        );

        // The report counts what the rows hold.
        let today = chrono::Utc::now().date_naive();
        let start = today - chrono::Months::new(13);
        let data = app
            .ok(
                REPORT,
                json!({"start": start.to_string(), "end": today.to_string()}),
            )
            .await;
        let summary = &data["activations_and_disconnections_report"]["summary"];
        let activations = app
            .count("SELECT COUNT(*) AS n FROM account_events WHERE event = 'ACTIVATED'")
            .await;
        assert_eq!(summary["activation_count"], activations);
        assert_eq!(activations, 200);
        assert_eq!(summary["disconnection_count"], disconnected);
        let by_month: i64 = summary["months"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["disconnections"].as_i64().unwrap())
            .sum();
        assert_eq!(by_month, disconnected);

        // Billed through today: a billing pass for today finds nothing to do.
        let out = fathom(&["bill", "--date", &today.to_string()], &app.url);
        assert!(out.status.success());
        assert!(
            String::from_utf8_lossy(&out.stdout).contains(": 0 account(s), 0 debit(s)"),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );

        // The API keeps working on the book: new rows get fresh ids (the sequences moved), and a
        // seeded account disconnects like any other.
        let max_account = app.count("SELECT MAX(id) AS n FROM accounts").await;
        let address = common::create_address(app, "1 New Street").await;
        let account = common::create_account(app, "After the seed", 1).await;
        assert!(account > max_account);
        app.ok(
        "mutation($id: Int64Bit!, $a: Int64Bit) { updateAccount(id: $id, input: {serviceable_address_id: $a}) { id } }",
        json!({"id": account, "a": address}),
    )
    .await;
        let service = app.recurring_service("After fiber", 5000, 1).await;
        app.ok(
        "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id } }",
        json!({"input": {"account_id": account, "service_id": service, "quantity": 1}}),
    )
    .await;
        pass::run_pass(&app.db, today).await.unwrap();
        let seeded_active = app
            .count("SELECT MIN(id) AS n FROM accounts WHERE account_status_id = 1")
            .await;
        for id in [account, seeded_active] {
            let done = app
            .ok(
                "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { account_status_id } }",
                json!({"id": id}),
            )
            .await;
            assert_eq!(done["disconnectAccount"]["account_status_id"], "2");
        }
        app.assert_money_conserved().await;
        app.assert_billing_is_contiguous().await;
        assert_eq!(
            app.count("SELECT COUNT(*) AS n FROM disconnection_logs")
                .await,
            disconnected + 2
        );
    }
);

on_both!(seeding_twice_adds_a_second_book_after_the_first, |app| {
    seed(app, 60, 6);
    let first_max = app.count("SELECT MAX(id) AS n FROM accounts").await;
    let stdout = seed(app, 60, 6);
    assert!(stdout.contains("seeded 60 account(s)"), "{stdout}");
    assert_eq!(app.count("SELECT COUNT(*) AS n FROM accounts").await, 120);
    assert_eq!(
        app.count("SELECT MIN(id) AS n FROM accounts WHERE id > 0")
            .await,
        1,
        "the first book starts at the first id"
    );
    assert_eq!(
        app.count("SELECT MAX(id) AS n FROM accounts").await,
        first_max + 60,
        "the second book follows the first"
    );
    assert_eq!(
        app.count("SELECT COUNT(*) AS n FROM services WHERE name = 'Fiber 100'")
            .await,
        1,
        "the catalogue is shared"
    );
    app.assert_money_conserved().await;
    app.assert_billing_is_contiguous().await;
    // The same book twice: the same money.
    let totals = app.count("SELECT COUNT(DISTINCT total_debits) AS n FROM (SELECT SUM(i.total_debits) AS total_debits FROM invoices i GROUP BY i.account_id > (SELECT MAX(id) FROM accounts) - 60) x").await;
    assert_eq!(totals, 1, "both books hold the same invoices");
    let account = common::create_account(app, "After two seeds", 1).await;
    assert_eq!(account, first_max + 61);
});

// A book of several chunks, written by two writers at once, leaves every id sequence past its
// table's largest id (each chunk's own `setval` can be overtaken by another writer's), so
// that the API and the command line can add rows to any table afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_book_of_several_chunks_leaves_every_sequence_past_its_rows() {
    let Some(app) = TestApp::postgres().await else {
        return;
    };
    seed(&app, 25_000, 1);
    let tables = app
        .rows_of("SELECT table_name::text AS t FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'id' AND column_default IS NULL AND is_identity = 'YES'")
        .await;
    assert!(tables.len() > 10, "{tables:?}");
    for table in tables {
        let behind = app
            .count(&format!(
                "SELECT CASE WHEN nextval(pg_get_serial_sequence('{table}', 'id')) > COALESCE((SELECT MAX(id) FROM {table}), 0) THEN 0 ELSE 1 END::bigint AS n"
            ))
            .await;
        assert_eq!(behind, 0, "the id sequence of {table} is behind its rows");
    }
    let out = fathom(&["token", "create", "--name", "after"], &app.url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    app.finish().await;
}
