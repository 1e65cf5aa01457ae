//! `/`: the operator's console, a single page over the public GraphQL API (its own token, as any
//! front-end app), served from files embedded in the binary.
//!
//! The page (`assets/console/index.html`) loads fathom's own ES modules (`assets/console/*.mjs`:
//! the router and token in `app.mjs`, one module per screen) over Preact with htm and uPlot
//! (`assets/console/vendor/`, pinned versions refreshed by `scripts/refresh-console-assets`,
//! their licenses beside them). No build step: `cargo build` embeds the files as they are.
//!
//! Each screen has its own URL ([`SCREENS`]), all answered with the same page, so a reload or a
//! bookmark opens that screen; any other path stays a 404. Assets live under
//! `/console/assets/<tag>/<file>`, the tag a hash of every file, served as [`super`] describes;
//! each script and style sheet is gzipped once, when first asked for. The Content-Security-Policy
//! is stricter than GraphiQL's: no inline style either (the views set styles through the DOM).

use std::io::Write;
use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::{Asset, CSS, JS, TEXT};

/// The console's screens: each path is answered with the page, which shows that screen.
pub const SCREENS: &[&str] = &[
    "/",
    "/accounts",
    "/accounts/{id}",
    "/reports/activations-and-disconnections",
    "/settings/billing",
];

/// The page's Content-Security-Policy: same origin only, no inline script or style.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const PAGE_HTML: &str = include_str!("../../assets/console/index.html");
const VERSIONS: &str = include_str!("../../assets/console/vendor/VERSIONS");

macro_rules! files {
    ($($dir:literal $name:literal $type:expr),* $(,)?) => {
        &[$(($name, $type, include_bytes!(concat!("../../assets/console/", $dir, $name)) as &[u8])),*]
    };
}

/// fathom's own files and the vendored ones, as (name, content type, bytes).
const FILES: &[(&str, &str, &[u8])] = files![
    "" "app.mjs" JS,
    "" "api.mjs" JS,
    "" "ui.mjs" JS,
    "" "accounts.mjs" JS,
    "" "account.mjs" JS,
    "" "disconnect.mjs" JS,
    "" "schedule.mjs" JS,
    "" "report.mjs" JS,
    "" "settings.mjs" JS,
    "" "console.css" CSS,
    "vendor/" "preact.mjs" JS,
    "vendor/" "hooks.mjs" JS,
    "vendor/" "htm.mjs" JS,
    "vendor/" "uPlot.iife.min.js" JS,
    "vendor/" "uPlot.min.css" CSS,
];

const LICENSES: &str = concat!(
    "Third-party software in fathom's console (versions: see below).\n\n",
    "== preact ==\n",
    include_str!("../../assets/console/vendor/LICENSE.preact"),
    "\n== htm ==\n",
    include_str!("../../assets/console/vendor/LICENSE.htm"),
    "\n== uplot ==\n",
    include_str!("../../assets/console/vendor/LICENSE.uplot"),
    "\n== versions ==\n",
    include_str!("../../assets/console/vendor/VERSIONS"),
);

/// Every asset, each script and style sheet with its gzipped bytes (made once per process).
static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    let mut assets: Vec<Asset> = FILES
        .iter()
        .map(|&(name, content_type, body)| Asset {
            name,
            content_type,
            body,
            gzip: Some(Box::leak(gzip(body).into_boxed_slice())),
        })
        .collect();
    assets.push(Asset {
        name: "LICENSES.txt",
        content_type: TEXT,
        body: LICENSES.as_bytes(),
        gzip: None,
    });
    assets
});

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("writing to memory");
    encoder.finish().expect("writing to memory")
}

/// The assets' version in their URLs: every file (the vendored ones pinned by VERSIONS), hashed.
static TAG: LazyLock<String> = LazyLock::new(|| {
    super::tag_of(
        [PAGE_HTML.as_bytes(), VERSIONS.as_bytes()]
            .into_iter()
            .chain(FILES.iter().map(|f| f.2)),
    )
});

static PAGE: LazyLock<String> = LazyLock::new(|| PAGE_HTML.replace("{{assets}}", &assets_prefix()));

/// `/console/assets/<tag>`: where this build's assets are served.
pub fn assets_prefix() -> String {
    format!("/console/assets/{}", *TAG)
}

/// The screens and the assets.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    SCREENS
        .iter()
        .fold(Router::new(), |router, path| router.route(path, get(page)))
        .route("/console/assets/{tag}/{file}", get(asset))
}

async fn page() -> Response {
    super::page(PAGE.as_str(), CONTENT_SECURITY_POLICY)
}

async fn asset(Path((tag, file)): Path<(String, String)>, headers: HeaderMap) -> Response {
    super::asset(&ASSETS, &TAG, &tag, &file, &headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_only_assets_this_build_serves() {
        let named =
            super::super::assert_page_names_only_its_assets(&PAGE, &assets_prefix(), &ASSETS);
        assert_eq!(named, 5, "app.mjs, uPlot, two style sheets, the licenses");
    }

    /// Issue 29's budget: all of the console's JavaScript and CSS, libraries included, at most
    /// 150 KiB as sent to a browser that accepts gzip.
    #[test]
    fn the_scripts_and_style_sheets_weigh_at_most_150_kib_gzipped() {
        let total: usize = ASSETS
            .iter()
            .filter(|a| a.content_type == JS || a.content_type == CSS)
            .map(|a| a.gzip.expect("gzipped").len())
            .sum();
        assert!(total <= 150 * 1024, "{total} bytes");
    }

    /// Every module the page's scripts import is one this build serves beside them.
    #[test]
    fn every_import_names_a_served_module() {
        for (name, _, body) in FILES.iter().filter(|f| f.0.ends_with(".mjs")) {
            let text = std::str::from_utf8(body).expect("UTF-8");
            for (i, _) in text.match_indices("from") {
                let rest = text[i + 4..].trim_start();
                let Some(quoted) = rest.strip_prefix('"') else {
                    continue;
                };
                let target = &quoted[..quoted.find('"').expect("a closing quote")];
                let Some(file) = target.strip_prefix("./") else {
                    panic!("{name} imports {target}: only ./ paths are served");
                };
                assert!(FILES.iter().any(|f| f.0 == file), "{name} imports {file}");
            }
        }
    }
}
