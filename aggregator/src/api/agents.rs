//! `GET /api/v1/agents`: presence of every agent seen since start-up,
//! `[{"agent","state","session","status_ts_ns","last_seen_ns","devices":[{"id","connected"}]}]`.

use axum::Json;
use axum::extract::State;
use protocols::model::AgentState;
use serde_json::{Value, json};

use super::ApiState;

pub(crate) async fn agents(State(s): State<ApiState>) -> Json<Value> {
    let list: Vec<Value> = s
        .agents
        .snapshot()
        .into_iter()
        .map(|(id, info)| {
            json!({
                "agent": id.as_str(),
                "state": info.state.map(|st| match st {
                    AgentState::Online => "online",
                    AgentState::Offline => "offline",
                }),
                "session": info.session,
                "status_ts_ns": info.status_ts_ns,
                "last_seen_ns": info.last_seen_ns,
                "devices": info.devices.iter().map(|(id, connected)| json!({"id": id, "connected": connected})).collect::<Vec<_>>(),
            })
        })
        .collect();
    Json(Value::Array(list))
}
