//! Bus tasks: one per Modbus connection, owning the [`ModbusDriver`] and serving the poll
//! cycles of every device on it, one at a time, in arrival order.
//!
//! Device tasks stay one per device (supervision, reload and health are per device); each
//! lends its [`RegisterMap`] to its bus for a cycle ([`BusHandle::poll`]) and gets it back
//! with the outcome (and any holes learned). Devices that share a link (an RTU line, an
//! RTU-over-TCP converter, a Modbus TCP gateway with `share_connection`) share one bus
//! task, so their requests never interleave on the wire; any other device has a bus of its
//! own. [`Buses`] finds or starts the task for a [`BusKey`]; a bus task ends when the last
//! device task holding its handle is gone. Write commands ([`BusHandle::write`]) queue
//! behind the cycles already waiting and run between them on the same connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use protocols::modbus::{Link, ModbusDriver, PollOutcome, RegisterMap};
use protocols::model::{Point, now_ns};
use tokio::sync::{mpsc, oneshot};
use tracing::Instrument;

use crate::command::WriteJob;
use crate::settings::BusKey;

/// Poll cycles that may wait for one bus. Each device has at most one outstanding, so this
/// only fills with more devices than this on one link; they then wait their turn.
const BUS_QUEUE: usize = 64;

/// What a bus is asked to do.
enum Job {
    /// One poll cycle.
    Poll(PollJob),
    /// One write command (answered on the write job's own reply channel).
    Write {
        unit: u8,
        timeout: Duration,
        request_delay: Duration,
        job: WriteJob,
    },
}

/// One poll cycle asked of a bus.
struct PollJob {
    unit: u8,
    timeout: Duration,
    request_delay: Duration,
    map: RegisterMap,
    reply: oneshot::Sender<(RegisterMap, PollOutcome)>,
}

/// A device task's way to its bus.
#[derive(Debug, Clone)]
pub(crate) struct BusHandle {
    tx: mpsc::Sender<Job>,
}

/// Why a bus could not run a cycle: its task is gone (it panicked). Carries the map back
/// when the job was not taken.
#[derive(Debug)]
pub(crate) struct BusGone(pub(crate) Option<RegisterMap>);

impl BusHandle {
    /// Runs one cycle of `unit` over `map` on the bus; returns the map (with any learned
    /// holes) and the outcome.
    pub(crate) async fn poll(
        &self,
        unit: u8,
        timeout: Duration,
        request_delay: Duration,
        map: RegisterMap,
    ) -> Result<(RegisterMap, PollOutcome), BusGone> {
        let (reply, rx) = oneshot::channel();
        let job = Job::Poll(PollJob {
            unit,
            timeout,
            request_delay,
            map,
            reply,
        });
        if let Err(mpsc::error::SendError(Job::Poll(job))) = self.tx.send(job).await {
            return Err(BusGone(Some(job.map)));
        }
        // The bus task answers every job it takes; it only drops one if it panics.
        rx.await.map_err(|_| BusGone(None))
    }
}

impl BusHandle {
    /// Queues a write command for `unit` behind the cycles already waiting; the bus answers
    /// on the job's reply channel. False if the bus task is gone (the job is dropped, so
    /// the dispatcher reports it failed).
    pub(crate) async fn write(
        &self,
        unit: u8,
        timeout: Duration,
        request_delay: Duration,
        job: WriteJob,
    ) -> bool {
        let job = Job::Write {
            unit,
            timeout,
            request_delay,
            job,
        };
        self.tx.send(job).await.is_ok()
    }
}

/// The running bus tasks, by key. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Buses {
    inner: Arc<Mutex<HashMap<BusKey, mpsc::WeakSender<Job>>>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Job::Poll(p) => f.debug_struct("Poll").field("unit", &p.unit).finish(),
            Job::Write { unit, job, .. } => f
                .debug_struct("Write")
                .field("unit", unit)
                .field("id", &job.id)
                .finish(),
        }
    }
}

impl Buses {
    /// The handle of `key`'s bus, starting its task if none runs.
    pub(crate) fn handle(&self, key: &BusKey) -> BusHandle {
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(tx) = map.get(key).and_then(mpsc::WeakSender::upgrade) {
            return BusHandle { tx };
        }
        map.retain(|_, weak| weak.strong_count() > 0);
        let (tx, rx) = mpsc::channel(BUS_QUEUE);
        map.insert(key.clone(), tx.downgrade());
        let span = tracing::info_span!("bus", link = %key.link);
        tokio::spawn(run(key.link.clone(), rx).instrument(span));
        BusHandle { tx }
    }
}

/// Serves jobs until every handle is dropped.
async fn run(link: Link, mut jobs: mpsc::Receiver<Job>) {
    let mut driver = ModbusDriver::new(link, Duration::from_secs(1));
    tracing::debug!("bus task started");
    while let Some(job) = jobs.recv().await {
        let job = match job {
            Job::Poll(p) => p,
            Job::Write {
                unit,
                timeout,
                request_delay,
                job,
            } => {
                driver.set_timeout(timeout);
                driver.set_request_delay(request_delay);
                crate::command::execute(&mut driver, unit, job).await;
                continue;
            }
        };
        driver.set_timeout(job.timeout);
        driver.set_request_delay(job.request_delay);
        let mut map = job.map;
        let outcome = if driver.is_connected() {
            driver.poll(job.unit, &mut map).await
        } else {
            match driver.connect().await {
                Ok(()) => {
                    tracing::debug!(link = %driver.link(), "connected");
                    driver.poll(job.unit, &mut map).await
                }
                Err(error) => {
                    let ts = now_ns();
                    let reason = error.reason();
                    PollOutcome {
                        points: map
                            .tags()
                            .iter()
                            .map(|t| Point::bad(t.id().clone(), ts, reason.as_str()))
                            .collect(),
                        requests_ok: 0,
                        exceptions: Vec::new(),
                        error: Some(error),
                        learned: Vec::new(),
                        plan_change: None,
                    }
                }
            }
        };
        let _ = job.reply.send((map, outcome));
    }
    driver.disconnect();
    tracing::debug!("bus task stopped");
}
