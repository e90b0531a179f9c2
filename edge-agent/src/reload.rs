//! Configuration reload: what changes between the running settings and a newly loaded file
//! (I/O-free; [`crate::app`] applies the [`Plan`]).
//!
//! The binary reloads on SIGHUP (`kill -HUP <pid>`) and when the file's content changes
//! (`crate::config_watch`, polled every second). An invalid
//! file is reported (every problem, `FILE:LINE:COL: ...`, at error) and the agent keeps
//! running with the configuration it has. A valid one is applied device by device, keyed by
//! device id:
//!
//! - **removed**: the device's task is cancelled; it finishes its current cycle first.
//! - **added**: a new task is started.
//! - **changed** (any field or tag differs): the old task finishes its cycle and stops, then
//!   a task with the new settings starts.
//! - **unchanged**: its task keeps running untouched.
//!
//! The forwarder is not restarted: the spool, the sequence numbers and whatever is in flight
//! stay as they are; it republishes the retained tag catalogue and status for the new
//! device list. `[agent]`, `[mqtt]` and `[spool]` belong to the forwarder and the spool, so
//! changes there are only logged (warn: restart the agent to apply them) and otherwise
//! ignored until the next start.

use crate::settings::Settings;

/// What a reload changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Ids of devices only in the new settings, in the new configuration order.
    pub added: Vec<String>,
    /// Ids of devices only in the old settings, in the old configuration order.
    pub removed: Vec<String>,
    /// Ids of devices in both whose settings differ, in the new order.
    pub changed: Vec<String>,
    /// Ids of devices identical in both, in the new order.
    pub unchanged: Vec<String>,
    /// Sections that differ but cannot be applied without a restart.
    pub restart_needed: Vec<&'static str>,
}

/// Compares the running settings with newly loaded ones.
pub fn diff(old: &Settings, new: &Settings) -> Plan {
    let mut plan = Plan::default();
    for device in &new.devices {
        match old.devices.iter().find(|d| d.id == device.id) {
            None => plan.added.push(device.id.clone()),
            Some(before) if before == device => plan.unchanged.push(device.id.clone()),
            Some(_) => plan.changed.push(device.id.clone()),
        }
    }
    plan.removed = old
        .devices
        .iter()
        .filter(|d| !new.devices.iter().any(|n| n.id == d.id))
        .map(|d| d.id.clone())
        .collect();
    if old.agent != new.agent {
        plan.restart_needed.push("agent");
    }
    if old.mqtt != new.mqtt {
        plan.restart_needed.push("mqtt");
    }
    if old.spool != new.spool {
        plan.restart_needed.push("spool");
    }
    plan
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn settings(agent: &str, broker_port: u16, devices: &str) -> Settings {
        let text = format!(
            r#"
[agent]
id = "{agent}"
[mqtt]
broker = "mqtt://127.0.0.1:{broker_port}"
{devices}
"#
        );
        crate::config::parse(&text, "agent.toml").unwrap()
    }

    fn device(id: &str, port: u16, tags: &[&str]) -> String {
        let mut s = format!(
            "[[device]]\nid = \"{id}\"\nasset = \"s/a/l/{id}\"\nprotocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {port}\nunit_id = 1\n"
        );
        for (i, t) in tags.iter().enumerate() {
            s.push_str(&format!(
                "[[device.tag]]\nname = \"{t}\"\nregister = \"input\"\naddress = {i}\ntype = \"u16\"\n"
            ));
        }
        s
    }

    fn ids(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn identical_settings_change_nothing() {
        let devices = device("a", 502, &["x", "y"]) + &device("b", 502, &["x"]);
        let old = settings("edge", 1883, &devices);
        let new = settings("edge", 1883, &devices);
        assert_eq!(
            diff(&old, &new),
            Plan {
                unchanged: ids(&["a", "b"]),
                ..Plan::default()
            }
        );
    }

    #[test]
    fn devices_are_added_removed_changed_or_kept_by_id() {
        let old = settings(
            "edge",
            1883,
            &(device("a", 502, &["x", "y"])
                + &device("b", 502, &["x"])
                + &device("c", 502, &["x"])),
        );
        // a loses a tag, b is gone, c is untouched (but moved), d and e are new.
        let new = settings(
            "edge",
            1883,
            &(device("d", 503, &["x"])
                + &device("c", 502, &["x"])
                + &device("a", 502, &["x"])
                + &device("e", 504, &["z"])),
        );
        assert_eq!(
            diff(&old, &new),
            Plan {
                added: ids(&["d", "e"]),
                removed: ids(&["b"]),
                changed: ids(&["a"]),
                unchanged: ids(&["c"]),
                restart_needed: Vec::new(),
            }
        );
    }

    #[test]
    fn any_device_field_counts_as_a_change() {
        let old = settings("edge", 1883, &device("a", 502, &["x"]));
        let port = settings("edge", 1883, &device("a", 503, &["x"]));
        assert_eq!(diff(&old, &port).changed, ids(&["a"]));
        let tag = settings("edge", 1883, &device("a", 502, &["renamed"]));
        assert_eq!(diff(&old, &tag).changed, ids(&["a"]));
        let interval = settings(
            "edge",
            1883,
            &device("a", 502, &["x"]).replace("unit_id = 1", "unit_id = 1\npoll_interval = \"2s\""),
        );
        assert_eq!(diff(&old, &interval).changed, ids(&["a"]));
    }

    #[test]
    fn agent_mqtt_and_spool_changes_need_a_restart() {
        let devices = device("a", 502, &["x"]);
        let old = settings("edge", 1883, &devices);
        let new = settings("other", 1884, &devices);
        let plan = diff(&old, &new);
        // The agent id also moves the default spool directory.
        assert_eq!(plan.restart_needed, vec!["agent", "mqtt", "spool"]);
        assert_eq!(plan.unchanged, ids(&["a"]));
        let mut spool_only = old.clone();
        spool_only.spool.replay_rate += 1;
        assert_eq!(diff(&old, &spool_only).restart_needed, vec!["spool"]);
    }
}
