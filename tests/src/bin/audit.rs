//! `audit`: scans `Cargo.lock` against an offline copy of the RustSec advisory database.
//!
//! Usage: `cargo run -p tests --bin audit -- [--db DIR] [--lock FILE] [--config FILE]`
//! (defaults: `../shared/advisory-db`, `Cargo.lock`, `.cargo/audit.toml`).
//!
//! The same check as `cargo audit --no-fetch --db DIR -D warnings`, built from the `rustsec`
//! library that cargo-audit itself uses, without its git and HTTP stack: installing
//! cargo-audit from source took about 12 minutes of a 30-minute CI budget. Vulnerabilities
//! and informational advisories (unmaintained, unsound, notice) all fail the run unless their
//! id is listed under `[advisories] ignore` in the config file, each with its reason.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;

use anyhow::{Context, bail};
use rustsec::advisory::{Id, Informational};
use rustsec::report::{Report, Settings};
use rustsec::{Database, Lockfile};

/// The `[advisories]` table of `.cargo/audit.toml` (the cargo-audit format).
#[derive(Debug, Default, serde::Deserialize)]
struct AuditConfig {
    #[serde(default)]
    advisories: Advisories,
}

#[derive(Debug, Default, serde::Deserialize)]
struct Advisories {
    #[serde(default)]
    ignore: Vec<String>,
}

struct Args {
    db: PathBuf,
    lock: PathBuf,
    config: PathBuf,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        db: PathBuf::from("../shared/advisory-db"),
        lock: PathBuf::from("Cargo.lock"),
        config: PathBuf::from(".cargo/audit.toml"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let slot = match flag.as_str() {
            "--db" => &mut args.db,
            "--lock" => &mut args.lock,
            "--config" => &mut args.config,
            other => bail!("unknown argument {other:?} (expected --db, --lock or --config)"),
        };
        *slot = it
            .next()
            .with_context(|| format!("{flag} needs a value"))?
            .into();
    }
    Ok(args)
}

#[allow(clippy::print_stdout)]
fn run() -> anyhow::Result<bool> {
    let args = parse_args()?;
    let config: AuditConfig = if args.config.exists() {
        let text = std::fs::read_to_string(&args.config)
            .with_context(|| format!("read {}", args.config.display()))?;
        toml::from_str(&text).with_context(|| format!("parse {}", args.config.display()))?
    } else {
        AuditConfig::default()
    };
    let ignore = config
        .advisories
        .ignore
        .iter()
        .map(|id| Id::from_str(id).with_context(|| format!("advisory id {id:?} in ignore list")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let db = Database::open(&args.db)
        .with_context(|| format!("open advisory database {}", args.db.display()))?;
    let lockfile =
        Lockfile::load(&args.lock).with_context(|| format!("load {}", args.lock.display()))?;
    let settings = Settings {
        ignore,
        informational_warnings: vec![
            Informational::Unmaintained,
            Informational::Unsound,
            Informational::Notice,
        ],
        ..Settings::default()
    };
    let report = Report::generate(&db, &lockfile, &settings);
    println!(
        "audit: {} advisories in {}, {} packages in {}, {} ignored by {}",
        db.iter().count(),
        args.db.display(),
        lockfile.packages.len(),
        args.lock.display(),
        settings.ignore.len(),
        args.config.display()
    );
    let mut findings = 0;
    for v in &report.vulnerabilities.list {
        findings += 1;
        println!(
            "VULNERABILITY {} {} {}: {} ({})",
            v.advisory.id,
            v.package.name,
            v.package.version,
            v.advisory.title,
            v.advisory.url.as_ref().map(|u| u.as_str()).unwrap_or("")
        );
    }
    for (kind, warnings) in &report.warnings {
        for w in warnings {
            findings += 1;
            let (id, title) = w
                .advisory
                .as_ref()
                .map(|a| (a.id.to_string(), a.title.clone()))
                .unwrap_or_default();
            println!(
                "WARNING {} {id} {} {}: {title}",
                kind.as_str(),
                w.package.name,
                w.package.version
            );
        }
    }
    if findings == 0 {
        println!("audit: no findings");
    } else {
        println!(
            "audit: {findings} finding(s); fix them or list the id with its reason in {}",
            args.config.display()
        );
    }
    Ok(findings == 0)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("audit: error: {e:#}");
            ExitCode::from(2)
        }
    }
}
