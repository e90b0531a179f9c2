//! The command line: `edge-agent run --config FILE [--log-format text|json]` and
//! `edge-agent check-config FILE`, and `edge-agent opcua browse ENDPOINT [NODE]`
//! ([`crate::opcua::browse`]). A running agent reloads FILE on SIGHUP
//! (see [`crate::reload`]); SIGINT and SIGTERM stop it.
//!
//! Exit codes: 0 success; 64 (EX_USAGE) for a bad command line or an invalid or unreadable
//! configuration, so a supervisor stops restarting; 1 when the agent fails at runtime (e.g.
//! the forwarder stopped, [`app::AgentError`]), so a supervisor restarts it.
//! This is the only module that prints to stdout (the `check-config` report); problems and
//! logs go to stderr.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use crate::logging::{self, LogFormat};
use crate::{app, config, report};

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
        tokio::spawn(app::reload_on_sighup(path.to_owned(), handle));
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
