//! The device's subscription: one subscription per session at the device's poll interval
//! (the publishing interval), one monitored item per `mode = "subscribe"` tag with its
//! sampling interval, queue size and data-change filter (absolute or percent deadband),
//! created in calls of at most MaxMonitoredItemsPerCall items.
//!
//! Notifications arrive on the library's callback; they go into a bounded channel
//! (`try_send`, drops counted) that the device task drains every cycle. The client handle
//! of each item is its tag's index + 1 (the library replaces handle 0 with its own).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opcua::client::{DataChangeCallback, Session};
use opcua::types::{
    DataChangeFilter, DataChangeTrigger, DataValue, DeadbandType, ExtensionObject,
    MonitoredItemCreateRequest, MonitoringMode, MonitoringParameters, NodeId, ReadValueId,
    TimestampsToReturn,
};
use tokio::sync::mpsc;

use super::session::{SessionError, chunk_len};
use super::settings::{Deadband, OpcUaTag, TagMode};
use super::status::status_name;

/// Room for notifications between two cycles of the device task.
pub(crate) const NOTIFICATION_CAPACITY: usize = 8192;

/// A data change for the tag at `index`.
pub(crate) type Notification = (usize, DataValue);

/// What creating the subscription left: tags the server refused, with the reason.
pub(crate) struct Created {
    pub(crate) refused: Vec<(usize, String)>,
}

/// Creates the subscription and its monitored items.
pub(crate) async fn create(
    session: &Session,
    tags: &[OpcUaTag],
    publishing_interval: Duration,
    max_per_call: usize,
    out: mpsc::Sender<Notification>,
    dropped: Arc<AtomicU64>,
) -> Result<Created, SessionError> {
    let items: Vec<(usize, MonitoredItemCreateRequest)> = tags
        .iter()
        .enumerate()
        .filter_map(|(i, t)| request(i, t, publishing_interval).map(|r| (i, r)))
        .collect();
    if items.is_empty() {
        return Ok(Created {
            refused: Vec::new(),
        });
    }
    let callback = DataChangeCallback::new(move |dv, item| {
        let index = (item.client_handle() as usize).wrapping_sub(1);
        if out.try_send((index, dv)).is_err() {
            dropped.fetch_add(1, Ordering::Relaxed);
        }
    });
    let service = |service: &'static str| {
        move |e: opcua::types::Error| SessionError::Service {
            service,
            status: status_name(e.status()),
        }
    };
    // Lifetime and keep-alive counts: the server drops the subscription after 30 missed
    // publishing intervals; a keep-alive at least every 10.
    let id = session
        .create_subscription(publishing_interval, 30, 10, 0, 0, true, callback)
        .await
        .map_err(service("CreateSubscription"))?;
    let mut refused = Vec::new();
    for chunk in items.chunks(chunk_len(max_per_call, items.len())) {
        let requests = chunk.iter().map(|(_, r)| r.clone()).collect();
        let results = session
            .create_monitored_items(id, TimestampsToReturn::Both, requests)
            .await
            .map_err(service("CreateMonitoredItems"))?;
        for ((index, _), result) in chunk.iter().zip(results) {
            let status = result.result.status_code;
            if !status.is_good() {
                refused.push((*index, status_name(status)));
            }
        }
    }
    Ok(Created { refused })
}

fn request(
    index: usize,
    tag: &OpcUaTag,
    publishing: Duration,
) -> Option<MonitoredItemCreateRequest> {
    let TagMode::Subscribe {
        sampling_interval,
        queue_size,
        deadband,
    } = tag.mode
    else {
        return None;
    };
    let node_id: NodeId = tag.node_id.parse().ok()?;
    let filter = match deadband {
        None => ExtensionObject::null(),
        Some(db) => {
            let (kind, value) = match db {
                Deadband::Absolute(v) => (DeadbandType::Absolute, v),
                Deadband::Percent(v) => (DeadbandType::Percent, v),
            };
            ExtensionObject::from_message(DataChangeFilter {
                trigger: DataChangeTrigger::StatusValue,
                deadband_type: kind as u32,
                deadband_value: value,
            })
        }
    };
    Some(MonitoredItemCreateRequest {
        item_to_monitor: ReadValueId::from(node_id),
        monitoring_mode: MonitoringMode::Reporting,
        requested_parameters: MonitoringParameters {
            client_handle: u32::try_from(index + 1).unwrap_or(u32::MAX),
            sampling_interval: sampling_interval.unwrap_or(publishing).as_secs_f64() * 1000.0,
            filter,
            queue_size,
            discard_oldest: true,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use protocols::model::TagId;

    #[test]
    fn monitored_item_carries_sampling_queue_deadband_and_handle() {
        let tag = OpcUaTag {
            id: TagId::new("s/a/l/m/level").unwrap(),
            node_id: "ns=2;s=Level".into(),
            mode: TagMode::Subscribe {
                sampling_interval: Some(Duration::from_millis(50)),
                queue_size: 20,
                deadband: Some(Deadband::Percent(2.5)),
            },
        };
        let r = request(4, &tag, Duration::from_secs(1)).unwrap();
        let p = &r.requested_parameters;
        assert_eq!(p.client_handle, 5);
        assert_eq!(p.sampling_interval, 50.0);
        assert_eq!(p.queue_size, 20);
        let filter = p.filter.inner_as::<DataChangeFilter>().unwrap();
        assert_eq!(filter.deadband_type, DeadbandType::Percent as u32);
        assert_eq!(filter.deadband_value, 2.5);
        assert_eq!(r.item_to_monitor.node_id, NodeId::new(2, "Level"));
        let polled = OpcUaTag {
            mode: TagMode::Poll,
            ..tag
        };
        assert!(request(0, &polled, Duration::from_secs(1)).is_none());
    }

    #[test]
    fn without_sampling_interval_the_publishing_interval_is_used() {
        let tag = OpcUaTag {
            id: TagId::new("s/a/l/m/x").unwrap(),
            node_id: "i=2258".into(),
            mode: TagMode::Subscribe {
                sampling_interval: None,
                queue_size: 1,
                deadband: None,
            },
        };
        let r = request(0, &tag, Duration::from_millis(500)).unwrap();
        assert_eq!(r.requested_parameters.sampling_interval, 500.0);
        assert!(r.requested_parameters.filter.is_null());
    }
}
