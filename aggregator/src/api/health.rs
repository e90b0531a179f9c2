//! `GET /api/v1/health`:
//! `{"status":"ok","version","storage","broker","ingest":"ok","broker_connected":true,"uptime_s"}`.
//!
//! 503 with status `degraded` when the storage ping fails or takes longer than
//! [`PING_TIMEOUT`], when ingest is `down` (its MQTT task or writer stopped, or the broker
//! refuses our subscription while we retry it), or when the broker connection has been down
//! for more than 30 s (`ingest::health::BROKER_DOWN_GRACE`; `broker_connected` shows the
//! current state, a short reconnect does not degrade).

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;

const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// The health answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct HealthBody {
    /// `ok` or `degraded`.
    #[schema(example = "ok")]
    status: &'static str,
    /// Aggregator version.
    version: &'static str,
    /// Storage backend: `sqlite` or `postgres`.
    storage: &'static str,
    /// `embedded` or `external`.
    broker: &'static str,
    /// `ok` or `down`.
    ingest: &'static str,
    /// Whether the MQTT connection is up now.
    broker_connected: bool,
    /// Seconds since start.
    uptime_s: u64,
}

/// Service health (503 when degraded).
#[utoipa::path(get, path = "/api/v1/health", tag = "service",
    responses(
        (status = 200, description = "Storage, ingest and broker are fine", body = HealthBody),
        (status = 503, description = "Degraded: storage ping failed, ingest down or broker gone for more than 30 s", body = HealthBody),
    ))]
pub(crate) async fn health(State(s): State<ApiState>) -> (StatusCode, Json<HealthBody>) {
    let ok = match tokio::time::timeout(PING_TIMEOUT, s.store.ping()).await {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "health check: storage ping failed");
            false
        }
        Err(_) => {
            tracing::warn!("health check: storage ping timed out");
            false
        }
    };
    let ingest = s.ingest.view(Instant::now());
    let ok = ok && ingest.ok();
    let body = HealthBody {
        status: if ok { "ok" } else { "degraded" },
        version: env!("CARGO_PKG_VERSION"),
        storage: s.store.backend_name(),
        broker: s.broker_kind,
        ingest: if ingest.ingest_ok { "ok" } else { "down" },
        broker_connected: ingest.broker_connected,
        uptime_s: s.started.elapsed().as_secs(),
    };
    let code = if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;

    use super::*;
    use crate::config::StorageTarget;
    use crate::ingest::IngestHealth;
    use crate::stale::StaleRule;
    use crate::store::Store;

    #[tokio::test]
    async fn degraded_when_storage_fails() {
        let dir = tempfile::tempdir().unwrap();
        let target = StorageTarget::Sqlite {
            path: dir.path().join("s.db"),
        };
        let store = Store::connect(&target).await.unwrap();
        let state = ApiState {
            store: store.clone(),
            cache: Arc::default(),
            directory: Arc::default(),
            live: Arc::default(),
            alarms: Arc::new(crate::alarms::Alarms::new(Vec::new(), dir.path())),
            agents: Arc::default(),
            metrics: Arc::default(),
            started: Instant::now(),
            broker_kind: "embedded",
            ingest: connected(),
            stale: StaleRule::default(),
        };
        let (code, body) = call(state.clone()).await;
        assert_eq!((code, &body["status"]), (StatusCode::OK, &json!("ok")));
        store.close().await;
        let (code, body) = call(state).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["storage"], "sqlite");
    }

    async fn call(state: ApiState) -> (StatusCode, serde_json::Value) {
        let (code, Json(body)) = health(State(state)).await;
        (code, serde_json::to_value(body).unwrap())
    }

    fn connected() -> Arc<IngestHealth> {
        let h = Arc::new(IngestHealth::new(Instant::now()));
        h.connected();
        h
    }

    #[tokio::test]
    async fn degraded_when_ingest_is_down_or_the_broker_gone_too_long() {
        let dir = tempfile::tempdir().unwrap();
        let target = StorageTarget::Sqlite {
            path: dir.path().join("s.db"),
        };
        let store = Store::connect(&target).await.unwrap();
        let state = |ingest| ApiState {
            store: store.clone(),
            cache: Arc::default(),
            directory: Arc::default(),
            live: Arc::default(),
            alarms: Arc::new(crate::alarms::Alarms::new(Vec::new(), dir.path())),
            agents: Arc::default(),
            metrics: Arc::default(),
            started: Instant::now(),
            broker_kind: "external",
            ingest,
            stale: StaleRule::default(),
        };
        let h = connected();
        let (code, body) = call(state(h.clone())).await;
        assert_eq!(code, StatusCode::OK);
        assert_eq!(
            (&body["ingest"], &body["broker_connected"]),
            (&json!("ok"), &json!(true))
        );

        h.subscription_refused(true);
        let (code, body) = call(state(h.clone())).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            (&body["status"], &body["ingest"]),
            (&json!("degraded"), &json!("down"))
        );
        h.subscription_refused(false);

        // A short outage is fine; a long one degrades.
        h.disconnected(Instant::now());
        let (code, body) = call(state(h.clone())).await;
        assert_eq!(
            (code, &body["broker_connected"]),
            (StatusCode::OK, &json!(false))
        );
        let long_ago = Instant::now().checked_sub(Duration::from_secs(31)).unwrap();
        let gone = Arc::new(IngestHealth::new(long_ago));
        let (code, body) = call(state(gone)).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            (&body["ingest"], &body["broker_connected"]),
            (&json!("ok"), &json!(false))
        );

        // A stopped task.
        drop(h.task_guard());
        let (code, body) = call(state(h)).await;
        assert_eq!(
            (code, &body["ingest"]),
            (StatusCode::SERVICE_UNAVAILABLE, &json!("down"))
        );
        store.close().await;
    }
}
