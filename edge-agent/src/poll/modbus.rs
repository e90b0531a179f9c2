//! The Modbus device task: one per device, so a slow or dead device never delays another
//! device with a connection of its own.
//!
//! Every `poll_interval` tick (missed ticks are skipped and counted as overruns) it runs the
//! device's read plan on its bus task (`bus.rs`, which owns the connection and opens it
//! lazily) and hands one [`DeviceBatch`] to the forwarder. After a connect failure, timeout
//! or transport error the connection is dropped and re-attempted with capped exponential
//! backoff plus jitter; until it is back,
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
//! On a shared bus (RTU, or a gateway with `share_connection`) a timeout is the unit's
//! problem, not the link's: it feeds the unit's circuit breaker (`breaker.rs`) instead of
//! the backoff, so a dead unit is skipped after a few timeouts and probed now and then,
//! and the other units on the bus keep their poll rate.
//!
//! Holes learned from exception 02 (see `protocols::modbus` hole learning) are logged with
//! the plan before and after, stored in the data dir (`holes_store.rs`) and loaded at start;
//! after `hole_retry` they are forgotten so the next cycle reads those registers again.
//!
//! Between two cycles it takes write commands from its inbox (`crate::command`) and hands
//! them to its bus task, which executes them over the same connection.
//!
//! Handing a batch over never waits: if the forwarder's channel is full the batch is
//! dropped and counted. If the channel is closed the forwarder has stopped: the batch is
//! dropped and counted, and outside shutdown that is logged as an error (once); the app then
//! stops the agent.

use std::path::PathBuf;
use std::sync::Arc;

use protocols::modbus::{DriverError, Endpoint, Hole, PollOutcome, RegisterMap};
use protocols::model::{DeviceState, Point, TagId, now_ns};
use tokio::sync::mpsc;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::batch::{DeviceBatch, Handoff};
use super::breaker::{Breaker, Tripped};
use super::bus::{BusGone, BusHandle, Buses};
use super::health::{self, Health, Transition};
use super::holes_store;
use super::states::DeviceStates;
use crate::backoff::{self, Backoff, HealthyStretch};
use crate::command::WriteRouter;
use crate::metrics::{self, Metrics};
use crate::settings::{DeviceSettings, ModbusOptions};

/// Shared handles a poller needs besides its own settings.
#[derive(Debug, Clone)]
pub struct PollerHandles {
    /// Where batches go.
    pub out: mpsc::Sender<DeviceBatch>,
    /// Where connection state changes go.
    pub states: DeviceStates,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// The bus tasks (one per Modbus connection).
    pub buses: Buses,
    /// Where learned holes are kept (`None`: not kept).
    pub data_dir: Option<PathBuf>,
    /// Write commands for this agent's devices (each device takes its own inbox).
    pub writes: WriteRouter,
}

/// Polls one Modbus device.
#[derive(Debug)]
pub struct ModbusPoller {
    device: Arc<DeviceSettings>,
    index: usize,
    endpoint: Endpoint,
    options: ModbusOptions,
    /// The map with learned holes; `None` only while lent to the bus.
    map: Option<RegisterMap>,
    tag_ids: Vec<TagId>,
    bus: BusHandle,
    breaker: Breaker,
    /// When learned holes are next forgotten and read again.
    hole_retry_at: Option<Instant>,
    /// Holes last logged, so re-learning the same ones after a retry is not news.
    known_holes: Vec<Hole>,
    handles: PollerHandles,
    health: Health,
    backoff: Backoff,
    /// When `backoff` may start over.
    stretch: HealthyStretch,
    /// Earliest time of the next connection attempt.
    next_attempt: Instant,
    /// Why the device is currently down.
    reason: String,
    /// Hands batches to the forwarder.
    handoff: Handoff,
}

impl ModbusPoller {
    /// A poller for device `index`, a Modbus device at `endpoint`.
    pub fn new(
        device: Arc<DeviceSettings>,
        index: usize,
        endpoint: Endpoint,
        map: RegisterMap,
        options: ModbusOptions,
        handles: PollerHandles,
    ) -> Self {
        let bus = handles
            .buses
            .handle(&options.bus_key(&device.id, &endpoint));
        let tag_ids = map.tags().iter().map(|t| t.id().clone()).collect();
        let breaker = Breaker::new(options.breaker_timeouts, device.reconnect.max);
        let backoff = Backoff::new(device.reconnect, backoff::seed(index as u64));
        let stretch = HealthyStretch::for_device(device.poll_interval, device.reconnect.max);
        Self {
            device,
            index,
            endpoint,
            options,
            map: Some(map),
            tag_ids,
            bus,
            breaker,
            hole_retry_at: None,
            known_holes: Vec::new(),
            handles,
            health: Health::new(),
            backoff,
            stretch,
            next_attempt: Instant::now(),
            reason: "not connected yet".to_owned(),
            handoff: Handoff::default(),
        }
    }

    /// Polls until `cancel` fires, finishing the cycle in progress.
    pub async fn run(mut self, cancel: CancellationToken) {
        let period = self.device.poll_interval;
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        tracing::debug!(interval = ?period, "poller started");
        self.load_holes().await;
        let inbox = self.handles.writes.inbox(&self.device.id);
        let mut inbox = inbox.lock().await;
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                Some(job) = inbox.recv() => {
                    // Between two cycles, on the bus that owns the connection.
                    let sent = self.bus.write(
                        self.endpoint.unit_id,
                        self.device.timeout,
                        self.options.request_delay,
                        job,
                    ).await;
                    if !sent {
                        return;
                    }
                    continue;
                }
                _ = ticker.tick() => {}
            }
            let started = Instant::now();
            if !self.cycle(&cancel).await {
                // The bus task died (a panic); the supervisor starts this task again.
                return;
            }
            let took = started.elapsed();
            if took > period {
                metrics::inc(&self.handles.metrics.overruns);
                tracing::debug!(took = ?took, interval = ?period, "poll cycle overran its interval");
            }
        }
        tracing::debug!("poller stopped");
    }

    async fn load_holes(&mut self) {
        let (Some(dir), Some(map)) = (&self.handles.data_dir, self.map.as_mut()) else {
            return;
        };
        let holes = holes_store::load_async(dir, &self.device.id).await;
        if holes.is_empty() {
            return;
        }
        let before = map.describe_plan();
        map.learn(holes.iter().copied());
        tracing::info!(
            holes = holes.len(),
            plan_before = %before,
            plan_after = %map.describe_plan(),
            "loaded learned exception-02 holes; reading around them"
        );
        self.known_holes = map.holes().to_vec();
        self.hole_retry_at = Some(Instant::now() + self.options.hole_retry);
    }

    /// One poll cycle: unless backing off or the circuit is open, read the plan on the bus;
    /// hand over a batch. False if the bus task is gone.
    async fn cycle(&mut self, cancel: &CancellationToken) -> bool {
        let m = Arc::clone(&self.handles.metrics);
        metrics::inc(&m.polls);
        let now = Instant::now();
        if now < self.next_attempt {
            let points = self.bad_points();
            self.emit(points, cancel);
            return true;
        }
        if self.options.shared && !self.breaker.allows(now.into_std()) {
            self.reason = self.breaker.reason(self.endpoint.unit_id, now.into_std());
            let points = self.bad_points();
            self.emit(points, cancel);
            return true;
        }
        let Some(mut map) = self.map.take() else {
            return false;
        };
        if self.hole_retry_at.is_some_and(|at| now >= at) {
            self.hole_retry_at = None;
            if map.forget_holes() {
                tracing::debug!("retrying learned holes: reading every register again");
            }
        }
        let polled = self
            .bus
            .poll(
                self.endpoint.unit_id,
                self.device.timeout,
                self.options.request_delay,
                map,
            )
            .await;
        let outcome = match polled {
            Ok((map, outcome)) => {
                self.map = Some(map);
                outcome
            }
            Err(BusGone(map)) => {
                self.map = map;
                if !cancel.is_cancelled() {
                    tracing::error!("bus task gone; restarting this device task");
                }
                return false;
            }
        };
        self.count(&outcome);
        if let Some((before, after)) = &outcome.plan_change {
            self.holes_learned(before, after).await;
        }
        let timeout = matches!(outcome.error, Some(DriverError::Timeout { .. }));
        match (&outcome.error, health::exception_only(&outcome)) {
            (Some(_), _) if timeout && self.options.shared => self.unit_timed_out(),
            (Some(e), _) => self.failed(e),
            (None, Some(reason)) => {
                self.answered();
                self.faulted(&reason);
            }
            (None, None) => {
                self.answered();
                self.succeeded();
            }
        }
        self.emit(outcome.points, cancel);
        true
    }

    /// Logs a plan change from hole learning (once per new set of holes) and stores the holes.
    async fn holes_learned(&mut self, before: &str, after: &str) {
        let Some(map) = &self.map else { return };
        let holes = map.holes().to_vec();
        let base = map.address_base();
        if holes != self.known_holes {
            let list: Vec<String> = holes.iter().map(|h| h.describe(base)).collect();
            tracing::info!(
                holes = %list.join("; "),
                plan_before = %before,
                plan_after = %after,
                "device refuses some addresses (exception 02); learned the holes and re-planned around them"
            );
        } else {
            tracing::debug!("the same holes were learned again after a retry");
        }
        self.known_holes.clone_from(&holes);
        if self.hole_retry_at.is_none() {
            self.hole_retry_at = Some(Instant::now() + self.options.hole_retry);
        }
        if let Some(dir) = &self.handles.data_dir
            && let Err(e) = holes_store::save(dir, &self.device.id, &holes).await
        {
            tracing::warn!(error = %e, "cannot store learned holes; they will be learned again after a restart");
        }
    }

    /// A timeout on a shared bus: the unit's breaker decides.
    fn unit_timed_out(&mut self) {
        let now = Instant::now();
        let unit = self.endpoint.unit_id;
        self.stretch.unhealthy();
        let tripped = self.breaker.timed_out(now.into_std());
        let reason = match tripped {
            Tripped::No => "timeout".to_owned(),
            _ => self.breaker.reason(unit, now.into_std()),
        };
        self.reason.clone_from(&reason);
        let went_down = matches!(
            self.health.failure(now.into_std(), &reason),
            Some(Transition::WentDown { .. })
        );
        if went_down {
            self.handles
                .states
                .set(&self.device.id, DeviceState::Disconnected);
        }
        match tripped {
            Tripped::Opened(delay) => tracing::warn!(
                unit,
                timeouts = self.options.breaker_timeouts,
                probe_in = ?delay,
                "unit not answering; circuit open, skipping it so the other units on the bus keep their rate"
            ),
            Tripped::StillOpen(delay) => {
                tracing::debug!(unit, probe_in = ?delay, "probe unanswered; circuit stays open");
            }
            Tripped::No => tracing::debug!(unit, "unit timed out"),
        }
    }

    /// The unit answered: close its circuit if it was open.
    fn answered(&mut self) {
        if self.breaker.answered() {
            tracing::info!(
                unit = self.endpoint.unit_id,
                "unit answers again; circuit closed"
            );
        }
    }

    fn count(&self, o: &PollOutcome) {
        let m = &self.handles.metrics;
        let connect_failed = o.error.as_ref().map(DriverError::label) == Some("connect");
        if connect_failed {
            metrics::inc(&m.connect_errors);
        }
        let attempted =
            o.requests_ok + o.exceptions.len() + usize::from(o.error.is_some() && !connect_failed);
        metrics::add(&m.requests, attempted as u64);
        metrics::add(&m.request_exceptions, o.exceptions.len() as u64);
        for (index, exception) in &o.exceptions {
            tracing::debug!(request = index, %exception, "device answered with an exception");
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
                tracing::info!(endpoint = %self.endpoint, "device connected");
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
        self.tag_ids
            .iter()
            .map(|id| Point::bad(id.clone(), ts, self.reason.as_str()))
            .collect()
    }

    /// Hands a batch to the forwarder without waiting.
    fn emit(&mut self, points: Vec<Point>, cancel: &CancellationToken) {
        let batch = DeviceBatch {
            device: self.index,
            asset: self.device.asset.clone(),
            points,
        };
        self.handoff
            .emit(&self.handles.out, &self.handles.metrics, batch, cancel);
    }
}
