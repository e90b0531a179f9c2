//! The aggregator's configuration: the TOML file, command-line overrides and the validated
//! [`Settings`] handed to [`crate::app::App::start`].
//!
//! Order: read the file, parse it with spans (`load`), apply CLI overrides, validate
//! everything (`validate`) and only then build runtime objects. Every problem is reported
//! at once as `FILE:LINE:COL: field: message`; the binary exits with code 64 (EX_USAGE).
//!
//! ```toml
//! data_dir = "data"                  # default "./data", created if missing
//! shutdown_grace = "10s"             # bound on a clean shutdown
//! [mqtt]
//! mode = "embedded"                  # embedded | external
//! listen = "127.0.0.1:11883"         # embedded broker listener (port 0: pick a free port)
//! url = "mqtt://127.0.0.1:1883"      # external broker (mode = "external")
//! client_id = "sentia-aggregator"    # stable: the broker keeps our session (clean_session = false)
//! [ingest]
//! max_future_skew = "5m"             # points further ahead of receive time are stored but
//!                                    # never become a tag's latest value
//! stale_after_intervals = 3          # a tag is stale after this many poll intervals (> 1;
//!                                    # integer or float) without an update...
//! stale_min = "3s"                   # ...but never sooner than this
//! [storage]
//! backend = "sqlite"                 # sqlite | postgres
//! sqlite_path = "data/sentia.db"     # default {data_dir}/sentia.db
//! postgres_url_env = "SENTIA_PG_URL" # or postgres_url = "postgres://..." or postgres_url_file
//! max_batch_points = 5000            # flush a write batch at this many points...
//! max_batch_delay = "100ms"          # ...or this long after its first message...
//! max_batch_messages = 50            # ...or when it holds this many unacknowledged MQTT messages
//! write_timeout = "30s"              # bound on one write (retried) and PostgreSQL statement_timeout
//! [api]
//! listen = "127.0.0.1:8470"
//! request_timeout = "10s"            # a slower request is answered 503 {"error":{"code":"timeout"}}
//! [[alarm]]                          # a limit rule; repeat per tag (see crate::alarms)
//! tag = "demo/hall-1/line-1/motor-01/winding_temp"
//! hi = 80.0                          # any of hihi, hi, lo, lolo; lolo < lo < hi < hihi
//! hihi = 95.0
//! deadband = 2.0                     # back past a limit by this much to leave its level (default 0)
//! delay = "5s"                       # the level must hold this long before an alarm is raised (default 0s)
//! ```
//!
//! Secrets: the PostgreSQL URL should come from the environment or a file, not inline.

mod file;
mod load;
mod problem;
mod secret;
#[cfg(test)]
mod tests;
mod validate;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub use problem::{Location, Problem};

use crate::stale::StaleRule;

/// Default embedded broker listener (1883 is taken by a system Mosquitto on our machines).
pub const DEFAULT_BROKER_LISTEN: &str = "127.0.0.1:11883";
/// Default HTTP API listener.
pub const DEFAULT_API_LISTEN: &str = "127.0.0.1:8470";
/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "data";
/// SQLite file name inside the data directory.
pub const SQLITE_FILE_NAME: &str = "sentia.db";
/// Default MQTT client id.
pub const DEFAULT_CLIENT_ID: &str = "sentia-aggregator";
/// Environment variable holding the PostgreSQL URL unless configured otherwise.
pub const DEFAULT_PG_URL_ENV: &str = "SENTIA_PG_URL";

/// Command-line values that override the file (`None`: not given).
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--data-dir`
    pub data_dir: Option<PathBuf>,
    /// `--api-listen`
    pub api_listen: Option<String>,
    /// `--broker-listen` (selects the embedded broker)
    pub broker_listen: Option<String>,
    /// `--mqtt-url` (selects an external broker)
    pub mqtt_url: Option<String>,
    /// `--storage` (`sqlite:PATH` or `postgres://...`)
    pub storage: Option<String>,
}

/// Why configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("reading config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration has problems; all of them are listed.
    #[error("{}", ProblemList(.0))]
    Invalid(Vec<Problem>),
}

struct ProblemList<'a>(&'a [Problem]);

impl fmt::Display for ProblemList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

/// Validated settings for one aggregator.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Directory for the SQLite database and other local state.
    pub data_dir: PathBuf,
    /// Upper bound on a clean shutdown.
    pub shutdown_grace: Duration,
    /// Broker and MQTT client.
    pub mqtt: MqttSettings,
    /// Checks on accepted data.
    pub ingest: IngestSettings,
    /// Database and write batching.
    pub storage: StorageSettings,
    /// HTTP API.
    pub api: ApiSettings,
    /// Limit alarm rules (`[[alarm]]`), at most one per tag.
    pub alarms: Vec<crate::alarms::Rule>,
}

/// MQTT settings.
#[derive(Debug, Clone)]
pub struct MqttSettings {
    /// Which broker to use.
    pub broker: BrokerSettings,
    /// Stable client id (the broker keeps our persistent session under it).
    pub client_id: String,
}

/// Ingest settings.
#[derive(Debug, Clone)]
pub struct IngestSettings {
    /// Points whose source timestamp is further than this ahead of their receive time are
    /// stored but do not update the latest-value cache.
    pub max_future_skew: Duration,
    /// When a tag's latest value counts as stale (`/api/v1/latest`, asset status).
    pub stale: StaleRule,
}

/// The broker the ingest connects to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrokerSettings {
    /// Run rumqttd in-process on this address (port 0: a free port is picked).
    Embedded {
        /// Listener address.
        listen: SocketAddr,
    },
    /// Connect to an existing broker.
    External {
        /// The URL as configured (for logs and the ready line).
        url: String,
        /// Host name or address.
        host: String,
        /// TCP port.
        port: u16,
    },
}

/// Storage settings.
#[derive(Debug, Clone)]
pub struct StorageSettings {
    /// Which database.
    pub target: StorageTarget,
    /// Flush a write batch at this many points.
    pub max_batch_points: usize,
    /// Flush a write batch this long after its first message.
    pub max_batch_delay: Duration,
    /// Flush a write batch when it holds this many MQTT messages awaiting their ack.
    pub max_batch_messages: usize,
    /// Bound on one write attempt (a timeout is retried) and, for PostgreSQL, the
    /// `statement_timeout` of every connection.
    pub write_timeout: Duration,
}

/// A database to store into.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageTarget {
    /// A SQLite file (created if missing).
    Sqlite {
        /// Database file.
        path: PathBuf,
    },
    /// A PostgreSQL database.
    Postgres {
        /// Connection URL (may hold a password: never logged, see [`redact_url`]).
        url: String,
    },
}

impl StorageTarget {
    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self {
            StorageTarget::Sqlite { .. } => "sqlite",
            StorageTarget::Postgres { .. } => "postgres",
        }
    }
}

impl fmt::Debug for StorageTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StorageTarget::Sqlite { path } => write!(f, "Sqlite({})", path.display()),
            StorageTarget::Postgres { url } => write!(f, "Postgres({})", redact_url(url)),
        }
    }
}

/// API settings.
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// Listener address (port 0: a free port is picked).
    pub listen: SocketAddr,
    /// A request taking longer is answered 503 with error code `timeout`.
    pub request_timeout: Duration,
}

/// `scheme://user:***@host/...`: the URL with any password replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Loads and validates configuration: the file (if any), then the overrides.
pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Settings, ConfigError> {
    let text = match path {
        Some(p) => std::fs::read_to_string(p).map_err(|source| ConfigError::Read {
            path: p.to_path_buf(),
            source,
        })?,
        None => String::new(),
    };
    load_str(path, text, overrides, &|name| std::env::var(name).ok())
}

/// [`load`] over given text and environment (for tests).
pub(crate) fn load_str(
    path: Option<&Path>,
    text: String,
    overrides: &Overrides,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Settings, ConfigError> {
    let map = problem::SourceMap::new(path, text);
    let (file, mut problems) = load::parse(&map);
    let validated = validate::validate(file, overrides, &map, env, &problems);
    match validated {
        Ok(settings) if problems.is_empty() => Ok(settings),
        Ok(_) => Err(ConfigError::Invalid(problems)),
        Err(more) => {
            problems.extend(more);
            Err(ConfigError::Invalid(problems))
        }
    }
}
