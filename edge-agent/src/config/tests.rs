//! Configuration tests: the example parses; a file with many problems reports all of them
//! with their lines and field paths.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use protocols::codec::Encoding;
use protocols::modbus::{DataType, Link, Parity, RegisterKind, WordOrder};

use super::*;
use crate::settings::DeviceSource;

const EXAMPLE: &str = include_str!("../../../deploy/edge-agent.reference.toml");

#[test]
fn example_config_parses() {
    let s = parse(EXAMPLE, "agent.example.toml").unwrap();
    assert_eq!(s.agent.id.as_str(), "edge-01");
    assert_eq!(s.agent.shutdown_grace, Duration::from_secs(5));
    assert_eq!((s.mqtt.host.as_str(), s.mqtt.port), ("127.0.0.1", 1883));
    assert_eq!(s.mqtt.client_id, "sentia-edge-01");
    assert_eq!(s.mqtt.encoding, Encoding::Binary);
    assert_eq!(s.mqtt.status_interval, Duration::from_secs(10));
    assert_eq!(s.spool.dir, std::path::Path::new("/var/lib/sentia/spool"));
    assert_eq!(s.spool.max_bytes, 512 << 20);
    assert_eq!(s.spool.max_age, Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(
        s.spool.fsync,
        crate::settings::FsyncPolicy::Interval(Duration::from_secs(2))
    );
    assert_eq!(s.spool.when_full, crate::settings::WhenFull::DropOldest);
    assert_eq!(s.spool.replay_rate, 200);
    assert_eq!(s.devices.len(), 7); // the last is the OPC UA one: opcua_tests.rs
    let motor = &s.devices[0];
    assert_eq!(motor.asset.as_str(), "demo/hall-1/line-1/motor-01");
    assert_eq!(motor.poll_interval, Duration::from_secs(1));
    assert_eq!(motor.reconnect.min, Duration::from_millis(500));
    let DeviceSource::Modbus { endpoint, map, .. } = &motor.source else {
        panic!("expected a Modbus device")
    };
    assert_eq!(
        endpoint.link,
        protocols::modbus::Link::Tcp {
            host: "127.0.0.1".into(),
            port: 15020
        }
    );
    assert_eq!(endpoint.unit_id, 1);
    assert_eq!(map.tags().len(), 7);
    assert_eq!(map.tags()[3].order(), WordOrder::WordSwap);
    assert_eq!(map.tags()[1].scale(), 0.1);
    // input 0..4 (gap fill to 20..22 is 16 > 10: split), holding, coil, discrete
    assert_eq!(map.requests().len(), 5);
    let pump = &s.devices[1];
    assert_eq!(pump.asset.as_str(), "demo/hall-1/line-2/pump-01");
    assert_eq!(pump.poll_interval, Duration::from_millis(500));
    let DeviceSource::Modbus { map, .. } = &pump.source else {
        panic!("expected a Modbus device")
    };
    assert_eq!(map.tags()[1].data_type(), DataType::F64);
    assert_eq!(map.tags()[2].kind(), RegisterKind::Coil);
    let meta = pump.tag_meta();
    assert_eq!(meta[0].source, "modbus-tcp://127.0.0.1:15020/2/input/0");
    assert_eq!(meta[0].data_type, "f32");
    assert_eq!(meta[0].poll_interval_ms, 500);
    assert_eq!(meta[0].unit, "m3/h");
    let compressor = &s.devices[2];
    let DeviceSource::Modbus { map, options, .. } = &compressor.source else {
        panic!("expected a Modbus device")
    };
    assert_eq!(map.limits().max_registers_per_read, 64);
    assert!(!options.shared);

    let DeviceSource::Modbus {
        endpoint,
        map,
        options,
    } = &s.devices[3].source
    else {
        panic!("expected a Modbus device")
    };
    let Link::Serial(line) = &endpoint.link else {
        panic!("{endpoint:?}")
    };
    assert_eq!(
        (
            line.port.as_str(),
            line.baud_rate,
            line.parity,
            line.data_bits,
            line.stop_bits
        ),
        ("/dev/ttyUSB0", 9600, Parity::None, 8, 2)
    );
    assert_eq!(line.frame_gap, Duration::from_millis(4));
    assert!(options.shared);
    assert_eq!(options.request_delay, Duration::from_millis(10));
    assert_eq!(options.hole_retry, Duration::from_secs(600));
    assert_eq!(options.breaker_timeouts, 3);
    assert_eq!(map.address_base(), 1);
    // Configured addresses 1 and 8 are protocol addresses 0 and 7.
    assert_eq!(map.tags()[0].address(), 0);
    assert_eq!(
        (map.tags()[0].data_type(), map.tags()[0].length()),
        (DataType::String, 12)
    );
    assert_eq!((map.tags()[1].address(), map.tags()[1].bit()), (7, Some(3)));
    assert_eq!(map.requests().len(), 1);
    assert_eq!(
        s.devices[3].tag_meta()[0].source,
        "modbus-rtu:///dev/ttyUSB0/5/holding/0"
    );
    let DeviceSource::Modbus {
        endpoint, options, ..
    } = &s.devices[4].source
    else {
        panic!("expected a Modbus device")
    };
    assert!(matches!(endpoint.link, Link::RtuOverTcp { port: 4001, .. }) && options.shared);
    let DeviceSource::Modbus { options, .. } = &s.devices[5].source else {
        panic!("expected a Modbus device")
    };
    assert!(options.shared);
}

#[test]
fn serial_links_types_and_address_base_are_checked() {
    let text = r#"[agent]
id = "edge-01"
site = "s"
area = "a"
line = "l"

[mqtt]
broker = "mqtt://127.0.0.1"

[[device]]
id = "d1"
protocol = "modbus-rtu"
port = "/dev/ttyS0"
unit_id = 1
address_base = 1
tag = [
  { name = "zero", register = "holding", address = 0, type = "u16" },
  { name = "top", register = "holding", address = 65535, type = "u64" },
  { name = "s", register = "holding", address = 1, type = "string" },
  { name = "b", register = "input", address = 1, type = "bool", bit = 16 },
]

[[device]]
id = "d2"
protocol = "modbus-rtu"
port = "/dev/ttyS0"
unit_id = 1
baud_rate = 9600
tag = [{ name = "x", register = "holding", address = 0, type = "u16" }]

[[device]]
id = "d3"
protocol = "modbus-rtu"
port = 502
host = "plc"
unit_id = 2
stop_bits = 3
tag = [{ name = "x", register = "holding", address = 0, type = "u16", length = 2 }]

[[device]]
id = "d4"
protocol = "modbus-rtu-over-tcp"
host = "gw"
port = 4001
unit_id = 3
parity = "even"
share_connection = true
address_base = 2
breaker_timeouts = 0
tag = [{ name = "x", register = "holding", address = 0, type = "u16", byte_order = "BA" }]

[[device]]
id = "d5"
protocol = "modbus-rtu"
breaker_timeouts = 5
port = "/dev/ttyS1"
unit_id = 4
tag = [{ name = "x", register = "holding", address = 0, type = "u16" }]

[[device]]
id = "d6"
protocol = "modbus-rtu"
port = "/dev/ttyS1"
unit_id = 4
tag = [{ name = "x", register = "holding", address = 0, type = "u16" }]

[[device]]
id = "d7"
protocol = "modbus-tcp"
host = "plc"
port = 502
unit_id = 4
breaker_timeouts = 2
tag = [{ name = "x", register = "holding", address = 0, type = "u16" }]
"#;
    let err = parse(text, "bus.toml").unwrap_err().to_string();
    for expected in [
        "device[d1].tag[zero].address: address 0 does not exist with address_base = 1",
        "device[d1].tag[top].address: address 65535 + 4 registers runs past the last address 65536",
        "device[d1].tag[s].length: type string needs length = 1..250 (bytes), got 0",
        "device[d1].tag[b].bit: bit must be between 0 and 15",
        "device[d2].unit_id: shares a link with another device but its settings differ",
        "device[d3].host: modbus-rtu has no host",
        "device[d3].port: modbus-rtu needs the serial device path",
        "device[d3].tag[x].length: length applies to type string only",
        "device[d4].parity: applies to modbus-rtu only, not modbus-rtu-over-tcp",
        "device[d4].share_connection: applies to modbus-tcp only",
        "device[d4].address_base: must be 0 or 1",
        "device[d4].tag[x].byte_order: byte_order applies to type string only",
        "device[d6].unit_id: unit id 4 is already used on /dev/ttyS1",
        "device[d7].breaker_timeouts: applies to devices on a shared link only",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in\n{err}");
    }
}

/// A file with problems in many places. The expected list is below; line numbers refer to
/// this text (line 1 is `[agent]`).
const BROKEN: &str = r#"[agent]
id = "edge 01"
site = "demo"
area = "hall-1"
line = "line-1"
colour = "blue"

[mqtt]
broker = "http://broker"
password = "hunter2"
keep_alive = "500ms"

[defaults]
poll_interval = "5ms"
max_registers_per_read = 126

[[device]]
id = "motor-01"
protocol = "modbus-tcp"
host = "127.0.0.1"
port = 502
unit_id = 0

[[device.tag]]
name = "speed"
register = "input"
address = 0
type = "f33"

[[device.tag]]
name = "running"
register = "holding"
address = 1
type = "bool"

[[device.tag]]
name = "speed"
register = "input"
address = 65535
type = "u32"

[[device]]
id = "motor-01"
protocol = "profinet"
host = "127.0.0.1"
port = 502
unit_id = 1
timeout = "soon"

[[device.tag]]
register = "coil"
address = 3
type = "bool"
order = "CDAB"

[[device]]
id = "pump-01"
protocol = "modbus-tcp"
port = 502
unit_id = 248
poll_interval = "1s"

[[device.tag]]
name = "flow"
register = "inputs"
address = 0
type = "f32"
"#;

#[test]
fn every_problem_is_reported_with_line_and_path() {
    let err = parse(BROKEN, "agent.toml").unwrap_err();
    let got: Vec<(usize, String)> = err
        .problems()
        .iter()
        .map(|p| (p.line, format!("{}: {}", p.path, p.message)))
        .collect();
    let expected: &[(usize, &str)] = &[
        (2, "agent.id: \"edge 01\": character ' ' not allowed"),
        (6, "agent.colour: unknown field"),
        (9, "mqtt.broker: unknown scheme \"http\""),
        (10, "mqtt.password: inline passwords are not allowed"),
        (11, "mqtt.keep_alive: must be between 1s and 65535s"),
        (14, "defaults.poll_interval: must be at least 10ms"),
        (
            15,
            "defaults.max_registers_per_read: must be between 1 and 125",
        ),
        (
            22,
            "device[motor-01].unit_id: must be between 1 and 247, got 0",
        ),
        (
            28,
            "device[motor-01].tag[speed].type: unknown type \"f33\" (expected bool, u16, i16, u32, i32, f32, u64, i64, f64, string)",
        ),
        (
            34,
            "device[motor-01].tag[running].bit: type bool on holding or input registers needs bit = 0..15",
        ),
        (
            37,
            "device[motor-01].tag[speed].name: duplicate tag demo/hall-1/line-1/motor-01/speed (first defined on line 25)",
        ),
        (
            39,
            "device[motor-01].tag[speed].address: address 65535 + 2 registers runs past the last address 65535",
        ),
        (
            43,
            "device[motor-01].id: duplicate device id \"motor-01\" (first defined on line 18)",
        ),
        (
            44,
            "device[motor-01].protocol: unsupported protocol \"profinet\" (supported: modbus-tcp, modbus-rtu, modbus-rtu-over-tcp, opcua)",
        ),
        (48, "device[motor-01].timeout: invalid duration \"soon\""),
        (50, "device[motor-01].tag[0].name: missing required field"),
        (
            54,
            "device[motor-01].tag[0].order: order CDAB has no meaning for the single-register type bool",
        ),
        (56, "device[pump-01].host: missing required field"),
        (
            60,
            "device[pump-01].unit_id: must be between 1 and 247, got 248",
        ),
        (
            65,
            "device[pump-01].tag[flow].register: unknown register kind \"inputs\" (expected coil, discrete, holding, input)",
        ),
    ];
    for (line, text) in expected {
        assert!(
            got.iter().any(|(l, g)| l == line && g.starts_with(text)),
            "missing line {line}: {text}\n got:\n{}",
            err
        );
    }
    assert_eq!(
        got.len(),
        expected.len(),
        "unexpected extra problems:\n{err}"
    );
    let rendered = err.to_string();
    assert!(
        rendered
            .contains("agent.toml:28:8: device[motor-01].tag[speed].type: unknown type \"f33\""),
        "{rendered}"
    );
}

#[test]
fn defaults_and_overrides_are_merged_and_checked() {
    let text = EXAMPLE.replace(
        "poll_interval = \"500ms\"",
        "poll_interval = \"500ms\"\nreconnect_min = \"1m\"\nreconnect_max = \"2s\"",
    );
    let err = parse(&text, "a.toml").unwrap_err();
    assert_eq!(err.problems().len(), 1, "{err}");
    assert!(
        err.problems()[0]
            .path
            .ends_with("device[pump-01].reconnect_max"),
        "{err}"
    );

    let text = EXAMPLE.replace("max_registers_per_read = 64", "max_registers_per_read = 2");
    let err = parse(&text, "a.toml").unwrap_err();
    assert!(err.to_string().contains("device[compressor-01].tag[hours].type: needs 4 registers but max_registers_per_read is 2"), "{err}");
}

#[test]
fn write_access_is_opt_in_and_checked() {
    let s = parse(EXAMPLE, "a.toml").unwrap();
    let motor = &s.devices[0];
    assert_eq!(s.agent.data_dir, std::path::Path::new("/var/lib/sentia"));
    let write = |i: usize| motor.tags[i].write;
    assert_eq!(write(0), None, "speed is read-only");
    let setpoint = write(4).unwrap();
    assert_eq!((setpoint.min, setpoint.max), (Some(0.0), Some(3000.0)));
    assert_eq!(write(5), Some(crate::settings::WriteAccess::default()));

    // writable on an input register; limits on a read-only tag, on a bool, and min > max.
    let text = EXAMPLE
        .replace(
            "unit = \"rpm\"\ndescription",
            "writable = true\nunit = \"rpm\"\ndescription",
        )
        .replace("scale = 0.1\n", "scale = 0.1\nmax = 5\n")
        .replace("min = 0\nmax = 3000", "min = 10\nmax = 3")
        .replace(
            "type = \"bool\"\nwritable = true",
            "type = \"bool\"\nwritable = true\nmin = 0",
        );
    let err = parse(&text, "a.toml").unwrap_err();
    let text = err.to_string();
    for needle in [
        "device[motor-01].tag[speed].writable: input registers are read-only",
        "device[motor-01].tag[current].max: max limits writes and needs writable = true",
        "device[motor-01].tag[setpoint].max: max (3) is below min (10)",
        "device[motor-01].tag[running].min: min has no meaning for type bool",
    ] {
        assert!(text.contains(needle), "{needle}\n{text}");
    }
    assert_eq!(err.problems().len(), 4, "{text}");
}

#[test]
fn structural_problems_are_reported() {
    let err = parse("[agent\nid = 1", "x.toml").unwrap_err();
    assert!(err.to_string().starts_with("x.toml:1:"), "{err}");
    let err = parse("", "x.toml").unwrap_err();
    let text = err.to_string();
    for needle in [
        "agent: missing required field",
        "mqtt: missing required field",
        "device: no devices configured",
    ] {
        assert!(text.contains(needle), "{text}");
    }
    let err = parse("[agent]\nid = \"a\"\n[mqtt]\nbroker = \"mqtt://h\"\n[[device]]\nid = \"d\"\nprotocol = \"modbus-tcp\"\nhost = \"h\"\nport = 1\nunit_id = 1\n", "x.toml").unwrap_err();
    let text = err.to_string();
    assert!(text.contains("device[d].asset: no asset"), "{text}");
    assert!(text.contains("device[d].tag: no tags configured"), "{text}");
}

#[test]
fn credentials_come_from_a_file_or_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let pass = dir.path().join("pass");
    std::fs::write(&pass, "s3cret\n").unwrap();
    let with = |extra: &str| {
        EXAMPLE.replace(
            "encoding = \"binary\"",
            &format!("encoding = \"json\"\n{extra}"),
        )
    };
    let s = parse(
        &with(&format!(
            "username = \"edge\"\npassword_file = {:?}",
            pass.display().to_string()
        )),
        "a.toml",
    )
    .unwrap();
    let creds = s.mqtt.credentials.unwrap();
    assert_eq!(
        (creds.username.as_str(), creds.password.as_str()),
        ("edge", "s3cret")
    );
    assert!(!format!("{creds:?}").contains("s3cret"));
    assert_eq!(s.mqtt.encoding, Encoding::Json);
    let err = parse(
        &with("username = \"edge\"\npassword_file = \"/nonexistent/pass\""),
        "a.toml",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("mqtt.password_file: cannot read /nonexistent/pass"),
        "{err}"
    );
    let err = parse(
        &with("username = \"edge\"\npassword_env = \"SENTIA_TEST_SURELY_UNSET_VAR\""),
        "a.toml",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("SENTIA_TEST_SURELY_UNSET_VAR is not set"),
        "{err}"
    );
}

#[test]
fn status_interval_has_a_floor() {
    let text = EXAMPLE.replacen("status_interval = \"10s\"", "status_interval = \"50ms\"", 1);
    let err = parse(&text, "agent.toml").unwrap_err().to_string();
    assert!(
        err.contains("mqtt.status_interval: must be at least 100ms"),
        "{err}"
    );
    let text = EXAMPLE.replacen(
        "status_interval = \"10s\"",
        "status_interval = \"250ms\"",
        1,
    );
    let s = parse(&text, "agent.toml").unwrap();
    assert_eq!(s.mqtt.status_interval, Duration::from_millis(250));
}

#[test]
fn a_missing_file_names_the_path() {
    let err = load(std::path::Path::new("/nonexistent/agent.toml")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("/nonexistent/agent.toml: cannot read"),
        "{err}"
    );
}
