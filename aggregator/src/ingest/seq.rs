//! Per-agent sequence tracking: which batches of an agent session are missing (I/O-free).
//!
//! Agents number batches per session without gaps and, after an outage, send live data
//! first and replay their backlog behind it. So a jump in `seq` is not yet a loss: it opens
//! a *missing range*, and replayed batches that arrive later fill it. Two counters follow
//! the vector pushed/popped pattern: `opened` (batches that went missing) and `filled`
//! (missing batches that arrived later); outstanding loss is `opened - filled`. A batch
//! the agent really dropped (spool limit) stays missing forever, which is the point.
//!
//! Memory is bounded: a few sessions per agent, a capped number of ranges per session (the
//! oldest range is abandoned when full and stays counted as missing), a capped agent table.

use std::collections::{BTreeMap, HashMap, VecDeque};

use protocols::model::AgentId;

/// Sessions remembered per agent.
const SESSIONS_PER_AGENT: usize = 4;
/// Missing ranges remembered per session.
const RANGES_PER_SESSION: usize = 1024;
/// Agents remembered before the table is cleared (bounds memory against id churn).
const MAX_AGENTS: usize = 10_000;

/// What one observed batch changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeqChange {
    /// Batches that went missing because this one jumped ahead.
    pub(crate) opened: u64,
    /// 1 when this batch filled a hole that was counted as missing.
    pub(crate) filled: u64,
}

/// Per-agent numbers for the agents table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SeqSummary {
    /// Batches missing now (opened minus filled) across the remembered sessions.
    pub(crate) outstanding: u64,
    /// Highest seq of the most recently used session.
    pub(crate) last_seq: Option<u64>,
}

#[derive(Debug)]
struct Session {
    id: u64,
    /// Highest seq seen.
    high: u64,
    /// Missing seqs as inclusive ranges, keyed by start.
    missing: BTreeMap<u64, u64>,
    /// Opened minus filled in this session (keeps counting a range abandoned when full).
    outstanding: u64,
}

impl Session {
    fn observe(&mut self, seq: u64) -> SeqChange {
        if seq > self.high {
            let opened = seq - self.high - 1;
            if opened > 0 {
                if self.missing.len() >= RANGES_PER_SESSION {
                    self.missing.pop_first();
                }
                self.missing.insert(self.high + 1, seq - 1);
                self.outstanding += opened;
            }
            self.high = seq;
            return SeqChange { opened, filled: 0 };
        }
        // At or below the high mark: a re-delivery, or a replayed batch filling a hole.
        let Some((&start, &end)) = self.missing.range(..=seq).next_back() else {
            return SeqChange::default();
        };
        if seq > end {
            return SeqChange::default();
        }
        self.missing.remove(&start);
        if start < seq {
            self.missing.insert(start, seq - 1);
        }
        if seq < end {
            self.missing.insert(seq + 1, end);
        }
        self.outstanding = self.outstanding.saturating_sub(1);
        SeqChange {
            opened: 0,
            filled: 1,
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct SeqTracker {
    agents: HashMap<AgentId, VecDeque<Session>>,
}

impl SeqTracker {
    /// Records a batch and says which missing counts it changed.
    pub(crate) fn observe(&mut self, agent: &AgentId, session: u64, seq: u64) -> SeqChange {
        if !self.agents.contains_key(agent) && self.agents.len() >= MAX_AGENTS {
            self.agents.clear();
        }
        let sessions = self.agents.entry(agent.clone()).or_default();
        if let Some(pos) = sessions.iter().position(|s| s.id == session) {
            let change = sessions[pos].observe(seq);
            // Most recently used to the back.
            if let Some(entry) = sessions.remove(pos) {
                sessions.push_back(entry);
            }
            return change;
        }
        if sessions.len() >= SESSIONS_PER_AGENT {
            sessions.pop_front();
        }
        // The first batch seen of a session: earlier ones may have been stored by a previous
        // aggregator run, so nothing before it counts as missing.
        sessions.push_back(Session {
            id: session,
            high: seq,
            missing: BTreeMap::new(),
            outstanding: 0,
        });
        SeqChange::default()
    }

    /// What the API shows for `agent`: batches still missing across its remembered sessions
    /// (opened minus filled) and the highest seq of the session it used most recently.
    pub(crate) fn summary(&self, agent: &AgentId) -> SeqSummary {
        self.agents
            .get(agent)
            .map_or(SeqSummary::default(), |ss| SeqSummary {
                outstanding: ss.iter().map(|s| s.outstanding).sum(),
                last_seq: ss.back().map(|s| s.high),
            })
    }

    /// Batches currently missing for `agent` across its remembered sessions.
    #[cfg(test)]
    fn missing(&self, agent: &AgentId) -> u64 {
        self.agents.get(agent).map_or(0, |ss| {
            ss.iter()
                .flat_map(|s| s.missing.iter().map(|(a, b)| b - a + 1))
                .sum()
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn change(opened: u64, filled: u64) -> SeqChange {
        SeqChange { opened, filled }
    }

    #[test]
    fn counts_gaps_within_a_session_only() {
        let a = AgentId::new("edge-01").unwrap();
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(&a, 1, 0), change(0, 0));
        assert_eq!(t.observe(&a, 1, 1), change(0, 0));
        assert_eq!(t.observe(&a, 1, 4), change(2, 0));
        assert_eq!(t.observe(&a, 1, 4), change(0, 0), "re-delivery");
        assert_eq!(
            t.observe(&a, 1, 3),
            change(0, 1),
            "late arrival fills the hole"
        );
        assert_eq!(t.observe(&a, 1, 3), change(0, 0), "filled only once");
        assert_eq!(t.missing(&a), 1, "seq 2 still missing");
        assert_eq!(
            t.summary(&a),
            SeqSummary {
                outstanding: 1,
                last_seq: Some(4)
            }
        );
        assert_eq!(t.observe(&a, 2, 7), change(0, 0), "new session");
        assert_eq!(
            t.observe(&a, 1, 6),
            change(1, 0),
            "old session still tracked"
        );
        assert_eq!(t.observe(&a, 2, 8), change(0, 0));
        assert_eq!(
            t.summary(&a),
            SeqSummary {
                outstanding: 2,
                last_seq: Some(8)
            },
            "seq 2 and 5 of session 1"
        );
        assert_eq!(
            t.summary(&AgentId::new("other").unwrap()),
            SeqSummary::default()
        );
    }

    #[test]
    fn live_first_replay_fills_every_hole() {
        // Outage: seqs 10..=19 spooled; after reconnect live 20..=24 go first, then backlog.
        let a = AgentId::new("edge-01").unwrap();
        let mut t = SeqTracker::default();
        let mut opened = 0;
        let mut filled = 0;
        for seq in (0..10).chain(20..25).chain(10..20) {
            let c = t.observe(&a, 7, seq);
            opened += c.opened;
            filled += c.filled;
        }
        assert_eq!((opened, filled), (10, 10));
        assert_eq!(t.missing(&a), 0);
    }

    #[test]
    fn ranges_split_when_filled_in_the_middle() {
        let a = AgentId::new("edge-01").unwrap();
        let mut t = SeqTracker::default();
        t.observe(&a, 1, 0);
        assert_eq!(t.observe(&a, 1, 10), change(9, 0));
        assert_eq!(t.observe(&a, 1, 5), change(0, 1));
        assert_eq!(t.observe(&a, 1, 1), change(0, 1));
        assert_eq!(t.observe(&a, 1, 9), change(0, 1));
        assert_eq!(t.missing(&a), 6, "2,3,4,6,7,8");
        assert_eq!(t.summary(&a).outstanding, 6);
    }
}
