//! Logging setup: `tracing` to stderr, human-readable or JSON lines, filtered by `RUST_LOG`
//! (default `info`), plus formats for durations and error chains in log fields.

use std::io::IsTerminal as _;
use std::time::Duration;

use tracing_subscriber::EnvFilter;

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. Call once, before anything logs.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    // Already installed (e.g. by a test harness): keep the existing one.
    let _ = result;
}

/// A duration for log lines, to the millisecond ("1m 3s 250ms").
pub fn human(d: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_millis(
        u64::try_from(d.as_millis()).unwrap_or(u64::MAX),
    ))
}

/// An error and its sources, for log lines: "outer: inner: innermost".
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::AgentError;
    use crate::forward::ForwardError;

    #[test]
    fn chain_lists_every_source() {
        let e = AgentError::Forwarder(ForwardError::EventLoopStopped);
        assert_eq!(
            chain(&e),
            "forwarder failed: the MQTT event loop task stopped unexpectedly"
        );
    }
}
