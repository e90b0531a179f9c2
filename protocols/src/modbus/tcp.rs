//! The Modbus TCP driver: one connection to one unit, reads with a timeout, and a poll cycle
//! that turns a [`RegisterMap`] into points.
//!
//! Built on the tokio-modbus client, which has no request timeout of its own: every connect
//! and every request is wrapped in `tokio::time::timeout`. After a timeout, transport error or
//! protocol mismatch the connection is dropped, because a late reply would desynchronise the
//! transaction ids; the caller reconnects (with backoff). A device exception leaves the
//! connection up and only turns that request's tags bad.

use std::fmt;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::{ExceptionCode, Slave};

use crate::model::{Point, now_ns};

use super::{
    DriverError, Exception, ReadData, ReadRequest, RegisterKind, RegisterMap, bad_points,
    decode_response,
};

/// Where a Modbus TCP device is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TcpEndpoint {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Unit identifier (1..=247).
    pub unit_id: u8,
}

impl TcpEndpoint {
    /// The `source` string of a tag's metadata:
    /// `modbus-tcp://{host}:{port}/{unit}/{kind}/{address}`.
    pub fn source_url(&self, kind: RegisterKind, address: u16) -> String {
        format!(
            "modbus-tcp://{}:{}/{}/{}/{}",
            self.host, self.port, self.unit_id, kind, address
        )
    }
}

impl fmt::Display for TcpEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} unit {}", self.host, self.port, self.unit_id)
    }
}

/// The result of one poll cycle.
#[derive(Debug)]
pub struct PollOutcome {
    /// One point per tag, in request order. Tags of failed requests have bad quality.
    pub points: Vec<Point>,
    /// Requests answered with data.
    pub requests_ok: usize,
    /// Requests answered with an exception: (index into the plan, exception).
    pub exceptions: Vec<(usize, Exception)>,
    /// The transport failure that ended the cycle, if any. The connection is then closed;
    /// this and every later request of the cycle got bad points with its reason.
    pub error: Option<DriverError>,
}

/// A Modbus TCP client for one unit.
pub struct ModbusTcpDriver {
    endpoint: TcpEndpoint,
    timeout: Duration,
    context: Option<Context>,
}

impl fmt::Debug for ModbusTcpDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModbusTcpDriver")
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("connected", &self.context.is_some())
            .finish()
    }
}

impl ModbusTcpDriver {
    /// A disconnected driver; `timeout` bounds every connect and every request.
    pub fn new(endpoint: TcpEndpoint, timeout: Duration) -> Self {
        Self {
            endpoint,
            timeout,
            context: None,
        }
    }

    /// The device's address.
    pub fn endpoint(&self) -> &TcpEndpoint {
        &self.endpoint
    }

    /// Whether a connection is open.
    pub fn is_connected(&self) -> bool {
        self.context.is_some()
    }

    /// Drops the connection, if any.
    pub fn disconnect(&mut self) {
        self.context = None;
    }

    /// Opens a connection (dropping any previous one), within the timeout.
    pub async fn connect(&mut self) -> Result<(), DriverError> {
        self.context = None;
        let endpoint = self.endpoint.to_string();
        let attempt = async {
            let addrs = tokio::net::lookup_host((self.endpoint.host.as_str(), self.endpoint.port))
                .await
                .map_err(|source| DriverError::Resolve {
                    endpoint: endpoint.clone(),
                    source,
                })?;
            let mut last = None;
            for addr in addrs {
                match TcpStream::connect(addr).await {
                    Ok(stream) => return Ok(stream),
                    Err(e) => last = Some(e),
                }
            }
            let source = last.unwrap_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host")
            });
            Err(DriverError::Connect {
                endpoint: endpoint.clone(),
                source,
            })
        };
        let stream =
            timeout(self.timeout, attempt)
                .await
                .map_err(|_| DriverError::ConnectTimeout {
                    endpoint: endpoint.clone(),
                    timeout: self.timeout,
                })??;
        // Requests are small and latency matters more than packet count.
        let _ = stream.set_nodelay(true);
        self.context = Some(tokio_modbus::client::tcp::attach_slave(
            stream,
            Slave(self.endpoint.unit_id),
        ));
        Ok(())
    }

    /// Executes one read. `Ok(Err(_))` is a device exception (connection kept); `Err(_)` is a
    /// transport failure (connection dropped).
    pub async fn read(
        &mut self,
        request: &ReadRequest,
    ) -> Result<Result<ReadData, Exception>, DriverError> {
        let endpoint = || self.endpoint.to_string();
        let Some(ctx) = self.context.as_mut() else {
            return Err(DriverError::NotConnected {
                endpoint: endpoint(),
            });
        };
        let (start, count) = (request.start, request.count);
        let call = async {
            type Reply = tokio_modbus::Result<ReadData>;
            let reply: Reply = match request.kind {
                RegisterKind::Coil => map(ctx.read_coils(start, count).await, ReadData::Bits),
                RegisterKind::Discrete => {
                    map(ctx.read_discrete_inputs(start, count).await, ReadData::Bits)
                }
                RegisterKind::Holding => map(
                    ctx.read_holding_registers(start, count).await,
                    ReadData::Registers,
                ),
                RegisterKind::Input => map(
                    ctx.read_input_registers(start, count).await,
                    ReadData::Registers,
                ),
            };
            reply
        };
        let function = request.function_code();
        let outcome = timeout(self.timeout, call).await;
        let error = match outcome {
            Ok(Ok(Ok(data))) => return Ok(Ok(data)),
            Ok(Ok(Err(code))) => return Ok(Err(Exception(u8::from(code)))),
            Err(_) => DriverError::Timeout {
                endpoint: endpoint(),
                function,
                start,
                count,
                timeout: self.timeout,
            },
            Ok(Err(tokio_modbus::Error::Transport(source))) => DriverError::Transport {
                endpoint: endpoint(),
                function,
                start,
                count,
                source,
            },
            Ok(Err(tokio_modbus::Error::Protocol(e))) => DriverError::Protocol {
                endpoint: endpoint(),
                function,
                start,
                count,
                message: e.to_string(),
            },
        };
        self.context = None;
        Err(error)
    }

    /// Runs one poll cycle over `map`'s plan. Each request's points carry the time it was
    /// sent. After a transport failure the remaining requests are not attempted; their tags
    /// get bad points with the failure's reason.
    pub async fn poll(&mut self, map: &RegisterMap) -> PollOutcome {
        let mut out = PollOutcome {
            points: Vec::with_capacity(map.tags().len()),
            requests_ok: 0,
            exceptions: Vec::new(),
            error: None,
        };
        for (index, request) in map.requests().iter().enumerate() {
            let ts = now_ns();
            if let Some(error) = &out.error {
                out.points
                    .extend(bad_points(map.tags(), request, ts, &error.reason()));
                continue;
            }
            match self.read(request).await {
                Ok(Ok(data)) => {
                    out.requests_ok += 1;
                    out.points
                        .extend(decode_response(map.tags(), request, &data, ts));
                }
                Ok(Err(exception)) => {
                    out.exceptions.push((index, exception));
                    out.points
                        .extend(bad_points(map.tags(), request, ts, &exception.reason()));
                }
                Err(error) => {
                    out.points
                        .extend(bad_points(map.tags(), request, ts, &error.reason()));
                    out.error = Some(error);
                }
            }
        }
        out
    }
}

fn map<T>(
    reply: tokio_modbus::Result<Vec<T>>,
    wrap: fn(Vec<T>) -> ReadData,
) -> tokio_modbus::Result<ReadData> {
    reply.map(|r: Result<Vec<T>, ExceptionCode>| r.map(wrap))
}
