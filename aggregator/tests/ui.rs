//! The dashboard's static serving over real HTTP (in-process aggregator, API on port 0):
//! pages carry the CSP and revalidate, every file a page or module references is served
//! with the right type and a long cache lifetime, unknown files are 404, and the API
//! routes answer as before.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;

use aggregator::web::{CACHE_PAGE, CACHE_STATIC, CSP, UI_PREFIX};
use common::harness::{start, test_settings};
use common::within;
use reqwest::StatusCode;
use reqwest::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG,
    HeaderMap, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};

struct Client {
    base: String,
    http: reqwest::Client,
}

impl Client {
    async fn get(&self, path: &str, headers: HeaderMap) -> (StatusCode, HeaderMap, Vec<u8>) {
        within(&format!("GET {path}"), async {
            let resp = self
                .http
                .get(format!("{}{path}", self.base))
                .headers(headers)
                .send()
                .await
                .unwrap();
            let status = resp.status();
            let headers = resp.headers().clone();
            (status, headers, resp.bytes().await.unwrap().to_vec())
        })
        .await
    }
}

fn header<'a>(h: &'a HeaderMap, name: &reqwest::header::HeaderName) -> &'a str {
    h.get(name)
        .unwrap_or_else(|| panic!("no {name} header in {h:?}"))
        .to_str()
        .unwrap()
}

/// Values of `attr="..."` in `html` that start with `prefix`.
fn attr_values(html: &str, attr: &str, prefix: &str) -> Vec<String> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .map(|(at, _)| {
            let rest = &html[at + needle.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .filter(|v| v.starts_with(prefix))
        .collect()
}

/// Relative ES module imports (`from './x.js'`) of a script.
fn imports(js: &str) -> Vec<String> {
    js.match_indices("from '")
        .map(|(at, _)| {
            let rest = &js[at + 6..];
            rest[..rest.find('\'').unwrap()].to_owned()
        })
        .filter(|p| p.starts_with("./"))
        .collect()
}

fn expected_type(path: &str) -> &'static str {
    match path.rsplit_once('.').unwrap().1 {
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        other => panic!("unexpected file type {other} in {path}"),
    }
}

/// Checks the security and cache headers of a dashboard answer and that a conditional GET
/// with its ETag answers 304 without a body.
async fn check_headers(c: &Client, path: &str, headers: &HeaderMap, cache: &str) {
    assert_eq!(header(headers, &CONTENT_SECURITY_POLICY), CSP, "{path}");
    assert_eq!(
        header(headers, &X_CONTENT_TYPE_OPTIONS),
        "nosniff",
        "{path}"
    );
    assert_eq!(header(headers, &CACHE_CONTROL), cache, "{path}");
    let etag = header(headers, &ETAG).to_owned();
    assert!(
        etag.len() > 2 && etag.starts_with('"'),
        "{path}: ETag {etag}"
    );
    let mut conditional = HeaderMap::new();
    conditional.insert(IF_NONE_MATCH, etag.parse().unwrap());
    let (status, again, body) = c.get(path, conditional).await;
    assert_eq!(status, StatusCode::NOT_MODIFIED, "{path}");
    assert!(body.is_empty(), "{path}: 304 with a body");
    assert_eq!(header(&again, &ETAG), etag, "{path}");
    let mut other = HeaderMap::new();
    other.insert(IF_NONE_MATCH, "\"something-else\"".parse().unwrap());
    assert_eq!(c.get(path, other).await.0, StatusCode::OK, "{path}");
}

#[tokio::test]
async fn pages_and_every_file_they_load_are_served_with_strict_headers() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let c = Client {
        base: format!("http://{}", app.api_addr()),
        http: reqwest::Client::new(),
    };

    let mut files = BTreeSet::new();
    for page in ["/", "/asset.html?id=demo/hall-1/line-1/motor-01"] {
        let (status, headers, body) = c.get(page, HeaderMap::new()).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(
            header(&headers, &CONTENT_TYPE),
            "text/html; charset=utf-8",
            "{page}"
        );
        check_headers(&c, page, &headers, CACHE_PAGE).await;
        let html = String::from_utf8(body).unwrap();
        assert!(!html.contains("__UI_BASE__"), "{page}: unrendered template");
        let prefix = format!("{UI_PREFIX}/");
        let refs: Vec<String> = ["src", "href"]
            .iter()
            .flat_map(|a| attr_values(&html, a, &prefix))
            .collect();
        assert!(refs.len() >= 3, "{page} references {refs:?}");
        files.extend(refs);
    }
    // Follow module imports so that a typo in an import path fails here, not in a browser.
    let mut queue: Vec<String> = files.iter().cloned().collect();
    while let Some(path) = queue.pop() {
        let (status, headers, body) = c.get(&path, HeaderMap::new()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, &CONTENT_TYPE), expected_type(&path));
        check_headers(&c, &path, &headers, CACHE_STATIC).await;
        assert!(!body.is_empty(), "{path} is empty");
        if path.ends_with(".js") && !path.contains("/vendor/") {
            let dir = &path[..path.rfind('/').unwrap()];
            for import in imports(std::str::from_utf8(&body).unwrap()) {
                let target = format!("{dir}/{}", &import[2..]);
                if files.insert(target.clone()) {
                    queue.push(target);
                }
            }
        }
    }
    for module in [
        "api.js",
        "live.js",
        "values.js",
        "trend.js",
        "format.js",
        "dom.js",
    ] {
        assert!(
            files.iter().any(|f| f.ends_with(&format!("/js/{module}"))),
            "{module} not reached from the pages: {files:?}"
        );
    }
    // Every static URL carries the same build hash.
    let versions: BTreeSet<&str> = files.iter().map(|f| f.split('/').nth(2).unwrap()).collect();
    assert_eq!(versions.len(), 1, "{versions:?}");
    assert!(within("shutdown", app.shutdown()).await);
}

/// With `Accept-Encoding: gzip` pages, scripts and API answers come gzipped (smaller, with
/// the same strict headers); without it, plain.
#[tokio::test]
async fn responses_are_gzipped_when_the_client_accepts_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let c = Client {
        base: format!("http://{}", app.api_addr()),
        http: reqwest::Client::new(),
    };
    let (_, _, index) = c.get("/", HeaderMap::new()).await;
    let html = String::from_utf8(index.clone()).unwrap();
    let uplot = attr_values(&html, "src", "/ui/")
        .into_iter()
        .chain(attr_values(&html, "href", "/ui/"))
        .find(|p| p.ends_with(".js") || p.ends_with(".css"))
        .unwrap();
    let mut gzip = HeaderMap::new();
    gzip.insert(ACCEPT_ENCODING, "gzip".parse().unwrap());
    for path in ["/", uplot.as_str(), "/api/v1/openapi.json"] {
        let (plain_status, plain_headers, plain) = c.get(path, HeaderMap::new()).await;
        assert_eq!(plain_status, StatusCode::OK, "{path}");
        assert!(plain_headers.get(CONTENT_ENCODING).is_none(), "{path}");
        let (status, headers, body) = c.get(path, gzip.clone()).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(header(&headers, &CONTENT_ENCODING), "gzip", "{path}");
        assert_eq!(&body[..2], &[0x1f, 0x8b], "{path}: gzip magic");
        assert!(
            body.len() < plain.len(),
            "{path}: {} gzipped vs {} plain",
            body.len(),
            plain.len()
        );
        if path == "/" {
            assert_eq!(header(&headers, &CONTENT_SECURITY_POLICY), CSP);
        }
    }
    assert!(within("shutdown", app.shutdown()).await);
}

#[tokio::test]
async fn unknown_files_are_404_and_api_routes_are_unaffected() {
    let dir = tempfile::tempdir().unwrap();
    let app = start(test_settings(dir.path(), None)).await;
    let c = Client {
        base: format!("http://{}", app.api_addr()),
        http: reqwest::Client::new(),
    };
    let (_, _, index) = c.get("/", HeaderMap::new()).await;
    let index = String::from_utf8(index).unwrap();
    let css = attr_values(&index, "href", "/ui/")
        .into_iter()
        .find(|p| p.ends_with("/css/app.css"))
        .unwrap();
    let base = css.trim_end_matches("/css/app.css");

    // Below a versioned prefix: the dashboard's own 404.
    let stale = format!("{UI_PREFIX}/000000000000/css/app.css");
    for path in [
        format!("{base}/css/nope.css"),
        format!("{base}/index.html"),
        format!("{base}/vendor"),
        stale,
    ] {
        let (status, headers, _) = c.get(&path, HeaderMap::new()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(
            header(&headers, &X_CONTENT_TYPE_OPTIONS),
            "nosniff",
            "{path}"
        );
    }
    // Elsewhere: the API's fallback.
    for path in [
        format!("{base}/"),
        "/nope.html".to_owned(),
        "/ui/".to_owned(),
    ] {
        let (status, _, _) = c.get(&path, HeaderMap::new()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }

    let (status, headers, body) = c.get("/api/v1/health", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(header(&headers, &CONTENT_TYPE), "application/json");
    let health: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(health["status"], "ok", "{health}");
    let (status, _, body) = c.get("/api/v1/assets", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&body).unwrap(),
        serde_json::json!({"sites": []})
    );
    let (status, _, body) = c.get("/api/v1/nope", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let err: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(err["error"]["code"], "not_found", "{err}");
    let (status, headers, body) = c.get("/metrics", HeaderMap::new()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(header(&headers, &CONTENT_TYPE).contains("text"));
    assert!(String::from_utf8(body).unwrap().contains("sentia_"));
    assert!(within("shutdown", app.shutdown()).await);
}
