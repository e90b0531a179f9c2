//! Wiring: validated settings in, running agent out, until the cancellation token fires.
//!
//! Startup order: counters, device states and the bounded batch channel; the forwarder task
//! (connects to the broker in the background); one supervised poller task per device; the
//! periodic counter summary. Shutdown order: the caller cancels `shutdown` (the binary does
//! on SIGINT/SIGTERM) → pollers finish their current cycle and stop → the forwarder is told
//! to stop, flushes for at most `agent.shutdown_grace`, publishes the retained offline status
//! and disconnects.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::forward::Forwarder;
use crate::metrics::Metrics;
use crate::poll::{DeviceStates, PollerHandles, supervise};
use crate::settings::Settings;

/// Batches the pollers may queue for the forwarder. The forwarder moves them into its own
/// buffer as fast as they come, so this only fills if the forwarder task is stalled; pollers
/// then drop (and count) rather than wait.
pub const BATCH_CHANNEL_CAPACITY: usize = 1024;
/// How often the counter summary is logged.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);

/// A running agent's shared state, for callers that want to observe it (tests).
#[derive(Debug, Clone)]
pub struct AgentHandle {
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Device connection states.
    pub states: DeviceStates,
    /// This run's session id (agent start time, ns since the epoch).
    pub session: u64,
}

/// Runs the agent until `shutdown` is cancelled, then shuts down in order.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    start(settings, shutdown).1.await
}

/// Starts the agent and returns its handle plus the future that runs it to completion.
pub fn start(
    settings: Settings,
    shutdown: CancellationToken,
) -> (AgentHandle, impl Future<Output = anyhow::Result<()>>) {
    let session = u64::try_from(protocols::model::now_ns()).unwrap_or_default();
    let metrics = Arc::new(Metrics::default());
    let states = DeviceStates::new(settings.devices.iter().map(|d| d.id.as_str()));
    let handle = AgentHandle {
        metrics: Arc::clone(&metrics),
        states: states.clone(),
        session,
    };
    let task = async move {
        let (tx, rx) = mpsc::channel(BATCH_CHANNEL_CAPACITY);
        let forwarder = Forwarder::new(&settings, session, rx, &states, Arc::clone(&metrics));
        let stop_forwarder = CancellationToken::new();
        let forwarding = tokio::spawn(
            forwarder
                .run(stop_forwarder.clone())
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
        let summary = tokio::spawn(log_summaries(Arc::clone(&metrics), stop_pollers.clone()));

        shutdown.cancelled().await;
        tracing::info!("shutting down: stopping pollers");
        pollers.wait().await;
        stop_forwarder.cancel();
        let forwarded = forwarding.await;
        summary.abort();
        metrics.log_summary();
        match forwarded {
            Ok(Ok(())) => {
                tracing::info!("agent stopped");
                Ok(())
            }
            Ok(Err(e)) => Err(anyhow::Error::new(e).context("forwarder failed")),
            Err(e) => Err(anyhow::Error::new(e).context("forwarder task panicked")),
        }
    };
    (handle, task)
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
