//! The Modbus TCP server: binds every listener up front (so callers can read
//! the bound addresses, e.g. with port 0 in tests), then serves each one with
//! tokio-modbus until cancelled.
//!
//! Each listener runs in its own task and span; a failing `accept` (e.g. file
//! descriptors exhausted) is logged and retried after a short pause. Dropping
//! the serving future on cancellation closes that listener's connections.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_modbus::server::tcp::Server;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use super::addressing::{UNITS_PER_LISTENER, listener_addr, listener_count};
use super::service::PlantService;
use super::store::ImageStore;
use crate::faults::Faults;
use crate::served::ServedLog;

/// Pause before accepting again after an `accept` error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Listener `index` would need a port above 65535.
    #[error("no port for Modbus listener {index}: {listen} plus {index} exceeds 65535")]
    PortRange {
        /// The configured listen address.
        listen: SocketAddr,
        /// The listener that has no port.
        index: usize,
    },
    /// Binding a listener failed.
    #[error("failed to bind Modbus listener {index} on {addr}")]
    Bind {
        /// Listener index.
        index: usize,
        /// Address that could not be bound.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The bound address of a listener could not be read.
    #[error("failed to read the bound address of Modbus listener {index} ({addr})")]
    LocalAddr {
        /// Listener index.
        index: usize,
        /// Address that was bound.
        addr: SocketAddr,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

/// Bound Modbus listeners, ready to serve.
#[derive(Debug)]
pub struct ModbusServer {
    listeners: Vec<TcpListener>,
    addrs: Vec<SocketAddr>,
}

impl ModbusServer {
    /// Binds the listeners for `machines` machines, listener 0 on `listen`.
    pub async fn bind(listen: SocketAddr, machines: usize) -> Result<Self, ServerError> {
        let wanted = (0..listener_count(machines).max(1))
            .map(|index| {
                listener_addr(listen, index).ok_or(ServerError::PortRange { listen, index })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut listeners = Vec::with_capacity(wanted.len());
        let mut addrs = Vec::with_capacity(wanted.len());
        for (index, addr) in wanted.into_iter().enumerate() {
            let listener = TcpListener::bind(addr)
                .await
                .map_err(|source| ServerError::Bind {
                    index,
                    addr,
                    source,
                })?;
            let bound = listener
                .local_addr()
                .map_err(|source| ServerError::LocalAddr {
                    index,
                    addr,
                    source,
                })?;
            tracing::info!(listener = index, addr = %bound, "modbus listener bound");
            listeners.push(listener);
            addrs.push(bound);
        }
        Ok(Self { listeners, addrs })
    }

    /// Bound address of each listener, by listener index.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Serves requests from `store` until `cancel` fires, recording answered reads in
    /// `served` when given.
    pub async fn run(
        self,
        store: Arc<ImageStore>,
        faults: Arc<Faults>,
        served: Option<Arc<ServedLog>>,
        cancel: CancellationToken,
    ) {
        let tracker = TaskTracker::new();
        let machines = store.machine_count();
        for (index, (listener, addr)) in self.listeners.into_iter().zip(self.addrs).enumerate() {
            let service = PlantService::new(Arc::clone(&store), Arc::clone(&faults), index)
                .with_served_log(served.clone());
            let first = index * UNITS_PER_LISTENER;
            let served = first..machines.min(first + UNITS_PER_LISTENER);
            let gate = Gate {
                faults: Arc::clone(&faults),
                served,
            };
            let span = tracing::info_span!("modbus_listener", listener = index, %addr);
            tracker.spawn(serve(listener, service, gate, cancel.clone()).instrument(span));
        }
        tracker.close();
        tracker.wait().await;
    }
}

/// Refuses connections to a listener while one of its machines is disconnected.
#[derive(Debug, Clone)]
struct Gate {
    faults: Arc<Faults>,
    served: std::ops::Range<usize>,
}

/// Accept loop of one listener.
async fn serve(
    listener: TcpListener,
    service: PlantService,
    gate: Gate,
    cancel: CancellationToken,
) {
    let server = Server::new(listener);
    let on_connected = |stream: TcpStream, peer: SocketAddr| {
        let service = service.clone();
        let refuse = gate.faults.any_disconnected(gate.served.clone());
        async move {
            if refuse {
                tracing::debug!(%peer, "fault: refusing the connection (machine disconnected)");
                return Ok::<_, io::Error>(None);
            }
            tracing::debug!(%peer, "modbus client connected");
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(%peer, %err, "failed to set TCP_NODELAY");
            }
            Ok::<_, io::Error>(Some((service, stream)))
        }
    };
    let on_process_error = |err: io::Error| {
        tracing::debug!(%err, "modbus connection closed with error");
    };
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            result = server.serve(&on_connected, on_process_error) => {
                if let Err(err) = result {
                    tracing::warn!(%err, "modbus accept failed, retrying");
                }
                tokio::select! {
                    () = cancel.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_RETRY) => {}
                }
            }
        }
    }
    tracing::info!("modbus listener stopped");
}
