//! Configuration reload on SIGHUP and on a file change (no signal), against the real binary: a device is added and a tag
//! removed while the agent runs. The new device's points arrive, the removed tag stops, the
//! retained catalogue lists the new tags, and the batch sequence goes on without a gap or a
//! reset (the forwarder and its spool are not restarted). An invalid file is then reported
//! and the agent keeps publishing with the configuration it has.
#![allow(clippy::unwrap_used, clippy::print_stdout)]

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use common::{Plc, Received, shared_broker, start_plc, subscribe, unique_agent_id};
use protocols::codec::Message;
use protocols::model::{AgentId, AssetPath, Batch, TagCatalog};
use protocols::topic::Topic;
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_edge-agent");

fn batches<'a>(got: &'a [Received], asset: &'a AssetPath) -> impl Iterator<Item = &'a Batch> {
    got.iter().filter_map(move |r| match &r.message {
        Message::Batch(b) if &b.asset == asset => Some(b),
        _ => None,
    })
}

fn catalogs(got: &[Received]) -> impl Iterator<Item = &TagCatalog> {
    got.iter().filter_map(|r| match &r.message {
        Message::Catalog(c) => Some(c),
        _ => None,
    })
}

fn tag_names(c: &TagCatalog) -> BTreeSet<String> {
    c.tags.iter().map(|t| t.id.to_string()).collect()
}

fn has_tag(b: &Batch, name: &str) -> bool {
    b.points.iter().any(|p| p.tag.name() == name)
}

fn device(id: &str, port: u16, tags: &[(&str, u16)]) -> String {
    let mut s = format!(
        "[[device]]\nid = \"{id}\"\nasset = \"test/hall/l1/{id}\"\nprotocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {port}\nunit_id = 1\npoll_interval = \"100ms\"\n"
    );
    for (name, address) in tags {
        s.push_str(&format!(
            "[[device.tag]]\nname = \"{name}\"\nregister = \"input\"\naddress = {address}\ntype = \"u16\"\n"
        ));
    }
    s
}

fn sighup(agent: &Child) {
    let status = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(agent.id().unwrap().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn log_text(log: &Path) -> String {
    std::fs::read_to_string(log).unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_applies_new_devices_and_tags_without_touching_the_forwarder() {
    reload_scenario(Trigger::Sighup).await;
}

/// The same without any signal: the agent notices the file changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_file_is_applied_without_a_signal() {
    reload_scenario(Trigger::FileChange).await;
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Trigger {
    Sighup,
    FileChange,
}

async fn reload_scenario(trigger: Trigger) {
    let Some(broker) = shared_broker().await else {
        return;
    };
    let mut plc = Plc::default();
    plc.input.extend([(0, 11), (1, 22), (2, 33)]);
    let plc_addr = start_plc(plc).await;
    let agent_id = unique_agent_id("reload");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("agent.toml");
    let log = dir.path().join("agent.log");
    let head = format!(
        "[agent]\nid = \"{agent_id}\"\ndata_dir = \"{data}\"\n[mqtt]\nbroker = \"mqtt://{broker}\"\nencoding = \"json\"\n",
        data = dir.path().join("data").display(),
    );
    let port = plc_addr.port();
    std::fs::write(
        &config,
        head.clone() + &device("plc1", port, &[("v", 0), ("w", 1)]),
    )
    .unwrap();

    let agent = AgentId::new(&agent_id).unwrap();
    let asset = |d: &str| AssetPath::new(&format!("test/hall/l1/{d}")).unwrap();
    let (plc1, plc2) = (asset("plc1"), asset("plc2"));
    let meta_topic = Topic::Meta {
        agent: agent.clone(),
    }
    .to_string();
    let status_topic = Topic::Status {
        agent: agent.clone(),
    }
    .to_string();
    let mut topics: Vec<String> = [&plc1, &plc2]
        .into_iter()
        .map(|a| {
            Topic::Data {
                agent: agent.clone(),
                asset: a.clone(),
            }
            .to_string()
        })
        .collect();
    topics.push(meta_topic.clone());
    let mut sub = subscribe(&broker, &format!("{agent_id}-sub"), &topics, false).await;

    let stderr = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(BIN)
        .args(["run", "--config"])
        .arg(&config)
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(stderr)
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // Before: one device, two tags.
    let mut got = sub
        .collect_until(20, "first device publishing", |g| {
            batches(g, &plc1).count() >= 5 && catalogs(g).next().is_some()
        })
        .await;
    let first = catalogs(&got).next().unwrap().clone();
    assert_eq!(first.tags.len(), 2);
    assert!(batches(&got, &plc1).all(|b| has_tag(b, "v") && has_tag(b, "w")));
    let session = batches(&got, &plc1).next().unwrap().session;

    // Reload: plc1 loses tag w, plc2 is added.
    std::fs::write(
        &config,
        head.clone() + &device("plc1", port, &[("v", 0)]) + &device("plc2", port, &[("u", 2)]),
    )
    .unwrap();
    if trigger == Trigger::Sighup {
        sighup(&child);
    }
    let expected: BTreeSet<String> = ["test/hall/l1/plc1/v", "test/hall/l1/plc2/u"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    let after = sub
        .collect_until(20, "reload applied", |g| {
            let plc1_new: Vec<&Batch> = batches(g, &plc1).collect();
            batches(g, &plc2).count() >= 5
                && catalogs(g).any(|c| tag_names(c) == expected)
                && plc1_new.len() >= 5
                && plc1_new[plc1_new.len() - 5..]
                    .iter()
                    .all(|b| !has_tag(b, "w"))
        })
        .await;
    got.extend(after.iter().cloned());
    assert!(
        batches(&after, &plc2).all(|b| b.points.len() == 1
            && b.points[0].tag.name() == "u"
            && b.points[0].value.is_some()),
        "plc2 delivers tag u with values"
    );
    let catalog = catalogs(&after).last().unwrap();
    assert_eq!(tag_names(catalog), expected, "catalogue lists the new tags");
    assert_eq!(catalog.session, session);
    let log_now = log_text(&log);
    if trigger == Trigger::FileChange {
        assert!(
            log_now.contains("configuration file changed; reloading it"),
            "{log_now}"
        );
    }
    assert!(
        log_now.contains("configuration reloaded")
            && log_now.contains("added=1")
            && log_now.contains("changed=1")
            && log_now.contains("removed=0")
            && log_now.contains("unchanged=0"),
        "reload summary missing:\n{log_now}"
    );

    // A bad file: reported, and the agent keeps publishing with what it has.
    std::fs::write(
        &config,
        head + &device("plc1", port, &[("v", 0)]).replace("\"u16\"", "\"f33\""),
    )
    .unwrap();
    if trigger == Trigger::Sighup {
        sighup(&child);
    }
    let problem = common::within(10, "problem logged", async {
        loop {
            let text = log_text(&log);
            if text.contains("reload rejected") {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    let line = problem
        .lines()
        .find(|l| l.contains("unknown type"))
        .unwrap_or_else(|| panic!("problem not logged:\n{problem}"));
    let at = format!("{}:", config.display());
    assert!(line.contains("ERROR") && line.contains(&at), "{line}");
    assert!(line.contains("device[plc1].tag[v].type"), "{line}");
    let later = sub
        .collect_until(20, "still publishing after a bad reload", |g| {
            batches(g, &plc1).count() >= 5 && batches(g, &plc2).count() >= 5
        })
        .await;
    assert!(child.try_wait().unwrap().is_none(), "agent still running");
    got.extend(later);

    // One sequence across both reloads: same session, no gap, no reset.
    let all: Vec<&Batch> = batches(&got, &plc1).chain(batches(&got, &plc2)).collect();
    assert!(all.iter().all(|b| b.session == session), "one session");
    let seqs: BTreeSet<u64> = all.iter().map(|b| b.seq).collect();
    let newest = *seqs.last().unwrap();
    assert_eq!(
        seqs.len() as u64,
        newest + 1,
        "seq 0..={newest} without a gap"
    );
    let arrival: Vec<u64> = got
        .iter()
        .filter_map(|r| match &r.message {
            Message::Batch(b) => Some(b.seq),
            _ => None,
        })
        .collect();
    let resets = arrival.windows(2).filter(|w| w[1] + 10 < w[0]).count();
    assert_eq!(resets, 0, "the sequence never restarts: {arrival:?}");

    let _ = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().unwrap().to_string())
        .status();
    let status = common::within(20, "agent exit", child.wait())
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
    sub.clear_retained(&[meta_topic, status_topic]).await;
    println!("seq 0..={newest} across two reloads");
}
