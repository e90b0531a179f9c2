//! The Modbus TCP device task: one per device, so a slow or dead device never delays
//! another.
//!
//! Every `poll_interval` tick (missed ticks are skipped and counted as overruns) it runs the
//! device's read plan and hands one [`DeviceBatch`] to the forwarder. The connection is
//! opened lazily. After a connect failure, timeout or transport error the connection is
//! dropped and re-attempted with capped exponential backoff plus jitter; until it is back,
//! every tick still produces a batch of bad-quality points carrying the failure's reason,
//! never silence. The backoff starts over only after the device has been healthy for a
//! whole [`HealthyStretch`], so a flapping device keeps its long delays.
//!
//! A device exception only turns that request's tags bad and keeps the connection. But a
//! cycle in which every request got an exception (e.g. a gateway answering 0x0B for a dead
//! device behind it) counts as unhealthy: the device is reported `Disconnected` in the
//! status while the connection stays open. The device going down (either way) is logged once
//! (warn) and its return once (info, with the outage length).
//!
//! Handing a batch over never waits: if the forwarder's channel is full the batch is
//! dropped and counted. If the channel is closed the forwarder has stopped: the batch is
//! dropped and counted, and outside shutdown that is logged as an error (once); the app then
//! stops the agent.

use std::sync::Arc;

use protocols::modbus::{DriverError, ModbusTcpDriver, PollOutcome, RegisterMap};
use protocols::model::{DeviceState, Point, now_ns};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::batch::DeviceBatch;
use super::health::{self, Health, Transition};
use super::states::DeviceStates;
use crate::backoff::{self, Backoff, HealthyStretch};
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
    /// When `backoff` may start over.
    stretch: HealthyStretch,
    /// Earliest time of the next connection attempt.
    next_attempt: Instant,
    /// Why the device is currently down.
    reason: String,
    /// Batches dropped since the channel was last found full (0 = not dropping).
    dropping: u64,
    /// The forwarder's channel was found closed (logged once).
    forwarder_gone: bool,
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
        let stretch = HealthyStretch::for_device(device.poll_interval, device.reconnect.max);
        Self {
            device,
            index,
            map,
            driver,
            handles,
            health: Health::new(),
            backoff,
            stretch,
            next_attempt: Instant::now(),
            reason: "not connected yet".to_owned(),
            dropping: 0,
            forwarder_gone: false,
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
            self.cycle(&cancel).await;
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
    async fn cycle(&mut self, cancel: &CancellationToken) {
        let m = Arc::clone(&self.handles.metrics);
        metrics::inc(&m.polls);
        if !self.driver.is_connected() {
            if Instant::now() < self.next_attempt {
                let points = self.bad_points();
                self.emit(points, cancel);
                return;
            }
            if let Err(e) = self.driver.connect().await {
                metrics::inc(&m.connect_errors);
                self.failed(&e);
                let points = self.bad_points();
                self.emit(points, cancel);
                return;
            }
            tracing::debug!(endpoint = %self.driver.endpoint(), "connected");
        }
        let outcome = self.driver.poll(&self.map).await;
        self.count(&outcome);
        match (&outcome.error, health::exception_only(&outcome)) {
            (Some(e), _) => self.failed(e),
            (None, Some(reason)) => self.faulted(&reason),
            (None, None) => self.succeeded(),
        }
        self.emit(outcome.points, cancel);
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
        self.stretch.unhealthy();
        if let Some(Transition::WentDown { reason }) =
            self.health.failure(now.into_std(), &self.reason)
        {
            tracing::warn!(%error, %reason, retry_in = ?delay, "device unreachable; publishing bad-quality points until it returns");
            self.handles
                .states
                .set(&self.device.id, DeviceState::Disconnected);
        } else {
            tracing::debug!(%error, retry_in = ?delay, "device still unreachable");
        }
    }

    /// The device answered, but only with exceptions: down for reporting, connection kept.
    fn faulted(&mut self, reason: &str) {
        self.stretch.unhealthy();
        if let Some(Transition::WentDown { .. }) =
            self.health.failure(Instant::now().into_std(), reason)
        {
            tracing::warn!(%reason, "device answers every request with an exception; reporting it disconnected until it returns data");
            self.handles
                .states
                .set(&self.device.id, DeviceState::Disconnected);
        } else {
            tracing::debug!(%reason, "device still answers only with exceptions");
        }
    }

    fn succeeded(&mut self) {
        let now = Instant::now().into_std();
        if self.stretch.healthy(now) && self.backoff.attempts() > 0 {
            tracing::debug!(healthy_for = ?self.stretch.length(), "device stable; reconnect delay starts over");
            self.backoff.reset();
        }
        match self.health.success(now) {
            Some(Transition::Connected) => {
                tracing::info!(endpoint = %self.driver.endpoint(), "device connected");
            }
            Some(Transition::Recovered { outage }) => {
                tracing::info!(outage = %crate::logging::human(outage), "device reachable again");
            }
            _ => return,
        }
        self.handles
            .states
            .set(&self.device.id, DeviceState::Connected);
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
    fn emit(&mut self, points: Vec<Point>, cancel: &CancellationToken) {
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
                metrics::inc(&m.batches_dropped_closed);
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
