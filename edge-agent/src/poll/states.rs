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

    /// Sets device `id`'s state; watchers are woken only if it changed. Unknown ids (a
    /// device removed by a reload, finishing its last cycle) are ignored.
    pub fn set(&self, id: &str, state: DeviceState) {
        self.tx
            .send_if_modified(|all| match all.iter_mut().find(|d| d.id == id) {
                Some(d) if d.state != state => {
                    d.state = state;
                    true
                }
                _ => false,
            });
    }

    /// Replaces the device list after a reload, in the new configuration order: devices in
    /// `keep` retain their state, every other one starts `Disconnected`. Watchers are woken.
    pub fn replace<'a>(&self, ids: impl IntoIterator<Item = &'a str>, keep: &[String]) {
        self.tx.send_modify(|all| {
            let old = std::mem::take(all);
            *all = ids
                .into_iter()
                .map(|id| {
                    let state = old
                        .iter()
                        .find(|d| d.id == id && keep.iter().any(|k| k == id))
                        .map_or(DeviceState::Disconnected, |d| d.state);
                    DeviceStatus {
                        id: id.to_owned(),
                        state,
                    }
                })
                .collect();
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
