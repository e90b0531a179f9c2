//! OPC UA device configuration: the reference device parses into the expected settings, and
//! a device with problems everywhere reports all of them with line and field path.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;
use crate::opcua::{Auth, Deadband, Mode, Policy, TagMode};
use crate::settings::DeviceSource;

const EXAMPLE: &str = include_str!("../../../deploy/edge-agent.reference.toml");

#[test]
fn reference_opcua_device_parses() {
    let s = parse(EXAMPLE, "reference.toml").unwrap();
    let press = s.devices.iter().find(|d| d.id == "press-01").unwrap();
    assert_eq!(press.poll_interval, Duration::from_millis(250));
    let DeviceSource::OpcUa(src) = &press.source else {
        panic!("expected an OPC UA device")
    };
    assert_eq!(src.endpoint, "opc.tcp://127.0.0.1:4840/");
    assert_eq!(src.security.policy, Policy::Basic256Sha256);
    assert_eq!(src.security.mode, Mode::SignAndEncrypt);
    assert_eq!(src.auth, Auth::Anonymous);
    assert!(!src.trust_server_certificate);
    assert_eq!(
        src.pki_dir,
        std::path::Path::new("/var/lib/sentia/opcua-pki")
    );
    assert_eq!(src.tags.len(), 2);
    assert_eq!(
        src.tags[0].mode,
        TagMode::Subscribe {
            sampling_interval: Some(Duration::from_millis(100)),
            queue_size: 10,
            deadband: Some(Deadband::Absolute(0.5)),
        }
    );
    assert_eq!(src.tags[1].mode, TagMode::Poll);
    assert_eq!(src.tags[1].node_id, "ns=2;i=1042");
    let meta = press.tag_meta();
    assert_eq!(
        meta[0].source,
        "opc.tcp://127.0.0.1:4840/#ns=2;s=Press1.Speed"
    );
    assert_eq!(meta[0].unit, "rpm");
}

const BROKEN: &str = r#"[agent]
id = "edge-01"
site = "s"
area = "a"
line = "l"
[mqtt]
broker = "mqtt://127.0.0.1"
[[device]]
id = "press"
protocol = "opcua"
endpoint = "http://x"
security_policy = "Basic128Rsa15"
auth = "username"
host = "1.2.3.4"
[[device.tag]]
name = "a"
node_id = "ns=2;x=1"
[[device.tag]]
name = "b"
node_id = "ns=2;s=B"
mode = "poll"
deadband = { type = "absolute", value = 1.0 }
[[device.tag]]
name = "c"
node_id = "ns=2;s=C"
deadband = { type = "percent", value = 150.0 }
queue_size = 0
[[device]]
id = "press2"
protocol = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840/"
security_policy = "Basic256Sha256"
security_mode = "None"
[[device.tag]]
name = "a"
node_id = "i=85"
"#;

#[test]
fn every_opcua_problem_is_reported_with_line_and_path() {
    let err = parse(BROKEN, "agent.toml").unwrap_err().to_string();
    let expected = [
        "agent.toml:11:12: device[press].endpoint: \"http://x\" is not an opc.tcp://host:port/ URL",
        "agent.toml:12:19: device[press].security_policy: unknown security policy \"Basic128Rsa15\"",
        "agent.toml:13:8: device[press].username: auth = \"username\" needs a username",
        "agent.toml:14:1: device[press].host: unknown field",
        "agent.toml:17:11: device[press].tag[a].node_id: \"ns=2;x=1\" is not a node id",
        "agent.toml:22:12: device[press].tag[b].deadband: only used with mode = \"subscribe\"",
        "agent.toml:26:40: device[press].tag[c].deadband.value: must be between 0 and 100",
        "agent.toml:27:14: device[press].tag[c].queue_size: must be at least 1",
        "agent.toml:33:17: device[press2].security_mode: security_mode None does not fit security_policy Basic256Sha256",
    ];
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
}

#[test]
fn username_auth_takes_the_password_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("opcua.pass");
    std::fs::write(&file, "s3cret\n").unwrap();
    let file = file.display();
    let text = format!(
        r#"[agent]
id = "edge-01"
[mqtt]
broker = "mqtt://127.0.0.1"
[[device]]
id = "press"
asset = "s/a/l/press"
protocol = "opcua"
endpoint = "opc.tcp://127.0.0.1:4840/"
auth = "username"
username = "operator"
password_file = "{file}"
[[device.tag]]
name = "a"
node_id = "ns=2;s=A"
"#
    );
    let s = parse(&text, "agent.toml").unwrap();
    let DeviceSource::OpcUa(src) = &s.devices[0].source else {
        panic!("expected an OPC UA device")
    };
    assert_eq!(
        src.auth,
        Auth::User {
            username: "operator".into(),
            password: "s3cret".into()
        }
    );
    assert!(!format!("{:?}", src.auth).contains("s3cret"));
}
