//! Handling of one received publish: classify it, act on status messages, forward
//! batches and catalogues to the writer (waiting for room in its bounded queue), and count
//! points stamped in the future (see `skew.rs`).

use protocols::model::now_ns;
use rumqttc::{Publish, QoS};
use tokio_util::sync::CancellationToken;

use super::batcher::WriterInput;
use super::classify::{Inbound, classify};
use super::mqtt::{Bookkeeping, IngestCore};
use crate::agents::BatchSeq;

impl IngestCore {
    pub(super) async fn on_publish(&mut self, p: Publish, cancel: &CancellationToken) {
        self.metrics.mqtt_messages.inc();
        if self.to_writer.is_none() {
            return; // shutting down: left unacked, re-delivered on the next start
        }
        let recv_ns = now_ns();
        let ticket = (p.qos != QoS::AtMostOnce).then(|| self.b.tracker.track(p.clone()));
        let done = |b: &mut Bookkeeping| {
            if let Some(t) = ticket {
                b.tracker.complete(t);
            }
        };
        match classify(&p.topic, &p.payload) {
            Err(rejected) => {
                self.metrics.decode_error(rejected.reason);
                if self.b.warned.first(&p.topic) {
                    tracing::warn!(topic = %p.topic, reason = rejected.reason, error = %rejected.detail,
                        "dropping a message that cannot be used; further ones on this topic are only counted");
                }
                done(&mut self.b);
            }
            Ok(Inbound::Status(status)) => {
                if let Some(before) = self.agents.update_status(&status, recv_ns) {
                    tracing::info!(agent = %status.agent, state = ?status.state, previous = ?before, "agent presence changed");
                }
                done(&mut self.b);
            }
            Ok(Inbound::Batch(batch)) => {
                let change = self.b.seq.observe(&batch.agent, batch.session, batch.seq);
                let summary = self.b.seq.summary(&batch.agent);
                let before = self.agents.record_batch(
                    &batch.agent,
                    recv_ns,
                    BatchSeq {
                        opened: change.opened,
                        filled: change.filled,
                        missing: summary.outstanding,
                        last_seq: summary.last_seq,
                    },
                );
                if change.opened > 0 {
                    self.metrics.seq_gaps.inc_by(change.opened);
                    tracing::debug!(agent = %batch.agent, session = batch.session, seq = batch.seq, missing = change.opened, "sequence gap");
                }
                self.metrics.seq_gaps_filled.inc_by(change.filled);
                match (before, summary.outstanding) {
                    (0, now) if now > 0 => {
                        tracing::warn!(agent = %batch.agent, session = batch.session, seq = batch.seq, missing = now,
                        "agent batches missing (sequence gap); waiting for the replay to fill it")
                    }
                    (was, 0) if was > 0 => {
                        tracing::info!(agent = %batch.agent, session = batch.session, seq = batch.seq,
                        "agent sequence gaps filled; no batches missing")
                    }
                    _ => {}
                }
                self.metrics.batches_received.inc();
                self.metrics
                    .points_received
                    .inc_by(batch.points.len() as u64);
                let future = batch
                    .points
                    .iter()
                    .filter(|pt| self.skew.is_future(pt.ts_ns, recv_ns))
                    .count();
                if future > 0 {
                    self.metrics.points_future_ts.inc_by(future as u64);
                    if self.b.future_warned.first(batch.agent.as_str()) {
                        tracing::warn!(agent = %batch.agent, points = future, limit_ns = self.skew.limit(recv_ns),
                            "points stamped in the future (device clock?); stored but not used as latest values, further ones are only counted");
                    }
                }
                let input = WriterInput::Batch {
                    ticket,
                    topic: p.topic.clone(),
                    batch,
                    recv_ns,
                };
                self.forward(input, cancel).await;
            }
            Ok(Inbound::Catalog(catalog)) => {
                self.agents.seen(&catalog.agent, recv_ns);
                tracing::info!(agent = %catalog.agent, tags = catalog.tags.len(), "tag catalogue received");
                let input = WriterInput::Catalog {
                    ticket,
                    topic: p.topic.clone(),
                    catalog,
                    recv_ns,
                };
                self.forward(input, cancel).await;
            }
        }
    }

    /// Queues a message for the writer, waiting for room while still taking acks (they are
    /// handed to the client and go out once the event loop is polled again).
    async fn forward(&mut self, input: WriterInput, cancel: &CancellationToken) {
        let Some(tx) = self.to_writer.clone() else {
            return;
        };
        loop {
            tokio::select! {
                biased;
                permit = tx.reserve() => {
                    match permit {
                        Ok(permit) => {
                            permit.send(input);
                            self.metrics.queue_pushed.inc();
                        }
                        Err(_) => tracing::error!("storage writer stopped; message left unacknowledged"),
                    }
                    return;
                }
                acks = self.acks.recv(), if !self.b.acks_closed => {
                    self.complete(acks);
                    self.flush_acks();
                }
                () = cancel.cancelled() => {
                    self.stop_taking();
                    return;
                }
            }
        }
    }
}
