//! `GET /api/v1/agents`: presence and batch sequence numbers of every agent seen since
//! start-up, sorted by id:
//!
//! ```json
//! [{"agent":"edge-01","state":"online","session":42,"status_ts_ns":1700000000000000000,
//!   "last_seen_ns":1700000000100000000,"devices":[{"id":"plc-1","connected":true}],
//!   "batches_received":120,"missing_batches":0,"gaps_total":2,"gaps_filled_total":2,
//!   "last_seq":119,"spool_depth":0,"spool_bytes":0,"dropped_batches":0,"dropped_points":0}]
//! ```
//!
//! `state` is `"online"`/`"offline"` from the last status message (`null` before one
//! arrived). `missing_batches` is outstanding now (went missing minus filled, over the
//! sessions the tracker remembers); `gaps_total` and `gaps_filled_total` count since
//! start-up. `spool_depth` (batches), `spool_bytes`, `dropped_batches` and `dropped_points`
//! come from the agent's last status that carried them (status version 2; `null` for older
//! agents or before a status arrived): what waits in its disk spool for the broker, and what
//! it dropped since it started (spool full or too old).

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
    /// Batches waiting in the agent's spool for the broker.
    spool_depth: Option<u64>,
    /// Bytes of those batches on the agent's disk.
    spool_bytes: Option<u64>,
    /// Batches the agent dropped since it started.
    dropped_batches: Option<u64>,
    /// Points in those batches.
    dropped_points: Option<u64>,
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
            spool_depth: info.spool.map(|p| p.depth_batches),
            spool_bytes: info.spool.map(|p| p.depth_bytes),
            dropped_batches: info.spool.map(|p| p.dropped_batches),
            dropped_points: info.spool.map(|p| p.dropped_points),
        })
        .collect();
    Json(list)
}
