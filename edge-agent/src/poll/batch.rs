//! What a poller hands to the forwarder: one device's points from one cycle.

use protocols::model::{AssetPath, Point};

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
