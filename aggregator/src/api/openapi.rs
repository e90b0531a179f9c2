//! `GET /api/v1/openapi.json`: the OpenAPI 3 document of this API, generated from the
//! handlers' `#[utoipa::path]` attributes and the response types they serialize (so the
//! document cannot describe fields the code does not send), and `GET /api/v1/docs`: the
//! same document as a plain HTML page for people (no scripts, no external assets, so it
//! works on a plant network and under a strict Content-Security-Policy).

use std::fmt::Write as _;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa::OpenApi;

use super::{agents, alarms, assets, error, health, history, latest, live, metrics, tags};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Sentia aggregator API",
        description = "Telemetry from Sentia edge agents: the asset tree, tag metadata, latest values, \
            history and a live WebSocket. Ids are `site/area/line/asset` for assets and \
            `site/area/line/asset/name` for tags; timestamps are nanoseconds since the Unix epoch. \
            Errors are `{\"error\": {\"code\", \"message\"}}`."
    ),
    paths(
        health::health,
        assets::assets,
        tags::tags,
        latest::latest,
        history::history,
        agents::agents,
        alarms::list,
        alarms::ack,
        alarms::shelve,
        live::live,
        metrics::metrics,
        openapi_json,
        docs,
    ),
    components(schemas(live::ClientRequest, live::ValuesFrame, error::ErrorBody)),
    tags(
        (name = "data", description = "Assets, tags, latest values and history"),
        (name = "live", description = "Values as they are stored, over a WebSocket"),
        (name = "service", description = "Health, agents, metrics and this documentation"),
        (name = "alarms", description = "Limit alarms: list, acknowledge, shelve"),
    )
)]
pub(crate) struct ApiDoc;

/// The document as JSON text, built once.
pub(crate) fn document() -> &'static str {
    static DOC: OnceLock<String> = OnceLock::new();
    DOC.get_or_init(|| {
        ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
    })
}

/// This document (OpenAPI 3).
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "service",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object)))]
pub(crate) async fn openapi_json() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document()).into_response()
}

/// This documentation as an HTML page.
#[utoipa::path(get, path = "/api/v1/docs", tag = "service",
    responses((status = 200, description = "HTML", content_type = "text/html", body = String)))]
pub(crate) async fn docs() -> Response {
    static PAGE: OnceLock<String> = OnceLock::new();
    let page = PAGE.get_or_init(|| {
        let doc: Value = serde_json::from_str(document()).unwrap_or(Value::Null);
        render(&doc)
    });
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            ),
        ],
        page.as_str(),
    )
        .into_response()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn text<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// A schema in a few words: `$ref` names, arrays, types.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", type_name(items));
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema.get(key).and_then(Value::as_array) {
            let names: Vec<String> = list.iter().map(type_name).collect();
            return names.join(" | ");
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(esc)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "any".to_owned(),
    }
}

fn render(doc: &Value) -> String {
    let info = &doc["info"];
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title></head><body><h1>{title} {version}</h1><p>{desc}</p>\
         <p>Machine-readable: <a href=\"/api/v1/openapi.json\">/api/v1/openapi.json</a> (OpenAPI {oa}).</p>",
        title = esc(text(info, "title")),
        version = esc(text(info, "version")),
        desc = esc(text(info, "description")),
        oa = esc(text(doc, "openapi")),
    );
    h.push_str("<h2>Endpoints</h2>");
    if let Some(paths) = doc["paths"].as_object() {
        for (path, item) in paths {
            let Some(ops) = item.as_object() else {
                continue;
            };
            for (method, op) in ops {
                let _ = write!(
                    h,
                    "<section><h3><code>{} {}</code></h3><p>{}</p>",
                    esc(&method.to_uppercase()),
                    esc(path),
                    esc(text(op, "summary"))
                );
                let desc = text(op, "description");
                if !desc.is_empty() && desc != text(op, "summary") {
                    let _ = write!(h, "<p>{}</p>", esc(desc));
                }
                if let Some(params) = op["parameters"].as_array().filter(|p| !p.is_empty()) {
                    h.push_str("<table><tr><th>parameter</th><th>in</th><th>type</th><th>required</th><th>meaning</th></tr>");
                    for p in params {
                        let _ = write!(
                            h,
                            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                            esc(text(p, "name")),
                            esc(text(p, "in")),
                            type_name(&p["schema"]),
                            if p["required"] == Value::Bool(true) {
                                "yes"
                            } else {
                                "no"
                            },
                            esc(text(p, "description"))
                        );
                    }
                    h.push_str("</table>");
                }
                if let Some(responses) = op["responses"].as_object() {
                    h.push_str("<table><tr><th>status</th><th>meaning</th><th>body</th></tr>");
                    for (code, r) in responses {
                        let body = r["content"]
                            .as_object()
                            .and_then(|c| c.iter().next())
                            .map(|(mime, m)| format!("{} ({})", type_name(&m["schema"]), esc(mime)))
                            .unwrap_or_default();
                        let _ = write!(
                            h,
                            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                            esc(code),
                            esc(text(r, "description")),
                            body
                        );
                    }
                    h.push_str("</table>");
                }
                h.push_str("</section>");
            }
        }
    }
    h.push_str("<h2>Schemas</h2>");
    if let Some(schemas) = doc["components"]["schemas"].as_object() {
        for (name, schema) in schemas {
            let _ = write!(
                h,
                "<section id=\"schema-{0}\"><h3>{0}</h3><p>{1}</p>",
                esc(name),
                esc(text(schema, "description"))
            );
            render_properties(&mut h, schema);
            if let Some(variants) = schema["oneOf"].as_array() {
                for v in variants {
                    let _ = write!(h, "<p>Variant: {}</p>", esc(text(v, "description")));
                    render_properties(&mut h, v);
                }
            }
            h.push_str("</section>");
        }
    }
    h.push_str("</body></html>");
    h
}

fn render_properties(h: &mut String, schema: &Value) {
    let Some(props) = schema["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    h.push_str("<table><tr><th>field</th><th>type</th><th>meaning</th></tr>");
    for (field, p) in props {
        let optional = if required.contains(&field.as_str()) {
            ""
        } else {
            " (optional)"
        };
        let _ = write!(
            h,
            "<tr><td><code>{}</code>{optional}</td><td>{}</td><td>{}</td></tr>",
            esc(field),
            type_name(p),
            esc(text(p, "description"))
        );
    }
    h.push_str("</table>");
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn document_covers_every_route() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        let paths = doc["paths"].as_object().unwrap();
        for route in super::super::ROUTES {
            assert!(paths.contains_key(*route), "{route} is not documented");
        }
        assert_eq!(
            paths.len(),
            super::super::ROUTES.len(),
            "documented routes that do not exist"
        );
        // Every referenced schema exists.
        let text = document();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "missing schema {name}");
        }
    }

    #[test]
    fn docs_page_lists_every_route_and_escapes() {
        let doc: Value = serde_json::from_str(document()).unwrap();
        let page = render(&doc);
        for route in super::super::ROUTES {
            assert!(
                page.contains(&format!(" {route}</code>")),
                "{route} missing from the page"
            );
        }
        assert!(!page.contains("<script"));
        assert_eq!(esc("<a href=\"x\">&"), "&lt;a href=&quot;x&quot;&gt;&amp;");
    }
}
