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
//! Reload: [`AgentHandle::reload`] hands newly loaded settings to the running agent, which
//! applies them per device (see [`crate::reload`]) without touching the forwarder; the
//! binary does so on SIGHUP and when the file changes
//! ([`crate::config_watch::reload_on_signal_or_change`]).
//!
//! The forwarder is the only way out for data, so it is watched alongside the shutdown
//! signal. If it ends before shutdown (an error, a panic, its MQTT event loop task dying),
//! the agent logs the cause at error, stops the pollers and returns
//! [`AgentError`]: the binary exits with code 1 and systemd restarts it, rather than polling
//! on while publishing nothing (the broker publishes the Last Will meanwhile).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocols::model::TagMeta;
use tokio::sync::{mpsc, watch};
use tokio::task::{JoinError, JoinHandle};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::audit::AuditLog;
use crate::command::{COMMAND_CHANNEL_CAPACITY, CommandDispatcher, WriteRouter};
use crate::forward::{ForwardError, Forwarder};
use crate::metrics::Metrics;
use crate::poll::{DeviceBatch, DeviceStates, PollerHandles, supervise};
use crate::reload;
use crate::settings::{DeviceSettings, Settings};
use crate::spool::{Spool, SpoolError};

/// Batches the pollers may queue for the forwarder. The forwarder moves them into its own
/// buffer as fast as they come, so this only fills if the forwarder task is stalled; pollers
/// then drop (and count) rather than wait.
pub const BATCH_CHANNEL_CAPACITY: usize = 1024;
/// How often the counter summary is logged.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(60);
/// Reloads that may wait for the agent to apply the previous one.
const RELOAD_CHANNEL_CAPACITY: usize = 4;

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
    /// The catalogue's tags, replaced on every applied reload (the forwarder watches it).
    pub catalog: watch::Receiver<Vec<TagMeta>>,
    /// Routes write commands to device tasks (targets replaced on every applied reload).
    pub writes: WriteRouter,
    reloads: mpsc::Sender<Settings>,
}

impl AgentHandle {
    /// Hands newly loaded (valid) settings to the running agent, which applies what it can
    /// live (see [`crate::reload`]). Returns false if the agent has stopped.
    pub async fn reload(&self, settings: Settings) -> bool {
        self.reloads.send(settings).await.is_ok()
    }
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
    let (commands, command_rx) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
    let (result_tx, results) = mpsc::channel(COMMAND_CHANNEL_CAPACITY);
    let audit = AuditLog::in_data_dir(&settings.agent.data_dir);
    start_with(
        settings,
        shutdown,
        move |settings, handle, spool, input, stop| {
            // The dispatcher stops with the forwarder, after the pollers.
            let dispatcher = CommandDispatcher::new(
                handle.writes.clone(),
                audit,
                command_rx,
                result_tx,
                Arc::clone(&handle.metrics),
            );
            tokio::spawn(
                dispatcher
                    .run(stop.clone())
                    .instrument(tracing::info_span!("commands")),
            );
            if let Some(addr) = settings.agent.metrics_listen {
                tokio::spawn(
                    crate::metrics_http::serve(addr, Arc::clone(&handle.metrics), stop.clone())
                        .instrument(tracing::info_span!("metrics_http")),
                );
            }
            let metrics = Arc::clone(&handle.metrics);
            Forwarder::new(settings, spool, input, &handle.states, metrics)
                .with_catalog_updates(handle.catalog.clone())
                .with_commands(commands, results)
                .run(stop)
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
    let (catalog, catalog_rx) = watch::channel(catalog_tags(&settings));
    let (reloads, reload_rx) = mpsc::channel(RELOAD_CHANNEL_CAPACITY);
    let handle = AgentHandle {
        metrics: Arc::clone(&metrics),
        states: states.clone(),
        session,
        catalog: catalog_rx,
        writes: WriteRouter::default(),
        reloads,
    };
    handle.writes.set_targets(&settings.devices);
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

        let stop_pollers = shutdown.child_token();
        let mut running = Running {
            forwarding,
            stop_forwarder,
            pollers: TaskTracker::new(),
            devices: HashMap::new(),
            handles: Some(PollerHandles {
                out: tx,
                states,
                metrics: Arc::clone(&metrics),
                buses: crate::poll::Buses::default(),
                data_dir: Some(settings.agent.data_dir.clone()),
                writes: agent.writes.clone(),
            }),
            stop_pollers,
            metrics,
            catalog,
            reloads: reload_rx,
            settings,
        };
        for index in 0..running.settings.devices.len() {
            let device = running.settings.devices[index].clone();
            running.spawn_device(index, device, None);
        }
        running.until_stopped(shutdown).await
    };
    (handle, task)
}

/// The catalogue entries for every configured tag.
fn catalog_tags(settings: &Settings) -> Vec<TagMeta> {
    settings.devices.iter().flat_map(|d| d.tag_meta()).collect()
}

/// A running device task.
struct DeviceTask {
    /// A child of `stop_pollers`: stops this device alone.
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

/// The agent's tasks once started.
struct Running {
    forwarding: JoinHandle<Result<(), ForwardError>>,
    stop_forwarder: CancellationToken,
    /// Every device task ever started (stopped ones included, until they finish).
    pollers: TaskTracker,
    /// The current device tasks by device id.
    devices: HashMap<String, DeviceTask>,
    /// What device tasks are given; dropped at shutdown.
    handles: Option<PollerHandles>,
    /// A child of the shutdown token, so it can also be cancelled on its own.
    stop_pollers: CancellationToken,
    metrics: Arc<Metrics>,
    catalog: watch::Sender<Vec<TagMeta>>,
    reloads: mpsc::Receiver<Settings>,
    /// The settings in effect: the devices of the last reload, the other sections as
    /// started.
    settings: Settings,
}

impl Running {
    /// Starts device `index`'s supervised task, after `after` (its previous task) finished.
    fn spawn_device(
        &mut self,
        index: usize,
        device: DeviceSettings,
        after: Option<JoinHandle<()>>,
    ) {
        let Some(handles) = &self.handles else {
            return;
        };
        let cancel = self.stop_pollers.child_token();
        let span = tracing::info_span!("device", id = %device.id);
        let id = device.id.clone();
        let supervised = supervise(Arc::new(device), index, handles.clone(), cancel.clone());
        let task = self.pollers.spawn(
            async move {
                if let Some(previous) = after {
                    let _ = previous.await;
                }
                supervised.await;
            }
            .instrument(span),
        );
        self.devices.insert(id, DeviceTask { cancel, task });
    }

    /// Applies newly loaded settings: devices are stopped, started or restarted per
    /// [`reload::diff`]; the forwarder only gets the new catalogue.
    fn reload(&mut self, new: Settings) {
        let plan = reload::diff(&self.settings, &new);
        for section in &plan.restart_needed {
            tracing::warn!(
                section = %format!("[{section}]"),
                "configuration section changed; it cannot be applied live, restart the agent to apply it"
            );
        }
        for id in &plan.removed {
            if let Some(old) = self.devices.remove(id) {
                old.cancel.cancel();
            }
            if let Some(handles) = &self.handles {
                handles.writes.close_inbox(id);
            }
        }
        if let Some(handles) = &self.handles {
            handles.writes.set_targets(&new.devices);
        }
        for (index, device) in new.devices.iter().enumerate() {
            if plan.unchanged.contains(&device.id) {
                continue;
            }
            let previous = self.devices.remove(&device.id).map(|old| {
                old.cancel.cancel();
                old.task
            });
            self.spawn_device(index, device.clone(), previous);
        }
        if let Some(handles) = &self.handles {
            handles
                .states
                .replace(new.devices.iter().map(|d| d.id.as_str()), &plan.unchanged);
        }
        self.catalog.send_replace(catalog_tags(&new));
        self.settings.devices = new.devices;
        tracing::info!(
            added = plan.added.len(),
            removed = plan.removed.len(),
            changed = plan.changed.len(),
            unchanged = plan.unchanged.len(),
            not_applied = ?plan.restart_needed,
            devices = self.settings.devices.len(),
            tags = self.settings.devices.iter().map(|d| d.tag_count()).sum::<usize>(),
            "configuration reloaded"
        );
    }

    /// Stops accepting new device tasks and waits for the running ones to finish.
    async fn stop_pollers(&mut self) {
        self.stop_pollers.cancel();
        self.handles = None;
        self.pollers.close();
        self.pollers.wait().await;
    }

    /// Waits for shutdown or for the forwarder to end, whichever comes first, then stops
    /// everything in order.
    async fn until_stopped(mut self, shutdown: CancellationToken) -> Result<(), AgentError> {
        let summary = tokio::spawn(log_summaries(
            Arc::clone(&self.metrics),
            self.stop_pollers.clone(),
        ));
        let ended_early = loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break None,
                ended = &mut self.forwarding => break Some(ended),
                Some(new) = self.reloads.recv() => self.reload(new),
            }
        };
        let result = match ended_early {
            None => {
                tracing::info!("shutting down: stopping pollers");
                self.stop_pollers().await;
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
                self.stop_pollers().await;
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
