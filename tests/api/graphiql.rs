//! `/graphiql` is served by fathom itself: the page and every script and style sheet it loads,
//! from the binary, with a policy that lets it load nothing from another origin.
//! (scripts/browser-test drives the page in a real browser.)

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::common;

async fn get(
    app: &common::TestApp,
    path: &str,
    accept_encoding: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut request = Request::get(path);
    if let Some(value) = accept_encoding {
        request = request.header("accept-encoding", value);
    }
    let response = app
        .router
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .expect("router");
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, body.to_vec())
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).map(|v| v.to_str().unwrap()).unwrap_or("")
}

/// The URLs in the page's `src="…"` and `href="…"` attributes.
fn urls(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        for (i, _) in page.match_indices(attr) {
            let rest = &page[i + attr.len()..];
            out.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    out
}

/// CRC-32 (IEEE), as a gzip trailer records it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

on_both!(
    graphiql_loads_every_asset_from_fathom_under_a_same_origin_policy,
    |app| {
        let (status, headers, body) = get(app, "/graphiql", None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(header(&headers, "content-type"), "text/html; charset=utf-8");
        assert_eq!(header(&headers, "cache-control"), "no-cache");
        let policy = header(&headers, "content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "connect-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{directive} in {policy}");
        }
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        let page = String::from_utf8(body).unwrap();
        assert!(page.contains(r#"data-endpoint="/api/graphql""#));

        let assets: Vec<String> = urls(&page)
            .into_iter()
            .filter(|u| !u.starts_with("data:"))
            .collect();
        assert_eq!(assets.len(), 7, "{assets:?}");
        for url in &assets {
            assert!(
                url.starts_with("/graphiql/assets/"),
                "{url} is not fathom's"
            );
            let (status, headers, plain) = get(app, url, None).await;
            assert_eq!(status, StatusCode::OK, "{url}");
            let expected_type = match url.rsplit('.').next().unwrap() {
                "js" => "text/javascript; charset=utf-8",
                "css" => "text/css; charset=utf-8",
                _ => "text/plain; charset=utf-8",
            };
            assert_eq!(header(&headers, "content-type"), expected_type, "{url}");
            assert_eq!(
                header(&headers, "cache-control"),
                "public, max-age=31536000, immutable",
                "{url}"
            );
            assert_eq!(header(&headers, "content-encoding"), "", "{url}");
            assert!(!plain.is_empty(), "{url}");

            // A browser that accepts gzip gets the vendored files gzipped: the same bytes, as the
            // gzip trailer's CRC-32 and length show.
            let (status, headers, gzipped) = get(app, url, Some("gzip, deflate, br")).await;
            assert_eq!(status, StatusCode::OK);
            if url.contains(".min.") {
                assert_eq!(header(&headers, "content-encoding"), "gzip", "{url}");
                assert_eq!(header(&headers, "vary"), "accept-encoding", "{url}");
                assert_eq!(&gzipped[..2], &[0x1f, 0x8b], "{url}");
                assert!(gzipped.len() < plain.len(), "{url}");
                let trailer = &gzipped[gzipped.len() - 8..];
                let crc = u32::from_le_bytes(trailer[..4].try_into().unwrap());
                let size = u32::from_le_bytes(trailer[4..].try_into().unwrap());
                assert_eq!(crc, crc32(&plain), "{url}: its gzip copy is of other bytes");
                assert_eq!(size as usize, plain.len(), "{url}");
            } else {
                assert_eq!(gzipped, plain, "{url}");
            }
        }
        let names: Vec<&str> = assets
            .iter()
            .map(|u| u.rsplit('/').next().unwrap())
            .collect();
        for name in [
            "react.production.min.js",
            "react-dom.production.min.js",
            "graphiql.min.js",
            "graphiql.min.css",
            "fathom-graphiql.js",
            "LICENSES.txt",
        ] {
            assert!(names.contains(&name), "{name} in {names:?}");
        }

        // Another build's tag, or a file that is not an asset, is not found.
        let tag = assets[0].split('/').nth(3).unwrap();
        let other = assets[0].replace(tag, "0000000000000000");
        assert_eq!(get(app, &other, None).await.0, StatusCode::NOT_FOUND);
        let missing = format!("/graphiql/assets/{tag}/index.html");
        assert_eq!(get(app, &missing, None).await.0, StatusCode::NOT_FOUND);

        let (_, _, licenses) =
            get(app, &format!("/graphiql/assets/{tag}/LICENSES.txt"), None).await;
        let licenses = String::from_utf8(licenses).unwrap();
        for line in [
            "graphiql 4.1.2 ",
            "react 18.3.1 ",
            "react-dom 18.3.1 ",
            "MIT License",
        ] {
            assert!(licenses.contains(line), "{line}");
        }
    }
);
