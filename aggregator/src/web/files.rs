//! The dashboard's files, embedded from `aggregator/web/` at compile time (rust-embed with
//! `debug-embed`, so debug and release binaries carry the same bytes and need no files at
//! run time), and the content hashes that version them.
//!
//! The **build hash** covers every embedded file's path and SHA-256 (12 hex digits).
//! Static files are served under `/ui/<build hash>/<path>`, so a changed file gets a new
//! URL and browsers may cache every URL forever. The two pages are templates:
//! [`UI_BASE_MARKER`] in them becomes `/ui/<build hash>` when they are served. Modules
//! import each other with relative paths, so they need no rewriting.

use std::borrow::Cow;
use std::sync::OnceLock;

use rust_embed::Embed;

/// Placeholder in the HTML pages for the versioned static prefix.
pub(crate) const UI_BASE_MARKER: &str = "__UI_BASE__";

#[derive(Embed)]
#[folder = "web/"]
struct Files;

/// One embedded file ready to serve.
#[derive(Debug, Clone)]
pub(crate) struct Asset {
    pub(crate) body: Cow<'static, [u8]>,
    /// Strong ETag value, quotes included.
    pub(crate) etag: String,
    pub(crate) content_type: &'static str,
}

/// A static file by its path below `web/` (`js/api.js`), if embedded. Pages (`*.html`) are
/// not static files: they are served rendered by [`page`].
pub(crate) fn static_file(path: &str) -> Option<Asset> {
    if path.ends_with(".html") {
        return None;
    }
    let file = Files::get(path)?;
    Some(Asset {
        etag: format!("\"{}\"", hex(&file.metadata.sha256_hash()[..8])),
        content_type: content_type(path),
        body: file.data,
    })
}

/// A page (`index.html`, `asset.html`) with [`UI_BASE_MARKER`] replaced by the versioned
/// static prefix; rendered once and kept.
pub(crate) fn page(name: &str) -> Option<Asset> {
    static PAGES: OnceLock<Vec<(String, Asset)>> = OnceLock::new();
    let pages = PAGES.get_or_init(|| {
        let base = ui_base();
        Files::iter()
            .filter(|p| p.ends_with(".html"))
            .filter_map(|p| {
                let file = Files::get(&p)?;
                let text = String::from_utf8_lossy(&file.data).replace(UI_BASE_MARKER, &base);
                let asset = Asset {
                    // The page's bytes follow from the build hash (its template is hashed in).
                    etag: format!("\"{}\"", build_hash()),
                    content_type: content_type(&p),
                    body: Cow::Owned(text.into_bytes()),
                };
                Some((p.into_owned(), asset))
            })
            .collect()
    });
    pages
        .iter()
        .find(|(p, _)| p == name)
        .map(|(_, a)| a.clone())
}

/// `/ui/<build hash>`: where static files are served.
pub(crate) fn ui_base() -> String {
    format!("/ui/{}", build_hash())
}

/// Hash over every embedded file (12 hex digits).
pub(crate) fn build_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        // SipHash over the files' SHA-256 digests: deterministic for one binary, which is
        // all a cache-busting version needs (no extra dependency for a second SHA-256).
        use std::hash::{DefaultHasher, Hash, Hasher};
        let mut paths: Vec<Cow<'static, str>> = Files::iter().collect();
        paths.sort();
        let mut h = DefaultHasher::new();
        for p in paths {
            if let Some(f) = Files::get(&p) {
                p.hash(&mut h);
                f.metadata.sha256_hash().hash(&mut h);
            }
        }
        hex(&h.finish().to_be_bytes()[..6])
    })
}

/// Every embedded path.
#[cfg(test)]
fn paths() -> Vec<String> {
    Files::iter().map(Cow::into_owned).collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Content type by extension; text types say UTF-8.
fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_rendered_and_static_files_are_not_pages() {
        let index = page("index.html").unwrap();
        let text = std::str::from_utf8(&index.body).unwrap();
        assert!(!text.contains(UI_BASE_MARKER));
        assert!(text.contains(&format!("{}/js/overview.js", ui_base())));
        assert!(static_file("index.html").is_none());
        assert!(page("js/api.js").is_none());
    }

    #[test]
    fn build_hash_is_stable_hex() {
        let h = build_hash();
        assert_eq!(h.len(), 12);
        assert!(h.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(h, build_hash());
    }

    /// The CSP forbids inline scripts, inline styles and event-handler attributes; a page
    /// with any of them would break in the browser, so refuse it here.
    #[test]
    fn pages_have_nothing_inline() {
        let pages: Vec<String> = paths()
            .into_iter()
            .filter(|p| p.ends_with(".html"))
            .collect();
        assert!(pages.len() >= 2, "{pages:?}");
        for name in pages {
            let body = page(&name).unwrap().body;
            let text = std::str::from_utf8(&body).unwrap().to_ascii_lowercase();
            for (at, _) in text.match_indices("<script") {
                let tag = &text[at..at + text[at..].find('>').unwrap()];
                assert!(tag.contains(" src="), "{name}: inline script {tag}");
            }
            assert!(!text.contains("<style"), "{name}: <style> element");
            assert!(!text.contains(" style="), "{name}: style attribute");
            for (at, _) in text.match_indices(" on") {
                let word: String = text[at + 1..]
                    .chars()
                    .take_while(char::is_ascii_alphabetic)
                    .collect();
                let next = text[at + 1 + word.len()..].chars().next();
                assert!(next != Some('='), "{name}: event handler attribute {word}");
            }
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(content_type("a/b.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("LICENSE"), "application/octet-stream");
    }
}
