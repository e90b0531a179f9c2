//! `GET /api/v1/agents`: presence and batch sequence numbers of every agent seen since
//! start-up, sorted by id:
//!
//! ```json
//! [{"agent":"edge-01","state":"online","session":42,"status_ts_ns":1700000000000000000,
//!   "last_seen_ns":1700000000100000000,"devices":[{"id":"plc-1","connected":true}],
//!   "batches_received":120,"missing_batches":0,"gaps_total":2,"gaps_filled_total":2,
//!   "last_seq":119,"spool_depth":0,"spool_bytes":0,"dropped_batches":0,"dropped_points":0,
//!   "dropped_unconfirmed_batches":0,"dropped_unconfirmed_points":0,"offline_reason":null}]
//! ```
//!
//! `state` is `"online"`/`"offline"` from the last status message (`null` before one
//! arrived), except that an agent silent for [`SILENT_AFTER`] (no data, no status: agents
//! republish their status every 10 s by default) is `"offline"` too, whatever its last
//! status said: a broker that never publishes a dead client's Last Will (rumqttd after a
//! SIGKILL) or a network partition must not leave it `"online"` forever.
//! `offline_reason` says why: `"shutdown"` (its clean offline status, which carries the
//! spool figures), `"lost"` (its Last Will: the connection broke), `"silent"` (nothing
//! received for that long); `null` while online. `missing_batches` is outstanding now (went missing minus filled, over the
//! sessions the tracker remembers); `gaps_total` and `gaps_filled_total` count since
//! start-up. `spool_depth` (batches), `spool_bytes`, `dropped_batches` and `dropped_points`
//! come from the agent's last status that carried them (status version 2; `null` for older
//! agents or before a status arrived): what waits in its disk spool for the broker, and what
//! it dropped since it started (spool full or too old); `dropped_unconfirmed_batches` and
//! `dropped_unconfirmed_points` are the part of those drops that had been published without
//! a PUBACK before a connection broke, so the broker may have delivered them after all.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use protocols::model::AgentState;

use crate::agents::AgentInfo;
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;

/// An online agent with nothing received for this long is reported offline (`silent`).
pub(crate) const SILENT_AFTER: Duration = Duration::from_secs(30);

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
    /// `online` / `offline` from its last status message, or `offline` when silent for 30 s;
    /// `null` before a status arrived.
    state: Option<&'static str>,
    /// Why it is offline: `shutdown`, `lost` (Last Will) or `silent`; `null` while online.
    offline_reason: Option<&'static str>,
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
    /// Of the dropped batches, those published without a PUBACK before a connection broke:
    /// possibly delivered after all.
    dropped_unconfirmed_batches: Option<u64>,
    /// Points in those batches.
    dropped_unconfirmed_points: Option<u64>,
}

/// Edge agents seen since start-up, sorted by id.
#[utoipa::path(get, path = "/api/v1/agents", tag = "service",
    responses((status = 200, description = "Agents", body = Vec<AgentBody>)))]
pub(crate) async fn agents(State(s): State<ApiState>) -> Json<Vec<AgentBody>> {
    let now = protocols::model::now_ns();
    let list = s
        .agents
        .snapshot()
        .into_iter()
        .map(|(id, info)| {
            let (state, offline_reason) = presence(&info, now);
            AgentBody {
                agent: id.to_string(),
                state,
                offline_reason,
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
                dropped_unconfirmed_batches: info.spool.map(|p| p.dropped_unconfirmed_batches),
                dropped_unconfirmed_points: info.spool.map(|p| p.dropped_unconfirmed_points),
            }
        })
        .collect();
    Json(list)
}

/// `(state, offline_reason)` of an agent at `now_ns` (module docs).
fn presence(info: &AgentInfo, now_ns: i64) -> (Option<&'static str>, Option<&'static str>) {
    let silent_ns = i64::try_from(SILENT_AFTER.as_nanos()).unwrap_or(i64::MAX);
    match info.state {
        None => (None, None),
        Some(AgentState::Offline) => {
            let reason = if info.spool_in_last_status {
                "shutdown"
            } else {
                "lost"
            };
            (Some("offline"), Some(reason))
        }
        Some(AgentState::Online) if now_ns - info.last_seen_ns > silent_ns => {
            (Some("offline"), Some("silent"))
        }
        Some(AgentState::Online) => (Some("online"), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presence_from_status_and_silence() {
        let mut info = AgentInfo {
            state: Some(AgentState::Online),
            session: Some(1),
            status_ts_ns: Some(0),
            devices: Vec::new(),
            spool: None,
            spool_in_last_status: true,
            last_seen_ns: 1_000,
            seq: Default::default(),
        };
        let s = 1_000_000_000;
        assert_eq!(presence(&info, 1_000 + 29 * s), (Some("online"), None));
        assert_eq!(
            presence(&info, 1_000 + 31 * s),
            (Some("offline"), Some("silent"))
        );
        info.state = Some(AgentState::Offline);
        assert_eq!(presence(&info, 0), (Some("offline"), Some("shutdown")));
        info.spool_in_last_status = false;
        assert_eq!(presence(&info, 0), (Some("offline"), Some("lost")));
        info.state = None;
        assert_eq!(presence(&info, 0), (None, None));
    }
}
