use serde_json::{json, Value};

use crate::common::{self, noon};
use fathom::service::{
    base::{clock, settings},
    billing::pass,
    lifecycle::scheduled,
};

const REPORT: &str = r#"query($start: Date, $end: Date, $company: Int64Bit) {
  activations_and_disconnections_report(start_date: $start, end_date: $end, company_id: $company) {
    start_date end_date
    activations(sorter: [{attribute: "activated_at", direction: ASC}]) {
      entities { account_event_id account_id account_name account_type_id account_status_id activated_at reactivation serviceable_address_id account { name } }
      page_info { total_count }
    }
    disconnections(sorter: [{attribute: "disconnected_at", direction: ASC}]) {
      entities { disconnection_log_id account_id account_name disconnected_at disconnected_by_user_id serviceable_address_reference_record final_invoice_id final_invoice_total credit_total scheduled }
      page_info { total_count }
    }
    summary { activation_count disconnection_count net_change months { month activations disconnections net } }
  }
}"#;

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::parse_from_rfc3339(s)
        .unwrap()
        .with_timezone(&chrono::Utc)
}

/// Ada: active Jan 10, disconnected Feb 15, back Mar 20. Ben: active Feb 20, disconnected by
/// a scheduled event on Mar 10. Cy: a lead activated Mar 5. Dee: active before the period.
async fn history(app: &common::TestApp) -> (i64, i64, i64) {
    let _dee = app.account_activated_at("Dee", noon("2025-12-15")).await;
    let ada = app.account_activated_at("Ada", noon("2026-01-10")).await;
    let fiber = app.recurring_service("Fiber", 3100, 1).await;
    app.ok_at(noon("2026-01-10"), "mutation($a: Int64Bit!, $s: Int64Bit!) { addServiceToAccount(input: {account_id: $a, service_id: $s, quantity: 1}) { id } }", json!({"a": ada, "s": fiber})).await;
    pass::run_pass(&app.db, common::day("2026-01-10"))
        .await
        .unwrap();
    let ben = app.account_activated_at("Ben", noon("2026-02-20")).await;
    let cy = common::create_account(app, "Cy", 2).await;
    app.ok_at(
        noon("2026-02-15"),
        "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: true}) { id } }",
        json!({"id": ada}),
    )
    .await;
    app.ok_at(noon("2026-02-25"), "mutation($a: Int64Bit!) { createScheduledEvent(input: {account_id: $a, event: DISCONNECT_ACCOUNT, datetime: \"2026-03-10T12:00:00Z\"}) { id } }", json!({"a": ben})).await;
    scheduled::run_due(&app.db, at("2026-03-11T00:00:00Z"))
        .await
        .unwrap();
    let set_status =
        "mutation($id: Int64Bit!) { updateAccount(id: $id, input: {account_status_id: 1}) { id } }";
    app.ok_at(noon("2026-03-05"), set_status, json!({"id": cy}))
        .await;
    app.ok_at(noon("2026-03-20"), set_status, json!({"id": ada}))
        .await;
    (ada, ben, cy)
}

on_both!(
    the_report_lists_activations_and_disconnections_with_a_monthly_summary,
    |app| {
        let (ada, ben, cy) = history(app).await;
        let data = app
            .ok(REPORT, json!({"start": "2026-01-01", "end": "2026-03-31"}))
            .await;
        let report = &data["activations_and_disconnections_report"];
        assert_eq!(report["start_date"], "2026-01-01");
        assert_eq!(report["end_date"], "2026-03-31");

        let activations = report["activations"]["entities"].as_array().unwrap();
        let who: Vec<(Value, Value)> = activations
            .iter()
            .map(|a| (a["account_id"].clone(), a["reactivation"].clone()))
            .collect();
        assert_eq!(
            who,
            [
                (json!(ada.to_string()), json!(false)),
                (json!(ben.to_string()), json!(false)),
                (json!(cy.to_string()), json!(false)),
                (json!(ada.to_string()), json!(true))
            ]
        );
        assert_eq!(activations[0]["account_name"], "Ada");
        assert_eq!(activations[0]["account"]["name"], "Ada");
        assert_eq!(activations[0]["activated_at"], "2026-01-10T12:00:00+00:00");
        assert_eq!(activations[0]["account_status_id"], "1", "the status now");
        assert_eq!(report["activations"]["page_info"]["total_count"], 4);

        let disconnections = report["disconnections"]["entities"].as_array().unwrap();
        assert_eq!(disconnections.len(), 2);
        assert_eq!(disconnections[0]["account_id"], ada.to_string());
        assert_eq!(disconnections[0]["scheduled"], false);
        // Ada's Jan 10 – Feb 9 period was billed; she left on Feb 15, so no proration credit, and
        // nothing was left uninvoiced for a final invoice.
        assert_eq!(disconnections[0]["credit_total"], 0);
        assert!(disconnections[0]["final_invoice_id"].is_null());
        assert!(disconnections[0]["final_invoice_total"].is_null());
        assert_eq!(disconnections[1]["account_id"], ben.to_string());
        assert_eq!(disconnections[1]["scheduled"], true);
        assert_eq!(
            disconnections[1]["disconnected_at"],
            "2026-03-10T12:00:00+00:00"
        );
        assert_eq!(disconnections[1]["disconnected_by_user_id"], "1");

        assert_eq!(
            report["summary"],
            json!({
                "activation_count": 4, "disconnection_count": 2, "net_change": 2,
                "months": [
                    {"month": "2026-01", "activations": 1, "disconnections": 0, "net": 1},
                    {"month": "2026-02", "activations": 1, "disconnections": 1, "net": 0},
                    {"month": "2026-03", "activations": 2, "disconnections": 1, "net": 1},
                ]
            })
        );
    }
);

on_both!(
    each_table_of_the_report_filters_sorts_and_pages_on_its_own,
    |app| {
        let (ada, ben, _) = history(app).await;
        let q = r#"query { activations_and_disconnections_report(start_date: "2026-01-01", end_date: "2026-03-31") {
        activations(sorter: [{attribute: "activated_at", direction: DESC}], paginator: {page: 1, records_per_page: 2}) { entities { account_name } page_info { total_count total_pages } }
        first_only: activations(search: [{boolean_fields: [{attribute: "reactivation", search_value: true}]}]) { entities { account_name } }
        named: activations(general_search: "ben") { entities { account_id } }
        disconnections(search: [{boolean_fields: [{attribute: "scheduled", search_value: true}]}]) { entities { account_id } page_info { total_count } }
    } }"#;
        let data = app.ok(q, json!({})).await;
        let report = &data["activations_and_disconnections_report"];
        assert_eq!(
            report["activations"]["entities"],
            json!([{"account_name": "Ada"}, {"account_name": "Cy"}])
        );
        assert_eq!(
            report["activations"]["page_info"],
            json!({"total_count": 4, "total_pages": 2})
        );
        assert_eq!(
            report["first_only"]["entities"],
            json!([{"account_name": "Ada"}])
        );
        assert_eq!(
            report["named"]["entities"],
            json!([{"account_id": ben.to_string()}])
        );
        assert_eq!(
            report["disconnections"]["entities"],
            json!([{"account_id": ben.to_string()}])
        );
        let _ = ada;
        // An attribute outside the row's fields is refused by name.
        let body = app.gql("{ activations_and_disconnections_report { activations(sorter: [{attribute: \"password\", direction: ASC}]) { entities { account_id } } } }", json!({})).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
    }
);

on_both!(
    the_default_period_is_the_twelve_months_ending_today_and_bad_periods_are_refused,
    |app| {
        let today = settings::local_date(&app.db, clock::now()).await.unwrap();
        let data = app.ok("{ activations_and_disconnections_report { start_date end_date summary { months { month } } } }", json!({})).await;
        let report = &data["activations_and_disconnections_report"];
        assert_eq!(report["end_date"], today.to_string());
        let start = today
            .checked_sub_months(chrono::Months::new(12))
            .unwrap()
            .succ_opt()
            .unwrap();
        assert_eq!(report["start_date"], start.to_string());
        let months = report["summary"]["months"].as_array().unwrap();
        assert_eq!(
            months.first().unwrap()["month"],
            start.format("%Y-%m").to_string()
        );
        assert_eq!(
            months.last().unwrap()["month"],
            today.format("%Y-%m").to_string()
        );
        assert!(months.len() == 12 || months.len() == 13);

        let body = app
            .gql(REPORT, json!({"start": "2026-03-01", "end": "2026-02-01"}))
            .await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
        let body = app.gql(REPORT, json!({"start": "2026-02-30"})).await;
        assert_eq!(
            common::error_code(&body).as_deref(),
            Some("VALIDATION_FAILED")
        );
    }
);

on_both!(
    report_periods_are_local_dates_and_can_be_limited_to_a_company,
    |app| {
        app.ok(
            "mutation { updateSystemSettings(input: {timezone: AMERICACHICAGO}) { timezone } }",
            json!({}),
        )
        .await;
        // 03:00 UTC on April 1st is still March 31st in Chicago.
        app.account_activated_at("Late March", at("2026-04-01T03:00:00Z"))
            .await;
        let data = app
            .ok(REPORT, json!({"start": "2026-03-01", "end": "2026-03-31"}))
            .await;
        assert_eq!(
            data["activations_and_disconnections_report"]["summary"]["activation_count"],
            1
        );
        let data = app
            .ok(REPORT, json!({"start": "2026-04-01", "end": "2026-04-30"}))
            .await;
        assert_eq!(
            data["activations_and_disconnections_report"]["summary"]["activation_count"],
            0
        );
        let data = app
            .ok(
                REPORT,
                json!({"start": "2026-03-01", "end": "2026-03-31", "company": 999}),
            )
            .await;
        assert_eq!(
            data["activations_and_disconnections_report"]["activations"]["page_info"]
                ["total_count"],
            0
        );
        assert_eq!(
            data["activations_and_disconnections_report"]["summary"]["activation_count"],
            0
        );
    }
);

on_both!(a_report_period_is_at_most_a_hundred_years, |app| {
    let body = app
        .gql(REPORT, json!({"start": "1900-01-01", "end": "2026-01-01"}))
        .await;
    assert_eq!(
        common::error_code(&body).as_deref(),
        Some("VALIDATION_FAILED")
    );
    let data = app.ok("{ activations_and_disconnections_report(start_date: \"1950-01-01\", end_date: \"2026-12-31\") { summary { months { month } } } }", json!({})).await;
    assert_eq!(
        data["activations_and_disconnections_report"]["summary"]["months"]
            .as_array()
            .unwrap()
            .len(),
        77 * 12
    );
});

on_both!(
    without_a_sorter_the_tables_list_rows_in_the_order_they_happened,
    |app| {
        // Created in one order, activated and disconnected in another.
        let late = app.account_activated_at("Late", noon("2026-03-20")).await;
        let early = app.account_activated_at("Early", noon("2026-01-05")).await;
        let middle = app.account_activated_at("Middle", noon("2026-02-10")).await;
        let disconnect =
            "mutation($id: Int64Bit!) { disconnectAccount(id: $id, input: {prorate: false}) { id } }";
        for (id, day) in [
            (early, "2026-04-20"),
            (late, "2026-04-05"),
            (middle, "2026-04-12"),
        ] {
            app.ok_at(noon(day), disconnect, json!({"id": id})).await;
        }
        let read = |sorter: &str| {
            format!(
                r#"{{ activations_and_disconnections_report(start_date: "2026-01-01", end_date: "2026-04-30") {{
                  activations{sorter} {{ entities {{ account_id }} }}
                  disconnections{sorter} {{ entities {{ account_id }} }} }} }}"#
            )
        };
        let ids = |data: &Value, table: &str| -> Vec<i64> {
            data["activations_and_disconnections_report"][table]["entities"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["account_id"].as_str().unwrap().parse().unwrap())
                .collect()
        };
        let data = app.ok(&read(""), json!({})).await;
        assert_eq!(ids(&data, "activations"), vec![early, middle, late]);
        assert_eq!(ids(&data, "disconnections"), vec![late, middle, early]);
        // A sorter still decides: by id, the order of creation.
        let by_id = app
            .ok(
                &read(r#"(sorter: [{attribute: "account_id", direction: ASC}])"#),
                json!({}),
            )
            .await;
        assert_eq!(ids(&by_id, "activations"), vec![late, early, middle]);
        assert_eq!(ids(&by_id, "disconnections"), vec![late, early, middle]);
    }
);
