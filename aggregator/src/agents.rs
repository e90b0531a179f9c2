//! In-memory table of edge agents: presence from their status messages, last seen from any
//! message, and batch sequence numbers (gaps) as the MQTT ingest task's sequence tracker
//! reports them after each batch ([`AgentTable::record_batch`]). Lost on restart; the
//! agents' retained status messages refill it on reconnect. The std lock is only taken in
//! synchronous methods, never across `.await`.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use protocols::model::{AgentId, AgentState, AgentStatus, DeviceState, SpoolStatus, TimestampNs};

/// What is known about one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInfo {
    /// Last reported presence (`None` until a status message arrives).
    pub state: Option<AgentState>,
    /// Session of the last status message.
    pub session: Option<u64>,
    /// Source time of the last status message.
    pub status_ts_ns: Option<TimestampNs>,
    /// Devices and whether each is connected, from the last status message.
    pub devices: Vec<(String, bool)>,
    /// The agent's spool figures from the last status that had them (a Last Will has none,
    /// so the figures before an agent died stay visible).
    pub spool: Option<SpoolStatus>,
    /// Whether the last status carried spool figures (a clean status; a Last Will has none).
    pub spool_in_last_status: bool,
    /// When any message from the agent last arrived.
    pub last_seen_ns: TimestampNs,
    /// Batch sequence numbers.
    pub seq: AgentSeq,
}

/// Batch sequence numbers of one agent since this aggregator started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgentSeq {
    /// Batches received (re-deliveries included).
    pub batches_received: u64,
    /// Batches missing now: went missing and not (yet) filled, across the sessions the
    /// tracker remembers.
    pub missing_batches: u64,
    /// Batches that ever went missing (a seq jump).
    pub gaps_total: u64,
    /// Missing batches that arrived later (replayed backlog).
    pub gaps_filled_total: u64,
    /// Highest seq of the agent's most recently used session.
    pub last_seq: Option<u64>,
}

/// What one batch did to an agent's sequence numbers, from the ingest's tracker.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchSeq {
    /// Batches that went missing because of this one.
    pub opened: u64,
    /// Missing batches this one filled (0 or 1).
    pub filled: u64,
    /// Batches missing now, after this one.
    pub missing: u64,
    /// Highest seq of the session now.
    pub last_seq: Option<u64>,
}

/// Agent id → info.
#[derive(Debug, Default)]
pub struct AgentTable {
    inner: RwLock<HashMap<AgentId, AgentInfo>>,
}

impl AgentTable {
    fn with<R>(
        &self,
        agent: &AgentId,
        recv_ns: TimestampNs,
        f: impl FnOnce(&mut AgentInfo) -> R,
    ) -> R {
        let mut map = self.inner.write().unwrap_or_else(PoisonError::into_inner);
        let info = map.entry(agent.clone()).or_insert_with(|| AgentInfo {
            state: None,
            session: None,
            status_ts_ns: None,
            devices: Vec::new(),
            spool: None,
            spool_in_last_status: false,
            last_seen_ns: recv_ns,
            seq: AgentSeq::default(),
        });
        info.last_seen_ns = info.last_seen_ns.max(recv_ns);
        f(info)
    }

    /// Records that a message from `agent` arrived.
    pub fn seen(&self, agent: &AgentId, recv_ns: TimestampNs) {
        self.with(agent, recv_ns, |_| ());
    }

    /// Records a batch from `agent` and its sequence bookkeeping. Returns the number of
    /// batches missing before it, so callers can log when that number leaves or returns to 0.
    pub fn record_batch(&self, agent: &AgentId, recv_ns: TimestampNs, batch: BatchSeq) -> u64 {
        self.with(agent, recv_ns, |info| {
            let before = info.seq.missing_batches;
            info.seq.batches_received += 1;
            info.seq.gaps_total += batch.opened;
            info.seq.gaps_filled_total += batch.filled;
            info.seq.missing_batches = batch.missing;
            info.seq.last_seq = batch.last_seq;
            before
        })
    }

    /// Applies a status message unless a newer one was applied, except a Last Will (offline,
    /// no spool figures), which always applies: the agent builds its will when it starts,
    /// so its timestamp is older than the statuses it published since, yet the broker only
    /// publishes it after them, when the connection died. Returns the previous state when
    /// the state changed.
    pub fn update_status(
        &self,
        status: &AgentStatus,
        recv_ns: TimestampNs,
    ) -> Option<Option<AgentState>> {
        self.with(&status.agent, recv_ns, |info| {
            let will = status.state == AgentState::Offline && status.spool.is_none();
            if !will && info.status_ts_ns.is_some_and(|ts| ts > status.ts_ns) {
                return None;
            }
            let before = info.state;
            info.state = Some(status.state);
            info.session = Some(status.session);
            info.status_ts_ns = Some(
                info.status_ts_ns
                    .map_or(status.ts_ns, |t| t.max(status.ts_ns)),
            );
            info.devices = status
                .devices
                .iter()
                .map(|d| (d.id.clone(), d.state == DeviceState::Connected))
                .collect();
            info.spool_in_last_status = status.spool.is_some();
            if status.spool.is_some() {
                info.spool = status.spool;
            }
            (before != Some(status.state)).then_some(before)
        })
    }

    /// Every agent, sorted by id.
    pub fn snapshot(&self) -> Vec<(AgentId, AgentInfo)> {
        let map = self.inner.read().unwrap_or_else(PoisonError::into_inner);
        let mut out: Vec<_> = map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn status(state: AgentState, ts_ns: i64) -> AgentStatus {
        AgentStatus {
            agent: AgentId::new("edge-01").unwrap(),
            session: 1,
            state,
            ts_ns,
            devices: vec![],
            spool: Some(SpoolStatus::default()),
        }
    }

    /// A Last Will: offline, no spool figures.
    fn will(ts_ns: i64) -> AgentStatus {
        AgentStatus {
            spool: None,
            ..status(AgentState::Offline, ts_ns)
        }
    }

    #[test]
    fn a_last_will_applies_although_built_before_the_last_status() {
        let t = AgentTable::default();
        t.update_status(&status(AgentState::Online, 50), 100);
        // The will was built at start (ts 10) and published by the broker at death.
        assert_eq!(
            t.update_status(&will(10), 101),
            Some(Some(AgentState::Online))
        );
        // A stale clean status still loses against newer ones.
        assert_eq!(t.update_status(&status(AgentState::Online, 40), 102), None);
        assert_eq!(t.snapshot()[0].1.state, Some(AgentState::Offline));
    }

    #[test]
    fn spool_figures_survive_a_last_will() {
        let t = AgentTable::default();
        let spool = SpoolStatus {
            depth_batches: 5,
            depth_bytes: 900,
            dropped_batches: 2,
            dropped_points: 18,
            dropped_unconfirmed_batches: 1,
            dropped_unconfirmed_points: 9,
        };
        let online = AgentStatus {
            spool: Some(spool),
            ..status(AgentState::Online, 10)
        };
        t.update_status(&online, 100);
        t.update_status(&will(11), 101);
        let (_, info) = &t.snapshot()[0];
        assert_eq!(info.state, Some(AgentState::Offline));
        assert_eq!(info.spool, Some(spool));
    }

    #[test]
    fn older_status_does_not_override_newer() {
        let t = AgentTable::default();
        assert_eq!(
            t.update_status(&status(AgentState::Online, 10), 100),
            Some(None)
        );
        assert_eq!(t.update_status(&status(AgentState::Offline, 5), 101), None);
        assert_eq!(
            t.update_status(&status(AgentState::Online, 11), 102),
            None,
            "no change"
        );
        assert_eq!(
            t.update_status(&status(AgentState::Offline, 12), 103),
            Some(Some(AgentState::Online))
        );
        let snap = t.snapshot();
        assert_eq!(snap[0].1.state, Some(AgentState::Offline));
        assert_eq!(snap[0].1.last_seen_ns, 103);
    }

    #[test]
    fn batches_accumulate_counters() {
        let t = AgentTable::default();
        let a = AgentId::new("edge-01").unwrap();
        let b = |opened, filled, missing, last| BatchSeq {
            opened,
            filled,
            missing,
            last_seq: Some(last),
        };
        assert_eq!(t.record_batch(&a, 10, b(0, 0, 0, 0)), 0);
        assert_eq!(t.record_batch(&a, 11, b(2, 0, 2, 3)), 0);
        assert_eq!(t.record_batch(&a, 12, b(0, 1, 1, 3)), 2);
        assert_eq!(t.record_batch(&a, 9, b(0, 1, 0, 3)), 1);
        let (_, info) = &t.snapshot()[0];
        assert_eq!(
            info.seq,
            AgentSeq {
                batches_received: 4,
                missing_batches: 0,
                gaps_total: 2,
                gaps_filled_total: 2,
                last_seq: Some(3),
            }
        );
        assert_eq!(info.last_seen_ns, 12);
        assert_eq!(info.state, None);
    }
}
