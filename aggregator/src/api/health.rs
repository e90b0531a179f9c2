//! `GET /api/v1/health`: `{"status":"ok","version","storage","broker","uptime_s"}`; 503 with
//! status `degraded` when the storage ping fails or takes longer than [`PING_TIMEOUT`].

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::ApiState;

const PING_TIMEOUT: Duration = Duration::from_secs(2);

pub(crate) async fn health(State(s): State<ApiState>) -> (StatusCode, Json<Value>) {
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
    let body = json!({
        "status": if ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "storage": s.store.backend_name(),
        "broker": s.broker_kind,
        "uptime_s": s.started.elapsed().as_secs(),
    });
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
    use std::time::Instant;

    use super::*;
    use crate::config::StorageTarget;
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
            agents: Arc::default(),
            metrics: Arc::default(),
            started: Instant::now(),
            broker_kind: "embedded",
        };
        let (code, Json(body)) = health(State(state.clone())).await;
        assert_eq!((code, &body["status"]), (StatusCode::OK, &json!("ok")));
        store.close().await;
        let (code, Json(body)) = health(State(state)).await;
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["status"], "degraded");
        assert_eq!(body["storage"], "sqlite");
    }
}
