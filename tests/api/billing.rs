use serde_json::{json, Value};

use crate::common::{self, day, noon};
use fathom::service::billing::pass;

const ADD: &str = "mutation($input: AddServiceToAccountMutationInput) { addServiceToAccount(input: $input) { id service_id next_bill_date addition_prorate_date } }";
const DEBITS: &str = "query($id: Int64Bit!) { debits(account_id: $id, sorter: [{attribute: \"id\", direction: ASC}]) { entities { id amount prorated_from prorated_to invoice_id type service_name } } }";

async fn debits(app: &common::TestApp, account: i64) -> Vec<Value> {
    app.ok(DEBITS, json!({"id": account})).await["debits"]["entities"]
        .as_array()
        .unwrap()
        .clone()
}

async fn bill(app: &common::TestApp, date: &str) -> pass::PassReport {
    pass::run_pass(&app.db, day(date)).await.unwrap()
}

on_both!(
    billing_in_five_minutes_bills_the_first_period_in_advance_once,
    |app| {
        let t0 = noon("2026-01-15");
        let account = app.account_activated_at("Jane", t0).await;
        let fiber = app.recurring_service("Fiber 100", 5000, 1).await;
        let added = app
            .ok_at(
                t0,
                ADD,
                json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
            )
            .await;
        assert_eq!(added["addServiceToAccount"]["next_bill_date"], "2026-01-15");
        assert!(
            debits(app, account).await.is_empty(),
            "the current period is not billed yet: the pass bills it"
        );
        let charge = app.ok("query($id: Int64Bit!) { accounts(id: $id) { entities { next_recurring_charge_amount } } }", json!({"id": account})).await;
        assert_eq!(
            charge["accounts"]["entities"][0]["next_recurring_charge_amount"],
            5000
        );

        let report = bill(app, "2026-01-15").await;
        assert_eq!(
            (
                report.accounts_billed,
                report.debits_created,
                report.invoices_created
            ),
            (1, 1, 1)
        );
        let once = app.fingerprint().await;
        let again = bill(app, "2026-01-15").await;
        assert_eq!(again.accounts_billed, 0);
        assert_eq!(
            app.fingerprint().await,
            once,
            "a second pass for the same date changes nothing"
        );

        let invoice = app
        .ok("query($id: Int64Bit!) { accounts(id: $id) { entities { next_bill_date invoices { entities { date due_date end_date total_debits remaining_due status debits { entities { amount prorated_from prorated_to } } } } } } }", json!({"id": account}))
        .await;
        let account_row = &invoice["accounts"]["entities"][0];
        assert_eq!(account_row["next_bill_date"], "2026-02-15");
        let inv = &account_row["invoices"]["entities"][0];
        assert_eq!(inv["total_debits"], 5000);
        assert_eq!(inv["remaining_due"], 5000);
        assert_eq!(inv["date"], "2026-01-15");
        assert_eq!(inv["end_date"], "2026-02-14");
        assert_eq!(
            inv["debits"]["entities"],
            json!([{"amount": 5000, "prorated_from": "2026-01-15", "prorated_to": "2026-02-14"}])
        );

        // The next month is the next period.
        bill(app, "2026-02-20").await;
        let all = debits(app, account).await;
        assert_eq!(all.len(), 2);
        assert_eq!(all[1]["prorated_from"], "2026-02-15");
        assert_eq!(all[1]["prorated_to"], "2026-03-14");
        app.assert_money_conserved().await;
    }
);

on_both!(two_passes_at_once_bill_each_period_once, |app| {
    let t0 = noon("2026-01-15");
    let mut accounts = Vec::new();
    let fiber = app.recurring_service("Fiber", 4000, 1).await;
    let yearly = app.recurring_service("Yearly support", 12000, 12).await;
    for i in 0..6 {
        let account = app.account_activated_at(&format!("A{i}"), t0).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": yearly, "quantity": 1}}),
        )
        .await;
        accounts.push(account);
    }
    let (a, b) = tokio::join!(bill(app, "2026-03-20"), bill(app, "2026-03-20"));
    assert_eq!(
        a.debits_created + b.debits_created,
        6 * 4,
        "three monthly periods and one yearly, per account"
    );
    assert_eq!(a.invoices_created + b.invoices_created, 6);
    let once = app.fingerprint().await;
    bill(app, "2026-03-20").await;
    assert_eq!(app.fingerprint().await, once);
    let rows = debits(app, accounts[0]).await;
    let periods: Vec<_> = rows
        .iter()
        .map(|d| {
            (
                d["service_name"].as_str().unwrap().to_owned(),
                d["prorated_from"].as_str().unwrap().to_owned(),
                d["prorated_to"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(periods.contains(&(
        "Yearly support".into(),
        "2026-01-15".into(),
        "2027-01-14".into()
    )));
    assert!(periods.contains(&("Fiber".into(), "2026-03-15".into(), "2026-04-14".into())));
    app.assert_money_conserved().await;
});

on_both!(
    adding_a_service_mid_period_charges_the_rest_of_the_period,
    |app| {
        let t0 = noon("2026-01-15");
        let account = app.account_activated_at("Mid", t0).await;
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        bill(app, "2026-01-15").await;
        let ip = app.recurring_service("Static IP", 1000, 1).await;

        // Explicit proration: [Jan 25, Feb 14] is 21 of the period's 31 days: 1000 × 21 / 31 = 677.4 → 677.
        let added = app
        .ok_at(noon("2026-01-25"), ADD, json!({"input": {"account_id": account, "service_id": ip, "quantity": 1, "prorate": true, "proration_date": "2026-01-25"}}))
        .await;
        assert_eq!(
            added["addServiceToAccount"]["addition_prorate_date"],
            "2026-01-25"
        );
        let rows = debits(app, account).await;
        let prorated = rows.last().unwrap();
        assert_eq!(prorated["amount"], 677);
        assert_eq!(prorated["prorated_from"], "2026-01-25");
        assert_eq!(prorated["prorated_to"], "2026-02-14");
        assert!(prorated["invoice_id"].is_null());

        // prorate: false charges nothing now.
        let before = debits(app, account).await.len();
        app.ok_at(noon("2026-01-25"), ADD, json!({"input": {"account_id": account, "service_id": ip, "quantity": 2, "prorate": false}})).await;
        assert_eq!(debits(app, account).await.len(), before);

        // No prorate given: billing settings decide (prorate_services), today by default. Price
        // override × quantity: 300 × 2 = 600 for Feb 4 – Feb 14, 11 of 31 days: 212.9 → 213.
        app.ok_at(noon("2026-02-04"), ADD, json!({"input": {"account_id": account, "service_id": ip, "quantity": 2, "price_override": 300}})).await;
        assert_eq!(debits(app, account).await.last().unwrap()["amount"], 213);
        app.ok("mutation { updateBillingSettings(input: {prorate_services: false}) { prorate_services } }", json!({})).await;
        let before = debits(app, account).await.len();
        app.ok_at(
            noon("2026-02-04"),
            ADD,
            json!({"input": {"account_id": account, "service_id": ip, "quantity": 1}}),
        )
        .await;
        assert_eq!(debits(app, account).await.len(), before);

        // The next pass bills all of them for the next period, and invoices the prorated debits.
        bill(app, "2026-02-15").await;
        let rows = debits(app, account).await;
        assert!(rows.iter().all(|d| !d["invoice_id"].is_null()));
        assert_eq!(
            rows.iter()
                .filter(|d| d["prorated_from"] == "2026-02-15")
                .count(),
            5,
            "all five services"
        );
        app.assert_money_conserved().await;
    }
);

on_both!(
    removing_a_service_with_proration_credits_the_unused_part_once,
    |app| {
        let t0 = noon("2026-01-15");
        let account = app.account_activated_at("Leaver", t0).await;
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        let tv = app.recurring_service("TV", 3100, 1).await;
        let a = app
            .ok_at(
                t0,
                ADD,
                json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
            )
            .await;
        let b = app
            .ok_at(
                t0,
                ADD,
                json!({"input": {"account_id": account, "service_id": tv, "quantity": 1}}),
            )
            .await;
        bill(app, "2026-01-15").await;
        let fiber_as = a["addServiceToAccount"]["id"].as_str().unwrap().to_owned();
        let tv_as = b["addServiceToAccount"]["id"].as_str().unwrap().to_owned();

        // Removing on Feb 1 leaves Feb 2 – Feb 14 unused: 5000 × 13 / 31 = 2096.8 → 2097.
        let delete = "mutation($id: Int64Bit!, $input: DeleteAccountServiceMutationInput) { deleteAccountService(id: $id, input: $input) { success } }";
        app.ok_at(
            noon("2026-02-01"),
            delete,
            json!({"id": fiber_as, "input": {"prorate": true, "proration_date": "2026-02-01"}}),
        )
        .await;
        let credits = app.ok("query($id: Int64Bit!) { discounts(account_id: $id) { entities { amount amount_remaining debit_id prorated_from prorated_to debit { prorated_from } } } }", json!({"id": account})).await;
        let credit = &credits["discounts"]["entities"][0];
        assert_eq!(credit["amount"], 2097);
        assert_eq!(credit["amount_remaining"], 2097);
        assert_eq!(credit["prorated_from"], "2026-02-02");
        assert_eq!(credit["prorated_to"], "2026-02-14");
        assert_eq!(credit["debit"]["prorated_from"], "2026-01-15");

        // Removed services are gone from listings, and cannot be removed twice.
        let listed = app
            .ok(
                "query($id: Int64Bit!) { account_services(account_id: $id) { entities { id } } }",
                json!({"id": account}),
            )
            .await;
        assert_eq!(
            listed["account_services"]["entities"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
        let before = app.fingerprint().await;
        let body = app
            .gql(delete, json!({"id": fiber_as, "input": {"prorate": true}}))
            .await;
        assert_eq!(common::error_code(&body).as_deref(), Some("NOT_FOUND"));
        assert_eq!(app.fingerprint().await, before);

        // Without proration, no credit.
        app.ok_at(
            noon("2026-02-01"),
            delete,
            json!({"id": tv_as, "input": {"prorate": false}}),
        )
        .await;
        let credits = app.ok("query($id: Int64Bit!) { discounts(account_id: $id) { page_info { total_count } } }", json!({"id": account})).await;
        assert_eq!(credits["discounts"]["page_info"]["total_count"], 1);
        // The credit is applied to the next invoice.
        bill(app, "2026-02-15").await;
        app.assert_money_conserved().await;
    }
);

on_both!(one_time_transactions_and_manual_invoices, |app| {
    let account = app
        .account_activated_at("Onetime", noon("2026-01-15"))
        .await;
    let install = app.one_time_service("Installation", 2500, false).await;
    let goodwill = app.one_time_service("Goodwill credit", 1000, true).await;
    // Sonar's published script shape: a selection of `id` on the interface.
    let q = "mutation($input: CreateAccountOneTimeTransactionMutationInput) { createAccountOneTimeTransaction(input: $input) { id __typename amount ... on Debit { invoice_id type } ... on Discount { amount_remaining } } }";
    let debit = app.ok(q, json!({"input": {"service_id": install, "account_id": account, "description": "Install", "quantity": 2}})).await;
    let debit = &debit["createAccountOneTimeTransaction"][0];
    assert_eq!(debit["__typename"], "Debit");
    assert_eq!(debit["amount"], 5000);
    assert!(debit["invoice_id"].is_null());
    assert_eq!(debit["type"], "ONETIME");
    let credit = app
        .ok(
            q,
            json!({"input": {"service_id": goodwill, "account_id": account, "quantity": 1}}),
        )
        .await;
    assert_eq!(
        credit["createAccountOneTimeTransaction"][0]["__typename"],
        "Discount"
    );
    assert_eq!(
        credit["createAccountOneTimeTransaction"][0]["amount_remaining"],
        1000
    );

    let debit_id = debit["id"].as_str().unwrap().to_owned();
    let invoice = app
        .ok("mutation($ids: [Int64Bit]!) { createInvoice(input: {debit_ids: $ids, date: \"2026-01-20\", message: \"Install\"}) { total_debits remaining_due due_date status debits { entities { id } } } }", json!({"ids": [debit_id]}))
        .await;
    assert_eq!(invoice["createInvoice"]["total_debits"], 5000);
    assert_eq!(
        invoice["createInvoice"]["remaining_due"], 4000,
        "the credit is applied"
    );
    assert_eq!(invoice["createInvoice"]["due_date"], "2026-02-03");

    let before = app.fingerprint().await;
    let again = "mutation($ids: [Int64Bit]!) { createInvoice(input: {debit_ids: $ids, date: \"2026-01-21\"}) { id } }";
    assert_eq!(
        app.code(again, json!({"ids": [debit_id]})).await,
        "CONFLICT"
    );
    assert_eq!(
        app.code(again, json!({"ids": []})).await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.code(again, json!({"ids": [999999]})).await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.fingerprint().await,
        before,
        "the refused invoices wrote nothing"
    );
    let bad = "mutation($input: CreateAccountOneTimeTransactionMutationInput) { createAccountOneTimeTransaction(input: $input) { id } }";
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let before = app.fingerprint().await;
    assert_eq!(
        app.code(
            bad,
            json!({"input": {"service_id": fiber, "account_id": account, "quantity": 1}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.code(
            bad,
            json!({"input": {"service_id": install, "account_id": account, "quantity": 0}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.code(
            bad,
            json!({"input": {"service_id": install, "account_id": 999999, "quantity": 1}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.code(
            ADD,
            json!({"input": {"service_id": install, "account_id": account, "quantity": 1}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(
        app.code(
            ADD,
            json!({"input": {"service_id": fiber, "account_id": account, "quantity": 0}})
        )
        .await,
        "VALIDATION_FAILED"
    );
    assert_eq!(app.code("mutation { createRecurringService(input: {enabled: true, name: \"X\", application: DEBIT, amount: 100, billing_frequency: 0}) { id } }", json!({})).await, "VALIDATION_FAILED");
    assert_eq!(app.code("mutation { createRecurringService(input: {enabled: true, name: \"X\", application: DEBIT, amount: -1, billing_frequency: 1}) { id } }", json!({})).await, "VALIDATION_FAILED");
    assert_eq!(app.fingerprint().await, before);
    app.assert_money_conserved().await;

    let services = app.ok("{ services { entities { id name type recurring_service_detail { billing_frequency service_id } } } }", json!({})).await;
    let fiber_row = services["services"]["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Fiber")
        .unwrap()
        .clone();
    assert_eq!(
        fiber_row["recurring_service_detail"]["billing_frequency"],
        1
    );
    assert!(services["services"]["entities"][0]["recurring_service_detail"].is_null());
});

on_both!(business_dates_are_local_to_the_instance_time_zone, |app| {
    app.ok(
        "mutation { updateSystemSettings(input: {timezone: AMERICACHICAGO}) { timezone } }",
        json!({}),
    )
    .await;
    // 03:00 UTC on March 1st is 21:00 on February 28th in Chicago.
    let instant = chrono::DateTime::parse_from_rfc3339("2026-03-01T03:00:00+00:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let account = app.account_activated_at("Chicago", instant).await;
    let row = app.ok("query($id: Int64Bit!) { accounts(id: $id) { entities { activation_date activation_time next_bill_date } } }", json!({"id": account})).await;
    assert_eq!(
        row["accounts"]["entities"][0]["activation_date"],
        "2026-02-28"
    );
    assert_eq!(
        row["accounts"]["entities"][0]["activation_time"],
        "21:00:00"
    );
    assert_eq!(
        row["accounts"]["entities"][0]["next_bill_date"],
        "2026-02-28"
    );
    // The local "today" is also the default proration date.
    let fiber = app.recurring_service("Fiber", 2800, 1).await;
    app.ok_at(
        instant,
        ADD,
        json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
    )
    .await;
    bill(app, "2026-02-28").await;
    let ip = app.recurring_service("IP", 3100, 1).await;
    let later = chrono::DateTime::parse_from_rfc3339("2026-03-11T02:00:00+00:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.ok_at(
        later,
        ADD,
        json!({"input": {"account_id": account, "service_id": ip, "quantity": 1, "prorate": true}}),
    )
    .await;
    let rows = debits(app, account).await;
    // Local date March 10 (not UTC's March 11): [Mar 10, Mar 27] of [Feb 28, Mar 27], 18 of 28 days.
    assert_eq!(rows.last().unwrap()["prorated_from"], "2026-03-10");
    assert_eq!(rows.last().unwrap()["amount"], 1993);
});

on_both!(
    the_bill_command_run_twice_for_a_date_leaves_the_same_rows_as_once,
    |app| {
        let t0 = noon("2026-01-15");
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        for i in 0..3 {
            let account = app.account_activated_at(&format!("C{i}"), t0).await;
            app.ok_at(
                t0,
                ADD,
                json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
            )
            .await;
        }
        let run = || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_fathom"))
                .args(["bill", "--date", "2026-02-20"])
                .env("DATABASE_URL", &app.url)
                .env("FATHOM_LOG", "warn")
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let first = run();
        assert!(
            first.contains("3 account(s), 6 debit(s), 3 invoice(s)"),
            "{first}"
        );
        let once = app.fingerprint().await;
        let second = run();
        assert!(second.contains("0 account(s)"), "{second}");
        assert_eq!(app.fingerprint().await, once);
        app.assert_money_conserved().await;
    }
);

on_both!(
    randomized_histories_conserve_money_after_every_step,
    |app| {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(0x5eed_f00d);
        let t0 = noon("2026-01-15");
        let services = [
            app.recurring_service("Fiber", 4999, 1).await,
            app.recurring_service("Quarterly", 8999, 3).await,
            app.recurring_service("Annual", 11999, 12).await,
        ];
        let install = app.one_time_service("Install", 2500, false).await;
        let credit = app.one_time_service("Credit", 700, true).await;
        let mut accounts = Vec::new();
        for i in 0..3 {
            accounts.push(app.account_activated_at(&format!("R{i}"), t0).await);
        }
        let mut today = day("2026-01-15");
        for step in 0..45 {
            let account = accounts[rng.random_range(0..accounts.len())];
            let at = noon(&today.to_string());
            match rng.random_range(0..7) {
                0 | 1 => {
                    let service = services[rng.random_range(0..services.len())];
                    let prorate =
                        [Value::Null, json!(true), json!(false)][rng.random_range(0..3)].clone();
                    app.ok_at(at, ADD, json!({"input": {"account_id": account, "service_id": service, "quantity": rng.random_range(1..3), "prorate": prorate}})).await;
                }
                2 => {
                    let listed = app.ok("query($id: Int64Bit!) { account_services(account_id: $id) { entities { id } } }", json!({"id": account})).await;
                    if let Some(row) = listed["account_services"]["entities"]
                        .as_array()
                        .unwrap()
                        .first()
                    {
                        app.ok_at(at, "mutation($id: Int64Bit!, $p: Boolean) { deleteAccountService(id: $id, input: {prorate: $p}) { success } }", json!({"id": row["id"], "p": rng.random_bool(0.7)})).await;
                    }
                }
                3 => {
                    today += chrono::Duration::days(rng.random_range(0..40));
                    bill(app, &today.to_string()).await;
                }
                4 => {
                    app.ok_at(at, "mutation($s: Int64Bit!, $a: Int64Bit!) { createAccountOneTimeTransaction(input: {service_id: $s, account_id: $a, quantity: 1}) { id } }", json!({"s": install, "a": account})).await;
                }
                5 => {
                    app.ok_at(at, "mutation($s: Int64Bit!, $a: Int64Bit!) { createAccountOneTimeTransaction(input: {service_id: $s, account_id: $a, quantity: 2}) { id } }", json!({"s": credit, "a": account})).await;
                }
                _ => {
                    let open = app.ok("query($id: Int64Bit!) { debits(account_id: $id, search: [{unset_fields: [\"invoice_id\"]}]) { entities { id } } }", json!({"id": account})).await;
                    let ids: Vec<Value> = open["debits"]["entities"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .filter(|_| rng.random_bool(0.6))
                        .map(|d| d["id"].clone())
                        .collect();
                    if !ids.is_empty() {
                        app.ok("mutation($ids: [Int64Bit]!, $d: Date!) { createInvoice(input: {debit_ids: $ids, date: $d}) { id } }", json!({"ids": ids, "d": today.to_string()})).await;
                    }
                }
            }
            let _ = step;
            app.assert_money_conserved().await;
        }
        let totals = app.ok("{ invoices { page_info { total_count } } discounts { page_info { total_count } } }", json!({})).await;
        assert!(
            totals["invoices"]["page_info"]["total_count"]
                .as_i64()
                .unwrap()
                > 3,
            "the history did real work"
        );
    }
);

on_both!(cycles_keep_their_billing_day_through_short_months, |app| {
    let t0 = noon("2026-01-31");
    let account = app.account_activated_at("Month end", t0).await;
    let monthly = app.recurring_service("Monthly", 3100, 1).await;
    let quarterly = app.recurring_service("Quarterly", 9000, 3).await;
    for service in [monthly, quarterly] {
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": service, "quantity": 1}}),
        )
        .await;
    }
    bill(app, "2026-07-31").await;
    let rows = debits(app, account).await;
    let periods = |name: &str| -> Vec<(String, String)> {
        rows.iter()
            .filter(|d| d["service_name"] == name)
            .map(|d| {
                (
                    d["prorated_from"].as_str().unwrap().to_owned(),
                    d["prorated_to"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    let p = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    assert_eq!(
        periods("Monthly"),
        [
            p("2026-01-31", "2026-02-27"),
            p("2026-02-28", "2026-03-30"),
            p("2026-03-31", "2026-04-29"),
            p("2026-04-30", "2026-05-30"),
            p("2026-05-31", "2026-06-29"),
            p("2026-06-30", "2026-07-30"),
            p("2026-07-31", "2026-08-30"),
        ]
    );
    assert_eq!(
        periods("Quarterly"),
        [
            p("2026-01-31", "2026-04-29"),
            p("2026-04-30", "2026-07-30"),
            p("2026-07-31", "2026-10-30")
        ],
        "no day of the year goes unbilled"
    );
    let next = app.ok("query($id: Int64Bit!) { accounts(id: $id) { entities { next_bill_date next_recurring_charge_amount } } }", json!({"id": account})).await;
    assert_eq!(
        next["accounts"]["entities"][0]["next_bill_date"],
        "2026-08-31"
    );
    assert_eq!(
        next["accounts"]["entities"][0]["next_recurring_charge_amount"], 3100,
        "only the monthly service is due next"
    );
    app.assert_billing_is_contiguous().await;
});

on_both!(
    a_reactivated_account_is_not_billed_for_the_time_it_was_disconnected,
    |app| {
        let t0 = noon("2026-01-15");
        let account = app.account_activated_at("Returning", t0).await;
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        bill(app, "2026-01-15").await;
        app.ok_at(noon("2026-02-01"), "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { next_bill_date next_recurring_charge_amount } }", json!({"id": account})).await;
        // Adding a service while disconnected charges nothing now.
        app.ok_at(noon("2026-03-01"), ADD, json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1, "prorate": true}})).await;
        assert_eq!(debits(app, account).await.len(), 1);
        assert_eq!(
            bill(app, "2026-05-31").await.accounts_billed,
            0,
            "a disconnected account is not billed"
        );
        // Back on June 1: billing starts that day, not at the old February date.
        let back = app
        .ok_at(noon("2026-06-01"), "mutation($id: Int64Bit!) { updateAccount(id: $id, input: {account_status_id: 1}) { next_bill_date activation_date account_events(event: ACTIVATED) { page_info { total_count } } } }", json!({"id": account}))
        .await;
        assert_eq!(back["updateAccount"]["next_bill_date"], "2026-06-01");
        assert_eq!(
            back["updateAccount"]["activation_date"], "2026-01-15",
            "the first activation date stays"
        );
        assert_eq!(
            back["updateAccount"]["account_events"]["page_info"]["total_count"],
            2
        );
        bill(app, "2026-06-01").await;
        let rows = debits(app, account).await;
        let later: Vec<_> = rows
            .iter()
            .skip(1)
            .map(|d| {
                (
                    d["prorated_from"].as_str().unwrap(),
                    d["prorated_to"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            later,
            [("2026-06-01", "2026-06-30"), ("2026-06-01", "2026-06-30")],
            "both services, from the return only"
        );
        app.assert_money_conserved().await;
    }
);

on_both!(
    moving_between_two_activating_statuses_is_not_an_activation,
    |app| {
        let account = app
            .account_activated_at("Upgrader", noon("2026-01-15"))
            .await;
        let vip = app
        .ok("mutation { createAccountStatus(input: {name: \"Active VIP\", activates_account: true, color: \"FFD700\", icon: ADD759610}) { id } }", json!({}))
        .await["createAccountStatus"]["id"]
        .clone();
        let data = app
        .ok("mutation($id: Int64Bit!, $s: Int64Bit) { updateAccount(id: $id, input: {account_status_id: $s}) { account_events { entities { event } } } }", json!({"id": account, "s": vip}))
        .await;
        let events: Vec<_> = data["updateAccount"]["account_events"]["entities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["event"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(events, ["ACTIVATED", "STATUS_UPDATED"]);
    }
);

on_both!(a_status_change_away_from_active_also_stops_billing, |app| {
    let t0 = noon("2026-01-15");
    let account = app.account_activated_at("Suspended", t0).await;
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    app.ok_at(
        t0,
        ADD,
        json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
    )
    .await;
    bill(app, "2026-01-15").await;
    let set_status = "mutation($id: Int64Bit!, $s: Int64Bit) { updateAccount(id: $id, input: {account_status_id: $s}) { next_bill_date } }";
    let off = app
        .ok_at(
            noon("2026-02-10"),
            set_status,
            json!({"id": account, "s": 2}),
        )
        .await;
    assert!(off["updateAccount"]["next_bill_date"].is_null());
    let on = app
        .ok_at(
            noon("2026-04-20"),
            set_status,
            json!({"id": account, "s": 1}),
        )
        .await;
    assert_eq!(on["updateAccount"]["next_bill_date"], "2026-04-20");
    bill(app, "2026-04-20").await;
    let rows = debits(app, account).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1]["prorated_from"], "2026-04-20");
    assert_eq!(rows[1]["prorated_to"], "2026-05-19");
});

on_both!(
    back_dated_additions_and_removals_cover_every_period_since,
    |app| {
        let t0 = noon("2026-01-15");
        let account = app.account_activated_at("Back", t0).await;
        let fiber = app.recurring_service("Fiber", 5000, 1).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        bill(app, "2026-02-15").await;
        // On Feb 20, a service added as of Jan 25: the rest of the first period and all of the
        // second are charged. [Jan 25, Feb 14] is 21 of 31 days: 3100 × 21 / 31 = 2100.
        let ip = app.recurring_service("IP", 3100, 1).await;
        let added = app
        .ok_at(noon("2026-02-20"), ADD, json!({"input": {"account_id": account, "service_id": ip, "quantity": 1, "prorate": true, "proration_date": "2026-01-25"}}))
        .await;
        let rows = debits(app, account).await;
        let ip_rows: Vec<_> = rows
            .iter()
            .filter(|d| d["service_name"] == "IP")
            .map(|d| {
                (
                    d["amount"].clone(),
                    d["prorated_from"].clone(),
                    d["prorated_to"].clone(),
                )
            })
            .collect();
        assert_eq!(
            ip_rows,
            [
                (json!(3100), json!("2026-02-15"), json!("2026-03-14")),
                (json!(2100), json!("2026-01-25"), json!("2026-02-14"))
            ]
        );
        app.assert_billing_is_contiguous().await;

        // Removed as of Feb 1: Feb 2 – 14 of the first debit (13 of its 21 days: 1300) and all of
        // the second (3100) are credited.
        let id = added["addServiceToAccount"]["id"].clone();
        app.ok_at(noon("2026-02-20"), "mutation($id: Int64Bit!) { deleteAccountService(id: $id, input: {prorate: true, proration_date: \"2026-02-01\"}) { success } }", json!({"id": id})).await;
        let credits = app.ok("query($id: Int64Bit!) { discounts(account_id: $id, sorter: [{attribute: \"amount\", direction: ASC}]) { entities { amount prorated_from prorated_to } } }", json!({"id": account})).await;
        assert_eq!(
            credits["discounts"]["entities"],
            json!([
                {"amount": 1300, "prorated_from": "2026-02-02", "prorated_to": "2026-02-14"},
                {"amount": 3100, "prorated_from": "2026-02-15", "prorated_to": "2026-03-14"},
            ])
        );
        app.assert_billing_is_contiguous().await;
        app.assert_money_conserved().await;
    }
);

// An account that cannot be billed (here: its next period already has a debit, written by
// hand, so billing it again would break the one-debit-per-period rule) fails alone: the rest
// of its batch is billed, and it is left as it was for the next pass.
on_both!(one_account_that_cannot_be_billed_holds_up_no_other, |app| {
    use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
    let t0 = noon("2026-01-15");
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let mut accounts = Vec::new();
    for i in 0..5 {
        let account = app.account_activated_at(&format!("Batch {i}"), t0).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        accounts.push(account);
    }
    bill(app, "2026-01-15").await;
    use fathom::entity::debit;
    let billed = debit::Entity::find()
        .filter(debit::Column::AccountId.eq(accounts[2]))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    let mut copy: debit::ActiveModel = billed.into();
    copy.id = sea_orm::ActiveValue::NotSet;
    copy.invoice_id = Set(None);
    copy.prorated_from = Set(Some(day("2026-02-15")));
    copy.insert(&app.db).await.unwrap();

    let report = bill(app, "2026-02-20").await;
    assert_eq!(report.accounts_billed, 4, "{report:?}");
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(report.failed_accounts, [accounts[2]], "{report:?}");
    let next = app
        .ok(
            "query($id: Int64Bit!) { accounts(id: $id) { entities { next_bill_date } } }",
            json!({"id": accounts[2]}),
        )
        .await;
    assert_eq!(
        next["accounts"]["entities"][0]["next_bill_date"],
        "2026-02-15"
    );
    for &account in accounts.iter().filter(|a| **a != accounts[2]) {
        assert_eq!(debits(app, account).await.len(), 2, "account {account}");
    }
    app.assert_money_conserved().await;
});

// The pass bills a batch of accounts with a fixed number of statements, whatever the number
// of accounts in it (one transaction per account used to cost about fifteen each).
on_both!(a_billing_batch_costs_a_fixed_number_of_statements, |app| {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let t0 = noon("2026-01-15");
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let install = app.one_time_service("Install", 2500, false).await;
    for i in 0..30 {
        let account = app.account_activated_at(&format!("Many {i}"), t0).await;
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": fiber, "quantity": 1}}),
        )
        .await;
        app.ok_at(t0, "mutation($a: Int64Bit!, $s: Int64Bit!) { createAccountOneTimeTransaction(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": account, "s": install})).await;
    }
    let count = std::sync::Arc::new(AtomicUsize::new(0));
    let mut db = app.db.clone();
    let seen = count.clone();
    fathom::db::on_each_statement(&mut db, move |_| {
        seen.fetch_add(1, Ordering::SeqCst);
    });
    let report = pass::run_pass(&db, day("2026-01-15")).await.unwrap();
    assert_eq!(report.accounts_billed, 30);
    assert_eq!(report.invoices_created, 30);
    let statements = count.load(Ordering::SeqCst);
    assert!(
        statements <= 20,
        "{statements} statements for 30 accounts ({})",
        app.backend
    );
    app.assert_money_conserved().await;
});

// The audit row a pass writes for an account keeps the account as the pass left it: its new
// bill date, its next recurring charge (a quarterly service not due at the next cycle is not
// in it), its new `_version`.
on_both!(the_pass_audits_each_account_as_it_leaves_it, |app| {
    let t0 = noon("2026-01-15");
    let account = app.account_activated_at("Audited", t0).await;
    let fiber = app.recurring_service("Fiber", 5000, 1).await;
    let tv = app.recurring_service("TV", 3000, 3).await;
    for service in [fiber, tv] {
        app.ok_at(
            t0,
            ADD,
            json!({"input": {"account_id": account, "service_id": service, "quantity": 1}}),
        )
        .await;
    }
    bill(app, "2026-01-15").await;
    let stored = app
        .ok(
            "query($id: Int64Bit!) { accounts(id: $id) { entities { next_bill_date next_recurring_charge_amount _version } } }",
            json!({"id": account}),
        )
        .await["accounts"]["entities"][0]
        .clone();
    assert_eq!(stored["next_bill_date"], "2026-02-15");
    assert_eq!(stored["next_recurring_charge_amount"], 5000);
    let current = common::last_account_log(app, account, "SYSTEM").await;
    assert_eq!(current["next_bill_date"], "2026-02-15");
    assert_eq!(current["next_recurring_charge_amount"], 5000);
    assert_eq!(
        current["version"].to_string(),
        stored["_version"].as_str().unwrap()
    );
});
