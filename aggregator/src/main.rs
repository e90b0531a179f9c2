//! The `aggregator` binary; everything lives in the library (see `aggregator::cli`).

use clap::Parser;

fn main() -> std::process::ExitCode {
    aggregator::cli::main(aggregator::cli::Cli::parse())
}
