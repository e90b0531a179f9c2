//! The maintenance engineer's web dashboard, served by the aggregator from files embedded
//! in the binary ([`files`]): no internet, no CDN, no Node at build time. The pages are
//! plain HTML, CSS and ES modules in `aggregator/web/`, with uPlot vendored in
//! `web/vendor/` (MIT, licence beside it); they use only the JSON API and the live
//! WebSocket.
//!
//! | route | answer |
//! |---|---|
//! | `GET /` | plant overview (`web/index.html`) |
//! | `GET /asset.html?id=ASSET` | asset detail (`web/asset.html`) |
//! | `GET /ui/<build hash>/<path>` | a static file below `web/` (scripts, styles, vendor) |
//!
//! Nothing here is under `/api/` or `/metrics`, so API routes are never shadowed; an
//! unknown path below `/ui/` (or an old build hash) is a plain-text 404.
//!
//! Headers on every answer: `X-Content-Type-Options: nosniff`, `Referrer-Policy:
//! no-referrer`, the content type by extension, a strong `ETag` (a matching `If-None-Match` gets 304 without a body) and
//! [`CSP`] (it only matters on pages, but is harmless elsewhere). Pages are
//! `Cache-Control: no-cache` (revalidated on every load, so a new binary is picked up at
//! once); static files are `public, max-age=31536000, immutable`, which is safe because
//! their URL carries the build hash. CSP forbids inline scripts and styles: pages load
//! everything from files, and scripts style elements only through the CSSOM.

mod files;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use files::build_hash;

/// Content-Security-Policy of every dashboard answer.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    connect-src 'self' ws: wss:; img-src 'self' data:; object-src 'none'; base-uri 'none'; \
    frame-ancestors 'none'";
/// Cache-Control of pages.
pub const CACHE_PAGE: &str = "no-cache";
/// Cache-Control of static files (their URL changes with their content).
pub const CACHE_STATIC: &str = "public, max-age=31536000, immutable";
/// Route prefix of static files (followed by the build hash).
pub const UI_PREFIX: &str = "/ui";

/// The dashboard's routes, merged into the API router (`api::router`).
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|h: HeaderMap| async move { serve_page("index.html", &h) }),
        )
        .route(
            "/asset.html",
            get(|h: HeaderMap| async move { serve_page("asset.html", &h) }),
        )
        .route("/ui/{version}/{*path}", get(serve_static))
}

fn serve_page(name: &str, request: &HeaderMap) -> Response {
    match files::page(name) {
        Some(asset) => respond(asset, CACHE_PAGE, request),
        None => not_found(),
    }
}

async fn serve_static(
    Path((version, path)): Path<(String, String)>,
    request: HeaderMap,
) -> Response {
    if version != build_hash() {
        return not_found();
    }
    match files::static_file(&path) {
        Some(asset) => respond(asset, CACHE_STATIC, &request),
        None => not_found(),
    }
}

fn respond(asset: files::Asset, cache: &'static str, request: &HeaderMap) -> Response {
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == "*" || t == asset.etag);
    let etag = HeaderValue::from_str(&asset.etag).unwrap_or(HeaderValue::from_static("\"\""));
    let headers = [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static(asset.content_type),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        (header::ETAG, etag),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ),
    ];
    if fresh {
        (StatusCode::NOT_MODIFIED, headers).into_response()
    } else {
        (headers, asset.body).into_response()
    }
}

fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        "no such dashboard file\n",
    )
        .into_response()
}
