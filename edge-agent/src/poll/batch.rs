//! What a device task hands to the forwarder (one device's points from one cycle), and
//! [`Handoff`], the one way it hands them over.

use protocols::model::{AssetPath, Point};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::metrics::{self, Metrics};

/// One device's points from one poll cycle. The forwarder turns it into a
/// [`Batch`](protocols::model::Batch), adding agent, session and sequence number.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceBatch {
    /// Index of the device in [`Settings::devices`](crate::settings::Settings::devices)
    /// when its task was started (a reload may reorder devices; the asset identifies it).
    pub device: usize,
    /// The device's asset; every point belongs to it.
    pub asset: AssetPath,
    /// One point per tag.
    pub points: Vec<Point>,
}

/// Hands a device task's batches to the forwarder without ever waiting, so a stalled
/// forwarder cannot delay polling: a full channel drops the batch (counted, logged once per
/// episode, with the count when it recovers), a closed one drops it too (logged once, as an
/// error outside shutdown: the app then stops the agent).
#[derive(Debug, Default)]
pub(crate) struct Handoff {
    /// Batches dropped since the channel was last found full (0 = not dropping).
    dropping: u64,
    /// The forwarder's channel was found closed (logged once).
    forwarder_gone: bool,
}

impl Handoff {
    /// Sends `batch` if the channel has room; counts its points and any drop.
    pub(crate) fn emit(
        &mut self,
        out: &mpsc::Sender<DeviceBatch>,
        m: &Metrics,
        batch: DeviceBatch,
        cancel: &CancellationToken,
    ) {
        let points = batch.points.len() as u64;
        metrics::add(&m.points, points);
        match out.try_send(batch) {
            Ok(()) => {
                if self.dropping > 0 {
                    tracing::warn!(dropped = self.dropping, "forwarder keeps up again");
                    self.dropping = 0;
                }
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::inc(&m.batches_dropped_channel);
                metrics::add(&m.points_dropped_channel, points);
                if self.dropping == 0 {
                    tracing::error!(
                        "forwarder channel full (the forwarder is stalled); dropping this device's batches rather than delaying polls"
                    );
                }
                self.dropping += 1;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                metrics::inc(&m.batches_dropped_closed);
                metrics::add(&m.points_dropped_channel, points);
                if cancel.is_cancelled() {
                    tracing::debug!("forwarder gone; batch discarded during shutdown");
                } else if !self.forwarder_gone {
                    tracing::error!(
                        "forwarder stopped; this device's batches are lost until the agent restarts"
                    );
                }
                self.forwarder_gone = true;
            }
        }
    }
}
