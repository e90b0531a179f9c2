//! The built binary: `check-config` output and exit codes, and `run` stopping cleanly on
//! SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::process::{Command, Stdio};

use tokio::io::{AsyncBufReadExt, BufReader};

const BIN: &str = env!("CARGO_BIN_EXE_edge-agent");
const EXAMPLE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../deploy/edge-agent.reference.toml"
);

#[test]
fn check_config_prints_the_plan() {
    let out = Command::new(BIN)
        .args(["check-config", EXAMPLE])
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[0],
        "agent edge-01: broker 127.0.0.1:1883, client id sentia-edge-01, binary encoding"
    );
    assert_eq!(
        lines[1],
        "device motor-01 127.0.0.1:15020 unit 1: 7 tags, 5 requests per cycle"
    );
    assert_eq!(
        lines[2],
        "  FC01 coil       0..0         count 1     running"
    );
    assert!(
        lines.contains(&"  FC04 input      100..103     count 4     pressure"),
        "{stdout}"
    );
    assert_eq!(
        *lines.last().unwrap(),
        "total: 7 devices, 18 tags, 13 requests per cycle"
    );
}

#[test]
fn bad_configs_exit_64_and_say_where() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    let text = std::fs::read_to_string(EXAMPLE)
        .unwrap()
        .replacen("type = \"u16\"", "type = \"f33\"", 1)
        .replacen("unit_id = 2", "unit_id = 0", 1)
        .replacen(
            "broker = \"mqtt://127.0.0.1:1883\"",
            "broker = \"127.0.0.1\"",
            1,
        );
    std::fs::write(&path, text).unwrap();
    let out = Command::new(BIN)
        .arg("check-config")
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let p = path.display();
    for needle in [
        format!("{p}:13:10: mqtt.broker: \"127.0.0.1\" is not a URL"),
        format!("{p}:33:8: device[motor-01].tag[speed].type: unknown type \"f33\""),
        format!("{p}:94:11: device[pump-01].unit_id: must be between 1 and 247, got 0"),
        "3 problems found".to_owned(),
    ] {
        assert!(stderr.contains(&needle), "missing {needle:?} in:\n{stderr}");
    }

    let missing = dir.path().join("nope.toml");
    for args in [
        vec!["check-config".to_owned()],
        vec!["run".to_owned(), "--config".to_owned()],
    ] {
        let out = Command::new(BIN)
            .args(&args)
            .arg(&missing)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(64), "{args:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(&format!(
                "{}: cannot read configuration file",
                missing.display()
            )),
            "{stderr}"
        );
    }
    let out = Command::new(BIN).arg("frobnicate").output().unwrap();
    assert_eq!(out.status.code(), Some(64));
}

#[tokio::test]
async fn run_stops_cleanly_on_sigterm() {
    let plc = common::start_plc(common::Plc::default()).await;
    let no_broker = common::closed_port().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    let text = format!(
        "[agent]\nid = \"cli-test\"\nshutdown_grace = \"500ms\"\ndata_dir = \"{data}\"\n[mqtt]\nbroker = \"mqtt://127.0.0.1:{no_broker}\"\n\
         [[device]]\nid = \"d\"\nasset = \"s/a/l/d\"\nprotocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {}\nunit_id = 1\n\
         poll_interval = \"50ms\"\n[[device.tag]]\nname = \"t\"\nregister = \"holding\"\naddress = 0\ntype = \"u16\"\n",
        plc.port(),
        data = dir.path().join("data").display(),
    );
    std::fs::write(&path, text).unwrap();
    let mut child = tokio::process::Command::new(BIN)
        .args(["run", "--log-format", "json", "--config"])
        .arg(&path)
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    common::within(10, "device connected", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let done = line.contains("device connected");
            seen.push(line);
            if done {
                break;
            }
        }
    })
    .await;
    assert!(
        seen.iter().all(|l| l.starts_with('{')),
        "not JSON: {seen:?}"
    );
    let pid = child.id().unwrap();
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    let status = common::within(10, "exit after SIGTERM", child.wait())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let mut rest = Vec::new();
    common::within(5, "remaining log lines", async {
        while let Some(line) = lines.next_line().await.unwrap() {
            rest.push(line);
        }
    })
    .await;
    let rest = rest.join("\n");
    assert!(
        rest.contains("SIGTERM received") && rest.contains("agent stopped"),
        "{rest}"
    );
}
