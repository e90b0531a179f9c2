//! The `[mqtt]` table: broker address, client id, keep-alive, status interval, encoding,
//! reconnect delays
//! and credentials (from a file or the environment, never inline).

use std::time::Duration;

use protocols::codec::Encoding;
use protocols::model::AgentId;

use super::broker::parse_broker;
use super::build::{check_backoff, value_or};
use super::diagnostic::Diagnostics;
use super::sections::MqttSection;
use crate::settings::{BackoffSettings, Credentials, MqttSettings};

/// Default `[mqtt] keep_alive`.
pub(super) const DEFAULT_KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Default `[mqtt] status_interval`.
pub(super) const DEFAULT_STATUS_INTERVAL: Duration = Duration::from_secs(10);
/// Smallest `[mqtt] status_interval`.
const MIN_STATUS_INTERVAL: Duration = Duration::from_millis(100);
/// Default `[mqtt] reconnect_min`.
pub(super) const DEFAULT_MQTT_RECONNECT_MIN: Duration = Duration::from_millis(500);
/// Default `[mqtt] reconnect_max`.
pub(super) const DEFAULT_MQTT_RECONNECT_MAX: Duration = Duration::from_secs(10);

/// Checks the `[mqtt]` table and builds its settings.
pub(super) fn build_mqtt(
    d: &mut Diagnostics<'_>,
    m: &MqttSection,
    agent: Option<&AgentId>,
) -> Option<MqttSettings> {
    let broker = m
        .broker
        .as_ref()
        .and_then(|b| match parse_broker(b.get_ref()) {
            Ok(hp) => Some(hp),
            Err(msg) => {
                d.error(&b.span(), "mqtt.broker", msg);
                None
            }
        });
    let client_id = match &m.client_id {
        Some(c) if c.get_ref().is_empty() => {
            d.error(&c.span(), "mqtt.client_id", "must not be empty");
            String::new()
        }
        Some(c) => c.get_ref().clone(),
        None => agent.map(|a| format!("sentia-{a}")).unwrap_or_default(),
    };
    let keep_alive = value_or(&m.keep_alive, DEFAULT_KEEP_ALIVE);
    if let Some(k) = &m.keep_alive
        && (*k.get_ref() < Duration::from_secs(1) || k.get_ref().as_secs() > u64::from(u16::MAX))
    {
        d.error(
            &k.span(),
            "mqtt.keep_alive",
            "must be between 1s and 65535s",
        );
    }
    let status_interval = value_or(&m.status_interval, DEFAULT_STATUS_INTERVAL);
    if let Some(i) = &m.status_interval
        && *i.get_ref() < MIN_STATUS_INTERVAL
    {
        d.error(&i.span(), "mqtt.status_interval", "must be at least 100ms");
    }
    let reconnect = BackoffSettings {
        min: value_or(&m.reconnect_min, DEFAULT_MQTT_RECONNECT_MIN),
        max: value_or(&m.reconnect_max, DEFAULT_MQTT_RECONNECT_MAX),
    };
    check_backoff(d, &m.reconnect_min, &m.reconnect_max, reconnect, "mqtt");
    let credentials = credentials(d, m);
    let (host, port) = broker?;
    Some(MqttSettings {
        host,
        port,
        client_id,
        keep_alive,
        status_interval,
        encoding: m
            .encoding
            .as_ref()
            .map_or(Encoding::Binary, |e| *e.get_ref()),
        credentials,
        reconnect,
    })
}

fn credentials(d: &mut Diagnostics<'_>, m: &MqttSection) -> Option<Credentials> {
    let password = match (&m.password_file, &m.password_env) {
        (Some(_), Some(env)) => {
            d.error(
                &env.span(),
                "mqtt.password_env",
                "set either password_file or password_env, not both",
            );
            None
        }
        (Some(file), None) => match std::fs::read_to_string(file.get_ref()) {
            Ok(text) => Some((
                file.span(),
                "mqtt.password_file",
                text.trim_end_matches(['\r', '\n']).to_owned(),
            )),
            Err(e) => {
                d.error(
                    &file.span(),
                    "mqtt.password_file",
                    format!("cannot read {}: {e}", file.get_ref()),
                );
                None
            }
        },
        (None, Some(env)) => match std::env::var(env.get_ref()) {
            Ok(v) => Some((env.span(), "mqtt.password_env", v)),
            Err(_) => {
                d.error(
                    &env.span(),
                    "mqtt.password_env",
                    format!("environment variable {} is not set", env.get_ref()),
                );
                None
            }
        },
        (None, None) => None,
    };
    match (&m.username, password) {
        (Some(user), password) => Some(Credentials {
            username: user.get_ref().clone(),
            password: password.map(|(_, _, p)| p).unwrap_or_default(),
        }),
        (None, Some((span, path, _))) => {
            d.error(&span, path, "a password needs a username");
            None
        }
        (None, None) => None,
    }
}
