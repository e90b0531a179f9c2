//! The Modbus driver: one connection over any [`Link`] (TCP, RTU over serial, RTU over
//! TCP), reads with a timeout, and a poll cycle that turns a [`RegisterMap`] into points.
//!
//! Built on the tokio-modbus client, which has no request timeout of its own: every connect
//! and every request is wrapped in `tokio::time::timeout`. After a timeout, transport error or
//! protocol mismatch the connection is dropped, because a late reply would desynchronise the
//! transaction ids (TCP) or the frame stream (RTU); the caller reconnects (with backoff). A
//! device exception leaves the connection up and only turns that request's tags bad.
//!
//! One driver serves any number of units on its link ([`ModbusDriver::poll`] takes the
//! unit id), so a bus task can poll a serial line or a gateway unit by unit. Before each
//! request it keeps the line quiet for the inter-frame delay (serial) or the configured
//! request delay (slow devices), whichever is longer.
//!
//! Exception 02 on a merged read starts hole learning (`holes.rs`): the read is bisected
//! over its tags, the refused ranges become holes in the map and the map is re-planned; the
//! outcome reports the plan before and after.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::{Instant, timeout};
use tokio_modbus::client::{Context, Reader};
use tokio_modbus::{ExceptionCode, Slave};

use crate::model::{Point, now_ns};

use super::{
    DriverError, Exception, Hole, Link, ReadData, ReadRequest, RegisterKind, RegisterMap,
    RegisterTag, WriteRequest, bad_points, decode_response, holes,
};

/// Quality reason of a tag that lies in a learned hole: the same as when the device refused
/// it, so the reason does not change once the hole is learned (the log and `check-config`
/// say that it is no longer read).
pub const HOLE_REASON: &str = "exception 02 illegal data address";

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
    /// Holes learned this cycle (already applied to the map).
    pub learned: Vec<Hole>,
    /// When holes were learned: the plan before and after (see
    /// [`RegisterMap::describe_plan`]).
    pub plan_change: Option<(String, String)>,
}

/// A Modbus client over one link, for any unit on it.
pub struct ModbusDriver {
    link: Link,
    timeout: Duration,
    request_delay: Duration,
    context: Option<Context>,
    /// When the last exchange ended (for the inter-frame and request delays).
    quiet_since: Option<Instant>,
}

/// The former name of [`ModbusDriver`], when it only spoke TCP.
pub type ModbusTcpDriver = ModbusDriver;

impl fmt::Debug for ModbusDriver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ModbusDriver")
            .field("link", &self.link)
            .field("timeout", &self.timeout)
            .field("request_delay", &self.request_delay)
            .field("connected", &self.context.is_some())
            .finish()
    }
}

impl ModbusDriver {
    /// A disconnected driver; `timeout` bounds every connect and every request.
    pub fn new(link: Link, timeout: Duration) -> Self {
        Self {
            link,
            timeout,
            request_delay: Duration::ZERO,
            context: None,
            quiet_since: None,
        }
    }

    /// The link.
    pub fn link(&self) -> &Link {
        &self.link
    }

    /// Sets the bound on connects and requests (devices on one bus may differ).
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Sets the least time between the end of one exchange and the next request.
    pub fn set_request_delay(&mut self, delay: Duration) {
        self.request_delay = delay;
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
        let endpoint = self.link.to_string();
        let wait = self.timeout;
        self.context = Some(match self.link.clone() {
            Link::Tcp { host, port } => {
                let stream = tcp_connect(endpoint, host, port, wait).await?;
                tokio_modbus::client::tcp::attach_slave(stream, Slave(1))
            }
            Link::RtuOverTcp { host, port } => {
                let stream = tcp_connect(endpoint, host, port, wait).await?;
                tokio_modbus::client::rtu::attach_slave(stream, Slave(1))
            }
            Link::Serial(line) => {
                use tokio_serial::{SerialPort, SerialPortBuilderExt};
                let data_bits = if line.data_bits == 7 {
                    tokio_serial::DataBits::Seven
                } else {
                    tokio_serial::DataBits::Eight
                };
                let stop_bits = if line.stop_bits == 2 {
                    tokio_serial::StopBits::Two
                } else {
                    tokio_serial::StopBits::One
                };
                let parity = match line.parity {
                    super::Parity::None => tokio_serial::Parity::None,
                    super::Parity::Even => tokio_serial::Parity::Even,
                    super::Parity::Odd => tokio_serial::Parity::Odd,
                };
                let port = tokio_serial::new(line.port.as_str(), line.baud_rate)
                    .data_bits(data_bits)
                    .stop_bits(stop_bits)
                    .parity(parity)
                    .open_native_async()
                    .map_err(|e| DriverError::Connect {
                        endpoint: endpoint.clone(),
                        source: e.into(),
                    })?;
                // Whatever a previous session left in the buffers is stale.
                let _ = port.clear(tokio_serial::ClearBuffer::All);
                tokio_modbus::client::rtu::attach_slave(port, Slave(1))
            }
        });
        self.quiet_since = None;
        Ok(())
    }

    /// When the line will have been quiet for the inter-frame delay and the request delay.
    fn quiet_until(&self) -> Option<Instant> {
        let frame_gap = match &self.link {
            Link::Serial(line) => line.frame_gap,
            _ => Duration::ZERO,
        };
        let gap = frame_gap.max(self.request_delay);
        self.quiet_since.filter(|_| !gap.is_zero()).map(|t| t + gap)
    }

    /// Executes one read. `Ok(Err(_))` is a device exception (connection kept); `Err(_)` is a
    /// transport failure (connection dropped).
    pub async fn read(
        &mut self,
        unit: u8,
        request: &ReadRequest,
    ) -> Result<Result<ReadData, Exception>, DriverError> {
        quiet(self.quiet_until()).await;
        let result = self.exchange(unit, request).await;
        self.quiet_since = Some(Instant::now());
        result
    }

    /// Executes one write (FC5/6/15/16) to `unit`, with the same delays, timeout and
    /// failure handling as [`ModbusDriver::read`]: `Ok(Err(_))` is a device exception
    /// (connection kept), `Err(_)` a transport failure (connection dropped).
    pub async fn write(
        &mut self,
        unit: u8,
        request: &WriteRequest,
    ) -> Result<Result<(), Exception>, DriverError> {
        use tokio_modbus::prelude::SlaveContext;
        if let Some(until) = self.quiet_until() {
            tokio::time::sleep_until(until).await;
        }
        let endpoint = format!("{} unit {unit}", self.link);
        let Some(ctx) = self.context.as_mut() else {
            return Err(DriverError::NotConnected { endpoint });
        };
        ctx.set_slave(Slave(unit));
        let result = super::write::execute(ctx, request, self.timeout, &endpoint).await;
        self.quiet_since = Some(Instant::now());
        if result.is_err() {
            self.context = None;
        }
        result
    }

    async fn exchange(
        &mut self,
        unit: u8,
        request: &ReadRequest,
    ) -> Result<Result<ReadData, Exception>, DriverError> {
        use tokio_modbus::prelude::SlaveContext;
        let link = self.link.to_string();
        let endpoint = || format!("{link} unit {unit}");
        let Some(ctx) = self.context.as_mut() else {
            return Err(DriverError::NotConnected {
                endpoint: endpoint(),
            });
        };
        ctx.set_slave(Slave(unit));
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

    /// Runs one poll cycle of `unit` over `map`'s plan. Each request's points carry the
    /// time it was sent. After a transport failure the remaining requests are not
    /// attempted; their tags get bad points with the failure's reason. Exception 02 on a
    /// request starts hole learning; learned holes are applied to `map` before returning.
    pub async fn poll(&mut self, unit: u8, map: &mut RegisterMap) -> PollOutcome {
        let mut out = PollOutcome {
            points: Vec::with_capacity(map.tags().len()),
            requests_ok: 0,
            exceptions: Vec::new(),
            error: None,
            learned: Vec::new(),
            plan_change: None,
        };
        let ts = now_ns();
        out.points.extend(
            map.tags_in_holes()
                .iter()
                .filter_map(|&i| map.tags().get(i))
                .map(|t| Point::bad(t.id().clone(), ts, HOLE_REASON)),
        );
        let lens = map.widths();
        for (index, request) in map.requests().iter().enumerate() {
            if out.error.is_none() {
                quiet(self.quiet_until()).await;
            }
            let ts = now_ns();
            if let Some(error) = &out.error {
                out.points
                    .extend(bad_points(map.tags(), request, ts, &error.reason()));
                continue;
            }
            match self.read(unit, request).await {
                Ok(Ok(data)) => {
                    out.requests_ok += 1;
                    out.points
                        .extend(decode_response(map.tags(), request, &data, ts));
                }
                Ok(Err(exception)) => {
                    out.exceptions.push((index, exception));
                    if exception == Exception::ILLEGAL_DATA_ADDRESS {
                        let mut probe = Probe {
                            unit,
                            tags: map.tags(),
                            lens: &lens,
                            out: &mut out,
                        };
                        if let Err(error) = self.bisect(&mut probe, request).await {
                            out.error = Some(error);
                        }
                    } else {
                        out.points
                            .extend(bad_points(map.tags(), request, ts, &exception.reason()));
                    }
                }
                Err(error) => {
                    out.points
                        .extend(bad_points(map.tags(), request, ts, &error.reason()));
                    out.error = Some(error);
                }
            }
        }
        if !out.learned.is_empty() {
            let before = map.describe_plan();
            if map.learn(out.learned.iter().copied()) {
                out.plan_change = Some((before, map.describe_plan()));
            }
        }
        out
    }

    /// `request` got exception 02: reads its halves to find the hole (see `holes.rs`).
    fn bisect<'a>(
        &'a mut self,
        p: &'a mut Probe<'_>,
        request: &'a ReadRequest,
    ) -> Pin<Box<dyn Future<Output = Result<(), DriverError>> + Send + 'a>> {
        Box::pin(async move {
            match holes::split(request, p.lens) {
                None => {
                    p.out.learned.push(holes::whole(request));
                    let reason = Exception::ILLEGAL_DATA_ADDRESS.reason();
                    p.out
                        .points
                        .extend(bad_points(p.tags, request, now_ns(), &reason));
                }
                Some((left, right)) => {
                    let left_ok = self.probe(p, &left).await?;
                    let right_ok = self.probe(p, &right).await?;
                    if left_ok && right_ok {
                        p.out.learned.push(holes::gap_between(&left, &right));
                    }
                }
            }
            Ok(())
        })
    }

    /// Reads one half during hole learning; true if it returned data.
    async fn probe(
        &mut self,
        p: &mut Probe<'_>,
        request: &ReadRequest,
    ) -> Result<bool, DriverError> {
        quiet(self.quiet_until()).await;
        let ts = now_ns();
        match self.read(p.unit, request).await? {
            Ok(data) => {
                p.out.requests_ok += 1;
                p.out
                    .points
                    .extend(decode_response(p.tags, request, &data, ts));
                Ok(true)
            }
            Err(e) if e == Exception::ILLEGAL_DATA_ADDRESS => {
                self.bisect(p, request).await?;
                Ok(false)
            }
            Err(e) => {
                p.out
                    .points
                    .extend(bad_points(p.tags, request, ts, &e.reason()));
                Ok(false)
            }
        }
    }
}

async fn tcp_connect(
    endpoint: String,
    host: String,
    port: u16,
    timeout_after: Duration,
) -> Result<TcpStream, DriverError> {
    let attempt = async {
        let addrs = tokio::net::lookup_host((host.as_str(), port))
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
        timeout(timeout_after, attempt)
            .await
            .map_err(|_| DriverError::ConnectTimeout {
                endpoint: endpoint.clone(),
                timeout: timeout_after,
            })??;
    // Requests are small and latency matters more than packet count.
    let _ = stream.set_nodelay(true);
    Ok(stream)
}

/// Waits out the inter-frame and request delays (see [`ModbusDriver::quiet_until`]), so a
/// timestamp taken next is the time the request leaves.
async fn quiet(until: Option<Instant>) {
    if let Some(until) = until {
        tokio::time::sleep_until(until).await;
    }
}

/// What hole learning works with.
struct Probe<'a> {
    unit: u8,
    tags: &'a [RegisterTag],
    lens: &'a [u16],
    out: &'a mut PollOutcome,
}

fn map<T>(
    reply: tokio_modbus::Result<Vec<T>>,
    wrap: fn(Vec<T>) -> ReadData,
) -> tokio_modbus::Result<ReadData> {
    reply.map(|r: Result<Vec<T>, ExceptionCode>| r.map(wrap))
}
