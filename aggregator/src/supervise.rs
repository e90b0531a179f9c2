//! Supervision of the critical tasks (MQTT ingest, storage writer, API server).
//!
//! These tasks only end at shutdown. If one ends or panics before `stop` was cancelled,
//! ingest is broken for good (a dead writer leaves every message unacked, a dead MQTT task
//! receives nothing), so instead of living on half-dead the aggregator logs the cause at
//! error, cancels `stop` (everything shuts down) and reports a [`Failure`]; `cli` then exits
//! with a non-zero code and systemd restarts the process. Unacked messages are re-delivered
//! by the broker after the restart.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::watch;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A critical task that stopped before shutdown.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("task {task} {cause}")]
pub struct Failure {
    /// The task's name.
    pub task: &'static str,
    /// "ended unexpectedly" or "panicked: MESSAGE".
    pub cause: String,
}

/// The first failure reported (later ones are consequences).
#[derive(Debug, Clone)]
pub(crate) struct Failures {
    tx: Arc<watch::Sender<Option<Failure>>>,
}

impl Default for Failures {
    fn default() -> Self {
        Self {
            tx: Arc::new(watch::channel(None).0),
        }
    }
}

impl Failures {
    fn report(&self, failure: Failure) {
        self.tx.send_if_modified(|slot| {
            if slot.is_some() {
                return false;
            }
            *slot = Some(failure);
            true
        });
    }

    /// Waits for the first failure.
    pub(crate) async fn first(&self) -> Failure {
        let mut rx = self.tx.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let first = match rx.wait_for(Option::is_some).await {
            Ok(slot) => slot.clone(),
            Err(_) => None,
        };
        match first {
            Some(f) => f,
            None => std::future::pending().await,
        }
    }

    /// The first failure, if any yet.
    #[cfg(test)]
    pub(crate) fn get(&self) -> Option<Failure> {
        self.tx.borrow().clone()
    }
}

/// Watches `handle` (on `tracker`): if the task ends before `stop` is cancelled, reports it
/// to `failures` and cancels `stop`.
pub(crate) fn supervise(
    tracker: &TaskTracker,
    task: &'static str,
    handle: JoinHandle<()>,
    stop: CancellationToken,
    failures: Failures,
) {
    tracker.spawn(async move {
        let result = handle.await;
        if stop.is_cancelled() {
            if let Err(e) = &result
                && e.is_panic()
            {
                tracing::error!(task, "task panicked during shutdown");
            }
            return;
        }
        let cause = match result {
            Ok(()) => "ended unexpectedly".to_owned(),
            Err(e) => describe(e),
        };
        tracing::error!(task, %cause, "a critical task stopped; shutting down so the service manager restarts us");
        failures.report(Failure { task, cause });
        stop.cancel();
    });
}

fn describe(e: JoinError) -> String {
    if !e.is_panic() {
        return format!("was cancelled: {e}");
    }
    let payload: Box<dyn Any + Send> = e.into_panic();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string payload".to_owned());
    format!("panicked: {message}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    async fn run(
        task: impl Future<Output = ()> + Send + 'static,
        cancel_first: bool,
    ) -> (bool, Option<Failure>) {
        let tracker = TaskTracker::new();
        let stop = CancellationToken::new();
        let failures = Failures::default();
        if cancel_first {
            stop.cancel();
        }
        let handle = tokio::spawn(task);
        supervise(&tracker, "writer", handle, stop.clone(), failures.clone());
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .unwrap();
        (stop.is_cancelled(), failures.get())
    }

    #[tokio::test]
    async fn a_task_ending_early_cancels_everything() {
        let (cancelled, failure) = run(async {}, false).await;
        assert!(cancelled);
        assert_eq!(
            failure,
            Some(Failure {
                task: "writer",
                cause: "ended unexpectedly".into()
            })
        );
    }

    #[tokio::test]
    async fn a_panic_is_reported_with_its_message() {
        let (cancelled, failure) = run(async { panic!("disk on fire") }, false).await;
        assert!(cancelled);
        let failure = failure.unwrap();
        assert_eq!(failure.cause, "panicked: disk on fire");
        assert_eq!(failure.to_string(), "task writer panicked: disk on fire");
    }

    #[tokio::test]
    async fn ending_at_shutdown_is_no_failure() {
        let (_, failure) = run(async {}, true).await;
        assert_eq!(failure, None);
    }

    #[tokio::test]
    async fn first_waits_for_the_first_failure() {
        let failures = Failures::default();
        let waiter = tokio::spawn({
            let f = failures.clone();
            async move { f.first().await }
        });
        failures.report(Failure {
            task: "a",
            cause: "x".into(),
        });
        failures.report(Failure {
            task: "b",
            cause: "y".into(),
        });
        let got = tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(got.task, "a");
    }
}
