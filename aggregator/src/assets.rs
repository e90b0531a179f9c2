//! Asset status from an asset's tags and their latest values (I/O-free; time passed in).
//!
//! Rules, first match wins:
//! 1. `offline`: the asset has latest values and every one of them is bad quality.
//! 2. `stale`: every tag with a latest value is stale by the [`StaleRule`] (by default 3 ×
//!    its poll interval, 1 s when unknown, at least `stale_min` = 3 s), or nothing received
//!    at all. The same rule marks single values stale in `/api/v1/latest`.
//! 3. `running` / `stopped`: from a bool tag named `running`, if the asset has one with a value.
//! 4. `online`.

use std::collections::HashMap;

use protocols::model::{QualityLevel, TagId, TimestampNs, Value};

use crate::cache::LatestValue;
use crate::stale::StaleRule;
use crate::store::TagRecord;

/// Name of the bool tag that says whether an asset runs.
pub const RUNNING_TAG: &str = "running";

/// An asset's state for dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssetStatus {
    /// The `running` tag is true.
    Running,
    /// The `running` tag is false.
    Stopped,
    /// Data arrives; no `running` tag.
    Online,
    /// Every latest value is bad.
    Offline,
    /// No recent data.
    Stale,
}

impl AssetStatus {
    /// Lower-case name used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            AssetStatus::Running => "running",
            AssetStatus::Stopped => "stopped",
            AssetStatus::Online => "online",
            AssetStatus::Offline => "offline",
            AssetStatus::Stale => "stale",
        }
    }
}

/// Status and counts of one asset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetSummary {
    /// See the module rules.
    pub status: AssetStatus,
    /// Tags of the asset.
    pub tag_count: usize,
    /// Tags whose latest value is bad quality.
    pub bad_tags: usize,
    /// Tags whose latest value is stale (tags without any value are not counted).
    pub stale_tags: usize,
    /// Newest receive time of any of its tags.
    pub last_update_ns: Option<TimestampNs>,
}

/// Summarizes one asset from its tags.
pub fn summarize(
    tags: &[&TagRecord],
    latest: &HashMap<TagId, LatestValue>,
    rule: &StaleRule,
    now_ns: TimestampNs,
) -> AssetSummary {
    let values: Vec<(&TagRecord, &LatestValue)> = tags
        .iter()
        .filter_map(|t| latest.get(&t.id).map(|v| (*t, v)))
        .collect();
    let is_bad = |v: &LatestValue| v.quality.level() == QualityLevel::Bad;
    let bad_tags = values.iter().filter(|(_, v)| is_bad(v)).count();
    let last_update_ns = values.iter().map(|(_, v)| v.receive_ts_ns).max();
    let stale_tags = values
        .iter()
        .filter(|(t, v)| rule.is_stale(t.poll_interval_ms, v.receive_ts_ns, now_ns))
        .count();
    let running = values
        .iter()
        .find(|(t, _)| t.id.name() == RUNNING_TAG)
        .and_then(|(_, v)| match (&v.value, is_bad(v)) {
            (Some(Value::Bool(b)), false) => Some(*b),
            _ => None,
        });
    let status = if !values.is_empty() && bad_tags == values.len() {
        AssetStatus::Offline
    } else if stale_tags == values.len() {
        AssetStatus::Stale
    } else {
        match running {
            Some(true) => AssetStatus::Running,
            Some(false) => AssetStatus::Stopped,
            None => AssetStatus::Online,
        }
    };
    AssetSummary {
        status,
        tag_count: tags.len(),
        bad_tags,
        stale_tags,
        last_update_ns,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::model::Quality;

    use super::*;

    const SEC: i64 = 1_000_000_000;

    fn tag(name: &str, poll: Option<u32>) -> TagRecord {
        TagRecord {
            id: TagId::new(&format!("s/a/l/m/{name}")).unwrap(),
            unit: None,
            data_type: None,
            source: None,
            poll_interval_ms: poll,
            description: None,
            agent: None,
        }
    }

    fn val(v: Option<Value>, q: Quality, recv: i64) -> LatestValue {
        LatestValue {
            value: v,
            quality: q,
            source_ts_ns: recv,
            receive_ts_ns: recv,
        }
    }

    fn run(tags: &[TagRecord], latest: &[(usize, LatestValue)], now: i64) -> AssetSummary {
        let map = latest
            .iter()
            .map(|(i, v)| (tags[*i].id.clone(), v.clone()))
            .collect();
        summarize(
            &tags.iter().collect::<Vec<_>>(),
            &map,
            &StaleRule::default(),
            now,
        )
    }

    #[test]
    fn status_rules_in_order() {
        let tags = [tag("speed", Some(500)), tag("running", None)];
        let good = |v, t| val(Some(v), Quality::Good, t);
        let bad = |t| val(None, Quality::Bad("timeout".into()), t);
        let now = 100 * SEC;
        // all bad → offline, even if recent
        let s = run(&tags, &[(0, bad(now)), (1, bad(now))], now);
        assert_eq!(
            (s.status, s.bad_tags, s.tag_count),
            (AssetStatus::Offline, 2, 2)
        );
        // running tag decides
        let s = run(
            &tags,
            &[
                (0, good(Value::Float(1.0), now)),
                (1, good(Value::Bool(true), now)),
            ],
            now,
        );
        assert_eq!(s.status, AssetStatus::Running);
        let s = run(&tags, &[(1, good(Value::Bool(false), now - SEC))], now);
        assert_eq!(
            (s.status, s.last_update_ns),
            (AssetStatus::Stopped, Some(now - SEC))
        );
        // stale: `running` has no interval → 3 × 1 s default = 3 s
        let s = run(
            &tags,
            &[(1, good(Value::Bool(true), now - 3 * SEC - 1))],
            now,
        );
        assert_eq!((s.status, s.stale_tags), (AssetStatus::Stale, 1));
        // one fresh tag keeps the asset fresh; the stale one is still counted
        let s = run(
            &tags,
            &[
                (0, good(Value::Float(1.0), now)),
                (1, good(Value::Bool(true), now - 4 * SEC)),
            ],
            now,
        );
        assert_eq!((s.status, s.stale_tags), (AssetStatus::Running, 1));
        let s = run(&tags, &[(1, good(Value::Bool(true), now - 3 * SEC))], now);
        assert_eq!(s.status, AssetStatus::Running);
        // fast polling still gets the 3 s floor; slow polling stretches it
        let fast = [tag("speed", Some(100))];
        assert_eq!(
            run(&fast, &[(0, good(Value::Float(1.0), now - 2 * SEC))], now).status,
            AssetStatus::Online
        );
        let slow = [tag("speed", Some(60_000))];
        assert_eq!(
            run(&slow, &[(0, good(Value::Float(1.0), now - 179 * SEC))], now).status,
            AssetStatus::Online
        );
        assert_eq!(
            run(&slow, &[(0, good(Value::Float(1.0), now - 181 * SEC))], now).status,
            AssetStatus::Stale
        );
        // no data at all → stale
        assert_eq!(run(&tags, &[], now).status, AssetStatus::Stale);
        // no running tag (or a bad one) → online
        let s = run(
            &tags,
            &[(0, good(Value::Float(1.0), now)), (1, bad(now))],
            now,
        );
        assert_eq!((s.status, s.bad_tags), (AssetStatus::Online, 1));
    }
}
