//! Command line: `aggregator run [flags]`, `aggregator check-config FILE` and
//! `aggregator eval [--datasets DIR] [--only cmapss|skab]` (the RUL model on C-MAPSS and the
//! T² anomaly detector on SKAB, see [`crate::eval`]).
//!
//! Exit codes: 0 clean stop, 64 (EX_USAGE) bad configuration, 1 start-up or runtime failure
//! (including a critical task ending or panicking, see [`crate::supervise`]).
//! Configuration problems go to stderr, one `FILE:LINE:COL: field: message` per line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::analytics::hotelling::DetectorConfig;
use crate::analytics::rul::RulConfig;
use crate::app::App;
use crate::config::{self, ConfigError, Overrides};
use crate::logging::{self, LogFormat};

/// EX_USAGE from sysexits.h: the systemd unit does not restart on it.
pub const EXIT_CONFIG: u8 = 64;

/// Sentia aggregator: MQTT ingest, time-series storage and the dashboard API.
#[derive(Debug, Parser)]
#[command(name = "aggregator", version)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the aggregator (embedded defaults without a config file).
    Run(RunArgs),
    /// Validate a config file and exit (0: valid, 64: problems listed on stderr).
    CheckConfig {
        /// The TOML file.
        file: PathBuf,
    },
    /// Train and score the remaining-useful-life model on NASA C-MAPSS and the T² anomaly
    /// detector on SKAB, and print them next to published results (exit 1 only when it
    /// cannot run; a missed target prints MISS, as in `bench`).
    Eval(EvalArgs),
}

/// Flags of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Directory holding `cmapss/` (train_FD001, test_FD001, RUL_FD001; train_FD003 optional)
    /// and/or `skab/` (valve1/, other/, valve2/ of labelled CSV files).
    #[arg(long, value_name = "DIR", default_value = "../shared/datasets")]
    pub datasets: PathBuf,
    /// Run only one benchmark (default: each one whose folder exists).
    #[arg(long, value_enum)]
    pub only: Option<Benchmark>,
    /// Grouped CV folds for the uncertainty band and the CV figures (0: skip).
    #[arg(long, default_value_t = 5)]
    pub cv_folds: usize,
}

/// A benchmark of `eval`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Benchmark {
    /// NASA C-MAPSS remaining useful life.
    Cmapss,
    /// SKAB multivariate anomaly detection.
    Skab,
}

/// Flags of `run`; they override the config file.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Data directory (SQLite database default location).
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// HTTP API listen address (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub api_listen: Option<String>,
    /// Run the embedded broker on this address (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub broker_listen: Option<String>,
    /// Use an external broker (mqtt://host:port) instead of the embedded one.
    #[arg(long, value_name = "URL")]
    pub mqtt_url: Option<String>,
    /// Storage: sqlite:PATH or postgres://...
    #[arg(long, value_name = "URL")]
    pub storage: Option<String>,
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Runs a parsed command line.
pub fn main(cli: Cli) -> ExitCode {
    match cli.command {
        Command::CheckConfig { file } => check_config(&file),
        Command::Run(args) => run(args),
        Command::Eval(args) => eval(&args),
    }
}

fn eval(args: &EvalArgs) -> ExitCode {
    let dir = &args.datasets;
    let (cmapss, skab) = match args.only {
        Some(Benchmark::Cmapss) => (true, false),
        Some(Benchmark::Skab) => (false, true),
        None if crate::eval::has_cmapss(dir) || crate::eval::has_skab(dir) => {
            (crate::eval::has_cmapss(dir), crate::eval::has_skab(dir))
        }
        // Neither folder: let the C-MAPSS part name the missing directory.
        None => (true, false),
    };
    let mut out = std::io::stdout().lock();
    if cmapss {
        let config = RulConfig {
            cv_folds: args.cv_folds,
            ..RulConfig::default()
        };
        let run = crate::eval::run(dir, &config, true);
        if !eval_part(run, &mut out, crate::eval::write_report) {
            return ExitCode::FAILURE;
        }
    }
    if skab {
        let run = crate::eval::run_skab(dir, &DetectorConfig::default());
        let write = |r: &_, out: &mut std::io::StdoutLock<'_>| {
            let sep = if cmapss { writeln!(out) } else { Ok(()) };
            sep.and_then(|()| crate::eval::write_skab_report(r, out))
        };
        if !eval_part(run, &mut out, write) {
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// Writes one part of `eval` and flushes; false (after saying why) when the part could not
/// run or be written.
fn eval_part<R, E: std::fmt::Display, W: Write>(
    run: Result<R, E>,
    out: &mut W,
    write: impl FnOnce(&R, &mut W) -> std::io::Result<()>,
) -> bool {
    let r = match run {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aggregator eval: {e}");
            return false;
        }
    };
    if let Err(e) = write(&r, out).and_then(|()| out.flush()) {
        eprintln!("cannot write the report: {e}");
        return false;
    }
    true
}

fn report(e: &ConfigError) -> ExitCode {
    eprintln!("{e}");
    ExitCode::from(EXIT_CONFIG)
}

fn check_config(file: &std::path::Path) -> ExitCode {
    match config::load(Some(file), &Overrides::default()) {
        Ok(_) => {
            eprintln!("{}: ok", file.display());
            ExitCode::SUCCESS
        }
        Err(e) => report(&e),
    }
}

fn run(args: RunArgs) -> ExitCode {
    logging::init(args.log_format);
    let overrides = Overrides {
        data_dir: args.data_dir,
        api_listen: args.api_listen,
        broker_listen: args.broker_listen,
        mqtt_url: args.mqtt_url,
        storage: args.storage,
    };
    let settings = match config::load(args.config.as_deref(), &overrides) {
        Ok(s) => s,
        Err(e) => return report(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let app = match App::start(settings).await {
            Ok(app) => app,
            Err(e) => {
                tracing::error!(error = %e, "start-up failed");
                return ExitCode::FAILURE;
            }
        };
        print_ready(&app.ready_line());
        let failure = tokio::select! {
            () = wait_for_signal() => None,
            failure = app.failed() => Some(failure),
        };
        app.shutdown().await;
        match failure {
            None => ExitCode::SUCCESS,
            Some(f) => {
                tracing::error!(error = %f, "exiting after a critical task failed");
                ExitCode::FAILURE
            }
        }
    })
}

/// The one place that writes to stdout.
#[allow(clippy::print_stdout)]
fn print_ready(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only SIGINT stops the aggregator");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
