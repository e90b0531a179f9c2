//! The `check-config` report: a summary of the validated configuration and each device's
//! read plan. Pure formatting; the CLI prints it.
//!
//! ```text
//! agent edge-01: broker 127.0.0.1:1883, client id sentia-edge-01, binary encoding
//! device motor-01 127.0.0.1:15020 unit 1: 7 tags, 5 requests per cycle
//!   FC01 coil       0..0         count 1     running
//!   FC04 input      0..3         count 4     speed, current, temperature
//! total: 1 devices, 7 tags, 5 requests per cycle
//! ```
//!
//! Ranges are inclusive (`start..last`) in the device's `address_base`, followed by the
//! number of bits or registers read. Holes the agent learned (exception 02, stored in its
//! data dir) are applied to the plan and listed after it: `hole holding 100..101 not read`.

use std::fmt::Write as _;

use crate::poll::holes_store;
use crate::settings::{DeviceSource, Settings};

/// Renders the report, with the holes stored in the agent's data dir applied.
pub fn render(settings: &Settings) -> String {
    let mut out = String::new();
    let m = &settings.mqtt;
    let encoding = match m.encoding {
        protocols::codec::Encoding::Binary => "binary",
        protocols::codec::Encoding::Json => "json",
    };
    let _ = writeln!(
        out,
        "agent {}: broker {}:{}, client id {}, {encoding} encoding",
        settings.agent.id, m.host, m.port, m.client_id
    );
    let (mut tags, mut requests) = (0, 0);
    for device in &settings.devices {
        match &device.source {
            DeviceSource::Modbus { endpoint, map, .. } => {
                let mut map = map.clone();
                map.learn(holes_store::load(&settings.agent.data_dir, &device.id));
                tags += map.tags().len();
                requests += map.requests().len();
                let _ = writeln!(
                    out,
                    "device {} {endpoint}: {} tags, {} requests per cycle",
                    device.id,
                    map.tags().len(),
                    map.requests().len()
                );
                out.push_str(&map.describe_plan());
            }
            DeviceSource::OpcUa(source) => {
                tags += source.tags.len();
                let _ = writeln!(
                    out,
                    "device {} {} (security {}/{}): {} tags",
                    device.id,
                    source.endpoint,
                    source.security.policy.as_str(),
                    source.security.mode.as_str(),
                    source.tags.len()
                );
                for t in &source.tags {
                    let mode = match t.mode {
                        crate::opcua::TagMode::Poll => "poll",
                        crate::opcua::TagMode::Subscribe { .. } => "subscribe",
                    };
                    let _ = writeln!(out, "  {mode:<9} {} {}", t.node_id, t.id.name());
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "total: {} devices, {tags} tags, {requests} requests per cycle",
        settings.devices.len()
    );
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lists_every_request() {
        let settings = crate::config::parse(
            include_str!("../../deploy/edge-agent.reference.toml"),
            "agent.example.toml",
        )
        .unwrap();
        let text = render(&settings);
        assert!(
            text.starts_with("agent edge-01: broker 127.0.0.1:1883"),
            "{text}"
        );
        assert!(
            text.contains("device motor-01 127.0.0.1:15020 unit 1: 7 tags, 5 requests per cycle\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "  FC04 input      0..3         count 4     speed, current, temperature\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "device dosing-01 /dev/ttyUSB0 9600 8N2 unit 5: 2 tags, 1 requests per cycle\n  FC03 holding    1..8         count 8     recipe, valve_open\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("device press-01 opc.tcp://127.0.0.1:4840/ (security Basic256Sha256/SignAndEncrypt): 2 tags\n  subscribe ns=2;s=Press1.Speed speed\n  poll      ns=2;i=1042 recipe\n"),
            "{text}"
        );
        assert!(
            text.ends_with("total: 7 devices, 18 tags, 13 requests per cycle\n"),
            "{text}"
        );
    }
}
