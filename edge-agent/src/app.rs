//! Wiring: validated settings in, running agent out, until the cancellation token fires or
//! the forwarder stops on its own.
//!
//! Startup order: the spool is opened (torn tails truncated; its session id becomes the
//! agent's); counters, device states and the bounded batch channel; the forwarder task
//! (connects to the broker in the background); one supervised poller task per device; the
//! periodic counter summary. Shutdown order: the caller cancels `shutdown` (the binary does
//! on SIGINT/SIGTERM) → pollers finish their current cycle and stop → the forwarder is told
//! to stop, drains the channel into the spool and fsyncs it, flushes to the broker for at
//! most `agent.shutdown_grace`, publishes the retained offline status and disconnects;
//! whatever the broker has not acknowledged stays in the spool for the next start.
//!
//! The forwarder is the only way out for data, so it is watched alongside the shutdown
//! signal. If it ends before shutdown (an error, a panic, its MQTT event loop task dying),
//! the agent logs the cause at error, stops the pollers and returns
//! [`AgentError`]: the binary exits with code 1 and systemd restarts it, rather than polling
//! on while publishing nothing (the broker publishes the Last Will meanwhile).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::forward::{ForwardError, Forwarder};
use crate::metrics::Metrics;
use crate::poll::{DeviceBatch, DeviceStates, PollerHandles, supervise};
use crate::settings::Settings;
use crate::spool::{Spool, SpoolError};

/// Batches the pollers may queue for the forwarder. The forwarder moves them into its own
/// buffer as fast as they come, so this only fills if the forwarder task is stalled; pollers
/// then drop (and count) rather than wait.
pub const BATCH_CHANNEL_CAPACITY: usize = 1024;
/// How often the counter summary is logged.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// Why the agent stopped with a failure.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The spool could not be opened.
    #[error("cannot open the spool")]
    Spool(#[source] SpoolError),
    /// The forwarder returned an error (before or during shutdown).
    #[error("forwarder failed")]
    Forwarder(#[source] ForwardError),
    /// The forwarder task panicked (or was aborted).
    #[error("forwarder task died")]
    ForwarderTask(#[source] JoinError),
    /// The forwarder returned without error although shutdown was not requested.
    #[error("forwarder stopped before shutdown was requested")]
    ForwarderStopped,
}

/// A running agent's shared state, for callers that want to observe it (tests).
#[derive(Debug, Clone)]
pub struct AgentHandle {
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Device connection states.
    pub states: DeviceStates,
    /// The session id batches carry: the spool's (its creation time, ns since the epoch), so
    /// it stays the same across restarts on the same spool.
    pub session: u64,
}

/// Runs the agent until `shutdown` is cancelled, then shuts down in order. Returns early
/// with an error if the forwarder stops on its own.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> Result<(), AgentError> {
    start(settings, shutdown).1.await
}

/// Starts the agent and returns its handle plus the future that runs it to completion.
pub fn start(
    settings: Settings,
    shutdown: CancellationToken,
) -> (
    AgentHandle,
    impl Future<Output = Result<(), AgentError>> + Send + 'static,
) {
    start_with(
        settings,
        shutdown,
        |settings, handle, spool, input, stop| {
            let metrics = Arc::clone(&handle.metrics);
            Forwarder::new(settings, spool, input, &handle.states, metrics).run(stop)
        },
    )
}

/// [`start`] with the forwarder made by `forwarder(settings, handle, spool, input, stop)`,
/// so tests can substitute one that fails.
pub(crate) fn start_with<F, Fut>(
    settings: Settings,
    shutdown: CancellationToken,
    forwarder: F,
) -> (
    AgentHandle,
    impl Future<Output = Result<(), AgentError>> + Send + 'static,
)
where
    F: FnOnce(
            &Settings,
            &AgentHandle,
            Spool,
            mpsc::Receiver<DeviceBatch>,
            CancellationToken,
        ) -> Fut
        + Send
        + 'static,
    Fut: Future<Output = Result<(), ForwardError>> + Send + 'static,
{
    let new_session = u64::try_from(protocols::model::now_ns()).unwrap_or_default();
    let opened = Spool::open(&settings.spool, new_session);
    let session = opened.as_ref().map_or(new_session, |(s, _)| s.session());
    let metrics = Arc::new(Metrics::default());
    let states = DeviceStates::new(settings.devices.iter().map(|d| d.id.as_str()));
    let handle = AgentHandle {
        metrics: Arc::clone(&metrics),
        states: states.clone(),
        session,
    };
    let agent = handle.clone();
    let task = async move {
        let spool = match opened {
            Ok((spool, recovered)) => {
                tracing::info!(
                    dir = %settings.spool.dir.display(),
                    spooled = recovered.records,
                    truncated_bytes = recovered.truncated_bytes,
                    next_seq = spool.next_seq(),
                    "spool opened"
                );
                spool
            }
            Err(error) => {
                tracing::error!(error = %crate::logging::chain(&error), "cannot open the spool");
                return Err(AgentError::Spool(error));
            }
        };
        let (tx, rx) = mpsc::channel(BATCH_CHANNEL_CAPACITY);
        let stop_forwarder = CancellationToken::new();
        let forwarding = tokio::spawn(
            forwarder(&settings, &agent, spool, rx, stop_forwarder.clone())
                .instrument(tracing::info_span!("forwarder")),
        );
        tracing::info!(
            agent = %settings.agent.id,
            session,
            devices = settings.devices.len(),
            tags = settings.devices.iter().map(|d| d.tag_count()).sum::<usize>(),
            "agent started"
        );

        let pollers = TaskTracker::new();
        let stop_pollers = shutdown.child_token();
        let handles = PollerHandles {
            out: tx,
            states: states.clone(),
            metrics: Arc::clone(&metrics),
        };
        for (index, device) in settings.devices.iter().enumerate() {
            let span = tracing::info_span!("device", id = %device.id);
            pollers.spawn(
                supervise(
                    Arc::new(device.clone()),
                    index,
                    handles.clone(),
                    stop_pollers.clone(),
                )
                .instrument(span),
            );
        }
        drop(handles);
        pollers.close();
        Running {
            forwarding,
            stop_forwarder,
            pollers,
            stop_pollers,
            metrics,
        }
        .until_stopped(shutdown)
        .await
    };
    (handle, task)
}

/// The agent's tasks once started.
struct Running {
    forwarding: JoinHandle<Result<(), ForwardError>>,
    stop_forwarder: CancellationToken,
    pollers: TaskTracker,
    /// A child of the shutdown token, so it can also be cancelled on its own.
    stop_pollers: CancellationToken,
    metrics: Arc<Metrics>,
}

impl Running {
    /// Waits for shutdown or for the forwarder to end, whichever comes first, then stops
    /// everything in order.
    async fn until_stopped(mut self, shutdown: CancellationToken) -> Result<(), AgentError> {
        let summary = tokio::spawn(log_summaries(
            Arc::clone(&self.metrics),
            self.stop_pollers.clone(),
        ));
        let ended_early = tokio::select! {
            biased;
            () = shutdown.cancelled() => None,
            ended = &mut self.forwarding => Some(ended),
        };
        let result = match ended_early {
            None => {
                tracing::info!("shutting down: stopping pollers");
                self.pollers.wait().await;
                self.stop_forwarder.cancel();
                match (&mut self.forwarding).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(AgentError::Forwarder(e)),
                    Err(e) => Err(AgentError::ForwarderTask(e)),
                }
            }
            Some(ended) => {
                let error = match ended {
                    Ok(Ok(())) => AgentError::ForwarderStopped,
                    Ok(Err(e)) => AgentError::Forwarder(e),
                    Err(e) => AgentError::ForwarderTask(e),
                };
                tracing::error!(
                    error = %crate::logging::chain(&error),
                    "forwarder stopped unexpectedly; nothing can be published, stopping the agent"
                );
                self.stop_pollers.cancel();
                self.pollers.wait().await;
                Err(error)
            }
        };
        summary.abort();
        self.metrics.log_summary();
        if result.is_ok() {
            tracing::info!("agent stopped");
        }
        result
    }
}

async fn log_summaries(metrics: Arc<Metrics>, stop: CancellationToken) {
    let mut every = tokio::time::interval(SUMMARY_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    every.tick().await;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => metrics.log_summary(),
        }
    }
}

/// Completes on the first SIGINT or SIGTERM (or Ctrl-C elsewhere).
pub async fn shutdown_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        tokio::select! {
            _ = term.recv() => tracing::info!("SIGTERM received"),
            _ = int.recv() => tracing::info!("SIGINT received"),
        }
        Ok(())
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

#[cfg(test)]
#[path = "app_tests.rs"]
mod tests;
