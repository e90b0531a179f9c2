//! `GET /api/v1/live`: a WebSocket that streams latest values as they are stored.
//!
//! Client → server (JSON text frames):
//! `{"type":"subscribe","tags":["site/area/line/asset/tag",...],"assets":["site/area/line/asset",...]}`
//! and the same with `"type":"unsubscribe"`. Unknown ids are refused (the valid ones of the
//! same request still apply).
//!
//! Server → client:
//! - `{"type":"subscribed","tags":[..],"assets":[..]}` acknowledges a subscribe, followed by
//!   `{"type":"values","snapshot":true,...}` with the current latest values of what was added;
//! - `{"type":"values","snapshot":false,"coalesced":N,"values":[{"tag","value","value_type",
//!   "quality","reason","source_ts_ns","receive_ts_ns"},...]}` as values are committed;
//!   `coalesced` counts older updates replaced by newer ones before this client took them;
//! - `{"type":"error","message":".."}` for a request it cannot use (the socket stays open).
//!
//! Flow control: values wait in the client's coalescing mailbox ([`crate::live`]); a frame
//! carries at most [`MAX_VALUES_PER_FRAME`] values. If one send does not complete within
//! [`SEND_TIMEOUT`] (the client does not read), the connection is closed with code 1008 and
//! the reason `too slow: ...`. Nothing the client does delays ingest or other clients.

use std::collections::BTreeSet;
use std::time::Duration;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use protocols::model::{AssetPath, TagId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::value::ValueEntry;
use super::{ApiError, ApiState};
use crate::cache::LatestValue;
use crate::live::Subscriber;

/// Longest time one frame may take to send before the client is dropped as too slow.
pub(crate) const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// Values per `values` frame.
pub(crate) const MAX_VALUES_PER_FRAME: usize = 2000;
/// Tags plus assets one client may subscribe to.
pub(crate) const MAX_SUBSCRIPTIONS: usize = 20_000;
/// Live clients served at once (each holds one socket: mind the process's file limit).
pub(crate) const MAX_LIVE_CLIENTS: usize = 16_384;
/// WebSocket close code "policy violation", used for too-slow clients.
const CLOSE_POLICY: u16 = 1008;

/// What a live client sends (JSON text frame).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum ClientRequest {
    /// Adds tags and assets; answered by `subscribed` and a `values` snapshot.
    Subscribe {
        /// Tag ids.
        #[serde(default)]
        tags: Vec<String>,
        /// Asset ids (every tag of the asset, also ones added later).
        #[serde(default)]
        assets: Vec<String>,
    },
    /// Removes tags and assets.
    Unsubscribe {
        /// Tag ids.
        #[serde(default)]
        tags: Vec<String>,
        /// Asset ids.
        #[serde(default)]
        assets: Vec<String>,
    },
}

/// WebSocket of live values (see the `ClientRequest` and `ValuesFrame` schemas).
#[utoipa::path(get, path = "/api/v1/live", tag = "live",
    description = "Upgrade to a WebSocket. Send `ClientRequest` frames; receive `{\"type\":\"subscribed\"}`, \
        `ValuesFrame`s (a snapshot after each subscribe, then values as they are stored) and \
        `{\"type\":\"error\",\"message\"}`. A client that does not take a frame within 5 s is closed \
        with code 1008 and a reason starting with `too slow`.",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 503, description = "Too many live clients", body = super::error::ErrorBody),
    ))]
pub(crate) async fn live(
    State(s): State<ApiState>,
    ws: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    // The route is exempt from the request timeout (a socket lives long); its own sends
    // are bounded by SEND_TIMEOUT.
    if s.live.len() >= MAX_LIVE_CLIENTS {
        return Err(ApiError::Unavailable(format!(
            "{MAX_LIVE_CLIENTS} live clients are connected already"
        )));
    }
    Ok(ws.on_upgrade(move |socket| session(s, socket)))
}

async fn session(s: ApiState, mut socket: WebSocket) {
    let (id, sub) = s.live.register();
    s.metrics.live_clients.inc();
    let end = run(&s, &sub, &mut socket).await;
    s.live.remove(id);
    s.metrics.live_clients.dec();
    if let Some(reason) = end {
        s.metrics.live_slow_clients.inc();
        tracing::info!(client = id, reason = %reason, "closing a live client");
        let frame = CloseFrame {
            code: CLOSE_POLICY,
            reason: Utf8Bytes::from(reason),
        };
        // Best effort: a client too slow for values may be too slow for this too.
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            socket.send(Message::Close(Some(frame))),
        )
        .await;
    }
}

/// Serves one client until it leaves (`None`) or must be dropped (`Some(reason)`).
async fn run(s: &ApiState, sub: &Subscriber, socket: &mut WebSocket) -> Option<String> {
    loop {
        tokio::select! {
            msg = socket.recv() => match msg {
                Some(Ok(Message::Text(text))) => {
                    for reply in handle(s, sub, text.as_str()) {
                        if let Err(reason) = send(socket, reply).await {
                            return Some(reason);
                        }
                    }
                }
                Some(Ok(Message::Binary(_))) => {
                    let reply = error("binary frames are not accepted; send JSON text");
                    if let Err(reason) = send(socket, reply).await {
                        return Some(reason);
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(_)) => {} // ping/pong: answered by the library
            },
            () = sub.wait() => {
                let (values, coalesced) = sub.take();
                s.metrics.live_coalesced.inc_by(coalesced);
                for frame in values_frames(&values, false, coalesced) {
                    if let Err(reason) = send(socket, frame).await {
                        return Some(reason);
                    }
                }
            }
        }
    }
}

async fn send(socket: &mut WebSocket, text: String) -> Result<(), String> {
    let text = Utf8Bytes::from(text);
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("send failed: {e}")),
        Err(_) => Err(format!(
            "too slow: a frame was not taken within {SEND_TIMEOUT:?}"
        )),
    }
}

/// Answers one client request: the replies to send, in order.
fn handle(s: &ApiState, sub: &Subscriber, text: &str) -> Vec<String> {
    let req: ClientRequest = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return vec![error(&format!("bad request: {e}"))],
    };
    let (subscribe, tags, assets) = match req {
        ClientRequest::Subscribe { tags, assets } => (true, tags, assets),
        ClientRequest::Unsubscribe { tags, assets } => (false, tags, assets),
    };
    let mut problems = Vec::new();
    let tags = parse_ids(&tags, "tag", TagId::new, &mut problems, |id| {
        !subscribe || s.directory.contains(id)
    });
    let assets = parse_ids(&assets, "asset", AssetPath::new, &mut problems, |a| {
        !subscribe || !s.directory.tag_ids_of(a).is_empty()
    });
    let mut replies = Vec::new();
    if !problems.is_empty() {
        replies.push(error(&problems.join("; ")));
    }
    if !subscribe {
        sub.unsubscribe(&tags, &assets);
        return replies;
    }
    if sub.filter_len() + tags.len() + assets.len() > MAX_SUBSCRIPTIONS {
        replies.push(error(&format!(
            "subscription refused: more than {MAX_SUBSCRIPTIONS} tags and assets"
        )));
        return replies;
    }
    sub.subscribe(&tags, &assets);
    replies.push(
        json!({
            "type": "subscribed",
            "tags": tags.iter().map(TagId::as_str).collect::<Vec<_>>(),
            "assets": assets.iter().map(AssetPath::as_str).collect::<Vec<_>>(),
        })
        .to_string(),
    );
    // The snapshot: current values of everything just added.
    let mut ids: BTreeSet<TagId> = tags.into_iter().collect();
    for a in &assets {
        ids.extend(s.directory.tag_ids_of(a));
    }
    let current = s.cache.get_many(ids);
    replies.extend(values_frames(&current, true, 0));
    replies
}

/// Parses ids, recording a problem for each malformed one and each that `usable` refuses
/// (unknown).
fn parse_ids<T, E: std::fmt::Display>(
    raw: &[String],
    what: &str,
    parse: impl Fn(&str) -> Result<T, E>,
    problems: &mut Vec<String>,
    usable: impl Fn(&T) -> bool,
) -> Vec<T> {
    raw.iter()
        .filter_map(|r| match parse(r) {
            Ok(id) if usable(&id) => Some(id),
            Ok(_) => {
                problems.push(format!("unknown {what} '{r}'"));
                None
            }
            Err(e) => {
                problems.push(format!("{what} '{r}': {e}"));
                None
            }
        })
        .collect()
}

/// A `values` frame, serialized straight from the entries.
#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct ValuesFrame<'a> {
    /// Always `values`.
    #[serde(rename = "type")]
    kind: &'static str,
    /// True for the current values sent right after a subscribe.
    snapshot: bool,
    /// Older updates of these tags replaced by newer ones before the client took them.
    coalesced: u64,
    /// One entry per tag (its newest value), sorted by tag.
    values: Vec<ValueEntry<'a>>,
}

fn values_frames(values: &[(TagId, LatestValue)], snapshot: bool, coalesced: u64) -> Vec<String> {
    values
        .chunks(MAX_VALUES_PER_FRAME)
        .enumerate()
        .map(|(i, chunk)| {
            let frame = ValuesFrame {
                kind: "values",
                snapshot,
                coalesced: if i == 0 { coalesced } else { 0 },
                values: chunk
                    .iter()
                    .map(|(t, v)| ValueEntry::new(t, v, None))
                    .collect(),
            };
            // Serializing plain strings and numbers cannot fail.
            serde_json::to_string(&frame).unwrap_or_default()
        })
        .collect()
}

fn error(message: &str) -> String {
    json!({ "type": "error", "message": message }).to_string()
}
