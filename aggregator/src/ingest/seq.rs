//! Per-agent sequence tracking: counts batches missing between consecutive `seq` numbers of
//! one agent session (I/O-free).
//!
//! Each agent keeps its few most recent sessions (an agent replaying backlog from an older
//! session interleaves with its live one). A repeated or older `seq` is a re-delivery or a
//! replay and counts nothing. Limitation: a batch that arrives after a later one of the same
//! session was already counted as a gap (full gap reporting is a later issue).

use std::collections::{HashMap, VecDeque};

use protocols::model::AgentId;

/// Sessions remembered per agent.
const SESSIONS_PER_AGENT: usize = 4;
/// Agents remembered before the table is cleared (bounds memory against id churn).
const MAX_AGENTS: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct SeqTracker {
    agents: HashMap<AgentId, VecDeque<(u64, u64)>>,
}

impl SeqTracker {
    /// Records a batch; returns how many batches were skipped since the last one seen.
    pub(crate) fn observe(&mut self, agent: &AgentId, session: u64, seq: u64) -> u64 {
        if !self.agents.contains_key(agent) && self.agents.len() >= MAX_AGENTS {
            self.agents.clear();
        }
        let sessions = self.agents.entry(agent.clone()).or_default();
        if let Some(pos) = sessions.iter().position(|(s, _)| *s == session) {
            let (_, last) = sessions[pos];
            let gap = seq.saturating_sub(last).saturating_sub(1);
            sessions[pos].1 = last.max(seq);
            // Most recently used to the back.
            if let Some(entry) = sessions.remove(pos) {
                sessions.push_back(entry);
            }
            return gap;
        }
        if sessions.len() >= SESSIONS_PER_AGENT {
            sessions.pop_front();
        }
        sessions.push_back((session, seq));
        0
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_gaps_within_a_session_only() {
        let a = AgentId::new("edge-01").unwrap();
        let mut t = SeqTracker::default();
        assert_eq!(t.observe(&a, 1, 0), 0);
        assert_eq!(t.observe(&a, 1, 1), 0);
        assert_eq!(t.observe(&a, 1, 4), 2);
        assert_eq!(t.observe(&a, 1, 4), 0, "re-delivery");
        assert_eq!(t.observe(&a, 1, 3), 0, "late arrival");
        assert_eq!(t.observe(&a, 2, 7), 0, "new session");
        assert_eq!(t.observe(&a, 1, 6), 1, "old session still tracked");
        assert_eq!(t.observe(&a, 2, 8), 0);
    }
}
