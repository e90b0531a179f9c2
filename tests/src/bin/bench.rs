//! `bench [SCENARIO...] [--quick] [--json FILE]`: Sentia against same-run references,
//! peers and targets (issue 7). See BENCHMARKS.md.
//!
//! Scenarios: poll, footprint, ingest, api, live, spool (default: all). `--quick` runs each
//! for a few seconds with small sizes, as a CI smoke test. The exit code is 0 whatever the
//! verdicts, non-zero only when a scenario failed to run (or on bad arguments).
#![allow(clippy::print_stdout)]

#[path = "../bench/mod.rs"]
mod bench;

use std::process::ExitCode;

use anyhow::{Context, bail};
use bench::report::{self, Header, Verdict};

struct Args {
    scenarios: Vec<String>,
    quick: bool,
    json: Option<std::path::PathBuf>,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = std::env::args().skip(1);
    let mut parsed = Args {
        scenarios: Vec::new(),
        quick: false,
        json: None,
    };
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => parsed.quick = true,
            "--json" => parsed.json = Some(args.next().context("--json needs a file")?.into()),
            "-h" | "--help" => {
                println!(
                    "usage: bench [{}]... [--quick] [--json FILE]",
                    bench::SCENARIOS.join("|")
                );
                std::process::exit(0);
            }
            s if bench::SCENARIOS.contains(&s) => parsed.scenarios.push(arg),
            s => bail!(
                "unknown argument {s}; scenarios: {}",
                bench::SCENARIOS.join(", ")
            ),
        }
    }
    if parsed.scenarios.is_empty() {
        parsed.scenarios = bench::SCENARIOS.iter().map(|s| (*s).to_owned()).collect();
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("bench: {e:#}");
            return ExitCode::from(2);
        }
    };
    let header = Header {
        command: std::iter::once("bench".to_owned())
            .chain(std::env::args().skip(1))
            .collect::<Vec<_>>()
            .join(" "),
        date: bench::machine::utc_now(),
        machine: bench::machine::describe(),
        quick: args.quick,
    };
    let ctx = match bench::Ctx::new(args.quick) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("bench: {e:#}");
            return ExitCode::FAILURE;
        }
    };
    let mut rows = Vec::new();
    for name in &args.scenarios {
        eprintln!("bench: running {name}...");
        rows.extend(bench::run(name, &ctx).await);
    }
    report::print(&header, &rows);
    if let Some(path) = &args.json {
        let text =
            serde_json::to_string_pretty(&report::to_json(&header, &rows)).unwrap_or_default();
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("bench: write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if rows.iter().any(|r| r.verdict == Verdict::Error) {
        eprintln!("bench: a scenario failed to run (see ERROR rows)");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
