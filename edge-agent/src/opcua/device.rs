//! The OPC UA device task: one per device, supervised like the Modbus ones
//! (`crate::poll::supervise`).
//!
//! Each cycle (`poll_interval`, missed ticks skipped) it hands the forwarder one
//! [`DeviceBatch`] with the data changes the subscription delivered since the last cycle
//! and the values of the polled tags. While the server is unreachable every cycle carries
//! a bad point per tag with the reason, never silence. A connect failure or a lost
//! connection drops the session; the next attempt comes after a capped exponential backoff
//! (reset after a healthy stretch) and builds a new session, subscription and monitored
//! items. An untrusted server certificate is reported once, at error level, with the
//! command that trusts it; the retries go on, so trusting it needs no restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use opcua::client::Client;
use protocols::model::{DeviceState, Point, now_ns};
use tokio::sync::mpsc;
use tokio::time::{Instant, Interval, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

use super::read::ReadPlan;
use super::session::{self, Connection, SessionError};
use super::settings::OpcUaSource;
use super::status::point;
use super::subscribe::{self, NOTIFICATION_CAPACITY, Notification};
use crate::backoff::{self, Backoff, HealthyStretch};
use crate::metrics;
use crate::poll::health::{Health, Transition};
use crate::poll::{DeviceBatch, Handoff, PollerHandles};
use crate::settings::DeviceSettings;

/// Lower bound on one connection attempt (GetEndpoints, secure channel with RSA key
/// exchange, session activation); the device `timeout` bounds each request.
const CONNECT_TIMEOUT_FLOOR: Duration = Duration::from_secs(5);

/// Polls one OPC UA device.
pub struct OpcUaPoller {
    device: Arc<DeviceSettings>,
    source: OpcUaSource,
    index: usize,
    handles: PollerHandles,
    health: Health,
    backoff: Backoff,
    stretch: HealthyStretch,
    next_attempt: Instant,
    reason: String,
    /// The last error logged at error level (an untrusted certificate is reported once).
    reported: Option<String>,
    notifications_dropped: Arc<AtomicU64>,
    /// Hands batches to the forwarder.
    handoff: Handoff,
}

impl OpcUaPoller {
    /// A poller for device `index` reading `source`.
    pub fn new(
        device: Arc<DeviceSettings>,
        index: usize,
        source: OpcUaSource,
        handles: PollerHandles,
    ) -> Self {
        let backoff = Backoff::new(device.reconnect, backoff::seed(index as u64));
        let stretch = HealthyStretch::for_device(device.poll_interval, device.reconnect.max);
        Self {
            device,
            source,
            index,
            handles,
            health: Health::new(),
            backoff,
            stretch,
            next_attempt: Instant::now(),
            reason: "not connected yet".to_owned(),
            reported: None,
            notifications_dropped: Arc::new(AtomicU64::new(0)),
            handoff: Handoff::default(),
        }
    }

    /// Runs until `cancel` fires.
    pub async fn run(mut self, cancel: CancellationToken) {
        let mut ticker = tokio::time::interval(self.device.poll_interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
        let pki = self.source.pki_dir.clone();
        let mut client = match session_client(&self.source, self.device.timeout) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(pki_dir = %pki.display(), error = %e, "cannot set up the OPC UA client; publishing bad-quality points");
                self.reason = format!("OPC UA client setup failed: {e}");
                while tick(&mut ticker, &cancel).await {
                    let points = self.bad_points();
                    self.emit(points, &cancel);
                }
                return;
            }
        };
        let connect_timeout = self.device.timeout.max(CONNECT_TIMEOUT_FLOOR);
        while tick(&mut ticker, &cancel).await {
            metrics::inc(&self.handles.metrics.polls);
            if Instant::now() < self.next_attempt {
                let points = self.bad_points();
                self.emit(points, &cancel);
                continue;
            }
            match session::connect(&mut client, &self.source, connect_timeout).await {
                Ok(conn) => {
                    tracing::debug!(endpoint = %self.source.endpoint, "session open");
                    if let Some(e) = self.serve(conn, &mut ticker, &cancel).await {
                        self.failed(&e);
                        let points = self.bad_points();
                        self.emit(points, &cancel);
                    }
                }
                Err(e) => {
                    metrics::inc(&self.handles.metrics.connect_errors);
                    self.failed(&e);
                    let points = self.bad_points();
                    self.emit(points, &cancel);
                }
            }
        }
        tracing::debug!("poller stopped");
    }

    /// Runs one session until it fails (the error) or `cancel` fires (`None`).
    async fn serve(
        &mut self,
        mut conn: Connection,
        ticker: &mut Interval,
        cancel: &CancellationToken,
    ) -> Option<SessionError> {
        let timeout = self.device.timeout;
        let limits = match bounded(
            timeout,
            "read operation limits",
            session::limits(&conn.session),
        )
        .await
        {
            Ok(l) => l,
            Err(e) => return Some(e),
        };
        let plan = ReadPlan::new(&self.source.tags);
        tracing::debug!(
            max_nodes_per_read = limits.max_nodes_per_read,
            max_monitored_items_per_call = limits.max_monitored_items_per_call,
            read_requests = plan.requests(limits.max_nodes_per_read),
            "server operation limits"
        );
        let (tx, mut rx) = mpsc::channel::<Notification>(NOTIFICATION_CAPACITY);
        let created = bounded(
            timeout.saturating_mul(4),
            "create subscription",
            subscribe::create(
                &conn.session,
                &self.source.tags,
                self.device.poll_interval,
                limits.max_monitored_items_per_call,
                tx,
                Arc::clone(&self.notifications_dropped),
            ),
        )
        .await;
        let created = match created {
            Ok(c) => c,
            Err(e) => return Some(e),
        };
        self.succeeded();
        let ts = now_ns();
        let refused: Vec<Point> = created
            .refused
            .iter()
            .filter_map(|(i, reason)| {
                let tag = self.source.tags.get(*i)?;
                tracing::warn!(node_id = %tag.node_id, %reason, "server refused a monitored item");
                Some(Point::bad(tag.id.clone(), ts, reason.as_str()))
            })
            .collect();
        if !refused.is_empty() {
            self.emit(refused, cancel);
        }
        loop {
            tokio::select! {
                biased;
                () = cancel.cancelled() => {
                    conn.close(timeout).await;
                    return None;
                }
                reason = conn.lost.recv() => {
                    let reason = reason.unwrap_or_else(|| "session closed".to_owned());
                    return Some(SessionError::Service { service: "session", status: reason });
                }
                _ = ticker.tick() => {}
            }
            let m = Arc::clone(&self.handles.metrics);
            metrics::inc(&m.polls);
            let mut points = Vec::new();
            while let Ok((index, dv)) = rx.try_recv() {
                if let Some(tag) = self.source.tags.get(index) {
                    points.push(point(&tag.id, &dv));
                }
            }
            let dropped = self.notifications_dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                tracing::warn!(
                    dropped,
                    "notification buffer full; data changes were dropped"
                );
            }
            if !plan.is_empty() {
                metrics::add(&m.requests, plan.requests(limits.max_nodes_per_read) as u64);
                let read = bounded(
                    timeout,
                    "read",
                    plan.read(&conn.session, &self.source.tags, limits.max_nodes_per_read),
                )
                .await;
                match read {
                    Ok(p) => points.extend(p),
                    Err(e) => {
                        self.emit(points, cancel);
                        return Some(e);
                    }
                }
            }
            if !points.is_empty() {
                self.emit(points, cancel);
            }
        }
    }

    fn failed(&mut self, error: &SessionError) {
        let now = Instant::now();
        self.reason = error.reason();
        let delay = self.backoff.next_delay();
        self.next_attempt = now + delay;
        self.stretch.unhealthy();
        let message = error.to_string();
        // The trust advice is long and printed once at error level; other lines carry the
        // short reason only.
        let shown = if matches!(error, SessionError::Untrusted(_)) {
            if self.reported.as_deref() != Some(message.as_str()) {
                tracing::error!(endpoint = %self.source.endpoint, "{message}");
                self.reported = Some(message);
            }
            self.reason.clone()
        } else {
            self.reported = None;
            message
        };
        if let Some(Transition::WentDown { .. }) = self.health.failure(now.into_std(), &self.reason)
        {
            tracing::warn!(error = %shown, retry_in = ?delay, "device unreachable; publishing bad-quality points until it returns");
            self.handles
                .states
                .set(&self.device.id, DeviceState::Disconnected);
        } else {
            tracing::debug!(error = %shown, retry_in = ?delay, "device still unreachable");
        }
    }

    fn succeeded(&mut self) {
        let now = Instant::now().into_std();
        self.reported = None;
        if self.stretch.healthy(now) && self.backoff.attempts() > 0 {
            self.backoff.reset();
        }
        match self.health.success(now) {
            Some(Transition::Connected) => {
                tracing::info!(endpoint = %self.source.endpoint, "device connected");
            }
            Some(Transition::Recovered { outage }) => {
                tracing::info!(outage = %crate::logging::human(outage), "device reachable again; subscription recreated");
            }
            _ => return,
        }
        self.handles
            .states
            .set(&self.device.id, DeviceState::Connected);
    }

    fn bad_points(&self) -> Vec<Point> {
        let ts = now_ns();
        self.source
            .tags
            .iter()
            .map(|t| Point::bad(t.id.clone(), ts, self.reason.as_str()))
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

fn session_client(source: &OpcUaSource, timeout: Duration) -> Result<Client, String> {
    super::pki::client(&source.pki_dir, source.trust_server_certificate, timeout)
}

/// Waits for the next tick; `false` once `cancel` fired.
async fn tick(ticker: &mut Interval, cancel: &CancellationToken) -> bool {
    tokio::select! {
        biased;
        () = cancel.cancelled() => false,
        _ = ticker.tick() => true,
    }
}

/// `fut` bounded by `after`.
async fn bounded<T>(
    after: Duration,
    what: &'static str,
    fut: impl Future<Output = Result<T, SessionError>>,
) -> Result<T, SessionError> {
    tokio::time::timeout(after, fut)
        .await
        .unwrap_or(Err(SessionError::Timeout { what, after }))
}
