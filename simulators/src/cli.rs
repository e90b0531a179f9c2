//! Command-line flags of `plant-sim` and their conversion into a validated
//! [`SimConfig`]. Flags only say how this process runs; there is no config
//! file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::app::SimConfig;
use crate::opcua::OpcUaSettings;
use crate::plant::MAX_MACHINES;

/// Largest seed: the map file stores it as a TOML (signed 64-bit) integer.
const MAX_SEED: u64 = i64::MAX as u64;

/// Simulated plant of motors, pumps and compressors served over Modbus TCP.
#[derive(Debug, Clone, Parser)]
#[command(name = "plant-sim", version, about)]
pub struct Args {
    /// Number of machines (1..=1000); 247 per listener, extra listeners on port+1, port+2, ...
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=MAX_MACHINES as i64))]
    pub machines: u16,
    /// Seed of the deterministic plant model.
    #[arg(long, default_value_t = 42, value_parser = clap::value_parser!(u64).range(..=MAX_SEED))]
    pub seed: u64,
    /// Address of the first Modbus TCP listener (port 0: ephemeral ports).
    #[arg(long, default_value = "127.0.0.1:15020")]
    pub listen: SocketAddr,
    /// Wall-clock period of one plant tick, e.g. "250ms"; "0s" freezes the plant at tick 0.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    pub tick: Duration,
    /// Write the register map (TOML) to this path once the listeners are bound.
    #[arg(long)]
    pub map_out: Option<PathBuf>,
    /// Fault-injection control socket (line protocol, see `faults.rs`); its bound address
    /// is printed in the ready line as `control=ADDR`.
    #[arg(long)]
    pub control: Option<SocketAddr>,
    /// A fault applied at start, e.g. "exception 0 holding 10 1 2" (an exception-02 hole);
    /// repeatable. Commands: delay, silence, disconnect, exception, freeze, clear.
    #[arg(long = "fault")]
    pub faults: Vec<String>,
    /// Also serve the machines over OPC UA on this address (port 0: ephemeral). Off by default;
    /// 127.0.0.1:14840 is a free-ish choice.
    #[arg(long)]
    pub opcua: Option<SocketAddr>,
    /// PKI directory of the OPC UA server (its certificate is generated there on first start).
    #[arg(long, default_value = "plant-sim-pki")]
    pub opcua_pki: PathBuf,
    /// OPC UA fault file, re-read every tick when it changes: lines `status <machine> <Name>`
    /// (e.g. BadSensorFailure) or `freeze <machine>` (see simulators::opcua::faults).
    #[arg(long, requires = "opcua")]
    pub opcua_faults: Option<PathBuf>,
    /// The OPC UA password user as USER:PASSWORD (anonymous is always accepted too).
    #[arg(long, default_value = "operator:operator", value_parser = parse_user)]
    pub opcua_user: (String, String),
    /// Append one line per answered Modbus read (time, machine, table, range) to this file,
    /// so a test can tell exactly which points were served (see `served.rs`).
    #[arg(long)]
    pub served_log: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How logs are written to stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Args {
    /// The simulator settings these flags describe.
    pub fn config(&self) -> SimConfig {
        SimConfig {
            machines: usize::from(self.machines),
            seed: self.seed,
            listen: self.listen,
            tick: self.tick,
            map_out: self.map_out.clone(),
            control: self.control,
            faults: self.faults.clone(),
            opcua: self.opcua.map(|listen| OpcUaSettings {
                listen,
                pki_dir: self.opcua_pki.clone(),
                faults: self.opcua_faults.clone(),
                user: self.opcua_user.0.clone(),
                password: self.opcua_user.1.clone(),
            }),
            served_log: self.served_log.clone(),
        }
    }
}

fn parse_user(s: &str) -> Result<(String, String), String> {
    match s.split_once(':') {
        Some((u, p)) if !u.is_empty() && !p.is_empty() => Ok((u.to_owned(), p.to_owned())),
        _ => Err("expected USER:PASSWORD".to_owned()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let args = Args::try_parse_from(["plant-sim"]).unwrap();
        let config = args.config();
        assert_eq!(config.machines, 10);
        assert_eq!(config.seed, 42);
        assert_eq!(config.listen, "127.0.0.1:15020".parse().unwrap());
        assert_eq!(config.tick, Duration::from_secs(1));
        assert_eq!(config.map_out, None);
        assert_eq!(config.opcua, None);
        assert_eq!(args.log_format, LogFormat::Text);
    }

    #[test]
    fn parses_and_validates_flags() {
        let args = Args::try_parse_from([
            "plant-sim",
            "--machines",
            "1000",
            "--seed",
            "7",
            "--listen",
            "127.0.0.1:0",
            "--tick",
            "0s",
            "--map-out",
            "/tmp/m.toml",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(args.config().tick, Duration::ZERO);
        assert_eq!(args.log_format, LogFormat::Json);
        for bad in [
            &["--machines", "0"][..],
            &["--machines", "1001"],
            &["--seed", "9223372036854775808"],
            &["--tick", "soon"],
            &["--listen", "nowhere"],
            &["--log-format", "xml"],
        ] {
            let argv = std::iter::once("plant-sim").chain(bad.iter().copied());
            assert!(Args::try_parse_from(argv).is_err(), "{bad:?}");
        }
    }
}
