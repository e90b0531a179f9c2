//! The TOML file as written: serde structs with `deny_unknown_fields`, every leaf optional and
//! spanned so later problems can point at `FILE:LINE:COL`.
//!
//! Nothing here has defaults or cross-field rules; [`super::validate`] applies both. The
//! example in the crate docs (`aggregator/README` section of `config/mod.rs`) lists every key.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// A duration written as a human string (`"100ms"`, `"30s"`).
pub(crate) type HumanDuration = humantime_serde::Serde<Duration>;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ConfigFile {
    pub(crate) data_dir: Option<Spanned<PathBuf>>,
    pub(crate) shutdown_grace: Option<Spanned<HumanDuration>>,
    pub(crate) mqtt: MqttSection,
    pub(crate) ingest: IngestSection,
    pub(crate) storage: StorageSection,
    pub(crate) api: ApiSection,
    /// `[[alarm]]` limit rules.
    pub(crate) alarm: Vec<AlarmSection>,
}

/// One `[[alarm]]` limit rule.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct AlarmSection {
    pub(crate) tag: Option<Spanned<String>>,
    pub(crate) hihi: Option<Spanned<f64>>,
    pub(crate) hi: Option<Spanned<f64>>,
    pub(crate) lo: Option<Spanned<f64>>,
    pub(crate) lolo: Option<Spanned<f64>>,
    pub(crate) deadband: Option<Spanned<f64>>,
    pub(crate) delay: Option<Spanned<HumanDuration>>,
}

/// `[ingest]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct IngestSection {
    pub(crate) max_future_skew: Option<Spanned<HumanDuration>>,
    /// Integer or float.
    pub(crate) stale_after_intervals: Option<Spanned<f64>>,
    pub(crate) stale_min: Option<Spanned<HumanDuration>>,
}

/// `[mqtt]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct MqttSection {
    pub(crate) mode: Option<Spanned<MqttMode>>,
    pub(crate) listen: Option<Spanned<SocketAddr>>,
    pub(crate) url: Option<Spanned<String>>,
    pub(crate) client_id: Option<Spanned<String>>,
}

/// `mqtt.mode`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum MqttMode {
    Embedded,
    External,
}

/// `[storage]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct StorageSection {
    pub(crate) backend: Option<Spanned<Backend>>,
    pub(crate) sqlite_path: Option<Spanned<PathBuf>>,
    pub(crate) postgres_url: Option<Spanned<String>>,
    pub(crate) postgres_url_env: Option<Spanned<String>>,
    pub(crate) postgres_url_file: Option<Spanned<PathBuf>>,
    pub(crate) max_batch_points: Option<Spanned<i64>>,
    pub(crate) max_batch_delay: Option<Spanned<HumanDuration>>,
    pub(crate) max_batch_messages: Option<Spanned<i64>>,
    pub(crate) write_timeout: Option<Spanned<HumanDuration>>,
}

/// `storage.backend`
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// `[api]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct ApiSection {
    pub(crate) listen: Option<Spanned<SocketAddr>>,
    pub(crate) request_timeout: Option<Spanned<HumanDuration>>,
}
