//! Every device's connection state, written by the pollers and watched by the forwarder,
//! which republishes the agent status whenever it changes.

use protocols::model::{DeviceState, DeviceStatus};
use tokio::sync::watch;

/// Shared device states (a `watch` channel: writers never block, readers see the latest).
#[derive(Debug, Clone)]
pub struct DeviceStates {
    tx: watch::Sender<Vec<DeviceStatus>>,
}

impl DeviceStates {
    /// All devices start `Disconnected` (nothing polled yet).
    pub fn new<'a>(ids: impl IntoIterator<Item = &'a str>) -> Self {
        let initial = ids
            .into_iter()
            .map(|id| DeviceStatus {
                id: id.to_owned(),
                state: DeviceState::Disconnected,
            })
            .collect();
        Self {
            tx: watch::Sender::new(initial),
        }
    }

    /// Sets device `index`'s state; watchers are woken only if it changed.
    pub fn set(&self, index: usize, state: DeviceState) {
        self.tx.send_if_modified(|all| match all.get_mut(index) {
            Some(d) if d.state != state => {
                d.state = state;
                true
            }
            _ => false,
        });
    }

    /// A receiver that sees every change.
    pub fn subscribe(&self) -> watch::Receiver<Vec<DeviceStatus>> {
        self.tx.subscribe()
    }

    /// The current states.
    pub fn current(&self) -> Vec<DeviceStatus> {
        self.tx.borrow().clone()
    }
}
