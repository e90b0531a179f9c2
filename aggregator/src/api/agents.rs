//! `GET /api/v1/agents`: presence and batch sequence numbers of every agent seen since
//! start-up, sorted by id:
//!
//! ```json
//! [{"agent":"edge-01","state":"online","session":42,"status_ts_ns":1700000000000000000,
//!   "last_seen_ns":1700000000100000000,"devices":[{"id":"plc-1","connected":true}],
//!   "batches_received":120,"missing_batches":0,"gaps_total":2,"gaps_filled_total":2,
//!   "last_seq":119,"spool_depth":null}]
//! ```
//!
//! `state` is `"online"`/`"offline"` from the last status message (`null` before one
//! arrived). `missing_batches` is outstanding now (went missing minus filled, over the
//! sessions the tracker remembers); `gaps_total` and `gaps_filled_total` count since
//! start-up. `spool_depth` is always `null` for now: the agent's status message
//! (`protocols::model::AgentStatus`) has no spool depth field yet.

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
                "batches_received": info.seq.batches_received,
                "missing_batches": info.seq.missing_batches,
                "gaps_total": info.seq.gaps_total,
                "gaps_filled_total": info.seq.gaps_filled_total,
                "last_seq": info.seq.last_seq,
                // Awaits a spool depth field in the agent's status message (protocols).
                "spool_depth": Value::Null,
            })
        })
        .collect();
    Json(Value::Array(list))
}
