//! Wiring: builds every subsystem from validated [`Settings`] in start-up order and stops
//! them in shutdown order.
//!
//! Start: data dir → storage (migrations) → latest-value cache warmed from storage (points
//! stamped beyond `ingest.max_future_skew` left out) → tag directory loaded → API listener bound → embedded broker
//! (if configured) → writer + MQTT ingest, waiting for the broker's answer to the first
//! subscription → API serving. Only then is the aggregator ready.
//!
//! While running, the writer, MQTT ingest and API tasks are supervised (`supervise.rs`): if
//! one ends or panics before shutdown, everything is cancelled and [`App::failed`] yields
//! the cause, so `cli` exits non-zero and systemd restarts the process.
//!
//! Stop: `cancel` stops the API and makes ingest stop taking messages and close the writer
//! queue; the writer flushes and the last acks go out; the MQTT client disconnects. If that
//! takes longer than `shutdown_grace`, `abort` ends the tasks (unacked messages are
//! re-delivered on the next start). Then the pool closes. The embedded broker's threads
//! cannot be stopped (rumqttd has no API for it) and end with the process.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::agents::AgentTable;
use crate::api::{ApiState, router};
use crate::broker::{BrokerError, EmbeddedBroker};
use crate::cache::{LatestCache, LatestValue};
use crate::config::{BrokerSettings, Settings};
use crate::directory::TagDirectory;
use crate::ingest::{self, BrokerEndpoint, FutureSkew, IngestContext, IngestHealth, Stop};
use crate::live::LiveHub;
use crate::metrics::Metrics;
use crate::store::{Store, StoreError, StoreOptions};
use crate::supervise::{Failure, Failures, supervise};

/// How long start-up waits for the first MQTT subscription. With an embedded broker not
/// getting it is an error; with an external one start-up continues and ingest keeps retrying.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(15);
/// Bound on closing the database pool at shutdown.
const POOL_CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the aggregator could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data directory could not be created.
    #[error("creating data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Storage could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The embedded broker could not start.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The API listener could not be bound.
    #[error("API cannot listen on {addr}: {source}")]
    ApiBind {
        /// The address.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The embedded broker did not accept our subscription.
    #[error("embedded broker on {addr} did not come up within {timeout:?} (was its port taken?)")]
    BrokerNotReady {
        /// Its address.
        addr: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
}

/// A running aggregator.
pub struct App {
    api_addr: SocketAddr,
    broker_label: String,
    store: Store,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
    abort: CancellationToken,
    tracker: TaskTracker,
    grace: Duration,
    failures: Failures,
    _broker: Option<EmbeddedBroker>,
}

impl App {
    /// Starts everything; returns once the aggregator is ready.
    pub async fn start(settings: Settings) -> Result<App, StartError> {
        let started = Instant::now();
        std::fs::create_dir_all(&settings.data_dir).map_err(|source| StartError::DataDir {
            path: settings.data_dir.clone(),
            source,
        })?;
        let options = StoreOptions {
            statement_timeout: settings.storage.write_timeout,
        };
        let store = Store::connect_with(&settings.storage.target, options).await?;
        tracing::info!(target = ?settings.storage.target, "storage ready");
        let cache = Arc::new(LatestCache::default());
        let not_after =
            FutureSkew::new(settings.ingest.max_future_skew).limit(protocols::model::now_ns());
        let warmed = cache.apply(store.latest(not_after).await?.into_iter().map(|(tag, p)| {
            let v = LatestValue {
                value: p.value,
                quality: p.quality,
                source_ts_ns: p.ts_ns,
                receive_ts_ns: p.recv_ns,
            };
            (tag, v)
        }));
        tracing::info!(tags = warmed, "latest values loaded");
        let directory = Arc::new(TagDirectory::from_records(store.tags(None).await?));
        tracing::info!(tags = directory.len(), "tag directory loaded");
        let live = Arc::new(LiveHub::default());

        let listen = settings.api.listen;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| StartError::ApiBind {
                addr: listen,
                source,
            })?;
        let api_addr = listener
            .local_addr()
            .map_err(|source| StartError::ApiBind {
                addr: listen,
                source,
            })?;

        let (broker, endpoint, kind) = match &settings.mqtt.broker {
            BrokerSettings::Embedded { listen } => {
                let broker = EmbeddedBroker::start(*listen)?;
                let addr = broker.addr();
                let endpoint = BrokerEndpoint {
                    host: addr.ip().to_string(),
                    port: addr.port(),
                    label: addr.to_string(),
                };
                (Some(broker), endpoint, "embedded")
            }
            BrokerSettings::External { url, host, port } => {
                let endpoint = BrokerEndpoint {
                    host: host.clone(),
                    port: *port,
                    label: url.clone(),
                };
                (None, endpoint, "external")
            }
        };
        let broker_label = endpoint.label.clone();

        let metrics = Arc::new(Metrics::new());
        let agents = Arc::new(AgentTable::default());
        let cancel = CancellationToken::new();
        let abort = CancellationToken::new();
        let tracker = TaskTracker::new();
        let failures = Failures::default();
        let health = Arc::new(IngestHealth::new(Instant::now()));
        let alarms = Arc::new(crate::alarms::Alarms::new(
            settings.alarms.clone(),
            &settings.data_dir,
        ));
        let ctx = IngestContext {
            store: store.clone(),
            cache: cache.clone(),
            directory: directory.clone(),
            live: live.clone(),
            alarms: alarms.clone(),
            agents: agents.clone(),
            metrics: metrics.clone(),
            health: health.clone(),
        };
        let stop = Stop {
            cancel: cancel.child_token(),
            abort: abort.clone(),
        };
        let spawned = ingest::spawn(
            &tracker,
            (&settings.mqtt, &settings.ingest, &settings.storage),
            endpoint,
            ctx,
            stop,
        );
        supervise(
            &tracker,
            "writer",
            spawned.writer,
            cancel.clone(),
            failures.clone(),
        );
        supervise(
            &tracker,
            "mqtt_ingest",
            spawned.mqtt,
            cancel.clone(),
            failures.clone(),
        );
        let mut subscribed = spawned.subscribed;

        let deadline = tokio::time::Instant::now() + SUBSCRIBE_TIMEOUT;
        let ok = loop {
            tokio::select! {
                r = &mut subscribed => match r {
                    Ok(Ok(())) => break true,
                    Ok(Err(refused)) => {
                        // Logged at error by ingest, which keeps retrying; health says "down".
                        tracing::warn!(broker = %broker_label, %refused, "starting with a refused subscription");
                        break true;
                    }
                    Err(_) => break false,
                },
                () = tokio::time::sleep(Duration::from_millis(50)) => {
                    let broker_down = broker.as_ref().is_some_and(|b| !b.is_running());
                    if broker_down || tokio::time::Instant::now() >= deadline {
                        break false;
                    }
                }
            }
        };
        if !ok {
            if let Some(b) = &broker {
                abort.cancel();
                cancel.cancel();
                tracker.close();
                tracker.wait().await;
                store.close().await;
                return Err(StartError::BrokerNotReady {
                    addr: b.addr(),
                    timeout: SUBSCRIBE_TIMEOUT,
                });
            }
            tracing::warn!(broker = %broker_label, "MQTT broker not reachable yet; ingest keeps retrying");
        }

        let state = ApiState {
            store: store.clone(),
            cache,
            directory,
            live,
            alarms,
            agents,
            metrics: metrics.clone(),
            started,
            broker_kind: kind,
            ingest: health,
            stale: settings.ingest.stale,
        };
        let api_cancel = cancel.child_token();
        let request_timeout = settings.api.request_timeout;
        let api = tracker.spawn(
            async move {
                let serve = axum::serve(listener, router(state, request_timeout))
                    .with_graceful_shutdown(api_cancel.cancelled_owned());
                if let Err(e) = serve.await {
                    tracing::error!(error = %e, "API server failed");
                }
            }
            .instrument(tracing::info_span!("api")),
        );
        supervise(&tracker, "api", api, cancel.clone(), failures.clone());
        tracing::info!(api = %api_addr, broker = %broker_label, storage = store.backend_name(), "aggregator ready");
        Ok(App {
            api_addr,
            broker_label,
            store,
            metrics,
            cancel,
            abort,
            tracker,
            grace: settings.shutdown_grace,
            failures,
            _broker: broker,
        })
    }

    /// Resolves when a critical task ended or panicked before shutdown; everything is
    /// being cancelled by then. Call [`App::shutdown`] next and exit non-zero.
    pub async fn failed(&self) -> Failure {
        self.failures.first().await
    }

    /// The line printed on stdout when ready (parsed by tests and scripts).
    pub fn ready_line(&self) -> String {
        format!(
            "aggregator ready api={} broker={} storage={}",
            self.api_addr,
            self.broker_label,
            self.store.backend_name()
        )
    }

    /// The bound API address.
    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    /// The broker address (embedded) or URL (external).
    pub fn broker(&self) -> &str {
        &self.broker_label
    }

    /// This instance's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Stops everything within the grace period. Returns false if work had to be abandoned.
    pub async fn shutdown(self) -> bool {
        tracing::info!(grace = ?self.grace, "shutting down");
        self.cancel.cancel();
        self.tracker.close();
        let clean = tokio::time::timeout(self.grace, self.tracker.wait())
            .await
            .is_ok();
        if !clean {
            tracing::warn!("shutdown grace period over; abandoning unfinished work");
            self.abort.cancel();
            let _ = tokio::time::timeout(Duration::from_secs(1), self.tracker.wait()).await;
        }
        if tokio::time::timeout(POOL_CLOSE_TIMEOUT, self.store.close())
            .await
            .is_err()
        {
            tracing::warn!("closing the database pool timed out");
        }
        tracing::info!(clean, "stopped");
        clean
    }
}
