//! Shared helpers for the agent's integration tests: real peers on 127.0.0.1 port 0 (a
//! tokio-modbus server holding a few registers, a device that never answers, a closed port),
//! the shared MQTT broker or a private mosquitto, and an MQTT subscriber that decodes what
//! the agent publishes.
#![allow(dead_code, clippy::unwrap_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::future::{Future, Ready, ready};
use std::net::SocketAddr;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use protocols::codec::{self, Message};
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

/// Fails the test if `fut` takes longer than `secs`.
pub(crate) async fn within<T>(secs: u64, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {secs}s: {what}"),
    }
}

/// A unique agent id, so concurrent runs and retained messages never collide.
pub(crate) fn unique_agent_id(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        protocols::model::now_ns() % 1_000_000_000
    )
}

/// The shared broker's address (`SENTIA_TEST_MQTT`, default 127.0.0.1:1883), or `None`
/// (after printing why) if it is unreachable outside CI. Under `CI=true` an unreachable
/// broker fails the test.
pub(crate) async fn shared_broker() -> Option<String> {
    let addr = std::env::var("SENTIA_TEST_MQTT").unwrap_or_else(|_| "127.0.0.1:1883".into());
    let reachable = matches!(
        tokio::time::timeout(Duration::from_secs(2), TcpStream::connect(&addr)).await,
        Ok(Ok(_))
    );
    if reachable {
        return Some(addr);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("MQTT broker at {addr} unreachable and CI=true");
    }
    println!("skipped: no broker at {addr}");
    None
}

/// The register banks of the test PLC (100 entries each; beyond that: exception 02). Unit
/// ids other than 1, and every request while `gateway_down` is set, get exception 0B
/// (gateway target device failed to respond), as from a gateway whose device is dead.
#[derive(Debug, Default, Clone)]
pub(crate) struct Plc {
    pub(crate) input: HashMap<u16, u16>,
    pub(crate) holding: HashMap<u16, u16>,
    pub(crate) coils: HashMap<u16, bool>,
    pub(crate) discrete: HashMap<u16, bool>,
    pub(crate) gateway_down: Arc<AtomicBool>,
    /// Connections accepted so far.
    pub(crate) connections: Arc<AtomicU32>,
}

const BANK_SIZE: u32 = 100;

impl Plc {
    fn registers(
        bank: &HashMap<u16, u16>,
        start: u16,
        count: u16,
    ) -> Result<Vec<u16>, ExceptionCode> {
        if u32::from(start) + u32::from(count) > BANK_SIZE {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        Ok((start..start + count)
            .map(|a| bank.get(&a).copied().unwrap_or(0))
            .collect())
    }

    fn bits(bank: &HashMap<u16, bool>, start: u16, count: u16) -> Result<Vec<bool>, ExceptionCode> {
        if u32::from(start) + u32::from(count) > BANK_SIZE {
            return Err(ExceptionCode::IllegalDataAddress);
        }
        Ok((start..start + count)
            .map(|a| bank.get(&a).copied().unwrap_or(false))
            .collect())
    }

    fn handle(&self, req: SlaveRequest<'static>) -> Result<Response, ExceptionCode> {
        if req.slave != 1 || self.gateway_down.load(Ordering::SeqCst) {
            return Err(ExceptionCode::GatewayTargetDevice);
        }
        match req.request {
            Request::ReadInputRegisters(a, n) => {
                Self::registers(&self.input, a, n).map(Response::ReadInputRegisters)
            }
            Request::ReadHoldingRegisters(a, n) => {
                Self::registers(&self.holding, a, n).map(Response::ReadHoldingRegisters)
            }
            Request::ReadCoils(a, n) => Self::bits(&self.coils, a, n).map(Response::ReadCoils),
            Request::ReadDiscreteInputs(a, n) => {
                Self::bits(&self.discrete, a, n).map(Response::ReadDiscreteInputs)
            }
            _ => Err(ExceptionCode::IllegalFunction),
        }
    }
}

impl tokio_modbus::server::Service for Plc {
    type Request = SlaveRequest<'static>;
    type Response = Response;
    type Exception = ExceptionCode;
    type Future = Ready<Result<Response, ExceptionCode>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        ready(self.handle(req))
    }
}

/// Serves `plc` on 127.0.0.1 port 0 until the runtime ends; returns the bound address.
pub(crate) async fn start_plc(plc: Plc) -> SocketAddr {
    let listener = within(5, "bind", TcpListener::bind("127.0.0.1:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let plc = Arc::new(plc);
    tokio::spawn(async move {
        let server = tokio_modbus::server::tcp::Server::new(listener);
        let on_connected = |stream: TcpStream, _peer: SocketAddr| {
            plc.connections.fetch_add(1, Ordering::SeqCst);
            let plc = Arc::clone(&plc);
            async move { Ok::<_, std::io::Error>(Some((plc, stream))) }
        };
        let _ = server.serve(&on_connected, |_err| {}).await;
    });
    addr
}

/// A device that accepts connections and never answers (every request times out).
pub(crate) async fn start_silent_device() -> SocketAddr {
    let listener = within(5, "bind", TcpListener::bind("127.0.0.1:0"))
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    addr
}

/// A port nothing listens on (bound, then released).
pub(crate) async fn closed_port() -> u16 {
    let listener = within(5, "bind", TcpListener::bind("127.0.0.1:0"))
        .await
        .unwrap();
    listener.local_addr().unwrap().port()
}

/// A message the subscriber received.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) topic: String,
    pub(crate) retained: bool,
    pub(crate) message: Message,
}

/// An MQTT subscriber decoding every message on `topics`.
pub(crate) struct Subscriber {
    pub(crate) client: AsyncClient,
    pub(crate) rx: mpsc::Receiver<Received>,
}

/// Connects to `broker` ("host:port"), subscribes to `topics` at QoS 1 and waits for the
/// SUBACKs. `persistent` keeps the session (and queued messages) across reconnects.
pub(crate) async fn subscribe(
    broker: &str,
    client_id: &str,
    topics: &[String],
    persistent: bool,
) -> Subscriber {
    let (host, port) = broker.rsplit_once(':').unwrap();
    let mut options = MqttOptions::new(client_id, host, port.parse().unwrap());
    options
        .set_keep_alive(Duration::from_secs(5))
        .set_clean_session(!persistent)
        .set_max_packet_size(4 << 20, 4 << 20);
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let (tx, rx) = mpsc::channel(10_000);
    let (subacked_tx, mut subacked) = mpsc::channel(16);
    tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if p.payload.is_empty() {
                        continue; // a cleared retained message
                    }
                    let message = codec::decode(&p.payload)
                        .unwrap_or_else(|e| panic!("undecodable payload on {}: {e}", p.topic));
                    let r = Received {
                        topic: p.topic.clone(),
                        retained: p.retain,
                        message,
                    };
                    if tx.send(r).await.is_err() {
                        return;
                    }
                }
                Ok(Event::Incoming(Packet::SubAck(_))) => {
                    let _ = subacked_tx.try_send(());
                }
                Ok(_) => {}
                // Broker restarts in the outage test: retry (rumqttc reconnects on poll).
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    });
    for topic in topics {
        client
            .subscribe(topic.clone(), QoS::AtLeastOnce)
            .await
            .unwrap();
    }
    for _ in topics {
        within(10, "SUBACK", subacked.recv()).await.unwrap();
    }
    Subscriber { client, rx }
}

impl Subscriber {
    /// Receives until `done` returns true for everything received so far (checked after
    /// each message), failing after `secs`.
    pub(crate) async fn collect_until(
        &mut self,
        secs: u64,
        what: &str,
        mut done: impl FnMut(&[Received]) -> bool,
    ) -> Vec<Received> {
        let mut got = Vec::new();
        within(secs, what, async {
            while !done(&got) {
                match self.rx.recv().await {
                    Some(r) => got.push(r),
                    None => panic!("subscriber stopped"),
                }
            }
        })
        .await;
        got
    }

    /// Clears the retained messages this test left on `topics`.
    pub(crate) async fn clear_retained(&self, topics: &[String]) {
        for t in topics {
            self.client
                .publish(t.clone(), QoS::AtLeastOnce, true, Vec::<u8>::new())
                .await
                .unwrap();
        }
    }
}

/// A private mosquitto (for tests that stop the broker), with persistence so subscriptions
/// and queued messages survive a restart.
pub(crate) struct Mosquitto {
    pub(crate) port: u16,
    dir: tempfile::TempDir,
    child: Option<tokio::process::Child>,
}

impl Mosquitto {
    /// Starts mosquitto on a free port, or `None` if the binary is missing (outside CI).
    pub(crate) async fn start() -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        // mosquitto started as root drops to its own user, which must write the database.
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        let port = closed_port().await;
        let mut m = Self {
            port,
            dir,
            child: None,
        };
        if !m.spawn().await {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("mosquitto not available and CI=true");
            }
            println!("skipped: mosquitto not available");
            return None;
        }
        Some(m)
    }

    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// (Re)starts the broker and waits until it listens (it says so on stderr).
    pub(crate) async fn spawn(&mut self) -> bool {
        let conf = self.dir.path().join("mosquitto.conf");
        let text = format!(
            "listener {} 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location {}/\nlog_dest stderr\nlog_type all\n",
            self.port,
            self.dir.path().display()
        );
        std::fs::write(&conf, text).unwrap();
        let Ok(mut child) = tokio::process::Command::new("mosquitto")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
        else {
            return false;
        };
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        within(10, "mosquitto listening", async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if line.contains("Opening ipv4 listen socket") {
                    break;
                }
            }
        })
        .await;
        // Keep draining its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        self.child = Some(child);
        true
    }

    /// Stops the broker gracefully (SIGTERM: it saves its persistence file) and waits.
    pub(crate) async fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Some(pid) = child.id() {
                let _ = std::process::Command::new("kill")
                    .arg("-TERM")
                    .arg(pid.to_string())
                    .status();
            }
            within(10, "mosquitto exit", child.wait()).await.unwrap();
        }
    }
}

/// The asset of the single device in [`one_plc_config`].
pub(crate) const ONE_PLC_ASSET: &str = "test/hall/l1/plc";

/// Agent config text for one device (`plc`, one u16 input register `v` at address 0) at
/// `plc_port`, publishing JSON to `broker` with fast reconnects. `agent_extra` goes into
/// `[agent]` and `spool` (if any) becomes the `[spool]` section, one `key = value` per line.
pub(crate) fn one_plc_config(
    agent_id: &str,
    agent_extra: &str,
    broker: &str,
    spool: &str,
    plc_port: u16,
    poll_interval: &str,
) -> String {
    let spool = if spool.is_empty() {
        String::new()
    } else {
        format!("[spool]\n{spool}\n")
    };
    format!(
        r#"
[agent]
id = "{agent_id}"
{agent_extra}
[mqtt]
broker = "mqtt://{broker}"
encoding = "json"
reconnect_min = "100ms"
reconnect_max = "300ms"
{spool}[[device]]
id = "plc"
asset = "{ONE_PLC_ASSET}"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = {plc_port}
unit_id = 1
poll_interval = "{poll_interval}"
[[device.tag]]
name = "v"
register = "input"
address = 0
type = "u16"
"#
    )
}
