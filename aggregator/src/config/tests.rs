//! Tests of loading and validating whole configurations.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::validate::parse_mqtt_url;
use super::{
    BrokerSettings, ConfigError, Overrides, Settings, StorageTarget, load_str, redact_url,
};

fn load(text: &str, o: &Overrides) -> Result<Settings, Vec<String>> {
    let env = |name: &str| (name == "PG_SET").then(|| "postgres://u@h/db".to_owned());
    load_str(Some(Path::new("a.toml")), text.to_owned(), o, &env).map_err(|e| match e {
        ConfigError::Invalid(p) => p.iter().map(ToString::to_string).collect(),
        other => vec![other.to_string()],
    })
}

#[test]
fn empty_file_gives_the_embedded_defaults() {
    let s = load("", &Overrides::default()).unwrap();
    assert_eq!(
        s.mqtt.broker,
        BrokerSettings::Embedded {
            listen: "127.0.0.1:11883".parse().unwrap()
        }
    );
    assert_eq!(s.api.listen, "127.0.0.1:8470".parse().unwrap());
    assert_eq!(
        s.storage.target,
        StorageTarget::Sqlite {
            path: PathBuf::from("data/sentia.db")
        }
    );
    assert_eq!(s.mqtt.client_id, "sentia-aggregator");
    assert_eq!(s.storage.max_batch_points, 5000);
    assert_eq!(s.storage.max_batch_delay, Duration::from_millis(100));
}

#[test]
fn overrides_win_over_the_file() {
    let o = Overrides {
        data_dir: Some("/tmp/x".into()),
        api_listen: Some("127.0.0.1:0".into()),
        mqtt_url: Some("mqtt://broker.local".into()),
        storage: Some("postgres://u@h/db".into()),
        ..Overrides::default()
    };
    let s = load("[api]\nlisten = \"0.0.0.0:1\"\n", &o).unwrap();
    assert_eq!(s.api.listen, "127.0.0.1:0".parse().unwrap());
    assert_eq!(
        s.mqtt.broker,
        BrokerSettings::External {
            url: "mqtt://broker.local".into(),
            host: "broker.local".into(),
            port: 1883
        }
    );
    assert_eq!(s.storage.target.backend_name(), "postgres");
    let s = load(
        "",
        &Overrides {
            data_dir: Some("/tmp/x".into()),
            ..Overrides::default()
        },
    )
    .unwrap();
    assert_eq!(
        s.storage.target,
        StorageTarget::Sqlite {
            path: PathBuf::from("/tmp/x/sentia.db")
        }
    );
}

#[test]
fn validation_reports_all_rule_violations() {
    let text = "[mqtt]\nmode = \"external\"\nclient_id = \"a b\"\n[storage]\nbackend = \"postgres\"\npostgres_url_env = \"PG_UNSET\"\nmax_batch_points = 0\nmax_batch_delay = \"2m\"\n";
    let problems = load(text, &Overrides::default()).unwrap_err();
    assert_eq!(problems.len(), 5, "{problems:#?}");
    assert!(
        problems[0].starts_with("a.toml:2:8: mqtt.url: "),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("a.toml:3:13: mqtt.client_id: "),
        "{problems:#?}"
    );
    assert!(
        problems[2]
            .starts_with("a.toml:6:20: storage.postgres_url_env: environment variable PG_UNSET"),
        "{problems:#?}"
    );
    assert!(
        problems[3].starts_with("a.toml:7:20: storage.max_batch_points: 0 is out of range"),
        "{problems:#?}"
    );
    assert!(
        problems[4].starts_with("a.toml:8:19: storage.max_batch_delay: "),
        "{problems:#?}"
    );
}

#[test]
fn parse_and_rule_problems_come_together() {
    let text = "[mqtt]\nlisten = 1\nunknown = true\n[storage]\nmax_batch_points = -5\n";
    let problems = load(
        text,
        &Overrides {
            broker_listen: Some("nope".into()),
            ..Overrides::default()
        },
    )
    .unwrap_err();
    assert_eq!(problems.len(), 4, "{problems:#?}");
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("command line --broker-listen: mqtt.listen: 'nope'")),
        "{problems:#?}"
    );
}

#[test]
fn postgres_url_from_env() {
    let s = load(
        "[storage]\nbackend = \"postgres\"\npostgres_url_env = \"PG_SET\"\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        s.storage.target,
        StorageTarget::Postgres {
            url: "postgres://u@h/db".into()
        }
    );
}

#[test]
fn mqtt_urls() {
    assert_eq!(parse_mqtt_url("mqtt://h:1").unwrap(), ("h".into(), 1));
    assert_eq!(
        parse_mqtt_url("tcp://10.0.0.1").unwrap(),
        ("10.0.0.1".into(), 1883)
    );
    assert_eq!(
        parse_mqtt_url("mqtt://[::1]:1884").unwrap(),
        ("::1".into(), 1884)
    );
    assert!(parse_mqtt_url("mqtts://h:1").is_err());
    assert!(parse_mqtt_url("mqtt://h:x").is_err());
    assert!(parse_mqtt_url("mqtt://").is_err());
}

#[test]
fn the_example_config_is_valid() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/aggregator.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let s = load_str(Some(&path), text, &Overrides::default(), &|_| None).unwrap();
    assert_eq!(s.storage.target.backend_name(), "sqlite");
    assert_eq!(s.api.listen.port(), 8470);
    assert_eq!(s.ingest.stale, crate::stale::StaleRule::default());
}

#[test]
fn redacts_passwords_only() {
    assert_eq!(
        redact_url("postgres://u:secret@h:5432/db"),
        "postgres://u:***@h:5432/db"
    );
    assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
    assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
}

#[test]
fn timeouts_and_future_skew() {
    let s = load("", &Overrides::default()).unwrap();
    assert_eq!(s.ingest.max_future_skew, Duration::from_secs(300));
    assert_eq!(s.storage.write_timeout, Duration::from_secs(30));
    assert_eq!(s.api.request_timeout, Duration::from_secs(10));
    let text = "[ingest]\nmax_future_skew = \"1m\"\n[storage]\nwrite_timeout = \"5s\"\n[api]\nrequest_timeout = \"2s\"\n";
    let s = load(text, &Overrides::default()).unwrap();
    assert_eq!(s.ingest.max_future_skew, Duration::from_secs(60));
    assert_eq!(s.storage.write_timeout, Duration::from_secs(5));
    assert_eq!(s.api.request_timeout, Duration::from_secs(2));
    // Every bad one reported at once.
    let text = "[ingest]\nmax_future_skew = \"0s\"\n[storage]\nwrite_timeout = \"1h\"\n[api]\nrequest_timeout = \"1ms\"\n";
    let problems = load(text, &Overrides::default()).unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0].starts_with("a.toml:2:19: ingest.max_future_skew: must be between"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("a.toml:4:17: storage.write_timeout: "),
        "{problems:#?}"
    );
    assert!(
        problems[2].starts_with("a.toml:6:19: api.request_timeout: "),
        "{problems:#?}"
    );
}

#[test]
fn stale_rule_keys() {
    let s = load("", &Overrides::default()).unwrap();
    assert_eq!(s.ingest.stale.after_intervals, 3.0);
    assert_eq!(s.ingest.stale.min, Duration::from_secs(3));
    // An integer and a float both work.
    let s = load(
        "[ingest]\nstale_after_intervals = 5\nstale_min = \"500ms\"\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.ingest.stale.after_intervals, 5.0);
    assert_eq!(s.ingest.stale.min, Duration::from_millis(500));
    let s = load(
        "[ingest]\nstale_after_intervals = 2.5\n",
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(s.ingest.stale.after_intervals, 2.5);
    // Both bad ones, with the other rules, reported at once.
    let text = "[ingest]\nstale_after_intervals = 1\nstale_min = \"0s\"\n[api]\nrequest_timeout = \"1ms\"\n";
    let problems = load(text, &Overrides::default()).unwrap_err();
    assert_eq!(problems.len(), 3, "{problems:#?}");
    assert!(
        problems[0]
            .starts_with("a.toml:2:25: ingest.stale_after_intervals: 1 must be greater than 1"),
        "{problems:#?}"
    );
    assert!(
        problems[1].starts_with("a.toml:3:13: ingest.stale_min: must be between"),
        "{problems:#?}"
    );
    assert!(
        problems[2].starts_with("a.toml:5:19: api.request_timeout: "),
        "{problems:#?}"
    );
    let problems = load(
        "[ingest]\nstale_after_intervals = 0.5\n",
        &Overrides::default(),
    )
    .unwrap_err();
    assert_eq!(problems.len(), 1, "{problems:#?}");
}

#[test]
fn alarm_rules_are_read_and_every_problem_is_named() {
    let good =
        "[[alarm]]\ntag = \"s/a/l/m/temp\"\nhi = 80\nhihi = 95.5\ndeadband = 2\ndelay = \"5s\"\n";
    let s = load(good, &Overrides::default()).unwrap();
    assert_eq!(s.alarms.len(), 1);
    let r = &s.alarms[0];
    assert_eq!(r.tag.as_str(), "s/a/l/m/temp");
    assert_eq!(
        (r.limits.hi, r.limits.hihi, r.limits.lo),
        (Some(80.0), Some(95.5), None)
    );
    assert_eq!((r.limits.deadband, r.delay), (2.0, Duration::from_secs(5)));

    let bad = "\
[[alarm]]
tag = \"s/a/l/m/temp\"
hi = 90
hihi = 80
deadband = -1
[[alarm]]
tag = \"s/a/l/m/temp\"
lo = 1
delay = \"2d\"
[[alarm]]
tag = \"not a tag\"
hi = 1
[[alarm]]
tag = \"s/a/l/m/other\"
";
    let problems = load(bad, &Overrides::default()).unwrap_err();
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(
        has("a.toml:4:8: alarm[0].hihi: must be above hi (90 >= 80)"),
        "{problems:#?}"
    );
    assert!(
        has("alarm[0].deadband: must be a finite number >= 0"),
        "{problems:#?}"
    );
    assert!(
        has("a.toml:7:7: alarm[1].tag: s/a/l/m/temp has another [[alarm]] already"),
        "{problems:#?}"
    );
    assert!(
        has("alarm[1].delay: must be between 0s and 24h"),
        "{problems:#?}"
    );
    assert!(
        has("a.toml:11:7: alarm[2].tag: \"not a tag\""),
        "{problems:#?}"
    );
    assert!(has("alarm[3].tag: no limit"), "{problems:#?}");
    assert_eq!(problems.len(), 6, "{problems:#?}");
}
