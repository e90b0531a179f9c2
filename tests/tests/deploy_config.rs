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
