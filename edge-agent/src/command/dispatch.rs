//! The command dispatcher task: decodes commands the forwarder received, validates them,
//! hands them to device tasks, audits every attempt and hands each result back to the
//! forwarder to publish.
//!
//! Per command, exactly one of:
//! - undecodable without an id: audited (`id` empty), logged, no answer possible;
//! - a repeated id: answered with the first result (again), not executed, not audited;
//!   if the first delivery is still executing, answered when it finishes;
//! - rejected (malformed, unknown or read-only tag, wrong type, outside limits, device busy
//!   or not running, too many commands in progress): audited, answered, nothing written;
//! - executed by the device task: audited with the old and new value, answered `ok`, or
//!   `failed` with the reason (exception, timeout, not connected, no answer within
//!   [`COMMAND_TIMEOUT`]).
//!
//! The audit line is fsynced before the answer is handed over. Results go to the forwarder
//! over a bounded channel (the dispatcher waits when it is full).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use protocols::codec::command::decode_command;
use protocols::model::{WriteCommand, WriteResult, WriteStatus, now_ns};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::recent::{RECENT_CAPACITY, RecentCommands, Seen};
use super::router::{RouteError, WriteOutcome, WriteRouter};
use crate::audit::{AuditLog, AuditRecord};
use crate::metrics::{self, Metrics};

/// Commands executing at once, over all devices; more are rejected as busy.
pub const MAX_IN_PROGRESS: usize = 64;
/// How long a device task may take to execute a write (it runs between polls, so this
/// includes waiting for the current poll cycle). After that the command is answered
/// `failed`, and the device task drops the job if it has not started it.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Capacity of the channels between forwarder and dispatcher (both directions).
pub const COMMAND_CHANNEL_CAPACITY: usize = 64;

/// Executes write commands.
#[derive(Debug)]
pub struct CommandDispatcher {
    router: WriteRouter,
    audit: AuditLog,
    input: mpsc::Receiver<Vec<u8>>,
    output: mpsc::Sender<WriteResult>,
    recent: RecentCommands,
    /// Extra deliveries of a command still executing, by id.
    duplicates: HashMap<String, usize>,
    running: JoinSet<(WriteCommand, WriteResult)>,
    metrics: Arc<Metrics>,
}

impl CommandDispatcher {
    /// A dispatcher reading raw command payloads from `input` and sending results to
    /// `output`.
    pub fn new(
        router: WriteRouter,
        audit: AuditLog,
        input: mpsc::Receiver<Vec<u8>>,
        output: mpsc::Sender<WriteResult>,
        metrics: Arc<Metrics>,
    ) -> Self {
        Self {
            router,
            audit,
            input,
            output,
            recent: RecentCommands::new(RECENT_CAPACITY),
            duplicates: HashMap::new(),
            running: JoinSet::new(),
            metrics,
        }
    }

    /// Runs until `cancel` fires or the forwarder goes away. Commands still executing at
    /// shutdown are waited for (each is bounded by [`COMMAND_TIMEOUT`]) so that every
    /// accepted attempt is audited.
    pub async fn run(mut self, cancel: CancellationToken) {
        tracing::info!(
            writable_tags = self.router.writable(),
            audit = %self.audit.path().display(),
            "command dispatcher started"
        );
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(done) = self.running.join_next() => self.on_done(done).await,
                payload = self.input.recv() => match payload {
                    Some(p) => self.on_payload(&p).await,
                    None => break,
                },
            }
        }
        while let Some(done) = self.running.join_next().await {
            self.on_done(done).await;
        }
        tracing::debug!("command dispatcher stopped");
    }

    async fn on_payload(&mut self, payload: &[u8]) {
        let cmd = match decode_command(payload) {
            Ok(cmd) => cmd,
            Err(e) => {
                let id = e.id.clone().unwrap_or_default();
                let tag = e.tag.clone().unwrap_or_default();
                let result = rejected(&id, &tag, e.reason.clone());
                let record = AuditRecord {
                    ts_ns: result.ts_ns,
                    id: id.clone(),
                    user: String::new(),
                    comment: None,
                    tag,
                    requested: None,
                    old: None,
                    new: None,
                    status: WriteStatus::Rejected,
                    reason: Some(e.reason),
                };
                self.audit(&record).await;
                metrics::inc(&self.metrics.writes_rejected);
                if id.is_empty() {
                    tracing::warn!(reason = %record.reason.as_deref().unwrap_or_default(), "malformed command without an id; cannot answer it");
                    return;
                }
                match self.recent.begin(&id) {
                    Seen::New => {
                        self.recent.finish(&id, result.clone());
                        self.answer(result, 1).await;
                    }
                    Seen::Pending => *self.duplicates.entry(id).or_default() += 1,
                    Seen::Done(first) => self.answer(first, 1).await,
                }
                return;
            }
        };
        match self.recent.begin(&cmd.id) {
            Seen::New => {}
            Seen::Pending => {
                tracing::debug!(id = %cmd.id, "command redelivered while executing; answering once it finishes");
                *self.duplicates.entry(cmd.id).or_default() += 1;
                return;
            }
            Seen::Done(first) => {
                tracing::debug!(id = %cmd.id, "command redelivered; answering with its first result without writing again");
                self.answer(first, 1).await;
                return;
            }
        }
        if self.running.len() >= MAX_IN_PROGRESS {
            let reason =
                format!("too many commands in progress (limit {MAX_IN_PROGRESS}); try again");
            self.finish(&cmd, rejected(&cmd.id, cmd.tag.as_str(), reason))
                .await;
            return;
        }
        match self.router.submit(&cmd) {
            Ok((_, outcome)) => {
                self.running.spawn(wait_for(cmd, outcome));
            }
            Err(e) => {
                let result = rejected(&cmd.id, cmd.tag.as_str(), e.to_string());
                if matches!(e, RouteError::Invalid(_)) {
                    tracing::debug!(id = %cmd.id, "command failed validation");
                }
                self.finish(&cmd, result).await;
            }
        }
    }

    async fn on_done(&mut self, done: Result<(WriteCommand, WriteResult), tokio::task::JoinError>) {
        match done {
            Ok((cmd, result)) => self.finish(&cmd, result).await,
            // `wait_for` cannot panic; an abort only happens when the runtime shuts down.
            Err(e) => tracing::error!(error = %e, "command task ended abnormally"),
        }
    }

    /// Audits, remembers and answers one attempt (plus its redeliveries).
    async fn finish(&mut self, cmd: &WriteCommand, result: WriteResult) {
        let record = AuditRecord {
            ts_ns: result.ts_ns,
            id: cmd.id.clone(),
            user: cmd.user.clone(),
            comment: cmd.comment.clone(),
            tag: cmd.tag.to_string(),
            requested: Some(cmd.value.clone()),
            old: result.old.clone(),
            new: result.new.clone(),
            status: result.status,
            reason: result.error.clone(),
        };
        self.audit(&record).await;
        metrics::inc(match result.status {
            WriteStatus::Ok => &self.metrics.writes_ok,
            WriteStatus::Rejected => &self.metrics.writes_rejected,
            WriteStatus::Failed => &self.metrics.writes_failed,
        });
        match result.status {
            WriteStatus::Ok => {
                tracing::info!(id = %cmd.id, user = %cmd.user, tag = %cmd.tag, requested = %cmd.value, old = ?result.old, new = ?result.new, "write executed")
            }
            status => {
                tracing::warn!(id = %cmd.id, user = %cmd.user, tag = %cmd.tag, requested = %cmd.value, status = status.as_str(), reason = result.error.as_deref().unwrap_or_default(), "write not executed")
            }
        }
        self.recent.finish(&cmd.id, result.clone());
        let times = 1 + self.duplicates.remove(&cmd.id).unwrap_or(0);
        self.answer(result, times).await;
    }

    async fn audit(&self, record: &AuditRecord) {
        if let Err(error) = self.audit.append(record).await {
            // The attempt still gets its answer; the operator must fix the disk.
            tracing::error!(%error, id = %record.id, "cannot write the audit log");
        }
    }

    async fn answer(&self, result: WriteResult, times: usize) {
        for _ in 0..times {
            if self.output.send(result.clone()).await.is_err() {
                tracing::debug!(id = %result.id, "forwarder gone; result not published");
                return;
            }
        }
    }
}

fn rejected(id: &str, tag: &str, reason: String) -> WriteResult {
    WriteResult {
        id: id.to_owned(),
        tag: tag.to_owned(),
        status: WriteStatus::Rejected,
        error: Some(reason),
        old: None,
        new: None,
        ts_ns: now_ns(),
    }
}

/// Waits for the device task's outcome (bounded by [`COMMAND_TIMEOUT`]).
async fn wait_for(
    cmd: WriteCommand,
    outcome: oneshot::Receiver<WriteOutcome>,
) -> (WriteCommand, WriteResult) {
    let outcome = tokio::time::timeout(COMMAND_TIMEOUT, outcome).await;
    if let Ok(Ok(o)) = &outcome {
        tracing::debug!(id = %cmd.id, took = ?o.took, "device task executed the write");
    }
    let (status, error, old, new) = match outcome {
        Ok(Ok(o)) => match o.written {
            Ok(()) => (WriteStatus::Ok, None, o.old, o.new),
            Err(reason) => (WriteStatus::Failed, Some(reason), o.old, o.new),
        },
        Ok(Err(_)) => (
            WriteStatus::Failed,
            Some("the device task stopped before executing the write".to_owned()),
            None,
            None,
        ),
        Err(_) => (
            WriteStatus::Failed,
            Some(format!(
                "no answer from the device task within {COMMAND_TIMEOUT:?}; the write was not started"
            )),
            None,
            None,
        ),
    };
    let result = WriteResult {
        id: cmd.id.clone(),
        tag: cmd.tag.to_string(),
        status,
        error,
        old,
        new,
        ts_ns: now_ns(),
    };
    (cmd, result)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::model::Value;

    use super::*;

    const CONFIG: &str = include_str!("../../../deploy/edge-agent.reference.toml");

    fn command(id: &str, tag: &str, value: &str) -> Vec<u8> {
        format!(
            r#"{{"v":1,"kind":"write","id":"{id}","tag":"demo/hall-1/line-1/motor-01/{tag}","value":{value},"user":"u"}}"#
        )
        .into_bytes()
    }

    /// The dispatcher with the reference configuration and a stand-in for the motor's
    /// device task that answers each job after `release` lets it.
    #[tokio::test]
    async fn duplicates_while_executing_are_answered_once_it_finishes() {
        let settings = crate::config::parse(CONFIG, "reference.toml").unwrap();
        let router = WriteRouter::default();
        router.set_targets(&settings.devices);
        let inbox = router.inbox("motor-01");
        let dir = tempfile::tempdir().unwrap();
        let audit = AuditLog::in_data_dir(dir.path());
        let (cmd_tx, cmd_rx) = mpsc::channel(8);
        let (res_tx, mut res_rx) = mpsc::channel(8);
        let m = Arc::new(Metrics::default());
        let cancel = CancellationToken::new();
        let task = tokio::spawn(
            CommandDispatcher::new(router, audit.clone(), cmd_rx, res_tx, Arc::clone(&m))
                .run(cancel.clone()),
        );
        let (release, mut released) = mpsc::channel::<()>(1);
        let executed = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let count = std::sync::Arc::clone(&executed);
        let device = tokio::spawn(async move {
            let mut inbox = inbox.lock().await;
            while let Some(job) = inbox.recv().await {
                released.recv().await;
                count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = job.reply.send(WriteOutcome {
                    old: Some(Value::UInt(1)),
                    new: Some(Value::UInt(1500)),
                    written: Ok(()),
                    took: Duration::ZERO,
                });
            }
        });

        cmd_tx.send(command("a", "setpoint", "1500")).await.unwrap();
        cmd_tx.send(command("a", "setpoint", "1500")).await.unwrap();
        cmd_tx.send(command("b", "speed", "1")).await.unwrap();
        // The rejection is answered while "a" still executes.
        let first = res_rx.recv().await.unwrap();
        assert_eq!(
            (first.id.as_str(), first.status),
            ("b", WriteStatus::Rejected)
        );
        release.send(()).await.unwrap();
        let one = res_rx.recv().await.unwrap();
        let two = res_rx.recv().await.unwrap();
        assert_eq!(one, two);
        assert_eq!((one.id.as_str(), one.status), ("a", WriteStatus::Ok));
        // Redelivered after it finished: answered again, not executed again.
        cmd_tx.send(command("a", "setpoint", "1500")).await.unwrap();
        assert_eq!(res_rx.recv().await.unwrap(), one);
        // No id: audited, unanswerable.
        cmd_tx.send(b"{}".to_vec()).await.unwrap();
        cmd_tx
            .send(command("c", "setpoint", "99999"))
            .await
            .unwrap();
        let c = res_rx.recv().await.unwrap();
        assert!(c.error.unwrap().contains("above the tag's max"));

        cancel.cancel();
        task.await.unwrap();
        assert_eq!(executed.load(std::sync::atomic::Ordering::SeqCst), 1);
        let lines = std::fs::read_to_string(audit.path()).unwrap();
        let statuses: Vec<String> = lines
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                format!(
                    "{}:{}",
                    v["id"].as_str().unwrap(),
                    v["status"].as_str().unwrap()
                )
            })
            .collect();
        assert_eq!(statuses, ["b:rejected", "a:ok", ":rejected", "c:rejected"]);
        let s = m.snapshot();
        assert_eq!((s.writes_ok, s.writes_rejected, s.writes_failed), (1, 3, 0));
        device.abort();
    }
}
