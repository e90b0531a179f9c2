//! `edge-agent modbus scan` and `edge-agent modbus decode` run as processes against real
//! Modbus servers with known layouts: plant-sim (512-entry banks, machines on units 1..n,
//! exception 0B for other units), a pymodbus server (`tests/python/writes_server.py`), and
//! pymodbus over RTU over TCP and RTU on a socat pty pair (`tests/python/modbus_server.py`,
//! with a hole answering exception 02 and units that never answer).
#![allow(clippy::unwrap_used)]

use std::process::Output;
use std::time::Duration;

use tests::bins;
use tests::peers;
use tests::process::Proc;
use tests::write_peer::WritesServer;

const DEADLINE: Duration = Duration::from_secs(60);

async fn agent(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(bins::path(bins::EDGE_AGENT))
        .args(args)
        .output();
    tokio::time::timeout(DEADLINE, run)
        .await
        .expect("edge-agent finishes in time")
        .expect("edge-agent runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The line of `out` that starts with `prefix` and contains `needle`.
fn line<'a>(out: &'a str, prefix: &str, needle: &str) -> &'a str {
    out.lines()
        .find(|l| l.starts_with(prefix) && l.contains(needle))
        .unwrap_or_else(|| panic!("no line '{prefix}..{needle}..' in\n{out}"))
}

#[tokio::test]
async fn scan_and_decode_against_plant_sim() {
    let dir = tempfile::tempdir().unwrap();
    let sim = Proc::spawn(
        &bins::path(bins::PLANT_SIM),
        &["--machines", "2", "--listen", "127.0.0.1:0", "--tick", "0s"],
        dir.path(),
        "plant-sim",
        DEADLINE,
    )
    .await
    .unwrap();
    let addr = sim.ready_value("modbus").unwrap().to_owned();

    let out = agent(&[
        "modbus",
        "scan",
        "--tcp",
        &addr,
        "--units",
        "1-4",
        "--ranges",
        "holding:0-999,coil:0-15",
        "--timeout",
        "500ms",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    for unit in ["1", "2"] {
        assert!(
            line(&text, unit, "holding").ends_with(" 0-511 (512)"),
            "{text}"
        );
        assert!(line(&text, unit, "coil").ends_with(" 0-15 (16)"), "{text}");
    }
    assert!(text.contains("no device at 2 unit id(s):"), "{text}");
    assert!(
        text.contains("  3-4: exception 0B gateway target device failed to respond"),
        "{text}"
    );
    assert!(text.contains("2 unit id(s) answered;"), "{text}");

    // Machine 0 is a motor: winding_temp is an f32 ABCD at input 2 (simulators layout).
    let out = agent(&[
        "modbus", "decode", "--tcp", &addr, "--unit", "1", "--input", "2", "--count", "2",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let abcd = line(&text, "[2..3]", " ABCD ");
    let value: f64 = abcd
        .rsplit("f32 ")
        .next()
        .unwrap()
        .parse()
        .unwrap_or_else(|_| panic!("the right order is not flagged: {abcd}\n{text}"));
    assert!(
        (-50.0..200.0).contains(&value),
        "winding temperature {value}\n{text}"
    );
}

#[tokio::test]
async fn scan_and_decode_against_pymodbus() {
    let Some(server) = peers::require(
        "scan_and_decode_against_pymodbus",
        "pymodbus",
        WritesServer::start().await,
    ) else {
        return;
    };
    let out = agent(&[
        "modbus",
        "scan",
        "--tcp",
        &server.addr,
        "--units",
        "1-3",
        "--ranges",
        "holding:0-199,input:0-9,coil:0-15",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        line(&text, "1 ", "holding").ends_with(" 0-9 (10), 100-119 (20)"),
        "{text}"
    );
    assert!(line(&text, "1 ", "input").ends_with(" 0-3 (4)"), "{text}");
    // pymodbus packs BITS into 16-bit registers: 8 coils defined, 16 served.
    assert!(line(&text, "1 ", "coil").ends_with(" 0-15 (16)"), "{text}");
    assert!(
        text.contains("  2-3: exception 04 server device failure"),
        "{text}"
    );

    let out = agent(&[
        "modbus",
        "decode",
        "--tcp",
        &server.addr,
        "--holding",
        "2",
        "--count",
        "2",
    ])
    .await;
    let text = stdout(&out);
    assert!(
        text.contains("[2..3]        ABCD      u32 1095237632  i32  1095237632  f32 12.5\n"),
        "{text}"
    );
    assert!(
        line(&text, "[2..3]", " CDAB ").ends_with("[denormal]"),
        "{text}"
    );

    let out = agent(&[
        "modbus",
        "decode",
        "--tcp",
        &server.addr,
        "--input",
        "0",
        "--count",
        "4",
    ])
    .await;
    let text = stdout(&out);
    assert!(text.contains("string        AB  \"ABCD....\""), "{text}");
    assert!(
        line(&text, "[2..3]", " ABCD ").ends_with("f32 NaN [NaN]"),
        "{text}"
    );
    // Nothing was written by scanning or decoding.
    assert_eq!(server.writes(), Vec::<String>::new());

    // A read outside the served range is the device's exception, exit code 1.
    let out = agent(&[
        "modbus",
        "decode",
        "--tcp",
        &server.addr,
        "--holding",
        "50",
        "--count",
        "2",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("exception 02 illegal data address"),
        "{out:?}"
    );
}

#[tokio::test]
async fn offline_decode_and_bad_arguments() {
    let out = agent(&["modbus", "decode", "--registers", "0x4029,0x2000,0,0"]).await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        line(&text, "[0..3]", " ABCDEFGH ").ends_with("f64 12.5625"),
        "{text}"
    );
    assert_eq!(
        text.matches(" f32 ").count(),
        12,
        "3 positions x 4 orders\n{text}"
    );
    assert_eq!(text.matches(" f64 ").count(), 4, "{text}");

    let out = agent(&["modbus", "decode", "--registers", "0x10000"]).await;
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let out = agent(&["modbus", "scan", "--tcp", "127.0.0.1:1", "--units", "0"]).await;
    assert_eq!(out.status.code(), Some(64), "{out:?}");
    let out = agent(&["modbus", "scan", "--tcp", "nohost", "--ranges", "x:1"]).await;
    assert_eq!(out.status.code(), Some(64), "{out:?}");
}

/// Starts `tests/python/modbus_server.py` for `spec`; returns it and its TCP port (RTU: 0).
async fn rtu_peer(dir: &std::path::Path, spec: serde_json::Value) -> (Proc, u16) {
    let file = dir.join(format!("spec-{:08x}.json", rand::random::<u32>()));
    std::fs::write(&file, spec.to_string()).unwrap();
    let py = tests::python::python(&["pymodbus"]).unwrap();
    let proc = Proc::spawn(
        &py,
        &[
            &tests::python::script("modbus_server.py").to_string_lossy(),
            &file.to_string_lossy(),
        ],
        dir,
        "modbus_server",
        DEADLINE,
    )
    .await
    .unwrap();
    let port = proc.ready.get("port").map_or(0, |p| p.parse().unwrap());
    (proc, port)
}

fn rtu_units() -> serde_json::Value {
    serde_json::json!({
        "1": {"tags": [
            {"register": "holding", "address": 0, "type": "u32", "value": 7},
            {"register": "holding", "address": 10, "type": "f32", "value": 12.5}
        ], "holes": [["holding", 12, 5]]},
        "3": {"tags": [{"register": "holding", "address": 5, "type": "u16", "value": 1}]}
    })
}

fn check_rtu_scan(text: &str) {
    assert!(
        line(text, "1 ", "holding").ends_with(" 0-11 (12), 17-30 (14)"),
        "{text}"
    );
    assert!(
        line(text, "3 ", "holding").ends_with(" 0-30 (31)"),
        "{text}"
    );
    assert!(text.contains("  2, 4: timeout"), "{text}");
}

#[tokio::test]
async fn scan_and_decode_over_rtu_over_tcp_and_serial() {
    let test = "scan_and_decode_over_rtu_over_tcp_and_serial";
    if peers::require(test, "pymodbus", tests::python::python(&["pymodbus"])).is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();

    let spec = serde_json::json!({"transport": "rtu-over-tcp", "units": rtu_units()});
    let (_server, port) = rtu_peer(dir.path(), spec).await;
    let addr = format!("127.0.0.1:{port}");
    let out = agent(&[
        "modbus",
        "scan",
        "--tcp",
        &addr,
        "--rtu-over-tcp",
        "--units",
        "1-4",
        "--ranges",
        "holding:0-30",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert!(
        text.starts_with("modbus scan rtu-over-tcp 127.0.0.1:"),
        "{text}"
    );
    check_rtu_scan(&text);
    let out = agent(&[
        "modbus",
        "decode",
        "--tcp",
        &addr,
        "--rtu-over-tcp",
        "--holding",
        "10",
        "--count",
        "2",
    ])
    .await;
    assert!(
        line(&stdout(&out), "[10..11]", " ABCD ").ends_with("f32 12.5"),
        "{out:?}"
    );

    // RTU on a serial line: a socat pty pair, the server on one end, the scan on the other.
    let Some(socat) = peers::require(test, "socat", tests::python::socat()) else {
        return;
    };
    let (a, b) = (dir.path().join("ttyA"), dir.path().join("ttyB"));
    let args = [
        format!("pty,raw,echo=0,link={}", a.display()),
        format!("pty,raw,echo=0,link={}", b.display()),
    ];
    let _socat = Proc::spawn_background(&socat, &[&args[0], &args[1]], dir.path()).unwrap();
    let until = tokio::time::Instant::now() + Duration::from_secs(10);
    while !(a.exists() && b.exists()) {
        assert!(tokio::time::Instant::now() < until, "socat made no ptys");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let spec = serde_json::json!({
        "transport": "rtu",
        // Linux ptys refuse parity bits (EINVAL), so the line is 8N1 here.
        "serial": {"port": b.to_string_lossy(), "baudrate": 19200, "parity": "N", "stopbits": 1},
        "units": rtu_units()
    });
    let (_server, _) = rtu_peer(dir.path(), spec).await;
    let out = agent(&[
        "modbus",
        "scan",
        "--serial",
        &a.to_string_lossy(),
        "--baud",
        "19200",
        "--parity",
        "even",
        "--units",
        "1-4",
        "--ranges",
        "holding:0-30",
    ])
    .await;
    assert!(out.status.success(), "{out:?}");
    check_rtu_scan(&stdout(&out));
}
