//! Commissioning tools behind `edge-agent modbus ...`: they talk to a device directly,
//! without a configuration or a broker.
//!
//! - `scan`: which unit ids answer on a TCP target, and which address blocks each serves
//!   (bisection on exception 02, see that module).
//! - `interpret`: the byte-order assistant: every interpretation of a run of registers,
//!   read from a device or given on the command line.
//!
//! Both use the agent's own driver (`protocols::modbus::ModbusTcpDriver`), with a timeout on
//! every connect and request.

pub mod interpret;
pub mod scan;

use std::time::Duration;

use protocols::modbus::{ModbusTcpDriver, ReadData, ReadRequest, RegisterKind, TcpEndpoint};

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

/// Reads `count` registers of `kind` (holding or input) from `address` on one unit.
pub async fn read_registers(
    endpoint: TcpEndpoint,
    timeout: Duration,
    kind: RegisterKind,
    address: u16,
    count: u16,
) -> Result<Vec<u16>, String> {
    let what = format!("{kind} {address}+{count} from {endpoint}");
    let mut driver = ModbusTcpDriver::new(endpoint, timeout);
    driver.connect().await.map_err(|e| e.to_string())?;
    let request = ReadRequest {
        kind,
        start: address,
        count,
        tags: Vec::new(),
    };
    let result = driver.read(&request).await;
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
