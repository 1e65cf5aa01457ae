//! The CORS allowlist (`FATHOM_CORS_ORIGINS`): a listed front-end origin gets the CORS
//! headers, on the preflight and on the request itself; any other origin is not let in (no
//! `Access-Control-Allow-Origin`, which is what a browser looks for), and without the setting
//! no origin is.

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use serde_json::Value;

use crate::common::{self, TestApp};

const ALLOWED: [&str; 2] = ["https://app.example.com", "https://admin.example.com"];
/// Near misses of the allowed ones, and another site.
const REFUSED: [&str; 4] = [
    "https://evil.example.com",
    "http://app.example.com",
    "https://app.example.com.evil.net",
    "null",
];

fn router(app: &TestApp, origins: &str) -> Router {
    let mut config = fathom::config::Config::for_database(&app.url);
    config.cors_origins = origins.to_owned();
    fathom::app::router(app.db.clone(), &config).unwrap()
}

async fn preflight(router: &Router, origin: &str) -> (StatusCode, HeaderMap) {
    let request = Request::options("/api/graphql")
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type,idempotency-key",
        )
        .body(Body::empty())
        .unwrap();
    let (status, headers, _) = common::answer(router, request).await;
    (status, headers)
}

async fn request(app: &TestApp, router: &Router, origin: &str) -> HeaderMap {
    let mut request =
        common::graphql_request(Some(&app.token), r#"{"query": "{ me { username } }"}"#);
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    let (status, headers, bytes) = common::answer(router, request).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body["data"]["me"]["username"], "admin", "answered: {body}");
    headers
}

/// The comma-separated values of `name`, lower-cased.
fn list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .flat_map(|v| v.to_str().unwrap().split(','))
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .collect()
}

on_both!(
    an_allowed_origin_gets_the_cors_headers_and_another_does_not,
    |app| {
        let router = router(app, " https://app.example.com, https://admin.example.com ");
        for origin in ALLOWED {
            let (status, headers) = preflight(&router, origin).await;
            assert!(status.is_success(), "preflight from {origin}: {status}");
            assert_eq!(headers["access-control-allow-origin"], origin);
            assert!(list(&headers, "access-control-allow-methods").contains(&"post".to_owned()));
            let allowed = list(&headers, "access-control-allow-headers");
            for header in ["authorization", "content-type", "idempotency-key"] {
                assert!(
                    allowed.contains(&header.to_owned()),
                    "{header} in {allowed:?}"
                );
            }
            assert!(
                list(&headers, "vary").iter().any(|v| v == "origin"),
                "{headers:?}"
            );

            let headers = request(app, &router, origin).await;
            assert_eq!(headers["access-control-allow-origin"], origin);
            let exposed = list(&headers, "access-control-expose-headers");
            for header in ["idempotency-replayed", "x-request-id"] {
                assert!(
                    exposed.contains(&header.to_owned()),
                    "{header} in {exposed:?}"
                );
            }
        }
        for origin in REFUSED {
            // The header that lets a page of the origin in is missing (the methods and headers
            // allowed are listed to any preflight; without this one the browser refuses).
            let (_, headers) = preflight(&router, origin).await;
            assert!(
                headers.get("access-control-allow-origin").is_none(),
                "preflight from {origin}: {headers:?}"
            );
            // The request itself is answered (CORS is the browser's to enforce), without the
            // header that would let a page of that origin read the answer.
            let headers = request(app, &router, origin).await;
            assert!(
                headers.get("access-control-allow-origin").is_none(),
                "request from {origin}: {headers:?}"
            );
        }
    }
);

on_both!(without_an_allowlist_no_origin_gets_cors_headers, |app| {
    let router = router(app, "");
    for origin in ALLOWED.iter().chain(&REFUSED) {
        let (_, headers) = preflight(&router, origin).await;
        assert!(
            headers.get("access-control-allow-origin").is_none(),
            "preflight from {origin}: {headers:?}"
        );
        let headers = request(app, &router, origin).await;
        assert!(
            headers.get("access-control-allow-origin").is_none(),
            "request from {origin}: {headers:?}"
        );
    }
});

/// The variables README names set the fields these tests set.
#[test]
fn the_cors_and_directive_limits_are_read_from_the_variables_readme_names() {
    use clap::Args;
    let command = fathom::config::Config::augment_args(clap::Command::new("fathom"));
    for (field, variable) in [
        ("cors_origins", "FATHOM_CORS_ORIGINS"),
        ("max_directives", "FATHOM_MAX_DIRECTIVES"),
    ] {
        let arg = command
            .get_arguments()
            .find(|a| a.get_id() == field)
            .unwrap_or_else(|| panic!("no argument {field}"));
        assert_eq!(
            arg.get_env(),
            Some(std::ffi::OsStr::new(variable)),
            "{field}"
        );
    }
}
