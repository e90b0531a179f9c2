//! Log output: `tracing` to stderr (stdout carries only the ready line), as text or JSON.
//! The filter comes from `RUST_LOG`, default [`DEFAULT_FILTER`].

use tracing_subscriber::EnvFilter;

/// Default filter: our lifecycle at info, sqlx only when something is wrong. The embedded
/// rumqttd is silenced: it logs every clean client disconnect at error level
/// ("router-drop", "no-connection"), which would drown real errors. Start-up detects a
/// broker that failed to bind, and ingest logs its own connection changes. For broker
/// debugging run with `RUST_LOG=info,rumqttd=debug`.
pub const DEFAULT_FILTER: &str = "info,rumqttd=off,sqlx=warn";

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber (a no-op if one is already installed, as in tests).
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
