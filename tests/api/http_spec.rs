//! GraphQL over HTTP (the GraphQL Foundation's specification): media types, status codes, and
//! the shape of request errors under `application/graphql-response+json`.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use serde_json::{json, Value};

use crate::common::{self, error_code};

const GRAPHQL_JSON: &str = "application/graphql-response+json";

fn post(
    app: &common::TestApp,
    accept: Option<&str>,
    content_type: Option<&str>,
    body: String,
) -> Request<Body> {
    let mut builder =
        Request::post("/api/graphql").header("authorization", format!("Bearer {}", app.token));
    if let Some(accept) = accept {
        builder = builder.header("accept", accept);
    }
    if let Some(content_type) = content_type {
        builder = builder.header("content-type", content_type);
    }
    builder.body(Body::from(body)).unwrap()
}

fn query(q: &str) -> String {
    json!({ "query": q }).to_string()
}

async fn send(
    app: &common::TestApp,
    accept: Option<&str>,
    body: String,
) -> (StatusCode, HeaderMap, Value) {
    let (status, headers, text) = app
        .send_full(post(app, accept, Some("application/json"), body))
        .await;
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, headers, body)
}

fn content_type(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Request errors of each kind the specification names, with the code each carries.
fn request_errors() -> Vec<(&'static str, String)> {
    vec![
        ("a document that does not parse", query("{ me { username }")),
        (
            "a document that does not validate",
            query("{ me { no_such_field } }"),
        ),
        (
            "a variable that cannot be coerced",
            json!({
                "query": "query($n: Int!) { accounts(paginator: {page: 1, records_per_page: $n}) { entities { id } } }",
                "variables": {"n": "many"}
            })
            .to_string(),
        ),
        (
            "a required variable left out",
            json!({"query": "query($id: Int64Bit!) { accounts(id: $id) { entities { id } } }"})
                .to_string(),
        ),
        (
            "no operation chosen among several",
            query("query A { me { username } } query B { me { name } }"),
        ),
        (
            "a body that is not a GraphQL request",
            json!({"notquery": "{ me { username } }"}).to_string(),
        ),
        (
            "a query over a limit",
            query(&format!("{{ me {}{} }}", "{".repeat(70), "}".repeat(70))),
        ),
    ]
}

on_both!(
    the_graphql_response_media_type_is_answered_when_asked_for,
    |app| {
        for accept in [
            GRAPHQL_JSON,
            "application/graphql-response+json, application/json;q=0.9",
            "application/json;q=0.5, application/graphql-response+json",
        ] {
            let (status, headers, body) =
                send(app, Some(accept), query("{ me { username } }")).await;
            assert_eq!(status, StatusCode::OK, "{accept}: {body}");
            assert!(
                content_type(&headers).starts_with(GRAPHQL_JSON),
                "{accept}: {headers:?}"
            );
            assert_eq!(body["data"]["me"]["username"], "admin");
            assert!(body.get("errors").is_none(), "{body}");
        }
    }
);

on_both!(
    application_json_answers_clients_that_ask_for_it_or_ask_for_nothing,
    |app| {
        for accept in [
            None,
            Some("application/json"),
            Some("*/*"),
            Some("application/*"),
        ] {
            let (status, headers, body) = send(app, accept, query("{ me { username } }")).await;
            assert_eq!(status, StatusCode::OK, "{accept:?}");
            assert!(
                content_type(&headers).starts_with("application/json"),
                "{accept:?}: {headers:?}"
            );
            assert_eq!(body["data"]["me"]["username"], "admin");
        }
    }
);

on_both!(an_accept_header_allowing_neither_type_is_406, |app| {
    for accept in ["text/html", "application/xml", "application/json;q=0"] {
        let (status, _, body) = send(app, Some(accept), query("{ me { username } }")).await;
        assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{accept}: {body}");
        assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
    }
});

on_both!(
    request_errors_under_the_graphql_media_type_are_400_without_data,
    |app| {
        for (what, request) in request_errors() {
            let (status, headers, body) = send(app, Some(GRAPHQL_JSON), request).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{what}: {body}");
            assert!(content_type(&headers).starts_with(GRAPHQL_JSON), "{what}");
            assert!(body.get("data").is_none(), "{what}: no data entry: {body}");
            let code = error_code(&body).unwrap_or_else(|| panic!("{what}: a code: {body}"));
            assert!(
                code == "VALIDATION_FAILED" || code == "QUERY_TOO_COMPLEX",
                "{what}: {code}"
            );
        }
    }
);

on_both!(
    request_errors_under_application_json_stay_200_with_null_data,
    |app| {
        for (what, request) in request_errors() {
            let (status, _, body) = send(app, Some("application/json"), request).await;
            assert_eq!(status, StatusCode::OK, "{what}: {body}");
            assert!(
                body.get("data").is_some_and(Value::is_null),
                "{what}: {body}"
            );
            assert!(error_code(&body).is_some(), "{what}: {body}");
        }
    }
);

on_both!(
    a_field_error_is_a_200_with_data_under_both_media_types,
    |app| {
        common::create_account(app, "Ada Lovelace", 1).await;
        // The account's non-null `invoices` fails (page 0): the account, a nullable element,
        // becomes null; `me` answered.
        let q = query(
            "{ me { username } accounts { entities { id invoices(paginator: {page: 0, records_per_page: 5}) { entities { id } } } } }",
        );
        for accept in [GRAPHQL_JSON, "application/json"] {
            let (status, _, body) = send(app, Some(accept), q.clone()).await;
            assert_eq!(status, StatusCode::OK, "{accept}: {body}");
            assert_eq!(body["data"]["me"]["username"], "admin", "{accept}: {body}");
            assert_eq!(
                body["data"]["accounts"]["entities"],
                json!([null]),
                "{body}"
            );
            assert_eq!(
                error_code(&body).as_deref(),
                Some("VALIDATION_FAILED"),
                "{body}"
            );
        }
        // A non-null root field that fails makes `data` null: still an executed operation,
        // 200 with a `data` entry under both media types.
        let q = query("{ me { username } p: disconnect_account_preview(id: 999999) { prorate } }");
        for accept in [GRAPHQL_JSON, "application/json"] {
            let (status, _, body) = send(app, Some(accept), q.clone()).await;
            assert_eq!(status, StatusCode::OK, "{accept}: {body}");
            assert!(
                body.get("data").is_some_and(Value::is_null),
                "{accept}: {body}"
            );
            assert_eq!(body["errors"][0]["path"], json!(["p"]), "{body}");
            assert_eq!(error_code(&body).as_deref(), Some("NOT_FOUND"), "{body}");
        }
    }
);

on_both!(
    a_batch_under_the_graphql_media_type_drops_data_only_where_a_request_failed,
    |app| {
        let ok = json!({"query": "{ me { username } }"});
        let broken = json!({"query": "{ me { username }"});
        let (status, _, body) =
            send(app, Some(GRAPHQL_JSON), json!([ok, broken]).to_string()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body[0]["data"]["me"]["username"], "admin");
        assert!(body[1].get("data").is_none(), "{body}");
        assert_eq!(
            body[1]["errors"][0]["extensions"]["code"],
            "VALIDATION_FAILED"
        );
        let (status, _, body) =
            send(app, Some(GRAPHQL_JSON), json!([broken, broken]).to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(body[0].get("data").is_none() && body[1].get("data").is_none());
    }
);

on_both!(
    refusals_under_the_graphql_media_type_keep_their_status_and_have_no_data,
    |app| {
        let request = Request::post("/api/graphql")
            .header("accept", GRAPHQL_JSON)
            .header("content-type", "application/json")
            .body(Body::from(query("{ me { username } }")))
            .unwrap();
        let (status, headers, text) = app.send_full(request).await;
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(content_type(&headers).starts_with(GRAPHQL_JSON));
        assert!(body.get("data").is_none(), "{body}");
        assert_eq!(error_code(&body).as_deref(), Some("UNAUTHENTICATED"));
    }
);

on_both!(
    a_post_without_a_json_content_type_is_415_and_runs_nothing,
    |app| {
        let before = app.fingerprint().await;
        let mutation = query(
            "mutation { createAccountType(input: {name: \"Refused\", type: RESIDENTIAL}) { id } }",
        );
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
            Some("application/graphql"),
            Some("application/json; charset=latin1"),
        ] {
            let (status, headers, text) = app
                .send_full(post(app, None, content_type, mutation.clone()))
                .await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}: {text}"
            );
            assert_eq!(headers["accept-post"], "application/json");
            let body: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
        }
        assert_eq!(app.fingerprint().await, before, "nothing was written");
        let (status, _, text) = app
            .send_full(post(
                app,
                None,
                Some("application/json; charset=utf-8"),
                query("{ me { username } }"),
            ))
            .await;
        assert_eq!(status, StatusCode::OK, "{text}");
    }
);

on_both!(a_mutation_sent_with_get_is_405_naming_post, |app| {
    let before = app.fingerprint().await;
    for accept in [GRAPHQL_JSON, "application/json"] {
        let request = Request::get(
            "/api/graphql?query=mutation%20%7B%20createAccountType(input%3A%20%7Bname%3A%20%22Refused%22%2C%20type%3A%20RESIDENTIAL%7D)%20%7B%20id%20%7D%20%7D",
        )
        .header("authorization", format!("Bearer {}", app.token))
        .header("accept", accept)
        .body(Body::empty())
        .unwrap();
        let (status, headers, text) = app.send_full(request).await;
        assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{accept}: {text}");
        assert_eq!(headers[header::ALLOW], "POST");
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(error_code(&body).as_deref(), Some("VALIDATION_FAILED"));
    }
    assert_eq!(app.fingerprint().await, before, "nothing was written");
});
