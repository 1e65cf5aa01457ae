use axum::http::StatusCode;
use fathom::service::access::tokens;
use serde_json::json;

use crate::common::{self, create_account, error_code};

on_both!(malformed_json_is_a_400, |app| {
    let (status, body) = app.post_raw(Some(&app.token), "{not json").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
});

on_both!(a_body_over_one_mebibyte_is_413_before_parsing, |app| {
    let big = format!(
        "{{\"query\": \"{{ me {{ name }} }}\", \"pad\": \"{}\"}}",
        "x".repeat(1024 * 1024 + 10)
    );
    let (status, body) = app.post_raw(Some(&app.token), big).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        error_code(&body).as_deref(),
        Some("QUERY_TOO_COMPLEX"),
        "{body}"
    );
});

on_both!(a_wrong_scalar_is_a_validation_error, |app| {
    for q in [
        "{ accounts(id: \"abc\") { entities { id } } }",
        "{ accounts(activation_date: \"2024-13-01\") { entities { id } } }",
        "{ accounts(paginator: {page: \"one\", records_per_page: 1}) { entities { id } } }",
        "{ accounts { entities { no_such_field } } }",
    ] {
        let body = app.gql(q, json!({})).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{q}: {body}"
        );
    }
});

on_both!(a_sixty_level_deep_query_is_refused, |app| {
    let mut q = String::from("id");
    for _ in 0..30 {
        q = format!("parent_account {{ {q} }}");
    }
    for _ in 0..30 {
        q = format!("child_accounts {{ entities {{ {q} }} }}");
    }
    let body = app
        .gql(
            &format!("{{ accounts {{ entities {{ {q} }} }} }}"),
            json!({}),
        )
        .await;
    assert_eq!(
        error_code(&body).as_deref(),
        Some("QUERY_TOO_COMPLEX"),
        "{body}"
    );
});

on_both!(
    nested_big_pages_are_too_complex_but_one_big_page_is_fine,
    |app| {
        let ok = app
        .gql("{ accounts(paginator: {page: 1, records_per_page: 10000}) { entities { id name account_status_id account_type_id activation_date next_bill_date account_status { id name } account_type { id name } company { id name } parent_account { id name } } } }", json!({}))
        .await;
        assert!(ok.get("errors").is_none(), "{ok}");
        let too_much = app
        .gql("{ accounts(paginator: {page: 1, records_per_page: 10000}) { entities { child_accounts(paginator: {page: 1, records_per_page: 10000}) { entities { id } } } } }", json!({}))
        .await;
        assert_eq!(error_code(&too_much).as_deref(), Some("QUERY_TOO_COMPLEX"));
    }
);

on_both!(
    an_id_filter_given_as_a_null_variable_does_not_shrink_the_cost,
    |app| {
        let q = "query($id: Int64Bit) { accounts(id: $id, paginator: {page: 1, records_per_page: 10000}) { entities { child_accounts(paginator: {page: 1, records_per_page: 10000}) { entities { id } } } } }";
        let body = app.gql(q, json!({"id": null})).await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("QUERY_TOO_COMPLEX"),
            "{body}"
        );
        let body = app.gql(q, json!({"id": 1})).await;
        assert!(
            body.get("errors").is_none(),
            "one account's children: {body}"
        );
    }
);

on_both!(batches_run_each_operation_up_to_the_cap, |app| {
    let one = json!({"query": "{ me { username } }"});
    let (status, body) = app
        .post_raw(Some(&app.token), json!([one, one]).to_string())
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body.as_array().unwrap().len(), 2);
    let eleven: Vec<_> = (0..11).map(|_| one.clone()).collect();
    let (status, body) = app
        .post_raw(Some(&app.token), json!(eleven).to_string())
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
});

on_both!(variables_may_arrive_as_a_json_string, |app| {
    // Two accounts: the answer names the one whose id the string's variable carries.
    create_account(app, "First", 1).await;
    let second = create_account(app, "Second", 1).await;
    let body = json!({
        "query": "query($id: Int64Bit!) { accounts(id: $id) { entities { id name } page_info { total_count } } }",
        "variables": json!({"id": second.to_string()}).to_string()
    });
    let (status, body) = app.post_raw(Some(&app.token), body.to_string()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(
        body["data"]["accounts"],
        json!({"entities": [{"id": second.to_string(), "name": "Second"}], "page_info": {"total_count": 1}}),
        "{body}"
    );
});

on_both!(get_serves_queries_but_not_mutations, |app| {
    use axum::body::Body;
    use axum::http::Request;
    let get = |q: &str| {
        let uri = format!(
            "/api/graphql?query={}",
            q.replace(' ', "%20")
                .replace('{', "%7B")
                .replace('}', "%7D")
        );
        Request::get(uri)
            .header("authorization", format!("Bearer {}", app.token))
            .body(Body::empty())
            .unwrap()
    };
    let (status, body) = app.send(get("{ me { username } }")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["me"]["username"], "admin");
    let (_, body) = app
        .send(get("mutation { archiveAccount(id: 1) { id } }"))
        .await;
    assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
});

on_both!(introspection_works_for_an_authenticated_caller, |app| {
    let data = app
        .ok(
            "{ __schema { queryType { name } types { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "Query");
    let graphiql_style = include_str!("introspection.graphql");
    let body = app.gql(graphiql_style, json!({})).await;
    assert!(
        body.get("errors").is_none(),
        "GraphiQL introspection must pass the limits: {}",
        body["errors"]
    );
});

on_both!(a_token_over_its_rate_is_told_to_retry_later, |app| {
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;
    let mut config = fathom::config::Config::for_database("unused");
    config.limits.rate_limit_per_minute = 1;
    config.limits.rate_limit_burst = 3;
    let router = fathom::app::router(app.db.clone(), &config).unwrap();
    let send = |token: String| {
        let router = router.clone();
        async move {
            let request = Request::post("/api/graphql")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(Body::from(r#"{"query":"{ me { username } }"}"#))
                .unwrap();
            router.oneshot(request).await.unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(send(app.token.clone()).await.status(), StatusCode::OK);
    }
    let limited = send(app.token.clone()).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let bytes = http_body_util::BodyExt::collect(limited.into_body())
        .await
        .unwrap()
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(error_code(&body).as_deref(), Some("RATE_LIMITED"));
    assert_eq!(body["errors"][0]["extensions"]["retry_after"], retry);
    // Another token has its own allowance.
    let (_, other) = tokens::create_token(&app.db, 1, "other").await.unwrap();
    assert_eq!(
        send(other.as_str().to_owned()).await.status(),
        StatusCode::OK
    );
});

/// `createAccount` of `name` with `directives` on the field.
fn create_with(name: &str, directives: &str) -> String {
    format!(
        "mutation {{ createAccount(input: {{name: \"{name}\", account_status_id: 1, account_type_id: 1, company_id: 1, primary_contact: {{name: \"{name}\"}}}}) {directives} {{ id name }} }}"
    )
}

async fn post_to(router: &axum::Router, token: &str, query: &str) -> serde_json::Value {
    let request = common::graphql_request(Some(token), json!({ "query": query }).to_string());
    let (status, _, bytes) = common::answer(router, request).await;
    assert_eq!(status, StatusCode::OK);
    serde_json::from_slice(&bytes).unwrap()
}

on_both!(
    a_field_with_one_directive_over_the_limit_is_refused_and_writes_nothing,
    |app| {
        // The default, 5: six on one field are refused before anything runs.
        let before = app.fingerprint().await;
        let body = app
            .gql(
                &create_with("Six", &" @include(if: true)".repeat(6)),
                json!({}),
            )
            .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("QUERY_TOO_COMPLEX"),
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("6 directives; at most 5"), "{message}");
        assert!(body["data"].is_null(), "{body}");
        assert_eq!(app.fingerprint().await, before, "nothing is written");
        let body = app
            .gql(
                &create_with("Five", &" @include(if: true)".repeat(5)),
                json!({}),
            )
            .await;
        // Five pass the limit: what refuses them is GraphQL's own rule against repeating a
        // directive (only `@include` and `@skip` apply to a field), not their number.
        assert_eq!(
            error_code(&body).as_deref(),
            Some("VALIDATION_FAILED"),
            "{body}"
        );
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .starts_with("Duplicate directive"),
            "{body}"
        );
        assert_eq!(app.fingerprint().await, before, "nothing is written");

        // Set lower (FATHOM_MAX_DIRECTIVES=2): two pass and the account is made; three are refused.
        let mut config = fathom::config::Config::for_database(&app.url);
        config.limits.max_directives = 2;
        let router = fathom::app::router(app.db.clone(), &config).unwrap();
        let made = post_to(
            &router,
            &app.token,
            &create_with("Two", "@include(if: true) @skip(if: false)"),
        )
        .await;
        assert!(made.get("errors").is_none(), "{made}");
        assert_eq!(made["data"]["createAccount"]["name"], "Two");
        let before = app.fingerprint().await;
        let body = post_to(
            &router,
            &app.token,
            &create_with(
                "Three",
                "@include(if: true) @skip(if: false) @include(if: true)",
            ),
        )
        .await;
        assert_eq!(
            error_code(&body).as_deref(),
            Some("QUERY_TOO_COMPLEX"),
            "{body}"
        );
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("3 directives; at most 2"), "{message}");
        assert_eq!(app.fingerprint().await, before, "nothing is written");
    }
);
