//! Liveness of ingest, shared between the MQTT task (which reports), the writer and the
//! health endpoint (which reads). I/O-free; time is passed in.
//!
//! Ingest is "down" when the MQTT task or the writer has stopped (a drop guard reports
//! that, also on panic) or the broker refused a subscription we still retry. The broker
//! connection is tracked separately: a short outage is normal (reconnects with backoff),
//! so the health endpoint only degrades after [`BROKER_DOWN_GRACE`].

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long the broker connection may be down before health reports `degraded`.
pub(crate) const BROKER_DOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug)]
struct State {
    tasks_running: bool,
    subscription_refused: bool,
    connected: bool,
    /// Since when the connection is down (`None` while connected).
    down_since: Option<Instant>,
}

/// What the health endpoint reports about ingest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IngestView {
    /// Tasks running and every subscription granted.
    pub(crate) ingest_ok: bool,
    /// Connected to the broker right now.
    pub(crate) broker_connected: bool,
    /// Disconnected for longer than [`BROKER_DOWN_GRACE`].
    pub(crate) broker_down_too_long: bool,
}

impl IngestView {
    /// Whether the aggregator is healthy as far as ingest goes.
    pub(crate) fn ok(&self) -> bool {
        self.ingest_ok && !self.broker_down_too_long
    }
}

/// Shared liveness state.
#[derive(Debug)]
pub(crate) struct IngestHealth {
    inner: Mutex<State>,
}

impl IngestHealth {
    /// Tasks starting, not connected yet (the grace period counts from `now`).
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            inner: Mutex::new(State {
                tasks_running: true,
                subscription_refused: false,
                connected: false,
                down_since: Some(now),
            }),
        }
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        f(&mut self.inner.lock().unwrap_or_else(PoisonError::into_inner))
    }

    pub(crate) fn connected(&self) {
        self.with(|s| {
            s.connected = true;
            s.down_since = None;
        });
    }

    pub(crate) fn disconnected(&self, now: Instant) {
        self.with(|s| {
            s.connected = false;
            s.down_since.get_or_insert(now);
        });
    }

    pub(crate) fn subscription_refused(&self, refused: bool) {
        self.with(|s| s.subscription_refused = refused);
    }

    /// Marks ingest down for good when the returned guard drops (task end or panic).
    pub(crate) fn task_guard(self: &std::sync::Arc<Self>) -> TaskGuard {
        TaskGuard(self.clone())
    }

    pub(crate) fn view(&self, now: Instant) -> IngestView {
        self.with(|s| IngestView {
            ingest_ok: s.tasks_running && !s.subscription_refused,
            broker_connected: s.connected,
            broker_down_too_long: s
                .down_since
                .is_some_and(|t| now.saturating_duration_since(t) > BROKER_DOWN_GRACE),
        })
    }
}

/// See [`IngestHealth::task_guard`].
#[derive(Debug)]
pub(crate) struct TaskGuard(std::sync::Arc<IngestHealth>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        self.0.with(|s| s.tasks_running = false);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn down_after_grace_refusal_or_task_end() {
        let t0 = Instant::now();
        let h = Arc::new(IngestHealth::new(t0));
        let v = h.view(t0 + Duration::from_secs(5));
        assert!(v.ok() && !v.broker_connected, "{v:?}");
        assert!(
            !h.view(t0 + Duration::from_secs(31)).ok(),
            "never connected"
        );
        h.connected();
        let later = t0 + Duration::from_secs(100);
        assert!(h.view(later).ok() && h.view(later).broker_connected);
        h.disconnected(later);
        h.disconnected(later + Duration::from_secs(20)); // keeps the first outage start
        assert!(h.view(later + Duration::from_secs(30)).ok());
        assert!(!h.view(later + Duration::from_secs(31)).ok());
        h.connected();
        h.subscription_refused(true);
        assert!(!h.view(later).ingest_ok);
        h.subscription_refused(false);
        assert!(h.view(later).ok());
        drop(h.task_guard());
        assert!(!h.view(later).ingest_ok);
    }
}
