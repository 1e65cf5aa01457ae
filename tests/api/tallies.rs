//! Counts the database keeps (migration 18): the report's tallies against the report counted
//! from the rows, over many periods, time zones and companies, after a history that exercises
//! every trigger (activations, win-backs, a disconnection recorded late, status changes in and
//! out of activating statuses, an account moved to another company, archiving); and
//! `account_counts` answering `accounts`' `total_count` exactly on both read paths, read from
//! the kept rows, with `fathom verify` naming a drifted count.

use axum::Router;
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::{json, Value};

use crate::common::{self, create_account, noon, TestApp};
use fathom::service::base::clock;
use fathom::service::lifecycle::scheduled;
use fathom::service::read::report;

const DISCONNECT: &str = "mutation($id: Int64Bit!, $input: DisconnectAccountMutationInput) { disconnectAccount(id: $id, input: $input) { id } }";
const STATUS: &str = "mutation($id: Int64Bit!, $s: Int64Bit!) { updateAccount(id: $id, input: {account_status_id: $s}) { id } }";
const COMPANY: &str = "mutation($id: Int64Bit!, $c: Int64Bit!) { updateAccount(id: $id, input: {company_id: $c}) { id } }";
const SCHEDULE: &str = "mutation($input: CreateScheduledEventMutationInput) { createScheduledEvent(input: $input) { id } }";
const NEW_STATUS: &str = "mutation($name: String!, $active: Boolean!) { createAccountStatus(input: {name: $name, activates_account: $active, color: \"00FF00\", icon: ADD759610}) { id } }";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn id(value: &Value) -> i64 {
    value.as_str().unwrap().parse().unwrap()
}

/// A second company: the API has no mutation that creates one, so the test adds it as the
/// seeder would, a copy of the default one under another name.
async fn second_company(app: &TestApp) -> i64 {
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.db.get_database_backend();
    app.db
        .execute_raw(Statement::from_string(
            backend,
            "INSERT INTO companies (name, \"default\", enabled, country, primary_color, secondary_color, \
             show_remittance_slip, created_at, updated_at, version) \
             SELECT 'Second', FALSE, enabled, country, primary_color, secondary_color, show_remittance_slip, \
             created_at, updated_at, version FROM companies WHERE id = 1",
        ))
        .await
        .unwrap();
    app.count("SELECT MAX(id) AS n FROM companies").await
}

/// Accounts activated, disconnected (with and without reasons), won back, suspended and
/// resumed, moved between activating statuses, moved to another company, archived; and a
/// scheduled disconnection carried out late, after the account had been activated again, so
/// that its log makes an earlier activation a win-back.
async fn history(app: &TestApp) {
    let second = second_company(app).await;
    let suspended = id(&app
        .ok(NEW_STATUS, json!({"name": "Suspended", "active": false}))
        .await["createAccountStatus"]["id"]);
    let premium = id(&app
        .ok(NEW_STATUS, json!({"name": "Premium", "active": true}))
        .await["createAccountStatus"]["id"]);
    let mut accounts = Vec::new();
    // Activations spread over the year, some near midnight UTC and at quarter past odd hours.
    for (i, when) in [
        "2025-11-30T23:50:00Z",
        "2026-01-01T00:00:00Z",
        "2026-01-15T05:45:00Z",
        "2026-01-31T18:20:00Z",
        "2026-02-14T12:00:00Z",
        "2026-03-01T04:59:59Z",
        "2026-03-31T14:15:00Z",
        "2026-04-30T23:59:59Z",
        "2026-06-10T09:30:00Z",
        "2026-07-04T12:00:00Z",
    ]
    .iter()
    .enumerate()
    {
        accounts.push(
            app.account_activated_at(&format!("Tally {i}"), at(when))
                .await,
        );
    }
    let disconnect = |account: i64, when: &'static str, input: Value| async move {
        app.ok_at(at(when), DISCONNECT, json!({"id": account, "input": input}))
            .await;
    };
    disconnect(
        accounts[0],
        "2026-01-10T10:00:00Z",
        json!({"disconnection_reason_id": 3}),
    )
    .await;
    disconnect(
        accounts[1],
        "2026-02-28T23:55:00Z",
        json!({"disconnection_reason_id": 1}),
    )
    .await;
    disconnect(accounts[2], "2026-03-15T07:00:00Z", json!({})).await;
    // Won back, and gone again.
    app.ok_at(
        at("2026-04-02T08:00:00Z"),
        STATUS,
        json!({"id": accounts[0], "s": 1}),
    )
    .await;
    disconnect(
        accounts[0],
        "2026-05-20T16:40:00Z",
        json!({"disconnection_reason_id": 2}),
    )
    .await;
    // Suspended (leaves an activating status without a disconnection) and resumed.
    app.ok_at(
        at("2026-04-10T11:00:00Z"),
        STATUS,
        json!({"id": accounts[3], "s": suspended}),
    )
    .await;
    app.ok_at(
        at("2026-05-01T00:30:00Z"),
        STATUS,
        json!({"id": accounts[3], "s": 1}),
    )
    .await;
    // From one activating status to another: still active.
    app.ok_at(
        at("2026-05-05T12:00:00Z"),
        STATUS,
        json!({"id": accounts[4], "s": premium}),
    )
    .await;
    // To the other company, with its history.
    app.ok_at(
        at("2026-06-01T12:00:00Z"),
        COMPANY,
        json!({"id": accounts[0], "c": second}),
    )
    .await;
    app.ok_at(
        at("2026-06-02T12:00:00Z"),
        COMPANY,
        json!({"id": accounts[5], "c": second}),
    )
    .await;
    // Archived once inactive.
    app.ok_at(
        at("2026-06-05T12:00:00Z"),
        "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
        json!({"id": accounts[2]}),
    )
    .await;
    // A disconnection scheduled for Jun 20, carried out on Jun 25 effective Jun 20, after the
    // account was suspended on Jun 21 and activated again on Jun 22: that activation follows
    // the (late) disconnection, a win-back the log's trigger must count.
    app.ok_at(
        noon("2026-06-15"),
        SCHEDULE,
        json!({"input": {"account_id": accounts[6], "event": "DISCONNECT_ACCOUNT", "datetime": "2026-06-20T12:00:00Z", "prorate": false}}),
    )
    .await;
    app.ok_at(
        at("2026-06-21T12:00:00Z"),
        STATUS,
        json!({"id": accounts[6], "s": suspended}),
    )
    .await;
    app.ok_at(
        at("2026-06-22T12:00:00Z"),
        STATUS,
        json!({"id": accounts[6], "s": 1}),
    )
    .await;
    let ran = clock::at_instant(
        at("2026-06-25T12:00:00Z"),
        scheduled::run_due(&app.db, at("2026-06-25T12:00:00Z")),
    )
    .await
    .unwrap();
    assert_eq!(ran.completed, 1, "{ran:?}");
    let late_win_backs = app
        .count(&format!(
            "SELECT COUNT(*) AS n FROM account_events e WHERE e.account_id = {} AND e.event = 'ACTIVATED' \
             AND EXISTS (SELECT 1 FROM disconnection_logs l WHERE l.account_id = e.account_id \
             AND l.disconnected_at <= e.event_datetime)",
            accounts[6]
        ))
        .await;
    assert_eq!(late_win_backs, 1, "the Jun 22 activation is a win-back");
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

on_both!(
    the_report_from_tallies_equals_the_report_from_the_rows_in_every_period_zone_and_company,
    |app| {
        history(app).await;
        assert!(common::violations(app).await.is_empty());
        let periods = [
            ("2025-12-08", "2026-12-07"),
            ("2026-01-01", "2026-12-31"),
            ("2026-02-15", "2026-04-10"),
            ("2026-03-01", "2026-03-01"),
            ("2026-06-01", "2026-06-30"),
            ("2026-01-01", "2026-01-31"),
            ("2025-01-01", "2025-12-31"),
            ("2026-04-01", "2027-03-31"),
        ];
        let mut compared = 0;
        for zone in [
            "UTC",
            "AMERICANEWYORK",
            "ASIAKATHMANDU",
            "AUSTRALIAADELAIDE",
        ] {
            app.ok(
                &format!("mutation {{ updateSystemSettings(input: {{timezone: {zone}}}) {{ timezone }} }}"),
                json!({}),
            )
            .await;
            for (start, end) in periods {
                for company in [None, Some(1), Some(2), Some(99)] {
                    let period =
                        report::period(&app.db, Some(date(start)), Some(date(end)), company)
                            .await
                            .unwrap();
                    assert!(report::from_tallies(&period), "{zone} {start}..{end}");
                    for churn in [false, true] {
                        let tallied = report::summary(&app.db, &period, churn).await.unwrap();
                        let counted = report::summary_from_rows(&app.db, &period, churn)
                            .await
                            .unwrap();
                        assert_eq!(
                            tallied, counted,
                            "{zone} {start}..{end} company {company:?} churn {churn}"
                        );
                        compared += 1;
                    }
                    // The tables' totals from the tallies equal the rows they list.
                    for (table, rows) in [
                        (
                            report::Table::Activations,
                            "report_activations WHERE activated_at",
                        ),
                        (
                            report::Table::Disconnections,
                            "report_disconnections WHERE disconnected_at",
                        ),
                    ] {
                        let total = report::tallied_total(&app.db, &period, table)
                            .await
                            .unwrap()
                            .unwrap();
                        let counted = report::summary_from_rows(&app.db, &period, false)
                            .await
                            .unwrap();
                        let expected = match table {
                            report::Table::Activations => counted.activation_count,
                            report::Table::Disconnections => counted.disconnection_count,
                        };
                        assert_eq!(total as i64, expected, "{rows} {zone} {start}..{end}");
                    }
                }
            }
        }
        assert_eq!(compared, 4 * 8 * 4 * 2);
        // Through the API: the default period's tables and summary, against the rows.
        let answer = app
            .ok_at(
                noon("2026-07-10"),
                "{ activations_and_disconnections_report(start_date: \"2026-01-01\", end_date: \"2026-06-30\") { \
                 activations { page_info { total_count } } disconnections { page_info { total_count } } \
                 summary { activation_count disconnection_count churn { win_backs active_accounts_at_start lost_mrr } } } }",
                json!({}),
            )
            .await;
        let r = &answer["activations_and_disconnections_report"];
        let period = report::period(
            &app.db,
            Some(date("2026-01-01")),
            Some(date("2026-06-30")),
            None,
        )
        .await
        .unwrap();
        let rows = report::summary_from_rows(&app.db, &period, true)
            .await
            .unwrap();
        assert_eq!(
            r["activations"]["page_info"]["total_count"],
            rows.activation_count
        );
        assert_eq!(
            r["disconnections"]["page_info"]["total_count"],
            rows.disconnection_count
        );
        assert_eq!(r["summary"]["activation_count"], rows.activation_count);
        assert_eq!(r["summary"]["churn"]["win_backs"], rows.churn.win_backs);
        assert_eq!(
            r["summary"]["churn"]["active_accounts_at_start"],
            rows.churn.active_at_start
        );
        assert!(
            rows.activation_count >= 10 && rows.churn.win_backs >= 2,
            "{rows:?}"
        );
    }
);

on_both!(
    a_period_whose_midnights_are_off_the_quarter_hour_is_counted_from_the_rows,
    |app| {
        history(app).await;
        // Monrovia kept -00:44:30 until 1972: its midnights then were off the quarter hour.
        app.ok(
            "mutation { updateSystemSettings(input: {timezone: AFRICAMONROVIA}) { timezone } }",
            json!({}),
        )
        .await;
        let old = report::period(
            &app.db,
            Some(date("1960-01-01")),
            Some(date("1960-12-31")),
            None,
        )
        .await
        .unwrap();
        assert!(!report::from_tallies(&old));
        let summary = report::summary(&app.db, &old, true).await.unwrap();
        assert_eq!(
            summary,
            report::summary_from_rows(&app.db, &old, true)
                .await
                .unwrap()
        );
        assert_eq!(summary.months.len(), 12);
        // Through the API too, with the tables' totals counted from the rows.
        let answer = app
            .ok(
                "{ activations_and_disconnections_report(start_date: \"1960-01-01\", end_date: \"1960-12-31\") { \
                 activations { page_info { total_count } } summary { activation_count } } }",
                json!({}),
            )
            .await;
        assert_eq!(
            answer["activations_and_disconnections_report"]["activations"]["page_info"]
                ["total_count"],
            0
        );
    }
);

/// Sends `query` to `router` as the test's admin; the `data`, which must hold no errors.
async fn send(router: &Router, token: &str, query: &str, variables: Value) -> Value {
    let request = common::graphql_request(
        Some(token),
        json!({ "query": query, "variables": variables }).to_string(),
    );
    let (_, _, bytes) = common::answer(router, request).await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

on_both!(
    accounts_total_count_is_read_from_kept_counts_and_stays_exact,
    |app| {
        let second = second_company(app).await;
        let suspended = id(&app
            .ok(NEW_STATUS, json!({"name": "Suspended", "active": false}))
            .await["createAccountStatus"]["id"]);
        let mut ids = Vec::new();
        for i in 0..12 {
            ids.push(create_account(app, &format!("Counted {i}"), 1).await);
        }
        for account in &ids[..3] {
            app.ok(DISCONNECT, json!({"id": account, "input": {}}))
                .await;
        }
        app.ok(
            "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
            json!({"id": ids[0]}),
        )
        .await;
        app.ok(STATUS, json!({"id": ids[3], "s": suspended})).await;
        app.ok(COMPANY, json!({"id": ids[4], "c": second})).await;
        app.ok(
            "mutation($id: Int64Bit!) { unarchiveAccount(id: $id) { id } }",
            json!({"id": ids[0]}),
        )
        .await;
        app.ok(
            "mutation($id: Int64Bit!) { archiveAccount(id: $id) { id } }",
            json!({"id": ids[1]}),
        )
        .await;

        let filters = [
            ("", "archived_at IS NULL"),
            ("include_archived: true", "1 = 1"),
            ("account_status_id: 1", "archived_at IS NULL AND account_status_id = 1"),
            (
                "account_status_id: 2, include_archived: true",
                "account_status_id = 2",
            ),
            ("company_id: 2", "archived_at IS NULL AND company_id = 2"),
            (
                "search: {integer_fields: [{attribute: \"account_status_id\", search_value: 1, operator: EQ}]}",
                "archived_at IS NULL AND account_status_id = 1",
            ),
            (
                "account_type_id: 1, account_status_id: 1, company_id: 1",
                "archived_at IS NULL AND account_type_id = 1 AND account_status_id = 1 AND company_id = 1",
            ),
            // Not kept by column: counted from the rows, as before.
            (
                "general_search: \"Counted 1\"",
                "archived_at IS NULL AND name LIKE 'Counted 1%'",
            ),
        ];
        // `app.ok` also asks the general resolvers and requires the same answer.
        for (args, sql) in filters {
            let args = if args.is_empty() {
                String::new()
            } else {
                format!("({args})")
            };
            let query = format!("{{ accounts{args} {{ page_info {{ total_count }} }} }}");
            let expected = app
                .count(&format!("SELECT COUNT(*) AS n FROM accounts WHERE {sql}"))
                .await;
            assert!(expected > 0, "{sql}");
            let compiled = app.ok(&query, json!({})).await["accounts"]["page_info"]["total_count"]
                .as_i64()
                .unwrap();
            assert_eq!(compiled, expected, "{query}");
        }
        assert!(common::violations(app).await.is_empty());

        // The totals are the kept rows: a drifted count shows in both paths, and verify names it.
        use sea_orm::{ConnectionTrait, Statement};
        let drift = |sql: &'static str| async move {
            app.db
                .execute_raw(Statement::from_string(app.db.get_database_backend(), sql))
                .await
                .unwrap();
        };
        drift("UPDATE account_counts SET n = n + 1000 WHERE company_id = 1 AND account_status_id = 1 AND archived = FALSE AND shard = (SELECT MIN(shard) FROM account_counts WHERE company_id = 1 AND account_status_id = 1 AND archived = FALSE)").await;
        let expected = app
            .count("SELECT COUNT(*) AS n FROM accounts WHERE archived_at IS NULL")
            .await;
        let query = "{ accounts { page_info { total_count } } }";
        assert_eq!(
            app.ok(query, json!({})).await["accounts"]["page_info"]["total_count"],
            expected + 1000
        );
        let general = send(&app.general, &app.token, query, json!({})).await;
        assert_eq!(
            general["accounts"]["page_info"]["total_count"],
            expected + 1000
        );
        let found = common::violations(app).await;
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("account_counts"), "{found:?}");
        drift("UPDATE account_counts SET n = n - 1000 WHERE company_id = 1 AND account_status_id = 1 AND archived = FALSE AND shard = (SELECT MIN(shard) FROM account_counts WHERE company_id = 1 AND account_status_id = 1 AND archived = FALSE)").await;
        assert!(common::violations(app).await.is_empty());

        // A drifted tally too.
        drift("UPDATE report_disconnection_tallies SET disconnections = disconnections + 1 WHERE bucket = (SELECT MIN(bucket) FROM report_disconnection_tallies)").await;
        let found = common::violations(app).await;
        assert!(
            found.len() == 1 && found[0].contains("report_disconnection_tallies"),
            "{found:?}"
        );
    }
);

on_both!(
    concurrent_disconnections_and_reactivations_keep_every_count_exact,
    |app| {
        let mut ids = Vec::new();
        for i in 0..24 {
            ids.push(create_account(app, &format!("Busy {i}"), 1).await);
        }
        let mut tasks = Vec::new();
        for (i, account) in ids.iter().enumerate() {
            let (router, token, account) = (app.router.clone(), app.token.clone(), *account);
            tasks.push(tokio::spawn(async move {
                send(
                    &router,
                    &token,
                    DISCONNECT,
                    json!({"id": account, "input": {}}),
                )
                .await;
                if i % 2 == 0 {
                    send(&router, &token, STATUS, json!({"id": account, "s": 1})).await;
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert!(common::violations(app).await.is_empty());
        let active = app
            .count("SELECT COUNT(*) AS n FROM accounts WHERE archived_at IS NULL AND account_status_id = 1")
            .await;
        let answer = app
            .ok(
                "{ accounts(account_status_id: 1) { page_info { total_count } } }",
                json!({}),
            )
            .await;
        assert_eq!(answer["accounts"]["page_info"]["total_count"], active);
    }
);
