//! Routing accepted writes to the device task that owns the tag.
//!
//! Each device task has a bounded inbox of [`WriteJob`]s ([`WRITE_INBOX_CAPACITY`]); the
//! dispatcher never waits on it (a full inbox rejects the command as busy). The router is
//! shared between the app (which opens an inbox when it spawns a device task and replaces
//! the targets on a reload) and the dispatcher; its lock is a `std::sync::Mutex` held only
//! for map lookups, never across `.await`.
//!
//! The inbox receiver sits behind a `tokio::sync::Mutex` so that a device task restarted by
//! its supervisor (or replaced by a reload) picks up the same inbox; a task holds the lock
//! for its whole run. The device task hands each job to its bus task, which executes it
//! between poll cycles (`execute.rs`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use protocols::modbus::{RegisterTag, WriteAction};
use protocols::model::{Value, WriteCommand};
use tokio::sync::{mpsc, oneshot};

use super::targets::{Accepted, WriteTargets};
use crate::settings::DeviceSettings;

/// Writes waiting for one device task. Small: writes are operator actions.
pub const WRITE_INBOX_CAPACITY: usize = 8;

/// A write for a device task to execute between polls.
#[derive(Debug)]
pub struct WriteJob {
    /// The command id (for logs).
    pub id: String,
    /// The tag.
    pub tag: RegisterTag,
    /// The encoded request.
    pub request: WriteAction,
    /// Where the outcome goes. If the dispatcher stopped waiting (it closed its end), the
    /// device task must not execute the job.
    pub reply: oneshot::Sender<WriteOutcome>,
}

/// What a device task reports for a [`WriteJob`].
#[derive(Debug, Clone, PartialEq)]
pub struct WriteOutcome {
    /// The value read before writing, if the read succeeded.
    pub old: Option<Value>,
    /// The value read back after writing, if the read succeeded.
    pub new: Option<Value>,
    /// `Err(reason)` when the write was not completed (exception, timeout, disconnected).
    pub written: Result<(), String>,
    /// How long the device task took (reads and write).
    pub took: Duration,
}

/// A device task's end of its inbox.
pub type WriteInbox = Arc<tokio::sync::Mutex<mpsc::Receiver<WriteJob>>>;

#[derive(Debug, Default)]
struct Inner {
    targets: WriteTargets,
    inboxes: HashMap<String, (mpsc::Sender<WriteJob>, WriteInbox)>,
}

/// Shared routing table: tag -> device -> inbox.
#[derive(Debug, Clone, Default)]
pub struct WriteRouter {
    inner: Arc<Mutex<Inner>>,
}

/// Why an accepted command could not be handed to its device.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// Validation failed (the reason).
    #[error("{0}")]
    Invalid(String),
    /// The device's inbox is full.
    #[error("device {0} is busy with earlier writes; try again")]
    Busy(String),
    /// The device has no running task.
    #[error("device {0} is not running")]
    NoDevice(String),
}

impl WriteRouter {
    /// Replaces the tag table (at start and after a reload).
    pub fn set_targets(&self, devices: &[DeviceSettings]) {
        let targets = WriteTargets::from_devices(devices);
        self.lock().targets = targets;
    }

    /// Number of writable tags.
    pub fn writable(&self) -> usize {
        self.lock().targets.writable()
    }

    /// `device`'s inbox, created on first use. A restarted or reloaded device task gets the
    /// same inbox, so queued writes survive the restart.
    pub fn inbox(&self, device: &str) -> WriteInbox {
        let mut inner = self.lock();
        let (_, inbox) = inner.inboxes.entry(device.to_owned()).or_insert_with(|| {
            let (tx, rx) = mpsc::channel(WRITE_INBOX_CAPACITY);
            (tx, Arc::new(tokio::sync::Mutex::new(rx)))
        });
        Arc::clone(inbox)
    }

    /// Forgets `device`'s inbox (the device was removed; its queued writes then fail).
    pub fn close_inbox(&self, device: &str) {
        self.lock().inboxes.remove(device);
    }

    /// Validates `cmd` and hands it to its device without waiting; returns the receiver of
    /// the outcome.
    pub fn submit(
        &self,
        cmd: &WriteCommand,
    ) -> Result<(Accepted, oneshot::Receiver<WriteOutcome>), RouteError> {
        let inner = self.lock();
        let accepted = inner.targets.check(cmd).map_err(RouteError::Invalid)?;
        let (inbox, _) = inner
            .inboxes
            .get(&accepted.device)
            .ok_or_else(|| RouteError::NoDevice(accepted.device.clone()))?;
        let (reply, outcome) = oneshot::channel();
        let job = WriteJob {
            id: cmd.id.clone(),
            tag: accepted.tag.clone(),
            request: accepted.request.clone(),
            reply,
        };
        match inbox.try_send(job) {
            Ok(()) => Ok((accepted, outcome)),
            Err(mpsc::error::TrySendError::Full(_)) => Err(RouteError::Busy(accepted.device)),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(RouteError::NoDevice(accepted.device)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // The maps stay consistent even if a holder panicked (single inserts/removes).
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
