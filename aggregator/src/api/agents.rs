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
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;

/// One device of an agent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DeviceBody {
    /// Device id from the agent's configuration.
    id: String,
    /// Whether the agent reaches it.
    connected: bool,
}

/// One edge agent.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct AgentBody {
    /// Agent id.
    agent: String,
    /// `online` / `offline` from its last status message; `null` before one arrived.
    state: Option<&'static str>,
    /// The agent run (changes at each agent start).
    session: Option<u64>,
    /// Source time of the last status message (ns).
    status_ts_ns: Option<i64>,
    /// When anything was last received from it (ns).
    last_seen_ns: i64,
    /// Its devices and their connection state.
    devices: Vec<DeviceBody>,
    /// Batches received since start-up.
    batches_received: u64,
    /// Batches missing now (gaps minus filled).
    missing_batches: u64,
    /// Gaps opened since start-up.
    gaps_total: u64,
    /// Gaps filled (by replayed backlog) since start-up.
    gaps_filled_total: u64,
    /// Highest sequence number seen in the current session.
    last_seq: Option<u64>,
    /// Always `null` for now: the agent's status message has no spool depth field yet.
    spool_depth: Option<u64>,
}

/// Edge agents seen since start-up, sorted by id.
#[utoipa::path(get, path = "/api/v1/agents", tag = "service",
    responses((status = 200, description = "Agents", body = Vec<AgentBody>)))]
pub(crate) async fn agents(State(s): State<ApiState>) -> Json<Vec<AgentBody>> {
    let list = s
        .agents
        .snapshot()
        .into_iter()
        .map(|(id, info)| AgentBody {
            agent: id.to_string(),
            state: info.state.map(|st| match st {
                AgentState::Online => "online",
                AgentState::Offline => "offline",
            }),
            session: info.session,
            status_ts_ns: info.status_ts_ns,
            last_seen_ns: info.last_seen_ns,
            devices: info
                .devices
                .iter()
                .map(|(id, connected)| DeviceBody {
                    id: id.clone(),
                    connected: *connected,
                })
                .collect(),
            batches_received: info.seq.batches_received,
            missing_batches: info.seq.missing_batches,
            gaps_total: info.seq.gaps_total,
            gaps_filled_total: info.seq.gaps_filled_total,
            last_seq: info.seq.last_seq,
            // Awaits a spool depth field in the agent's status message (protocols).
            spool_depth: None,
        })
        .collect();
    Json(list)
}
