//! The embedded MQTT broker: rumqttd on its own OS threads, one MQTT 3.1.1 listener.
//!
//! rumqttd's `Broker::start` blocks (it joins its server threads), so it runs on a dedicated
//! thread. rumqttd binds by address, not from a listener we hand it, so the address is first
//! probed: a std listener is bound to it (port 0 picks a free port), its port read, and the
//! listener released just before rumqttd binds the same address. Another process could take
//! the port in that instant; then rumqttd's bind fails, its thread ends, and start-up
//! reports that the broker did not come up. The probe also catches an address already in
//! use (e.g. a system Mosquitto), which rumqttd would only log.
//!
//! rumqttd has no shutdown API: the broker threads live until the process exits. The
//! aggregator disconnects from it cleanly at shutdown; agents see the process exit.
//!
//! Limits: persistent sessions keep QoS 1 messages for a disconnected subscriber in an
//! in-memory log of `SEGMENT_BYTES` × `SEGMENT_COUNT` per subscription filter — the
//! amount the aggregator may fall behind before the broker drops the oldest messages.
//! rumqttd sends at most 100 unacknowledged QoS 1 messages per subscriber (a constant in
//! rumqttd).

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::thread::JoinHandle;

use rumqttd::{Broker, Config, ConnectionSettings, RouterConfig, ServerSettings};

/// Concurrent client connections.
const MAX_CONNECTIONS: usize = 10_000;
/// Largest publish accepted, matching the codec's payload limit.
const MAX_PAYLOAD_BYTES: usize = protocols::codec::MAX_PAYLOAD_BYTES;
/// In-memory commit-log segment size per subscription filter.
const SEGMENT_BYTES: usize = 16 * 1024 * 1024;
/// Segments kept per filter (see module docs).
const SEGMENT_COUNT: usize = 8;
/// Messages the router hands a connection per read.
const MAX_OUTGOING_PACKETS: u64 = 200;
/// Clients must send CONNECT within this time.
const CONNECT_TIMEOUT_MS: u16 = 10_000;
/// In-flight window per connection for messages *to* the broker.
const MAX_INFLIGHT: usize = 100;

/// Why the embedded broker did not start.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// The listener address is in use or not bindable.
    #[error("embedded broker cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The bind error.
        source: std::io::Error,
    },
    /// The broker thread could not be spawned.
    #[error("spawning the embedded broker thread: {0}")]
    Spawn(std::io::Error),
}

/// A running embedded broker.
#[derive(Debug)]
pub struct EmbeddedBroker {
    addr: SocketAddr,
    thread: JoinHandle<()>,
}

impl EmbeddedBroker {
    /// Starts rumqttd on `listen`. Readiness is proven by the ingest's first subscription
    /// (probing with a bare TCP connection would make rumqttd log an error).
    pub fn start(listen: SocketAddr) -> Result<Self, BrokerError> {
        let probe = TcpListener::bind(listen).map_err(|source| BrokerError::Bind {
            addr: listen,
            source,
        })?;
        let addr = probe.local_addr().map_err(|source| BrokerError::Bind {
            addr: listen,
            source,
        })?;
        drop(probe); // released just before rumqttd binds it: see module docs
        let config = config(addr);
        let thread = std::thread::Builder::new()
            .name("mqtt-broker".to_owned())
            .spawn(move || {
                let mut broker = Broker::new(config);
                if let Err(e) = broker.start() {
                    tracing::error!(error = %e, "embedded broker stopped");
                }
            })
            .map_err(BrokerError::Spawn)?;
        tracing::info!(%addr, "embedded MQTT broker starting");
        Ok(Self { addr, thread })
    }

    /// Whether the broker threads are still up (false after a failed bind).
    pub fn is_running(&self) -> bool {
        !self.thread.is_finished()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

fn config(addr: SocketAddr) -> Config {
    let server = ServerSettings {
        name: "sentia-v4".to_owned(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 1,
        connections: ConnectionSettings {
            connection_timeout_ms: CONNECT_TIMEOUT_MS,
            max_payload_size: MAX_PAYLOAD_BYTES,
            max_inflight_count: MAX_INFLIGHT,
            auth: None,
            external_auth: None,
            dynamic_filters: true,
        },
    };
    Config {
        id: 0,
        router: RouterConfig {
            max_connections: MAX_CONNECTIONS,
            max_outgoing_packet_count: MAX_OUTGOING_PACKETS,
            max_segment_size: SEGMENT_BYTES,
            max_segment_count: SEGMENT_COUNT,
            ..RouterConfig::default()
        },
        v4: Some(HashMap::from([("1".to_owned(), server)])),
        ..Config::default()
    }
}
