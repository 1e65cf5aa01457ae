//! The pages fathom serves beside the API, each from files embedded in the binary so that it works
//! on a network without internet (ISPs often run billing on closed management networks): the
//! operator's console at `/` ([`console`]) and GraphiQL at `/graphiql` ([`graphiql`]).
//!
//! What they share lives here: an asset is served under `<page>/assets/<tag>/<file>`, where the
//! tag is a hash of the files the page is made of, so a browser may cache it for a year and a new
//! build changes its URL; an old tag is refused, so a year-long cache never holds new bytes under
//! an old name. Scripts and style sheets go gzipped to browsers that accept gzip. The pages
//! themselves are revalidated on every load and carry a Content-Security-Policy that loads
//! nothing from another origin, runs no inline script and lets no one frame them.

pub mod console;
pub mod graphiql;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use sha2::{Digest, Sha256};

/// Both pages and their assets.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    console::routes().merge(graphiql::routes())
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
pub(crate) const JS: &str = "text/javascript; charset=utf-8";
pub(crate) const CSS: &str = "text/css; charset=utf-8";
pub(crate) const TEXT: &str = "text/plain; charset=utf-8";

/// One file under a page's `assets/<tag>/`.
pub(crate) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// The same bytes gzipped, for browsers that accept it.
    pub gzip: Option<&'static [u8]>,
}

/// A short hash of `parts` (each length-prefixed), for asset URLs.
pub(crate) fn tag_of<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A page: HTML, revalidated on every load, under `content_security_policy`.
pub(crate) fn page(html: &'static str, content_security_policy: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, content_security_policy),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        html,
    )
        .into_response()
}

/// `file` of `assets` when `tag` is this build's `current` tag; 404 otherwise.
pub(crate) fn asset(
    assets: &[Asset],
    current: &str,
    tag: &str,
    file: &str,
    headers: &HeaderMap,
) -> Response {
    let Some(asset) = assets
        .iter()
        .find(|a| a.name == file)
        .filter(|_| tag == current)
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

/// Checks, for a page's tests, that `html` names only assets of `assets` under `prefix` (and
/// how many), fills every placeholder and loads nothing from another origin.
#[cfg(test)]
pub(crate) fn assert_page_names_only_its_assets(
    html: &str,
    prefix: &str,
    assets: &[Asset],
) -> usize {
    let prefix = format!("{prefix}/");
    let mut named = 0;
    for (i, _) in html.match_indices(&prefix) {
        let rest = &html[i + prefix.len()..];
        let name = &rest[..rest.find('"').expect("a quoted URL")];
        assert!(assets.iter().any(|a| a.name == name), "{name}");
        named += 1;
    }
    assert!(!html.contains("{{"), "every placeholder is filled");
    // Nothing from another origin: no absolute or protocol-relative URL in src or href.
    for attr in ["src=\"", "href=\""] {
        for (i, _) in html.match_indices(attr) {
            let url = &html[i + attr.len()..];
            assert!(
                (url.starts_with('/') && !url.starts_with("//")) || url.starts_with("data:"),
                "{}",
                &url[..url.find('"').unwrap_or(url.len())]
            );
        }
    }
    named
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
}
