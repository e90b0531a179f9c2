//! `plant-sim`: serves a simulated plant over Modbus TCP.
//!
//! Prints exactly one line on stdout once listening (see
//! [`simulators::PlantSim::ready_line`]); logs go to stderr. Stops cleanly on
//! SIGINT or SIGTERM.

use std::io::Write as _;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser as _;
use simulators::PlantSim;
use simulators::cli::Args;
use simulators::logging::init_logging;
use simulators::shutdown::shutdown_signal;
use tokio_util::sync::CancellationToken;

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line with the whole cause chain, whatever RUST_BACKTRACE says.
            let _ = writeln!(std::io::stderr(), "plant-sim: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    init_logging(args.log_format).context("failed to initialise logging")?;
    let config = args.config();
    let listen = config.listen;
    let sim = PlantSim::start(config)
        .await
        .with_context(|| format!("failed to start with --listen {listen}"))?;
    {
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{}", sim.ready_line()).context("failed to write the ready line")?;
        stdout.flush().context("failed to flush stdout")?;
    }
    let cancel = CancellationToken::new();
    let on_signal = cancel.clone();
    tokio::spawn(async move {
        match shutdown_signal().await {
            Ok(()) => {
                tracing::info!("shutdown signal received");
                on_signal.cancel();
            }
            // Keep serving; the default signal disposition still ends the process.
            Err(err) => tracing::error!(%err, "failed to listen for shutdown signals"),
        }
    });
    sim.run(cancel).await;
    Ok(())
}
