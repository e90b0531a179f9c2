//! Merges the parsed file with CLI overrides, applies defaults and checks every rule,
//! collecting all problems before returning.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use toml::Spanned;

use crate::stale::{DEFAULT_STALE_AFTER_INTERVALS, DEFAULT_STALE_MIN, StaleRule};

use super::file::{Backend, ConfigFile, MqttMode};
use super::problem::{Origin, Problem, SourceMap};
use super::secret::{is_postgres_url, postgres_url};
use super::{
    ApiSettings, BrokerSettings, DEFAULT_API_LISTEN, DEFAULT_BROKER_LISTEN, DEFAULT_CLIENT_ID,
    DEFAULT_DATA_DIR, IngestSettings, MqttSettings, Overrides, SQLITE_FILE_NAME, Settings,
    StorageSettings, StorageTarget,
};

const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
const DEFAULT_MAX_BATCH_POINTS: i64 = 5000;
const DEFAULT_MAX_BATCH_DELAY: Duration = Duration::from_millis(100);
/// Below the broker's per-subscriber in-flight window (rumqttd: 100, Mosquitto default: 20
/// `max_inflight_messages`): a writer holding the whole window stalls delivery until its delay.
const DEFAULT_MAX_BATCH_MESSAGES: i64 = 50;
const DEFAULT_WRITE_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_MAX_FUTURE_SKEW: Duration = Duration::from_secs(5 * 60);
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest `ingest.stale_after_intervals`: beyond it "stale" would mean "never".
const MAX_STALE_AFTER_INTERVALS: f64 = 1000.0;
/// Default MQTT port for `mqtt://host` without a port.
const MQTT_DEFAULT_PORT: u16 = 1883;

pub(crate) struct Check<'a> {
    map: &'a SourceMap,
    already: HashSet<String>,
    problems: Vec<Problem>,
}

impl Check<'_> {
    pub(crate) fn fail(&mut self, origin: &Origin, field: &str, message: impl Into<String>) {
        // A file field already reported while parsing was removed and defaulted: a rule
        // about it would only repeat the same problem.
        if matches!(origin, Origin::Flag(_)) || !self.already.contains(field) {
            self.problems.push(self.map.problem(origin, field, message));
        }
    }
}

fn split<T>(v: Option<Spanned<T>>) -> Option<(T, Origin)> {
    v.map(|s| {
        let origin = Origin::File(s.span());
        (s.into_inner(), origin)
    })
}

/// Validates `file` + `overrides`. `prior` are problems already found while parsing; rules
/// about those fields are not repeated.
pub(crate) fn validate(
    file: ConfigFile,
    overrides: &Overrides,
    map: &SourceMap,
    env: &dyn Fn(&str) -> Option<String>,
    prior: &[Problem],
) -> Result<Settings, Vec<Problem>> {
    let mut c = Check {
        map,
        already: prior.iter().map(|p| p.field.clone()).collect(),
        problems: Vec::new(),
    };

    let (data_dir, data_dir_origin) = match (&overrides.data_dir, split(file.data_dir)) {
        (Some(d), _) => (d.clone(), Origin::Flag("--data-dir")),
        (None, Some(d)) => d,
        (None, None) => (PathBuf::from(DEFAULT_DATA_DIR), Origin::Default),
    };
    if data_dir.as_os_str().is_empty() {
        c.fail(&data_dir_origin, "data_dir", "must not be empty");
    }

    let (grace, grace_origin) = split(file.shutdown_grace)
        .map(|(d, o)| (*d, o))
        .unwrap_or((DEFAULT_SHUTDOWN_GRACE, Origin::Default));
    if !(Duration::from_millis(100)..=Duration::from_secs(600)).contains(&grace) {
        c.fail(
            &grace_origin,
            "shutdown_grace",
            "must be between 100ms and 10m",
        );
    }

    let mqtt = mqtt(&mut c, file.mqtt, overrides);
    let max_future_skew = duration(
        &mut c,
        split(file.ingest.max_future_skew),
        DEFAULT_MAX_FUTURE_SKEW,
        (Duration::from_secs(1), Duration::from_secs(7 * 24 * 3600)),
        ("ingest.max_future_skew", "1s and 7d"),
    );
    let stale = stale_rule(
        &mut c,
        split(file.ingest.stale_after_intervals),
        split(file.ingest.stale_min),
    );
    let storage = storage(&mut c, file.storage, overrides, &data_dir, env);
    let request_timeout = duration(
        &mut c,
        split(file.api.request_timeout),
        DEFAULT_REQUEST_TIMEOUT,
        (Duration::from_millis(100), Duration::from_secs(600)),
        ("api.request_timeout", "100ms and 10m"),
    );

    let api_listen = match (&overrides.api_listen, split(file.api.listen)) {
        (Some(s), _) => parse_addr(&mut c, s, &Origin::Flag("--api-listen"), "api.listen"),
        (None, Some((addr, _))) => Some(addr),
        (None, None) => default_addr(DEFAULT_API_LISTEN),
    };

    let alarms = alarm_rules(&mut c, file.alarm);

    match (mqtt, storage, api_listen) {
        (Some(mqtt), Some(storage), Some(listen)) if c.problems.is_empty() => Ok(Settings {
            data_dir,
            shutdown_grace: grace,
            mqtt,
            ingest: IngestSettings {
                max_future_skew,
                stale,
            },
            storage,
            api: ApiSettings {
                listen,
                request_timeout,
            },
            alarms,
        }),
        _ => Err(c.problems),
    }
}

/// Longest `alarm.delay`.
const MAX_ALARM_DELAY: Duration = Duration::from_secs(24 * 3600);

/// `[[alarm]]` rules: a valid tag (once), at least one limit, ordered limits, a finite
/// deadband >= 0 and a delay of at most a day.
fn alarm_rules(
    c: &mut Check<'_>,
    sections: Vec<super::file::AlarmSection>,
) -> Vec<crate::alarms::Rule> {
    use crate::alarms::rule::Limits;
    let mut seen = HashSet::new();
    let mut rules = Vec::new();
    for (i, a) in sections.into_iter().enumerate() {
        let field = |name: &str| format!("alarm[{i}].{name}");
        let Some((tag, tag_origin)) = split(a.tag) else {
            c.fail(
                &Origin::Default,
                &field("tag"),
                "missing (the tag id the rule watches)",
            );
            continue;
        };
        let tag = match protocols::model::TagId::new(&tag) {
            Ok(t) => t,
            Err(e) => {
                c.fail(&tag_origin, &field("tag"), format!("{tag:?}: {e}"));
                continue;
            }
        };
        if !seen.insert(tag.clone()) {
            c.fail(
                &tag_origin,
                &field("tag"),
                format!("{tag} has another [[alarm]] already"),
            );
        }
        let mut limits = Vec::new();
        for (name, v) in [
            ("lolo", a.lolo),
            ("lo", a.lo),
            ("hi", a.hi),
            ("hihi", a.hihi),
        ] {
            let Some((v, origin)) = split(v) else {
                continue;
            };
            if v.is_finite() {
                limits.push((name, v, origin));
            } else {
                c.fail(&origin, &field(name), "must be a finite number");
            }
        }
        if limits.is_empty() {
            c.fail(
                &tag_origin,
                &field("tag"),
                "no limit (set at least one of hihi, hi, lo, lolo)",
            );
        }
        for w in limits.windows(2) {
            if w[0].1 >= w[1].1 {
                c.fail(
                    &w[1].2,
                    &field(w[1].0),
                    format!("must be above {} ({} >= {})", w[0].0, w[0].1, w[1].1),
                );
            }
        }
        let get = |n: &str| limits.iter().find(|l| l.0 == n).map(|l| l.1);
        let (deadband, db_origin) = split(a.deadband).unwrap_or((0.0, Origin::Default));
        if !(deadband.is_finite() && deadband >= 0.0) {
            c.fail(
                &db_origin,
                &field("deadband"),
                "must be a finite number >= 0",
            );
        }
        let delay = duration(
            c,
            split(a.delay),
            Duration::ZERO,
            (Duration::ZERO, MAX_ALARM_DELAY),
            (&field("delay"), "0s and 24h"),
        );
        rules.push(crate::alarms::Rule {
            tag,
            limits: Limits {
                hihi: get("hihi"),
                hi: get("hi"),
                lo: get("lo"),
                lolo: get("lolo"),
                deadband,
            },
            delay,
        });
    }
    rules
}

/// `ingest.stale_after_intervals` (finite, > 1, at most [`MAX_STALE_AFTER_INTERVALS`]) and
/// `ingest.stale_min`.
fn stale_rule(
    c: &mut Check<'_>,
    intervals: Option<(f64, Origin)>,
    min: Option<(super::file::HumanDuration, Origin)>,
) -> StaleRule {
    let (after_intervals, origin) =
        intervals.unwrap_or((DEFAULT_STALE_AFTER_INTERVALS, Origin::Default));
    let after_intervals = if after_intervals.is_finite()
        && after_intervals > 1.0
        && after_intervals <= MAX_STALE_AFTER_INTERVALS
    {
        after_intervals
    } else {
        c.fail(
            &origin,
            "ingest.stale_after_intervals",
            format!(
                "{after_intervals} must be greater than 1 and at most {MAX_STALE_AFTER_INTERVALS}"
            ),
        );
        DEFAULT_STALE_AFTER_INTERVALS
    };
    let min = duration(
        c,
        min,
        DEFAULT_STALE_MIN,
        (Duration::from_millis(10), Duration::from_secs(24 * 3600)),
        ("ingest.stale_min", "10ms and 1d"),
    );
    StaleRule {
        after_intervals,
        min,
    }
}

fn default_addr(s: &str) -> Option<SocketAddr> {
    s.parse().ok()
}

fn parse_addr(c: &mut Check<'_>, s: &str, origin: &Origin, field: &str) -> Option<SocketAddr> {
    match s.parse() {
        Ok(a) => Some(a),
        Err(e) => {
            c.fail(
                origin,
                field,
                format!("'{s}' is not an IP:port address ({e})"),
            );
            None
        }
    }
}

fn mqtt(
    c: &mut Check<'_>,
    file: super::file::MqttSection,
    overrides: &Overrides,
) -> Option<MqttSettings> {
    if overrides.mqtt_url.is_some() && overrides.broker_listen.is_some() {
        c.fail(
            &Origin::Flag("--mqtt-url"),
            "mqtt.mode",
            "--mqtt-url (external broker) conflicts with --broker-listen (embedded broker)",
        );
    }
    let (mode, mode_origin) = if overrides.mqtt_url.is_some() {
        (MqttMode::External, Origin::Flag("--mqtt-url"))
    } else if overrides.broker_listen.is_some() {
        (MqttMode::Embedded, Origin::Flag("--broker-listen"))
    } else {
        split(file.mode).unwrap_or((MqttMode::Embedded, Origin::Default))
    };
    let broker = match mode {
        MqttMode::Embedded => {
            let listen = match (&overrides.broker_listen, split(file.listen)) {
                (Some(s), _) => parse_addr(c, s, &Origin::Flag("--broker-listen"), "mqtt.listen"),
                (None, Some((addr, _))) => Some(addr),
                (None, None) => default_addr(DEFAULT_BROKER_LISTEN),
            };
            listen.map(|listen| BrokerSettings::Embedded { listen })
        }
        MqttMode::External => {
            let url = match (&overrides.mqtt_url, split(file.url)) {
                (Some(u), _) => Some((u.clone(), Origin::Flag("--mqtt-url"))),
                (None, file_url) => file_url,
            };
            match url {
                None => {
                    c.fail(
                        &mode_origin,
                        "mqtt.url",
                        "mode = \"external\" needs mqtt.url (mqtt://host:port)",
                    );
                    None
                }
                Some((url, origin)) => match parse_mqtt_url(&url) {
                    Ok((host, port)) => Some(BrokerSettings::External { url, host, port }),
                    Err(msg) => {
                        c.fail(&origin, "mqtt.url", msg);
                        None
                    }
                },
            }
        }
    };
    let (client_id, id_origin) =
        split(file.client_id).unwrap_or((DEFAULT_CLIENT_ID.to_owned(), Origin::Default));
    if client_id.is_empty()
        || client_id.len() > 128
        || client_id
            .chars()
            .any(|ch| ch.is_whitespace() || ch.is_control())
    {
        c.fail(
            &id_origin,
            "mqtt.client_id",
            "must be 1..=128 characters without spaces or control characters",
        );
    }
    Some(MqttSettings {
        broker: broker?,
        client_id,
    })
}

/// `mqtt://host[:port]` or `tcp://host[:port]` (no TLS in this build).
pub(crate) fn parse_mqtt_url(url: &str) -> Result<(String, u16), String> {
    let rest = url
        .strip_prefix("mqtt://")
        .or_else(|| url.strip_prefix("tcp://"))
        .ok_or_else(|| format!("'{url}': expected mqtt://host:port (TLS is not supported)"))?;
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    if rest.is_empty() || rest.contains(['/', '@', '?', '#']) {
        return Err(format!("'{url}': expected mqtt://host:port"));
    }
    // IPv6 literals come bracketed: mqtt://[::1]:1883
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(':') && (!h.contains(':') || h.starts_with('[')) => {
            let port = p
                .parse::<u16>()
                .map_err(|_| format!("'{url}': port '{p}' is not a number in 1..=65535"))?;
            (h, port)
        }
        _ => (rest, MQTT_DEFAULT_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || port == 0 {
        return Err(format!(
            "'{url}': expected mqtt://host:port with a host and a non-zero port"
        ));
    }
    Ok((host.to_owned(), port))
}

fn storage(
    c: &mut Check<'_>,
    file: super::file::StorageSection,
    overrides: &Overrides,
    data_dir: &std::path::Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<StorageSettings> {
    let target = if let Some(s) = &overrides.storage {
        let origin = Origin::Flag("--storage");
        if let Some(path) = s.strip_prefix("sqlite:") {
            if path.is_empty() {
                c.fail(&origin, "storage", "sqlite: needs a path (sqlite:PATH)");
            }
            Some(StorageTarget::Sqlite {
                path: PathBuf::from(path),
            })
        } else if is_postgres_url(s) {
            Some(StorageTarget::Postgres { url: s.clone() })
        } else {
            c.fail(&origin, "storage", "expected sqlite:PATH or postgres://...");
            None
        }
    } else {
        let (backend, _) = split(file.backend).unwrap_or((Backend::Sqlite, Origin::Default));
        match backend {
            Backend::Sqlite => {
                let path = split(file.sqlite_path)
                    .map(|(p, _)| p)
                    .unwrap_or_else(|| data_dir.join(SQLITE_FILE_NAME));
                if path.as_os_str().is_empty() {
                    c.fail(&Origin::Default, "storage.sqlite_path", "must not be empty");
                }
                Some(StorageTarget::Sqlite { path })
            }
            Backend::Postgres => postgres_url(
                c,
                split(file.postgres_url),
                split(file.postgres_url_file),
                split(file.postgres_url_env),
                env,
            )
            .map(|url| StorageTarget::Postgres { url }),
        }
    };

    let points = bounded(
        c,
        split(file.max_batch_points),
        DEFAULT_MAX_BATCH_POINTS,
        1..=1_000_000,
        "storage.max_batch_points",
    );
    let messages = bounded(
        c,
        split(file.max_batch_messages),
        DEFAULT_MAX_BATCH_MESSAGES,
        1..=65_535,
        "storage.max_batch_messages",
    );
    let (delay, delay_origin) = split(file.max_batch_delay)
        .map(|(d, o)| (*d, o))
        .unwrap_or((DEFAULT_MAX_BATCH_DELAY, Origin::Default));
    if !(Duration::from_millis(1)..=Duration::from_secs(60)).contains(&delay) {
        c.fail(
            &delay_origin,
            "storage.max_batch_delay",
            "must be between 1ms and 60s",
        );
    }
    let write_timeout = duration(
        c,
        split(file.write_timeout),
        DEFAULT_WRITE_TIMEOUT,
        (Duration::from_millis(100), Duration::from_secs(600)),
        ("storage.write_timeout", "100ms and 10m"),
    );
    Some(StorageSettings {
        target: target?,
        max_batch_points: points?,
        max_batch_delay: delay,
        max_batch_messages: messages?,
        write_timeout,
    })
}

/// A duration within `[min, max]`; `names` is the field and the range as the message says it.
fn duration(
    c: &mut Check<'_>,
    value: Option<(super::file::HumanDuration, Origin)>,
    default: Duration,
    (min, max): (Duration, Duration),
    (field, range): (&str, &str),
) -> Duration {
    let (d, origin) = value
        .map(|(d, o)| (*d, o))
        .unwrap_or((default, Origin::Default));
    if !(min..=max).contains(&d) {
        c.fail(&origin, field, format!("must be between {range}"));
    }
    d
}

fn bounded(
    c: &mut Check<'_>,
    value: Option<(i64, Origin)>,
    default: i64,
    range: std::ops::RangeInclusive<i64>,
    field: &str,
) -> Option<usize> {
    let (v, origin) = value.unwrap_or((default, Origin::Default));
    if !range.contains(&v) {
        c.fail(
            &origin,
            field,
            format!("{v} is out of range {}..={}", range.start(), range.end()),
        );
        return None;
    }
    usize::try_from(v).ok()
}
