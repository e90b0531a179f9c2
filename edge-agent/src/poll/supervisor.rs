//! Keeps each device task alive: a task that panics or returns before shutdown is logged
//! and restarted with backoff, and the rest of the agent carries on.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::modbus::{ModbusPoller, PollerHandles};
use crate::backoff::{self, Backoff};
use crate::settings::{BackoffSettings, DeviceSettings, DeviceSource};

/// One device task, whatever its protocol.
type DeviceTask = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

/// Restart delays for a crashed device task.
const RESTART_BACKOFF: BackoffSettings = BackoffSettings {
    min: Duration::from_secs(1),
    max: Duration::from_secs(60),
};
/// A task that ran this long before failing restarts with the shortest delay again.
const HEALTHY_RUN: Duration = Duration::from_secs(60);

/// Runs device `index` until `cancel` fires, restarting its task when it dies.
pub async fn supervise(
    device: Arc<DeviceSettings>,
    index: usize,
    handles: PollerHandles,
    cancel: CancellationToken,
) {
    let seed = backoff::seed(!(index as u64));
    let token = cancel.clone();
    restart_loop(seed, cancel, move || -> DeviceTask {
        match &device.source {
            DeviceSource::Modbus {
                endpoint,
                map,
                options,
            } => Box::pin(
                ModbusPoller::new(
                    Arc::clone(&device),
                    index,
                    endpoint.clone(),
                    map.clone(),
                    options.clone(),
                    handles.clone(),
                )
                .run(token.clone()),
            ),
            DeviceSource::OpcUa(source) => Box::pin(
                crate::opcua::OpcUaPoller::new(
                    Arc::clone(&device),
                    index,
                    source.clone(),
                    handles.clone(),
                )
                .run(token.clone()),
            ),
        }
    })
    .await;
}

/// Spawns `make()` and spawns it again (after a backoff delay) whenever it panics or
/// returns while `cancel` has not fired.
async fn restart_loop<F, Fut>(seed: u64, cancel: CancellationToken, mut make: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut restarts = Backoff::new(RESTART_BACKOFF, seed);
    loop {
        let started = Instant::now();
        let why = match tokio::spawn(make().in_current_span()).await {
            Ok(()) if cancel.is_cancelled() => return,
            Ok(()) => "returned unexpectedly".to_owned(),
            Err(e) if e.is_panic() => format!("panicked: {}", panic_message(e.into_panic())),
            Err(e) => format!("was aborted: {e}"),
        };
        if cancel.is_cancelled() {
            return;
        }
        if started.elapsed() >= HEALTHY_RUN {
            restarts.reset();
        }
        let delay = restarts.next_delay();
        tracing::error!(restart_in = ?delay, "device task {why}; restarting it");
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(delay) => {}
        }
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned())
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn crashed_tasks_are_restarted_until_cancelled() {
        let starts = Arc::new(AtomicU32::new(0));
        let cancel = CancellationToken::new();
        let (s, c) = (Arc::clone(&starts), cancel.clone());
        let supervisor = tokio::spawn(restart_loop(1, cancel.clone(), move || {
            let n = s.fetch_add(1, Ordering::SeqCst);
            let c = c.clone();
            async move {
                match n {
                    0 => panic!("first run crashes"),
                    1 => {} // second run returns early
                    _ => c.cancelled().await,
                }
            }
        }));
        while starts.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), supervisor)
            .await
            .expect("supervisor stops on cancel")
            .expect("supervisor itself never panics");
        assert_eq!(starts.load(Ordering::SeqCst), 3);
    }
}
