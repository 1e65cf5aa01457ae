//! `/graphiql`: GraphiQL served from files embedded in the binary, so that it works on a network
//! without internet (ISPs often run billing on closed management networks).
//!
//! The page (`assets/graphiql/index.html`) loads React, ReactDOM and GraphiQL's UMD build
//! (`assets/graphiql/vendor/`, pinned versions refreshed by `scripts/refresh-graphiql-assets`, their
//! licenses beside them) and fathom's own script, which puts a token field above GraphiQL and sends
//! `Authorization: Bearer <token>` with every request (see `assets/graphiql/fathom-graphiql.js`).
//!
//! Assets live under `/graphiql/assets/<tag>/<file>`, the tag a hash of the vendored versions and
//! of fathom's own files, served as [`super`] describes; the vendored scripts and style sheets are
//! stored a second time, gzipped by the refresh script. The page's Content-Security-Policy allows
//! inline styles because GraphiQL's dialogs inject a `<style>` element.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::{Asset, CSS, JS, TEXT};

/// Where the GraphiQL page is served.
pub const PAGE_PATH: &str = "/graphiql";

/// The page's Content-Security-Policy: same origin only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; \
     connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

macro_rules! vendored {
    ($name:literal, $type:expr) => {
        Asset {
            name: $name,
            content_type: $type,
            body: include_bytes!(concat!("../../assets/graphiql/vendor/", $name)),
            gzip: Some(include_bytes!(concat!(
                "../../assets/graphiql/vendor/",
                $name,
                ".gz"
            ))),
        }
    };
}

const VERSIONS: &str = include_str!("../../assets/graphiql/vendor/VERSIONS");
const PAGE_HTML: &str = include_str!("../../assets/graphiql/index.html");
const PAGE_JS: &str = include_str!("../../assets/graphiql/fathom-graphiql.js");
const PAGE_CSS: &str = include_str!("../../assets/graphiql/fathom-graphiql.css");
const LICENSES: &str = concat!(
    "Third-party software in fathom's GraphiQL page (versions: see below).\n\n",
    "== graphiql (bundles graphql-js, @graphiql/react, @graphiql/toolkit and their plugins) ==\n",
    include_str!("../../assets/graphiql/vendor/LICENSE.graphiql"),
    "\n== react ==\n",
    include_str!("../../assets/graphiql/vendor/LICENSE.react"),
    "\n== react-dom ==\n",
    include_str!("../../assets/graphiql/vendor/LICENSE.react-dom"),
    "\n== versions ==\n",
    include_str!("../../assets/graphiql/vendor/VERSIONS"),
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
static TAG: LazyLock<String> =
    LazyLock::new(|| super::tag_of([VERSIONS, PAGE_JS, PAGE_CSS].map(str::as_bytes)));

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
    super::page(PAGE.as_str(), CONTENT_SECURITY_POLICY)
}

async fn asset(Path((tag, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    super::asset(ASSETS, &TAG, &tag, &file, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_assets_this_build_serves() {
        let named =
            super::super::assert_page_names_only_its_assets(&PAGE, &assets_prefix(), ASSETS);
        assert_eq!(named, 7, "four scripts, two style sheets, the licenses");
    }
}
