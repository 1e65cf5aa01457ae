//! `/graphiql`: GraphiQL served from files embedded in the binary, so that it works on a network
//! without internet (ISPs often run billing on closed management networks).
//!
//! The page (`assets/graphiql/index.html`) loads React, ReactDOM and GraphiQL's UMD build
//! (`assets/graphiql/vendor/`, pinned versions refreshed by `scripts/refresh-graphiql-assets`, their
//! licenses beside them) and fathom's own script, which puts a token field above GraphiQL and sends
//! `Authorization: Bearer <token>` with every request (see `assets/graphiql/fathom-graphiql.js`).
//!
//! Assets live under `/graphiql/assets/<tag>/<file>`, where the tag is a hash of the vendored
//! versions and of fathom's own files: a browser may cache them for a year, and a new build
//! changes their URLs. The page itself is revalidated on every load. Scripts and style sheets are
//! stored a second time, gzipped by the refresh script, and sent so to browsers that accept it.
//!
//! The page's Content-Security-Policy lets it load nothing from another origin, run no inline
//! script and be framed by no one; styles may be inline because GraphiQL's dialogs inject a
//! `<style>` element.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

/// Where the GraphiQL page is served.
pub const PAGE_PATH: &str = "/graphiql";

/// The page's Content-Security-Policy: same origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

/// One file under `/graphiql/assets/<tag>/`.
struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static [u8],
    /// The same bytes gzipped, for browsers that accept it.
    gzip: Option<&'static [u8]>,
}

macro_rules! vendored {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../assets/graphiql/vendor/", $name)),
            gzip: Some(include_bytes!(concat!(
                "../assets/graphiql/vendor/",
                $name,
                ".gz"
            ))),
        }
    };
}

const VERSIONS: &str = include_str!("../assets/graphiql/vendor/VERSIONS");
const PAGE_HTML: &str = include_str!("../assets/graphiql/index.html");
const PAGE_JS: &str = include_str!("../assets/graphiql/fathom-graphiql.js");
const PAGE_CSS: &str = include_str!("../assets/graphiql/fathom-graphiql.css");
const LICENSES: &str = concat!(
    "Third-party software in fathom's GraphiQL page (versions: see below).\n\n",
    "== graphiql (bundles graphql-js, @graphiql/react, @graphiql/toolkit and their plugins) ==\n",
    include_str!("../assets/graphiql/vendor/LICENSE.graphiql"),
    "\n== react ==\n",
    include_str!("../assets/graphiql/vendor/LICENSE.react"),
    "\n== react-dom ==\n",
    include_str!("../assets/graphiql/vendor/LICENSE.react-dom"),
    "\n== versions ==\n",
    include_str!("../assets/graphiql/vendor/VERSIONS"),
);

static ASSETS: &[Asset] = &[
    vendored!("graphiql.min.js", JS),
    vendored!("graphiql.min.css", CSS),
    vendored!("react.production.min.js", JS),
    vendored!("react-dom.production.min.js", JS),
    Asset {
        name: "fathom-graphiql.js",
        content_type: JS,
        body: PAGE_JS.as_bytes(),
        gzip: None,
    },
    Asset {
        name: "fathom-graphiql.css",
        content_type: CSS,
        body: PAGE_CSS.as_bytes(),
        gzip: None,
    },
    Asset {
        name: "LICENSES.txt",
        content_type: TEXT,
        body: LICENSES.as_bytes(),
        gzip: None,
    },
];

/// The assets' version in their URLs: the vendored versions (each pins its files' bytes) and
/// fathom's own files, hashed.
static TAG: LazyLock<String> = LazyLock::new(|| {
    let mut hash = Sha256::new();
    for part in [VERSIONS, PAGE_JS, PAGE_CSS] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part.as_bytes());
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
});

static PAGE: LazyLock<String> = LazyLock::new(|| PAGE_HTML.replace("{{assets}}", &assets_prefix()));

/// `/graphiql/assets/<tag>`: where this build's assets are served.
pub fn assets_prefix() -> String {
    format!("{PAGE_PATH}/assets/{}", *TAG)
}

/// The page and its assets.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(PAGE_PATH, get(page))
        .route("/graphiql/assets/{tag}/{file}", get(asset))
}

async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        PAGE.as_str(),
    )
        .into_response()
}

async fn asset(Path((tag, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    // An old tag names files this build no longer has: refusing it keeps a year-long cache from
    // holding new bytes under an old name.
    let Some(asset) = ASSETS
        .iter()
        .find(|a| a.name == file)
        .filter(|_| tag == *TAG)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let gzip = asset.gzip.filter(|_| {
        headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(accepts_gzip)
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, IMMUTABLE),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        gzip.unwrap_or(asset.body),
    )
        .into_response();
    if asset.gzip.is_some() {
        let h = response.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        if gzip.is_some() {
            h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
    }
    response
}

/// Whether an `Accept-Encoding` value accepts gzip (named, or `*`, with a non-zero weight).
fn accepts_gzip(value: &str) -> bool {
    let mut star = false;
    for item in value.split(',') {
        let mut parts = item.split(';');
        let coding = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let weight = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .filter_map(|q| q.trim().parse::<f32>().ok())
            .next()
            .unwrap_or(1.0);
        match coding.as_str() {
            "gzip" | "x-gzip" => return weight > 0.0,
            "*" => star = weight > 0.0,
            _ => {}
        }
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_is_accepted_when_named_or_starred_with_a_weight_above_zero() {
        assert!(accepts_gzip("gzip, deflate, br, zstd"));
        assert!(accepts_gzip("br;q=1.0, gzip;q=0.8"));
        assert!(accepts_gzip("*"));
        assert!(accepts_gzip("identity, X-GZIP"));
        assert!(!accepts_gzip("gzip;q=0, *"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("*;q=0"));
        assert!(!accepts_gzip(""));
    }

    #[test]
    fn the_page_names_only_assets_this_build_serves() {
        let prefix = format!("{}/", assets_prefix());
        let mut named = 0;
        for (i, _) in PAGE.match_indices(&prefix) {
            let rest = &PAGE[i + prefix.len()..];
            let name = &rest[..rest.find('"').expect("a quoted URL")];
            assert!(ASSETS.iter().any(|a| a.name == name), "{name}");
            named += 1;
        }
        assert_eq!(named, 7, "four scripts, two style sheets, the licenses");
        assert!(!PAGE.contains("{{"), "every placeholder is filled");
        // Nothing from another origin: no absolute or protocol-relative URL in src or href.
        for attr in ["src=\"", "href=\""] {
            for (i, _) in PAGE.match_indices(attr) {
                let url = &PAGE[i + attr.len()..];
                assert!(
                    (url.starts_with('/') && !url.starts_with("//")) || url.starts_with("data:"),
                    "{}",
                    &url[..url.find('"').unwrap_or(url.len())]
                );
            }
        }
    }
}
