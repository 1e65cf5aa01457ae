//! Requests a hostile or careless token holder could send. Each is refused with a code, writes
//! nothing, and leaves the server answering.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::common::{self, error_code};
use fathom::service::{base::clock, lifecycle::scheduled};

const ME: &str = "{ me { name } }";
const CREATE_ACCOUNT: &str =
    "mutation($input: CreateAccountMutationInput) { createAccount(input: $input) { id name } }";

fn account_input(name: &str) -> Value {
    json!({"name": name, "account_status_id": 1, "account_type_id": 1, "company_id": 1,
           "primary_contact": {"name": name, "email_address": "someone@example.com"}})
}

/// Sends `query` (with `variables`) and asserts: refused with `code`, nothing written, and the
/// server still answers. Returns the error body.
async fn refused(app: &common::TestApp, query: &str, variables: Value, code: &str) -> Value {
    let before = app.fingerprint().await;
    let body = tokio::time::timeout(Duration::from_secs(60), app.gql(query, variables))
        .await
        .expect("answered within a minute");
    assert_eq!(
        error_code(&body).as_deref(),
        Some(code),
        "{}",
        truncate(&body)
    );
    assert_eq!(app.fingerprint().await, before, "nothing is written");
    assert!(app.gql(ME, json!({})).await.get("errors").is_none());
    body
}

fn truncate(body: &Value) -> String {
    body.to_string().chars().take(600).collect()
}

on_both!(
    values_nested_thousands_deep_are_refused_before_parsing,
    |app| {
        for depth in [100, 1_600, 100_000] {
            let list = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
            refused(
                app,
                &format!("{{ accounts(name: {list}) {{ page_info {{ total_count }} }} }}"),
                json!({}),
                "QUERY_TOO_COMPLEX",
            )
            .await;
            // The same through a variable's default value and its type.
            let ty = format!("{}String{}", "[".repeat(depth), "]".repeat(depth));
            refused(
            app,
            &format!("query($n: {ty} = {list}) {{ accounts(name: $n) {{ page_info {{ total_count }} }} }}"),
            json!({}),
            "QUERY_TOO_COMPLEX",
        )
        .await;
        }
        // Variables nested deeper than allowed (but within what JSON parsing accepts).
        let mut deep = json!(1);
        for _ in 0..100 {
            deep = json!([deep]);
        }
        refused(
            app,
            "query($n: String) { accounts(name: $n) { page_info { total_count } } }",
            json!({"n": deep}),
            "QUERY_TOO_COMPLEX",
        )
        .await;
        // Selections nested deep through fragments, each fragment shallow in itself.
        let mut q = String::from("{ accounts { entities { ...f0 } } }");
        for level in 0..40 {
            q.push_str(&format!(
                " fragment f{level} on Account {{ parent_account {{ ...f{} }} }}",
                level + 1
            ));
        }
        q.push_str(" fragment f40 on Account { id }");
        refused(app, &q, json!({}), "QUERY_TOO_COMPLEX").await;
        // A chain of twenty thousand fragments, each spreading the next (every check that
        // follows spreads recursively would exhaust the stack).
        let mut q = String::from("{ me { ...f0 } }");
        for i in 0..20_000 {
            q.push_str(&format!(" fragment f{i} on Me {{ ...f{} name }}", i + 1));
        }
        q.push_str(" fragment f20000 on Me { name }");
        refused(app, &q, json!({}), "QUERY_TOO_COMPLEX").await;
    }
);

on_both!(
    fragments_that_double_each_level_are_refused_at_once,
    |app| {
        // 2^60 fields written out; measured in time linear in the document.
        let mut q =
            String::from("{ accounts { entities { ...f60 } } } fragment f0 on Account { id }");
        for level in 1..=60 {
            q.push_str(&format!(
                " fragment f{level} on Account {{ ...f{p} ...f{p} }}",
                p = level - 1
            ));
        }
        let body = refused(app, &q, json!({}), "QUERY_TOO_COMPLEX").await;
        assert!(body.to_string().contains("too complex"), "{body}");
    }
);

on_both!(
    a_datetime_past_year_9999_in_utc_is_refused_and_never_runs_early,
    |app| {
        let account = common::create_account(app, "Far Future", 1).await;
        const CREATE: &str = "mutation($input: CreateScheduledEventMutationInput) { createScheduledEvent(input: $input) { id datetime } }";
        for datetime in [
            "9999-12-31T23:00:00-14:00",
            "+10000-01-01T00:00:00Z",
            "0000-12-31T00:00:00Z",
        ] {
            let input = json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT",
                                         "datetime": datetime}});
            refused(app, CREATE, input, "VALIDATION_FAILED").await;
        }
        // More than 100 years ahead is refused too; within it is fine.
        let far = json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT",
                                   "datetime": "2200-01-01T00:00:00Z"}});
        let body = refused(app, CREATE, far, "VALIDATION_FAILED").await;
        assert!(body.to_string().contains("100 years"), "{body}");
        let ok = app
            .ok(
                CREATE,
                json!({"input": {"account_id": account, "event": "DISCONNECT_ACCOUNT",
                                 "datetime": "2099-12-31T23:00:00-14:00"}}),
            )
            .await;
        assert_eq!(
            ok["createScheduledEvent"]["datetime"],
            "2100-01-01T13:00:00+00:00"
        );
        // The worker does not take it for a due event.
        let report = scheduled::run_due(&app.db, clock::now()).await.unwrap();
        assert_eq!(report.completed + report.failed + report.retried, 0);
        // Filters and searches refuse such instants and dates the same way.
        refused(
            app,
            "{ accounts(search: [{datetime_fields: [{attribute: \"created_at\", search_value: \"9999-12-31T23:00:00-14:00\", operator: GT}]}]) { entities { id } } }",
            json!({}),
            "VALIDATION_FAILED",
        )
        .await;
        refused(
            app,
            "{ accounts(activation_date: \"0000-01-01\") { entities { id } } }",
            json!({}),
            "VALIDATION_FAILED",
        )
        .await;
    }
);

on_both!(
    a_chosen_id_cannot_exhaust_the_sequence_of_automatic_ids,
    |app| {
        for id in [
            json!(9223372036854775807i64),
            json!("1000000000000"),
            json!(0),
        ] {
            let mut input = account_input("Huge Id");
            input["id"] = id;
            refused(
                app,
                CREATE_ACCOUNT,
                json!({ "input": input }),
                "VALIDATION_FAILED",
            )
            .await;
        }
        // The largest allowed id is taken, and automatic ids carry on past it.
        let mut input = account_input("Largest Id");
        input["id"] = json!(999_999_999_999i64);
        let chosen = app.ok(CREATE_ACCOUNT, json!({ "input": input })).await;
        assert_eq!(chosen["createAccount"]["id"], "999999999999");
        let next = app
            .ok(CREATE_ACCOUNT, json!({"input": account_input("Next")}))
            .await;
        assert_eq!(next["createAccount"]["id"], "1000000000000");
    }
);

on_both!(control_characters_in_strings_are_refused, |app| {
    // In a literal (GraphQL escapes) and in variables; NUL and others.
    refused(
        app,
        "mutation { createAccount(input: {name: \"nul\\u0000here\", account_status_id: 1, account_type_id: 1, company_id: 1, primary_contact: {name: \"x\", email_address: \"x@example.com\"}}) { id } }",
        json!({}),
        "VALIDATION_FAILED",
    )
    .await;
    for bad in [
        "nul\u{0}here",
        "bell\u{7}",
        "escape\u{1b}[2J",
        "delete\u{7f}",
    ] {
        let body = refused(
            app,
            CREATE_ACCOUNT,
            json!({"input": account_input(bad)}),
            "VALIDATION_FAILED",
        )
        .await;
        assert_eq!(
            body["errors"][0]["extensions"]["field"], "input.name",
            "{body}"
        );
    }
    // A partial-match search for NUL is refused, not a match for every row.
    refused(
        app,
        "query($v: String!) { accounts(search: [{string_fields: [{attribute: \"name\", search_value: $v, match: true, partial_matching: true}]}]) { entities { id } } }",
        json!({"v": "\u{0}"}),
        "VALIDATION_FAILED",
    )
    .await;
    refused(
        app,
        "query($v: String) { accounts(general_search: $v) { entities { id } } }",
        json!({"v": "\u{0}"}),
        "VALIDATION_FAILED",
    )
    .await;
    // Tab, line feed and carriage return are text.
    let ok = app
        .ok(
            CREATE_ACCOUNT,
            json!({"input": account_input("Two\tcolumns\r\nand lines")}),
        )
        .await;
    assert_eq!(ok["createAccount"]["name"], "Two\tcolumns\r\nand lines");
});

on_both!(
    search_and_sorter_are_capped_below_what_the_databases_refuse,
    |app| {
        let alternative = |i: usize| json!({"string_fields": [{"attribute": "name", "search_value": format!("n{i}"), "match": true}]});
        const SEARCH: &str =
        "query($s: [Search]) { accounts(search: $s) { entities { id } page_info { total_count } } }";
        let too_many: Vec<Value> = (0..1_000).map(alternative).collect();
        let body = refused(app, SEARCH, json!({"s": too_many}), "VALIDATION_FAILED").await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "search");
        // At the caps (100 alternatives of 50 fields each) both databases answer.
        let wide: Vec<Value> = (0..100)
        .map(|i| {
            let fields: Vec<Value> = (0..50)
                .map(|j| json!({"attribute": "name", "search_value": format!("n{i}-{j}"), "match": false, "partial_matching": true}))
                .collect();
            json!({ "string_fields": fields })
        })
        .collect();
        let ok = app.gql(SEARCH, json!({ "s": wide })).await;
        assert!(ok.get("errors").is_none(), "{}", truncate(&ok));
        let fields: Vec<Value> = (0..51)
            .map(|j| json!({"attribute": "name", "search_value": format!("{j}"), "match": true}))
            .collect();
        refused(
            app,
            SEARCH,
            json!({"s": [{ "string_fields": fields }]}),
            "VALIDATION_FAILED",
        )
        .await;

        const SORT: &str = "query($s: [Sorter]) { accounts(sorter: $s) { entities { id } } }";
        let sorter: Vec<Value> = (0..2_000)
            .map(|_| json!({"attribute": "name", "direction": "ASC"}))
            .collect();
        let body = refused(app, SORT, json!({ "s": sorter }), "VALIDATION_FAILED").await;
        assert_eq!(body["errors"][0]["extensions"]["field"], "sorter");
        let ten: Vec<Value> = (0..10)
            .map(|_| json!({"attribute": "name", "direction": "DESC"}))
            .collect();
        assert!(app
            .gql(SORT, json!({ "s": ten }))
            .await
            .get("errors")
            .is_none());

        let long = "x".repeat(1_001);
        refused(
            app,
            "query($v: String) { accounts(general_search: $v) { entities { id } } }",
            json!({ "v": long }),
            "VALIDATION_FAILED",
        )
        .await;
    }
);

on_both!(int_arguments_are_32_bits, |app| {
    for (query, variables) in [
        (
            "{ accounts(paginator: {page: 2147483648, records_per_page: 1}) { page_info { page } } }",
            json!({}),
        ),
        ("{ services(amount: 8832671371) { entities { id } } }", json!({})),
        (
            "query($p: Int!) { accounts(paginator: {page: $p, records_per_page: 1}) { page_info { page } } }",
            json!({"p": 2147483648i64}),
        ),
        (
            "query($p: Paginator) { accounts(paginator: $p) { page_info { page } } }",
            json!({"p": {"page": -2147483649i64, "records_per_page": 1}}),
        ),
        (
            "query($p: Int = 9999999999) { accounts(paginator: {page: $p, records_per_page: 1}) { page_info { page } } }",
            json!({}),
        ),
    ] {
        let body = refused(app, query, variables, "VALIDATION_FAILED").await;
        assert!(
            body.to_string().contains("32-bit"),
            "{query}: {}",
            truncate(&body)
        );
    }
    // The largest Int is fine; Int64Bit carries larger numbers.
    let ok = app
        .ok(
            "{ accounts(paginator: {page: 2147483647, records_per_page: 1}) { page_info { page } } }",
            json!({}),
        )
        .await;
    assert_eq!(ok["accounts"]["page_info"]["page"], 2147483647);
    app.ok(
        "{ accounts(id: 9223372036854775807) { entities { id } } }",
        json!({}),
    )
    .await;
});

on_both!(every_mutation_field_counts_against_the_limits, |app| {
    // A thousand aliased writes in one operation are too complex, and write nothing.
    let mut q = String::from("mutation {");
    for i in 0..1_000 {
        q.push_str(&format!(
            " a{i}: createAccountType(input: {{name: \"t{i}\", type: RESIDENTIAL}}) {{ id }}"
        ));
    }
    q.push('}');
    let body = refused(app, &q, json!({}), "QUERY_TOO_COMPLEX").await;
    assert!(body.to_string().contains("mutations"), "{body}");

    // Each mutation field is one operation for the rate limit.
    let mut config = fathom::config::Config::for_database("unused");
    config.limits.rate_limit_per_minute = 1;
    config.limits.rate_limit_burst = 20;
    let router = fathom::app::router(app.db.clone(), &config).unwrap();
    let mut q = String::from("mutation {");
    for i in 0..30 {
        q.push_str(&format!(
            " a{i}: createAccountType(input: {{name: \"u{i}\", type: RESIDENTIAL}}) {{ id }}"
        ));
    }
    q.push('}');
    let before = app.fingerprint().await;
    let request = axum::http::Request::post("/api/graphql")
        .header("authorization", format!("Bearer {}", app.token))
        .header("content-type", "application/json")
        .body(axum::body::Body::from(json!({ "query": q }).to_string()))
        .unwrap();
    let response = tower::ServiceExt::oneshot(router, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"));
    assert_eq!(app.fingerprint().await, before);
});

on_both!(a_statement_running_past_its_limit_is_stopped, |app| {
    let db = fathom::db::connect_with(&app.url, None, Some(Duration::from_secs(1)))
        .await
        .unwrap();
    let backend = db.get_database_backend();
    let slow = match app.backend {
        "postgres" => "SELECT pg_sleep(5) IS NULL AS x".to_owned(),
        _ => "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT COUNT(*) AS x FROM (SELECT i FROM n LIMIT 2000000000)".to_owned(),
    };
    use sea_orm::ConnectionTrait;
    let started = std::time::Instant::now();
    let result = db
        .query_one_raw(sea_orm::Statement::from_string(backend, slow))
        .await;
    // Stopped by the limit, not failed otherwise: PostgreSQL's query_canceled (57014,
    // "canceling statement due to statement timeout"), SQLite's SQLITE_INTERRUPT (9), which
    // the progress handler causes.
    let err = result.expect_err("the statement was stopped");
    let code = match &err {
        sea_orm::DbErr::Query(sea_orm::RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.into_owned()),
        _ => None,
    };
    let expected = if app.backend == "postgres" {
        "57014"
    } else {
        "9"
    };
    assert_eq!(code.as_deref(), Some(expected), "{err}");
    assert!(started.elapsed() < Duration::from_secs(30));
    // The connection is still good for the next statement.
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            backend,
            "SELECT 1 AS x".to_owned(),
        ))
        .await
        .unwrap();
    assert!(row.is_some());
    db.close().await.ok();
});

on_both!(
    a_request_over_its_time_is_stopped_and_answered_at_once,
    |app| {
        let mut config = fathom::config::Config::for_database("unused");
        config.limits.request_timeout_secs = 1;
        let router = fathom::app::router(app.db.clone(), &config).unwrap();
        // Twenty thousand root fields, each a database read: within the cost limit, but slow.
        let mut q = String::from("{");
        for i in 0..20_000 {
            q.push_str(&format!(" a{i}: me {{ name }}"));
        }
        q.push('}');
        let request = axum::http::Request::post("/api/graphql")
            .header("authorization", format!("Bearer {}", app.token))
            .header("content-type", "application/json")
            .body(axum::body::Body::from(json!({ "query": q }).to_string()))
            .unwrap();
        let started = std::time::Instant::now();
        let response = tower::ServiceExt::oneshot(router.clone(), request)
            .await
            .unwrap();
        let elapsed = started.elapsed();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(error_code(&body).as_deref(), Some("QUERY_TOO_COMPLEX"));
        assert!(
            elapsed < Duration::from_secs(8),
            "answered after {elapsed:?}"
        );
        assert!(app.gql(ME, json!({})).await.get("errors").is_none());
    }
);
