//! The HTTP API for dashboards (axum 0.8, JSON), plus `/metrics` for Prometheus.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/v1/health` | status, version, storage, broker, ingest, uptime (503 when degraded) |
//! | `GET /api/v1/assets` | site/area/line/asset tree with asset status |
//! | `GET /api/v1/tags[?asset=ID]` | tag metadata |
//! | `GET /api/v1/latest?tags=a,b` or `?asset=ID` | latest values |
//! | `GET /api/v1/history?tag=ID&from=&to=&max_points=` | raw points or buckets |
//! | `GET /api/v1/agents` | edge agents' presence and sequence gaps |
//! | `GET /api/v1/alarms`, `POST /api/v1/alarms/{id}/ack`, `POST .../shelve` | limit alarms and their lifecycle |
//! | `GET /api/v1/live` | WebSocket: subscribed tags' values as they are stored (`live.rs`) |
//! | `GET /api/v1/openapi.json` | this table as an OpenAPI 3 document (`openapi.rs`) |
//! | `GET /api/v1/docs` | the same as an HTML page |
//! | `GET /metrics` | Prometheus / OpenMetrics text |
//!
//! The same router serves the web dashboard (`/`, `/asset.html`, `/ui/...`;
//! [`crate::web`]), under the same limits.
//!
//! Handlers read the store and the latest-value cache; errors go through `error::ApiError`.
//!
//! Limits: at most [`MAX_CONCURRENT_REQUESTS`] requests are handled at once (more wait for
//! a slot), and a request not answered within `api.request_timeout` (waiting included) gets
//! 503 `{"error":{"code":"timeout",...}}`. The store's read pool is separate from the
//! writer's, so even a stuck API query cannot hold up ingest.

mod agents;
mod alarms;
mod assets;
mod error;
mod health;
mod history;
mod latest;
mod live;
mod metrics;
mod openapi;
mod tags;
mod time;
mod value;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower::limit::GlobalConcurrencyLimitLayer;

use crate::agents::AgentTable;
use crate::cache::LatestCache;
use crate::directory::TagDirectory;
use crate::ingest::IngestHealth;
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::stale::StaleRule;
use crate::store::Store;
use error::ApiError;

/// Route of the health endpoint.
pub const PATH_HEALTH: &str = "/api/v1/health";
/// Route of the asset tree.
pub const PATH_ASSETS: &str = "/api/v1/assets";
/// Route of tag metadata.
pub const PATH_TAGS: &str = "/api/v1/tags";
/// Route of latest values.
pub const PATH_LATEST: &str = "/api/v1/latest";
/// Route of history.
pub const PATH_HISTORY: &str = "/api/v1/history";
/// Route of agent presence.
pub const PATH_AGENTS: &str = "/api/v1/agents";
/// Route of the live WebSocket.
pub const PATH_LIVE: &str = "/api/v1/live";
/// Route of the OpenAPI document.
pub const PATH_OPENAPI: &str = "/api/v1/openapi.json";
/// Route of the HTML API documentation.
pub const PATH_DOCS: &str = "/api/v1/docs";
/// Route of Prometheus metrics.
pub const PATH_METRICS: &str = "/metrics";
/// Route of the alarm list.
pub const PATH_ALARMS: &str = "/api/v1/alarms";
/// Route acknowledging an alarm.
pub const PATH_ALARM_ACK: &str = "/api/v1/alarms/{id}/ack";
/// Route shelving an alarm.
pub const PATH_ALARM_SHELVE: &str = "/api/v1/alarms/{id}/shelve";

/// Every route; the OpenAPI document must describe exactly these.
pub const ROUTES: &[&str] = &[
    PATH_HEALTH,
    PATH_ASSETS,
    PATH_TAGS,
    PATH_LATEST,
    PATH_HISTORY,
    PATH_AGENTS,
    PATH_LIVE,
    PATH_OPENAPI,
    PATH_DOCS,
    PATH_METRICS,
    PATH_ALARMS,
    PATH_ALARM_ACK,
    PATH_ALARM_SHELVE,
];

/// Requests handled at once; more wait (within their timeout) for a slot.
pub const MAX_CONCURRENT_REQUESTS: usize = 64;

/// What handlers share.
#[derive(Clone)]
pub(crate) struct ApiState {
    pub(crate) store: Store,
    pub(crate) cache: Arc<LatestCache>,
    /// Every known tag with its metadata.
    pub(crate) directory: Arc<TagDirectory>,
    /// Live WebSocket clients.
    pub(crate) live: Arc<LiveHub>,
    /// Alarms and their lifecycle.
    pub(crate) alarms: Arc<crate::alarms::Alarms>,
    pub(crate) agents: Arc<AgentTable>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) started: Instant,
    /// `embedded` or `external`.
    pub(crate) broker_kind: &'static str,
    /// Ingest liveness for the health endpoint.
    pub(crate) ingest: Arc<IngestHealth>,
    /// When a latest value counts as stale.
    pub(crate) stale: StaleRule,
}

pub(crate) fn router(state: ApiState, request_timeout: Duration) -> Router {
    // Router::layer wraps each route separately: the limit must be the global variant so
    // every route shares one semaphore. The timeout is outermost so it covers the wait.
    let live = Router::new()
        .route(PATH_LIVE, get(live::live))
        .with_state(state.clone());
    let requests = Router::new()
        .route(PATH_HEALTH, get(health::health))
        .route(PATH_ASSETS, get(assets::assets))
        .route(PATH_TAGS, get(tags::tags))
        .route(PATH_LATEST, get(latest::latest))
        .route(PATH_HISTORY, get(history::history))
        .route(PATH_AGENTS, get(agents::agents))
        .route(PATH_ALARMS, get(alarms::list))
        .route(PATH_ALARM_ACK, post(alarms::ack))
        .route(PATH_ALARM_SHELVE, post(alarms::shelve))
        .route(PATH_METRICS, get(metrics::metrics))
        .route(PATH_OPENAPI, get(openapi::openapi_json))
        .route(PATH_DOCS, get(openapi::docs))
        .merge(crate::web::routes())
        .fallback(not_found)
        .with_state(state)
        .layer(GlobalConcurrencyLimitLayer::new(MAX_CONCURRENT_REQUESTS))
        .layer(from_fn_with_state(request_timeout, time_limit))
        // gzip when the client sends `Accept-Encoding: gzip` (tower-http skips small
        // bodies, images and already-encoded responses).
        .layer(tower_http::compression::CompressionLayer::new().gzip(true));
    // The live socket is long-lived: outside the request timeout and concurrency limit.
    live.merge(requests)
}

async fn time_limit(State(limit): State<Duration>, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limit).into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint".to_owned())
}
