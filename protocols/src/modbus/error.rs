//! Driver failures. Every variant names the device and the operation; all of them mean
//! "drop the connection and reconnect with backoff". Device exceptions are not errors at this
//! level: they come back as [`Exception`](super::Exception) inside an `Ok`, and the
//! connection stays up.

use std::io;
use std::time::Duration;

/// A transport-level failure talking to a Modbus TCP device.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The host name did not resolve.
    #[error("modbus {endpoint}: cannot resolve host: {source}")]
    Resolve {
        /// `host:port unit N`.
        endpoint: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The TCP connection could not be established.
    #[error("modbus {endpoint}: connect failed: {source}")]
    Connect {
        /// `host:port unit N`.
        endpoint: String,
        /// The socket error.
        source: io::Error,
    },
    /// Connecting took longer than the timeout.
    #[error("modbus {endpoint}: connect timed out after {timeout:?}")]
    ConnectTimeout {
        /// `host:port unit N`.
        endpoint: String,
        /// The timeout.
        timeout: Duration,
    },
    /// No response within the timeout; the connection was dropped.
    #[error("modbus {endpoint}: FC{function:02} {start}+{count} timed out after {timeout:?}")]
    Timeout {
        /// `host:port unit N`.
        endpoint: String,
        /// Function code of the request.
        function: u8,
        /// First address.
        start: u16,
        /// Count.
        count: u16,
        /// The timeout.
        timeout: Duration,
    },
    /// The connection failed mid-request; it was dropped.
    #[error("modbus {endpoint}: FC{function:02} {start}+{count}: connection lost: {source}")]
    Transport {
        /// `host:port unit N`.
        endpoint: String,
        /// Function code of the request.
        function: u8,
        /// First address.
        start: u16,
        /// Count.
        count: u16,
        /// The socket error.
        source: io::Error,
    },
    /// The response did not match the request (transaction id, unit, function); the
    /// connection was dropped to resynchronise.
    #[error("modbus {endpoint}: FC{function:02} {start}+{count}: protocol error: {message}")]
    Protocol {
        /// `host:port unit N`.
        endpoint: String,
        /// Function code of the request.
        function: u8,
        /// First address.
        start: u16,
        /// Count.
        count: u16,
        /// What did not match.
        message: String,
    },
    /// A read was attempted without a connection.
    #[error("modbus {endpoint}: not connected")]
    NotConnected {
        /// `host:port unit N`.
        endpoint: String,
    },
}

impl DriverError {
    /// The short reason given to bad-quality points: `connection refused`, `timeout`,
    /// `connection lost: ...`, and so on.
    pub fn reason(&self) -> String {
        match self {
            DriverError::Resolve { source, .. } => format!("cannot resolve host: {source}"),
            DriverError::Connect { source, .. } => match source.kind() {
                io::ErrorKind::ConnectionRefused => "connection refused".to_owned(),
                io::ErrorKind::TimedOut => "connect timeout".to_owned(),
                io::ErrorKind::HostUnreachable | io::ErrorKind::NetworkUnreachable => {
                    "host unreachable".to_owned()
                }
                _ => format!("connect failed: {source}"),
            },
            DriverError::ConnectTimeout { .. } => "connect timeout".to_owned(),
            DriverError::Timeout { .. } => "timeout".to_owned(),
            DriverError::Transport { source, .. } => format!("connection lost: {source}"),
            DriverError::Protocol { message, .. } => format!("protocol error: {message}"),
            DriverError::NotConnected { .. } => "not connected".to_owned(),
        }
    }

    /// A stable label for counters: `connect`, `timeout`, `transport` or `protocol`.
    pub fn label(&self) -> &'static str {
        match self {
            DriverError::Resolve { .. }
            | DriverError::Connect { .. }
            | DriverError::ConnectTimeout { .. }
            | DriverError::NotConnected { .. } => "connect",
            DriverError::Timeout { .. } => "timeout",
            DriverError::Transport { .. } => "transport",
            DriverError::Protocol { .. } => "protocol",
        }
    }
}
