//! The command line: `edge-agent run --config FILE [--log-format text|json]`,
//! `edge-agent check-config FILE`, and the commissioning tools `edge-agent modbus scan` and
//! `edge-agent modbus decode` ([`crate::tools`]), and `edge-agent opcua browse ENDPOINT
//! [NODE]` ([`crate::opcua::browse`]). A running agent reloads FILE on SIGHUP
//! (see [`crate::reload`]); SIGINT and SIGTERM stop it.
//!
//! Exit codes: 0 success; 64 (EX_USAGE) for a bad command line or an invalid or unreadable
//! configuration, so a supervisor stops restarting; 1 when the agent fails at runtime (e.g.
//! the forwarder stopped, [`app::AgentError`]), so a supervisor restarts it.
//! This is the only module that prints to stdout (the `check-config` report and the tools'
//! output); problems and logs go to stderr.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::logging::{self, LogFormat};
use crate::{app, config, report, tools};
use protocols::modbus::RegisterKind;

/// EX_USAGE from sysexits.h.
pub const EXIT_USAGE: u8 = 64;
/// Runtime failure.
pub const EXIT_FAILURE: u8 = 1;

/// Sentia edge agent: polls PLCs over Modbus TCP and publishes telemetry over MQTT.
#[derive(Debug, Parser)]
#[command(name = "edge-agent", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the agent until SIGINT or SIGTERM; SIGHUP reloads the configuration.
    Run {
        /// Configuration file (TOML).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Log line format (logs go to stderr).
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
    },
    /// Validate a configuration file and print each device's read plan.
    CheckConfig {
        /// Configuration file (TOML).
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Modbus commissioning tools (talk to a device directly, no configuration needed).
    Modbus {
        #[command(subcommand)]
        command: ModbusCommand,
    },
    /// OPC UA tools.
    Opcua {
        #[command(subcommand)]
        command: OpcuaCommand,
    },
}

#[derive(Debug, Subcommand)]
enum OpcuaCommand {
    /// Walk a server's address space and optionally write tag configuration for it.
    Browse(crate::opcua::browse::BrowseArgs),
}

#[derive(Debug, Subcommand)]
enum ModbusCommand {
    /// Find the unit ids that answer and the readable address blocks of each table.
    Scan {
        #[command(flatten)]
        link: LinkOpts,
        /// Unit ids to try: `1-247`, `1,3,5-7`.
        #[arg(long, default_value = "1-247")]
        units: String,
        /// Bound on every connect and request.
        #[arg(long, default_value = "200ms", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Tables and address ranges to scan per answering unit.
        #[arg(long, default_value = "holding:0-999,input:0-999")]
        ranges: String,
        /// In unreadable stretches probe only every Nth address (faster; may miss blocks
        /// shorter than N).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
        gap_step: u16,
    },
    /// Print every interpretation of some registers (types x byte orders) to find the
    /// right type and order.
    Decode {
        #[command(flatten)]
        link: LinkOpts,
        /// Unit id.
        #[arg(long, default_value_t = 1)]
        unit: u8,
        /// First holding register to read.
        #[arg(long, value_name = "ADDR", conflicts_with = "input")]
        holding: Option<u16>,
        /// First input register to read.
        #[arg(long, value_name = "ADDR")]
        input: Option<u16>,
        /// Registers to read (1..=125).
        #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=125))]
        count: u16,
        /// Bound on the connect and the read.
        #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
        timeout: Duration,
        /// Offline: interpret these registers instead (`0x4148,0x0000,...`).
        #[arg(long, value_name = "LIST", conflicts_with_all = ["tcp", "serial", "holding", "input"])]
        registers: Option<String>,
    },
}

/// Where the tools find the device.
#[derive(Debug, clap::Args)]
struct LinkOpts {
    /// Modbus TCP target.
    #[arg(long, value_name = "HOST:PORT")]
    tcp: Option<String>,
    /// Speak RTU framing over the TCP connection (serial-to-Ethernet converters).
    #[arg(long, requires = "tcp")]
    rtu_over_tcp: bool,
    /// Serial line (Modbus RTU), e.g. /dev/ttyUSB0.
    #[arg(long, value_name = "PATH")]
    serial: Option<String>,
    /// Serial baud rate.
    #[arg(long, default_value_t = 19_200)]
    baud: u32,
    /// Serial parity: none, even or odd.
    #[arg(long, default_value = "even")]
    parity: String,
    /// Serial stop bits (default: 1 with parity, 2 without, as the Modbus serial spec says).
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=2))]
    stop_bits: Option<u8>,
}

impl LinkOpts {
    fn args(&self) -> tools::LinkArgs {
        tools::LinkArgs {
            tcp: self.tcp.clone(),
            rtu_over_tcp: self.rtu_over_tcp,
            serial: self.serial.clone(),
            baud: self.baud,
            parity: self.parity.clone(),
            stop_bits: self.stop_bits,
        }
    }
}

/// Parses the command line, runs the command and returns the process exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Run { config, log_format } => run(&config, log_format),
        Command::Modbus { command } => modbus(command),
        Command::Opcua {
            command: OpcuaCommand::Browse(args),
        } => opcua_browse(args),
    }
}

fn opcua_browse(args: crate::opcua::browse::BrowseArgs) -> ExitCode {
    logging::init(LogFormat::Text);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match runtime.block_on(crate::opcua::browse::run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("opcua browse: {e}");
            ExitCode::from(if e.is_usage() {
                EXIT_USAGE
            } else {
                EXIT_FAILURE
            })
        }
    }
}

fn modbus(command: ModbusCommand) -> ExitCode {
    let usage = |e: String| {
        eprintln!("error: {e}");
        ExitCode::from(EXIT_USAGE)
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    match command {
        ModbusCommand::Scan {
            link,
            units,
            timeout,
            ranges,
            gap_step,
        } => {
            let target = match (
                link.args().link(),
                tools::scan::parse_units(&units),
                tools::scan::parse_ranges(&ranges),
            ) {
                (Ok(link), Ok(units), Ok(ranges)) => tools::scan::ScanTarget {
                    link,
                    units,
                    timeout,
                    ranges,
                    gap_step,
                },
                (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return usage(e),
            };
            print!("{}", runtime.block_on(tools::scan::scan(&target)));
            ExitCode::SUCCESS
        }
        ModbusCommand::Decode {
            link,
            unit,
            holding,
            input,
            count,
            timeout,
            registers,
        } => {
            if let Some(list) = registers {
                return match tools::interpret::parse_registers(&list) {
                    Ok(words) => {
                        print!("{}", tools::interpret::render(0, &words));
                        ExitCode::SUCCESS
                    }
                    Err(e) => usage(e),
                };
            }
            let (kind, address) = match (holding, input) {
                (Some(a), None) => (RegisterKind::Holding, a),
                (None, Some(a)) => (RegisterKind::Input, a),
                _ => return usage("give --holding ADDR or --input ADDR".to_owned()),
            };
            let link = match link.args().link() {
                Ok(link) => link,
                Err(e) => return usage(e),
            };
            if u32::from(address) + u32::from(count) > 65536 {
                return usage(format!("{address}+{count} runs past address 65535"));
            }
            match runtime.block_on(tools::read_registers(
                link, unit, timeout, kind, address, count,
            )) {
                Ok(words) => {
                    print!("{}", tools::interpret::render(u32::from(address), &words));
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    ExitCode::from(EXIT_FAILURE)
                }
            }
        }
    }
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match config::load(file) {
        Ok(settings) => {
            print!("{}", report::render(&settings));
            ExitCode::SUCCESS
        }
        Err(e) => config_failed(&e),
    }
}

fn config_failed(e: &config::ConfigError) -> ExitCode {
    eprintln!("{e}");
    let n = e.problems().len();
    if n > 0 {
        eprintln!("{n} problem{} found", if n == 1 { "" } else { "s" });
    }
    ExitCode::from(EXIT_USAGE)
}

fn run(path: &std::path::Path, log_format: LogFormat) -> ExitCode {
    let settings = match config::load(path) {
        Ok(s) => s,
        Err(e) => return config_failed(&e),
    };
    logging::init(log_format);
    tracing::info!(config = %path.display(), "configuration loaded");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            if let Err(e) = app::shutdown_signal().await {
                tracing::error!(error = %e, "cannot listen for signals; stopping");
            }
            on_signal.cancel();
        });
        let (handle, agent) = app::start(settings, shutdown);
        tokio::spawn(crate::config_watch::reload_on_signal_or_change(
            path.to_owned(),
            handle,
        ));
        agent.await
    });
    if let Err(e) = &result {
        tracing::error!(error = %logging::chain(e), "agent failed");
    }
    exit_code(&result)
}

/// The exit code for how the agent ended: any runtime failure is 1 (restart), never 64.
fn exit_code(result: &Result<(), app::AgentError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::from(EXIT_FAILURE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AgentError;
    use crate::forward::ForwardError;

    #[test]
    fn runtime_failures_exit_1_so_systemd_restarts() {
        assert_eq!(exit_code(&Ok(())), ExitCode::SUCCESS);
        for e in [
            AgentError::ForwarderStopped,
            AgentError::Forwarder(ForwardError::EventLoopStopped),
        ] {
            assert_eq!(exit_code(&Err(e)), ExitCode::from(1));
        }
        assert_ne!(EXIT_FAILURE, EXIT_USAGE);
    }
}
