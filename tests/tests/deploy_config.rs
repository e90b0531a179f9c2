//! The committed demo configuration matches what the simulator serves, and the agent
//! accepts it and prints its request plan.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;
use std::time::Duration;

use simulators::{DataType, Plant, RegisterMap};
use tests::agent_config::{AgentConfigOptions, render};
use tests::bins;

fn example_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/edge-agent.example.toml")
}

/// The demo plant: plant-sim's defaults (10 machines, seed 42, 127.0.0.1:15020).
fn demo_map() -> RegisterMap {
    let plant = Plant::new(42, 10).unwrap();
    RegisterMap::build(
        &plant,
        Duration::from_secs(1),
        &["127.0.0.1:15020".parse().unwrap()],
    )
}

fn demo_options() -> AgentConfigOptions {
    AgentConfigOptions {
        agent_id: "edge-01".into(),
        broker: "mqtt://127.0.0.1:11883".into(),
        poll_interval: "1s".into(),
        site: None,
        encoding: "binary".into(),
        data_dir: None,
    }
}

#[test]
fn example_agent_config_matches_the_simulator_map() {
    let expected = render(&demo_map(), &demo_options()).unwrap();
    if std::env::var_os("SENTIA_BLESS").is_some() {
        std::fs::write(example_path(), &expected).unwrap();
    }
    let committed = std::fs::read_to_string(example_path()).unwrap();
    assert!(
        committed == expected,
        "deploy/edge-agent.example.toml no longer matches plant-sim's register map; regenerate with \
         `SENTIA_BLESS=1 cargo test -p tests --test deploy_config`"
    );
}

#[test]
fn agent_accepts_the_example_and_prints_a_minimal_plan() {
    let out = std::process::Command::new(bins::path(bins::EDGE_AGENT))
        .args(["check-config", example_path().to_str().unwrap()])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}");
    let total = stdout
        .lines()
        .find(|l| l.starts_with("total:"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(total.contains("10 devices"), "{total}");
    // The optimum, computed here independently of the agent's planner: per machine and
    // register table, sort the tags and greedily extend a read while the hole before the
    // next tag is at most the default gap fill (10 registers / 100 bits) and the read stays
    // within 125 registers / 2000 bits. Greedy is optimal for this interval-cover problem.
    let requests: usize = total
        .split(',')
        .find_map(|part| part.trim().strip_suffix(" requests per cycle"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no request count in {total}"));
    assert_eq!(requests, optimal_requests(&demo_map()), "{stdout}");
}

fn optimal_requests(map: &RegisterMap) -> usize {
    let mut total = 0;
    for m in &map.entries {
        let mut by_table: std::collections::BTreeMap<String, Vec<(u32, u32)>> = Default::default();
        for s in &m.signals {
            let width = match s.data_type {
                DataType::Bool | DataType::U16 | DataType::I16 => 1,
                DataType::U32 | DataType::I32 | DataType::F32 => 2,
            };
            let start = u32::from(s.address);
            by_table
                .entry(format!("{:?}", s.register))
                .or_default()
                .push((start, start + width));
        }
        for (table, mut spans) in by_table {
            let bits = table == "Coil" || table == "Discrete";
            let (max_gap, max_len) = if bits { (100, 2000) } else { (10, 125) };
            spans.sort();
            let mut reads = 0;
            let mut current: Option<(u32, u32)> = None;
            for (s, e) in spans {
                current = match current {
                    Some((cs, ce)) if s <= ce + max_gap && e.max(ce) - cs <= max_len => {
                        Some((cs, ce.max(e)))
                    }
                    _ => {
                        reads += 1;
                        Some((s, e))
                    }
                };
            }
            total += reads;
        }
    }
    total
}

#[test]
fn agent_rejects_a_bad_config_with_exit_64() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[agent]\nid = \"bad id\"\n[mqtt]\nbroker = \"nope://x\"\n",
    )
    .unwrap();
    let out = std::process::Command::new(bins::path(bins::EDGE_AGENT))
        .args(["check-config", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("bad.toml:2:"),
        "error names file and line: {text}"
    );
    assert!(
        text.contains("bad.toml:4:"),
        "all problems reported at once: {text}"
    );
}

/// The systemd units in `deploy/systemd/`: each runs the binary with flags it accepts,
/// never restarts on a configuration error (exit 64), runs unprivileged and hardened;
/// `systemd-analyze verify` accepts it and `systemd-analyze security` rates it OK (≤ 2.5).
#[test]
fn systemd_units_are_hardened_and_verified() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/systemd");
    for (unit, bin) in [
        ("sentia-edge-agent.service", bins::EDGE_AGENT),
        ("sentia-aggregator.service", bins::AGGREGATOR),
    ] {
        let text = std::fs::read_to_string(dir.join(unit)).unwrap();
        let has = |line: &str| text.lines().any(|l| l.trim() == line);
        for required in [
            "Restart=on-failure",
            "RestartPreventExitStatus=64",
            "DynamicUser=yes",
            "NoNewPrivileges=yes",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "CapabilityBoundingSet=",
            "KillSignal=SIGTERM",
        ] {
            assert!(has(required), "{unit}: missing {required}");
        }
        // ExecStart: the installed path of the binary, and flags the binary accepts.
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        let mut argv = exec.split_whitespace();
        assert_eq!(
            argv.next(),
            Some(format!("/usr/local/bin/{bin}").as_str()),
            "{unit}"
        );
        let args: Vec<&str> = argv.collect();
        assert_eq!(args[0], "run", "{unit}");
        let help = std::process::Command::new(bins::path(bin))
            .args(["run", "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&help.stdout);
        for flag in args.iter().filter(|a| a.starts_with("--")) {
            assert!(
                help.contains(flag),
                "{unit}: `{bin} run` has no {flag}:\n{help}"
            );
        }

        // systemd's own checks, with ExecStart pointing at the built binary.
        let Some(analyze) = tests::peers::require(
            "systemd_units_are_hardened_and_verified",
            "systemd-analyze",
            which("systemd-analyze"),
        ) else {
            continue;
        };
        let tmp = tempfile::tempdir().unwrap();
        let local = tmp.path().join(unit);
        let built = bins::path(bin);
        std::fs::write(
            &local,
            text.replace(&format!("/usr/local/bin/{bin}"), &built.to_string_lossy()),
        )
        .unwrap();
        let verify = std::process::Command::new(&analyze)
            .arg("verify")
            .arg(&local)
            .output()
            .unwrap();
        assert!(
            verify.status.success(),
            "{unit}: systemd-analyze verify: {}",
            String::from_utf8_lossy(&verify.stderr)
        );
        let security = std::process::Command::new(&analyze)
            .args(["security", "--offline=yes"])
            .arg(&local)
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&security.stdout).into_owned()
            + &String::from_utf8_lossy(&security.stderr);
        let level: f64 = out
            .lines()
            .find_map(|l| l.split("exposure level for").nth(1))
            .and_then(|rest| rest.split(':').nth(1))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{unit}: no exposure level in:\n{out}"));
        eprintln!("{unit}: systemd-analyze security exposure {level}");
        assert!(level <= 2.5, "{unit}: exposure {level} > 2.5:\n{out}");
    }
}

fn which(name: &str) -> anyhow::Result<PathBuf> {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| anyhow::anyhow!("{name} not on PATH"))
}
