//! The Modbus TCP device task: one per device, so a slow or dead device never delays
//! another.
//!
//! Every `poll_interval` tick (missed ticks are skipped and counted as overruns) it runs the
//! device's read plan and hands one [`DeviceBatch`] to the forwarder. The connection is
//! opened lazily. After a connect failure, timeout or transport error the connection is
//! dropped and re-attempted with capped exponential backoff plus jitter; until it is back,
//! every tick still produces a batch of bad-quality points carrying the failure's reason,
//! never silence. A device exception only turns that request's tags bad. The device going
//! down is logged once (warn) and its return once (info, with the outage length).
//!
//! Handing a batch over never waits: if the forwarder's channel is full the batch is
//! dropped and counted.

use std::sync::Arc;

use protocols::modbus::{DriverError, ModbusTcpDriver, PollOutcome, RegisterMap};
use protocols::model::{DeviceState, Point, now_ns};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::batch::DeviceBatch;
use super::health::{Health, Transition};
use super::states::DeviceStates;
use crate::backoff::{self, Backoff};
use crate::metrics::{self, Metrics};
use crate::settings::DeviceSettings;

/// Shared handles a poller needs besides its own settings.
#[derive(Debug, Clone)]
pub struct PollerHandles {
    /// Where batches go.
    pub out: mpsc::Sender<DeviceBatch>,
    /// Where connection state changes go.
    pub states: DeviceStates,
    /// Counters.
    pub metrics: Arc<Metrics>,
}

/// Polls one Modbus TCP device.
#[derive(Debug)]
pub struct ModbusPoller {
    device: Arc<DeviceSettings>,
    index: usize,
    map: RegisterMap,
    driver: ModbusTcpDriver,
    handles: PollerHandles,
    health: Health,
    backoff: Backoff,
    /// Earliest time of the next connection attempt.
    next_attempt: Instant,
    /// Why the device is currently down.
    reason: String,
    /// Batches dropped since the channel was last found full (0 = not dropping).
    dropping: u64,
}

impl ModbusPoller {
    /// A poller for device `index`, which must be a Modbus TCP device.
    pub fn new(
        device: Arc<DeviceSettings>,
        index: usize,
        endpoint: protocols::modbus::TcpEndpoint,
        map: RegisterMap,
        handles: PollerHandles,
    ) -> Self {
        let driver = ModbusTcpDriver::new(endpoint, device.timeout);
        let backoff = Backoff::new(device.reconnect, backoff::seed(index as u64));
        Self {
            device,
            index,
            map,
            driver,
            handles,
            health: Health::new(),
            backoff,
            next_attempt: Instant::now(),
            reason: "not connected yet".to_owned(),
            dropping: 0,
        }
    }

    /// Polls until `cancel` fires, finishing the cycle in progress.
    pub async fn run(mut self, cancel: CancellationToken) {
        let period = self.device.poll_interval;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        tracing::debug!(interval = ?period, "poller started");
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let started = Instant::now();
            self.cycle().await;
            let took = started.elapsed();
            if took > period {
                metrics::inc(&self.handles.metrics.overruns);
                tracing::debug!(took = ?took, interval = ?period, "poll cycle overran its interval");
            }
        }
        self.driver.disconnect();
        tracing::debug!("poller stopped");
    }

    /// One poll cycle: connect if due, read the plan, hand over a batch.
    async fn cycle(&mut self) {
        let m = Arc::clone(&self.handles.metrics);
        metrics::inc(&m.polls);
        if !self.driver.is_connected() {
            if Instant::now() < self.next_attempt {
                let points = self.bad_points();
                self.emit(points);
                return;
            }
            if let Err(e) = self.driver.connect().await {
                metrics::inc(&m.connect_errors);
                self.failed(&e);
                let points = self.bad_points();
                self.emit(points);
                return;
            }
            tracing::debug!(endpoint = %self.driver.endpoint(), "connected");
        }
        let outcome = self.driver.poll(&self.map).await;
        self.count(&outcome);
        match &outcome.error {
            Some(e) => self.failed(e),
            None => self.succeeded(),
        }
        self.emit(outcome.points);
    }

    fn count(&self, o: &PollOutcome) {
        let m = &self.handles.metrics;
        let attempted = o.requests_ok + o.exceptions.len() + usize::from(o.error.is_some());
        metrics::add(&m.requests, attempted as u64);
        metrics::add(&m.request_exceptions, o.exceptions.len() as u64);
        for (index, exception) in &o.exceptions {
            let request = self.map.requests().get(*index);
            tracing::debug!(
                fc = request.map(|r| r.function_code()),
                start = request.map(|r| r.start),
                count = request.map(|r| r.count),
                %exception,
                "device answered with an exception"
            );
        }
        match o.error.as_ref().map(DriverError::label) {
            Some("timeout") => metrics::inc(&m.request_timeouts),
            Some("transport") => metrics::inc(&m.request_transport_errors),
            Some("protocol") => metrics::inc(&m.request_protocol_errors),
            _ => {}
        }
    }

    fn failed(&mut self, error: &DriverError) {
        let now = Instant::now();
        self.reason = error.reason();
        let delay = self.backoff.next_delay();
        self.next_attempt = now + delay;
        if let Some(Transition::WentDown { reason }) =
            self.health.failure(now.into_std(), &self.reason)
        {
            tracing::warn!(%error, %reason, retry_in = ?delay, "device unreachable; publishing bad-quality points until it returns");
            self.handles
                .states
                .set(self.index, DeviceState::Disconnected);
        } else {
            tracing::debug!(%error, retry_in = ?delay, "device still unreachable");
        }
    }

    fn succeeded(&mut self) {
        self.backoff.reset();
        match self.health.success(Instant::now().into_std()) {
            Some(Transition::Connected) => {
                tracing::info!(endpoint = %self.driver.endpoint(), "device connected");
            }
            Some(Transition::Recovered { outage }) => {
                tracing::info!(outage = %crate::logging::human(outage), "device reachable again");
            }
            _ => return,
        }
        self.handles.states.set(self.index, DeviceState::Connected);
    }

    /// A bad point for every tag, with the current failure reason.
    fn bad_points(&self) -> Vec<Point> {
        let ts = now_ns();
        self.map
            .tags()
            .iter()
            .map(|t| Point::bad(t.id().clone(), ts, self.reason.as_str()))
            .collect()
    }

    /// Hands a batch to the forwarder without waiting.
    fn emit(&mut self, points: Vec<Point>) {
        let m = &self.handles.metrics;
        metrics::add(&m.points, points.len() as u64);
        let batch = DeviceBatch {
            device: self.index,
            asset: self.device.asset.clone(),
            points,
        };
        match self.handles.out.try_send(batch) {
            Ok(()) => {
                if self.dropping > 0 {
                    tracing::warn!(dropped = self.dropping, "forwarder keeps up again");
                    self.dropping = 0;
                }
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                metrics::inc(&m.batches_dropped_channel);
                if self.dropping == 0 {
                    tracing::error!(
                        "forwarder channel full (the forwarder is stalled); dropping this device's batches rather than delaying polls"
                    );
                }
                self.dropping += 1;
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!("forwarder gone; batch discarded during shutdown");
            }
        }
    }
}
