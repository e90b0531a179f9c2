//! Commissioning tools behind `edge-agent modbus ...`: they talk to a device directly,
//! without a configuration or a broker.
//!
//! - `scan`: which unit ids answer on a link (TCP, RTU over TCP, serial), and which address blocks each serves
//!   (bisection on exception 02, see that module).
//! - `interpret`: the byte-order assistant: every interpretation of a run of registers,
//!   read from a device or given on the command line.
//!
//! Both use the agent's own driver (`protocols::modbus::ModbusDriver`), with a timeout on
//! every connect and request.

pub mod interpret;
pub mod scan;

use std::time::Duration;

use protocols::modbus::{
    Link, ModbusDriver, Parity, ReadData, ReadRequest, RegisterKind, SerialLine,
};

/// Splits `HOST:PORT`.
pub fn parse_host_port(text: &str) -> Result<(String, u16), String> {
    let (host, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("'{text}': expected HOST:PORT"))?;
    let port = port
        .parse::<u16>()
        .map_err(|_| format!("'{text}': port '{port}' is not a number 0..65535"))?;
    if host.is_empty() {
        return Err(format!("'{text}': empty host"));
    }
    Ok((host.trim_matches(['[', ']']).to_owned(), port))
}

/// How the tools reach a device, from the command line.
#[derive(Debug, Clone, Default)]
pub struct LinkArgs {
    /// `--tcp HOST:PORT`.
    pub tcp: Option<String>,
    /// `--rtu-over-tcp`: RTU frames over the TCP connection.
    pub rtu_over_tcp: bool,
    /// `--serial PATH`.
    pub serial: Option<String>,
    /// `--baud N`.
    pub baud: u32,
    /// `--parity none|even|odd`.
    pub parity: String,
    /// `--stop-bits 1|2` (default: 1 with parity, 2 without).
    pub stop_bits: Option<u8>,
}

impl LinkArgs {
    /// The link, or why the arguments do not name one.
    pub fn link(&self) -> Result<Link, String> {
        match (&self.tcp, &self.serial) {
            (Some(tcp), None) => {
                let (host, port) = parse_host_port(tcp)?;
                Ok(if self.rtu_over_tcp {
                    Link::RtuOverTcp { host, port }
                } else {
                    Link::Tcp { host, port }
                })
            }
            (None, Some(path)) => {
                if self.rtu_over_tcp {
                    return Err("--rtu-over-tcp goes with --tcp, not --serial".to_owned());
                }
                let parity = Parity::parse(&self.parity).ok_or_else(|| {
                    format!("parity '{}': expected none, even or odd", self.parity)
                })?;
                if self.baud == 0 {
                    return Err("--baud must be above 0".to_owned());
                }
                let stop_bits =
                    self.stop_bits
                        .unwrap_or(if parity == Parity::None { 2 } else { 1 });
                Ok(Link::Serial(SerialLine {
                    port: path.clone(),
                    baud_rate: self.baud,
                    parity,
                    data_bits: 8,
                    stop_bits,
                    frame_gap: SerialLine::default_frame_gap(self.baud, parity, 8, stop_bits),
                }))
            }
            (Some(_), Some(_)) => Err("give --tcp or --serial, not both".to_owned()),
            (None, None) => Err("give --tcp HOST:PORT or --serial PATH".to_owned()),
        }
    }
}

/// Reads `count` registers of `kind` (holding or input) from `address` on one unit.
pub async fn read_registers(
    link: Link,
    unit: u8,
    timeout: Duration,
    kind: RegisterKind,
    address: u16,
    count: u16,
) -> Result<Vec<u16>, String> {
    let what = format!("{kind} {address}+{count} from {link} unit {unit}");
    let mut driver = ModbusDriver::new(link, timeout);
    driver.connect().await.map_err(|e| e.to_string())?;
    let request = ReadRequest {
        kind,
        start: address,
        count,
        tags: Vec::new(),
    };
    let result = driver.read(unit, &request).await;
    driver.disconnect();
    match result {
        Ok(Ok(ReadData::Registers(words))) if words.len() == usize::from(count) => Ok(words),
        Ok(Ok(ReadData::Registers(words))) => Err(format!(
            "read {what}: got {} registers instead of {count}",
            words.len()
        )),
        Ok(Ok(ReadData::Bits(_))) => Err(format!("read {what}: got bits, not registers")),
        Ok(Err(exception)) => Err(format!("read {what}: {exception}")),
        Err(e) => Err(e.to_string()),
    }
}
