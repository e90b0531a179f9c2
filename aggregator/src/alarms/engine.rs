//! The alarm engine (I/O-free): limit rules applied to every stored point, and the
//! lifecycle of the alarms they raise.
//!
//! - **Raise**: a tag's level leaves `normal` ([`super::rule`]) and stays out for the rule's
//!   `delay` (measured on source timestamps; 0: at once). One alarm per excursion: a change
//!   between hi and hihi while it is open changes its level (recorded), not a new alarm.
//! - **Lifecycle**: `active` → (`acknowledge`) → `acknowledged`; when the value returns to
//!   normal the alarm becomes `cleared` (and closed), acknowledged or not (`acknowledged`
//!   says which). An acknowledgement of a cleared, unacknowledged alarm is recorded too.
//! - **Shelving**: an open alarm can be shelved until a time; it stays listed with
//!   `shelved_until`, and is unshelved at expiry (recorded) or when it clears.
//! - Every transition is kept on the alarm (who, when, comment) and returned by
//!   [`Engine::on_point`] / the actions so the caller can journal it.
//! - Bad-quality points and non-numeric values do not change a level.
//! - Memory is bounded: beyond [`MAX_KEPT`] alarms the oldest cleared ones are forgotten
//!   (their transitions stay in the journal).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use protocols::model::TagId;
use serde::Serialize;

use super::rule::{Level, Limits};

/// Alarms kept in memory; the oldest cleared ones go first.
pub const MAX_KEPT: usize = 10_000;

/// One configured limit rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The tag it watches.
    pub tag: TagId,
    /// Its limits and deadband.
    pub limits: Limits,
    /// How long a level must hold before an alarm is raised.
    pub delay: Duration,
}

/// Where an alarm is in its lifecycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    /// Condition present, not acknowledged.
    Active,
    /// Condition present, acknowledged.
    Acknowledged,
    /// Condition gone (closed).
    Cleared,
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Transition {
    /// The alarm.
    pub alarm: u64,
    /// When (ns since the epoch: source time for condition changes, wall time for actions).
    pub at_ns: i64,
    /// `raised`, `level`, `acknowledged`, `shelved`, `unshelved` or `cleared`.
    pub action: &'static str,
    /// The level after the transition.
    pub level: Level,
    /// Who acted (`None` for the engine's own transitions).
    pub user: Option<String>,
    /// The operator's comment.
    pub comment: Option<String>,
    /// The value that caused it (condition changes).
    pub value: Option<f64>,
}

/// One alarm.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alarm {
    /// Unique id (increasing).
    pub id: u64,
    /// The tag.
    pub tag: String,
    /// `limit` (the only kind so far).
    pub kind: &'static str,
    /// Current (or, once cleared, last) level.
    pub level: Level,
    /// `warning` or `critical` (of the most severe level reached).
    pub severity: &'static str,
    /// Lifecycle state.
    pub state: State,
    /// Whether someone acknowledged it.
    pub acknowledged: bool,
    /// Shelved until this time (ns), if shelved.
    pub shelved_until_ns: Option<i64>,
    /// When the condition started (source time of the first point past the limit).
    pub since_ns: i64,
    /// When it was raised (after the delay).
    pub raised_ns: i64,
    /// When it cleared.
    pub cleared_ns: Option<i64>,
    /// The value that raised it.
    pub value: f64,
    /// Every transition, oldest first.
    pub history: Vec<Transition>,
}

impl Alarm {
    fn open(&self) -> bool {
        self.state != State::Cleared
    }
}

/// Why an operator action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ActionError {
    /// No such alarm.
    #[error("no alarm {0}")]
    Unknown(u64),
    /// The action does not apply in the alarm's state.
    #[error("alarm {id} is {state}: {why}")]
    Conflict {
        /// The alarm.
        id: u64,
        /// Its state.
        state: &'static str,
        /// What is wrong.
        why: &'static str,
    },
}

#[derive(Debug, Default)]
struct TagState {
    level: Level,
    /// A level waiting for its delay: (level, since).
    pending: Option<(Level, i64)>,
    open: Option<u64>,
}

/// Rules, per-tag state and every alarm since start.
#[derive(Debug, Default)]
pub struct Engine {
    rules: HashMap<TagId, Rule>,
    tags: HashMap<TagId, TagState>,
    alarms: BTreeMap<u64, Alarm>,
    next_id: u64,
}

impl Engine {
    /// An engine with these rules (one per tag).
    pub fn new(rules: Vec<Rule>) -> Self {
        Self {
            rules: rules.into_iter().map(|r| (r.tag.clone(), r)).collect(),
            next_id: 1,
            ..Self::default()
        }
    }

    /// Whether any rule watches `tag`.
    pub fn watches(&self, tag: &TagId) -> bool {
        self.rules.contains_key(tag)
    }

    /// Applies one stored point (`value`: `None` for bad quality or non-numeric values).
    pub fn on_point(&mut self, tag: &TagId, ts_ns: i64, value: Option<f64>) -> Vec<Transition> {
        let (Some(rule), Some(v)) = (self.rules.get(tag), value) else {
            return Vec::new();
        };
        let st = self.tags.entry(tag.clone()).or_default();
        let level = rule.limits.level(v, st.level);
        let delay_ns = i64::try_from(rule.delay.as_nanos()).unwrap_or(i64::MAX);
        let mut out = Vec::new();
        match (level, st.open) {
            (Level::Normal, open) => {
                st.level = Level::Normal;
                st.pending = None;
                st.open = None;
                if let Some(id) = open
                    && let Some(a) = self.alarms.get_mut(&id)
                {
                    a.state = State::Cleared;
                    a.cleared_ns = Some(ts_ns);
                    a.shelved_until_ns = None;
                    out.push(record(a, ts_ns, "cleared", None, None, Some(v)));
                }
                self.forget_oldest_cleared();
            }
            (level, Some(id)) => {
                st.level = level;
                if let Some(a) = self.alarms.get_mut(&id)
                    && a.level != level
                {
                    a.level = level;
                    if level.severity() == "critical" {
                        a.severity = "critical";
                    }
                    out.push(record(a, ts_ns, "level", None, None, Some(v)));
                }
            }
            (level, None) => {
                let since = match st.pending {
                    Some((_, since)) => since,
                    None => ts_ns,
                };
                st.pending = Some((level, since));
                if ts_ns.saturating_sub(since) >= delay_ns {
                    st.level = level;
                    st.pending = None;
                    let id = self.next_id;
                    self.next_id += 1;
                    st.open = Some(id);
                    let mut a = Alarm {
                        id,
                        tag: tag.to_string(),
                        kind: "limit",
                        level,
                        severity: level.severity(),
                        state: State::Active,
                        acknowledged: false,
                        shelved_until_ns: None,
                        since_ns: since,
                        raised_ns: ts_ns,
                        cleared_ns: None,
                        value: v,
                        history: Vec::new(),
                    };
                    out.push(record(&mut a, ts_ns, "raised", None, None, Some(v)));
                    self.alarms.insert(id, a);
                }
            }
        }
        out
    }

    /// Drops the oldest cleared alarms beyond [`MAX_KEPT`].
    fn forget_oldest_cleared(&mut self) {
        while self.alarms.len() > MAX_KEPT {
            let Some(oldest) = self
                .alarms
                .values()
                .find(|a| a.state == State::Cleared)
                .map(|a| a.id)
            else {
                return;
            };
            self.alarms.remove(&oldest);
        }
    }

    /// Whether any rule exists.
    pub fn has_rules(&self) -> bool {
        !self.rules.is_empty()
    }

    /// Acknowledges alarm `id`.
    pub fn acknowledge(
        &mut self,
        id: u64,
        user: &str,
        comment: Option<String>,
        now_ns: i64,
    ) -> Result<Transition, ActionError> {
        let a = self.alarms.get_mut(&id).ok_or(ActionError::Unknown(id))?;
        if a.acknowledged {
            return Err(ActionError::Conflict {
                id,
                state: state_name(a),
                why: "already acknowledged",
            });
        }
        a.acknowledged = true;
        if a.state == State::Active {
            a.state = State::Acknowledged;
        }
        Ok(record(
            a,
            now_ns,
            "acknowledged",
            Some(user.to_owned()),
            comment,
            None,
        ))
    }

    /// Shelves open alarm `id` until `until_ns`.
    pub fn shelve(
        &mut self,
        id: u64,
        user: &str,
        comment: Option<String>,
        now_ns: i64,
        until_ns: i64,
    ) -> Result<Transition, ActionError> {
        let a = self.alarms.get_mut(&id).ok_or(ActionError::Unknown(id))?;
        if !a.open() {
            return Err(ActionError::Conflict {
                id,
                state: state_name(a),
                why: "only an open alarm can be shelved",
            });
        }
        a.shelved_until_ns = Some(until_ns);
        Ok(record(
            a,
            now_ns,
            "shelved",
            Some(user.to_owned()),
            comment,
            None,
        ))
    }

    /// Unshelves alarms whose shelving expired at `now_ns`.
    pub fn expire_shelving(&mut self, now_ns: i64) -> Vec<Transition> {
        let mut out = Vec::new();
        for a in self.alarms.values_mut() {
            if a.shelved_until_ns.is_some_and(|u| u <= now_ns) {
                a.shelved_until_ns = None;
                out.push(record(a, now_ns, "unshelved", None, None, None));
            }
        }
        out
    }

    /// Alarms newest first, filtered by `filter`.
    pub fn list(&self, filter: Filter) -> Vec<Alarm> {
        self.alarms
            .values()
            .rev()
            .filter(|a| filter.matches(a))
            .cloned()
            .collect()
    }

    /// Open (active or acknowledged) alarms per asset.
    pub fn open_by_asset(&self) -> HashMap<protocols::model::AssetPath, usize> {
        let mut out = HashMap::new();
        for a in self.alarms.values().filter(|a| a.open()) {
            if let Ok(tag) = TagId::new(&a.tag) {
                *out.entry(tag.asset()).or_insert(0) += 1;
            }
        }
        out
    }

    /// One alarm.
    pub fn get(&self, id: u64) -> Option<&Alarm> {
        self.alarms.get(&id)
    }
}

/// Which alarms [`Engine::list`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filter {
    /// Active or acknowledged (the default).
    Open,
    /// Condition present, not acknowledged.
    Active,
    /// Condition present, acknowledged.
    Acknowledged,
    /// Shelved now.
    Shelved,
    /// Closed.
    Cleared,
    /// Everything.
    All,
}

impl Filter {
    /// Parses `open`, `active`, `acknowledged`, `shelved`, `cleared` or `all`.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => Self::Open,
            "active" => Self::Active,
            "acknowledged" => Self::Acknowledged,
            "shelved" => Self::Shelved,
            "cleared" => Self::Cleared,
            "all" => Self::All,
            _ => return None,
        })
    }

    fn matches(self, a: &Alarm) -> bool {
        match self {
            Self::Open => a.open(),
            Self::Active => a.state == State::Active,
            Self::Acknowledged => a.state == State::Acknowledged,
            Self::Shelved => a.shelved_until_ns.is_some(),
            Self::Cleared => a.state == State::Cleared,
            Self::All => true,
        }
    }
}

fn state_name(a: &Alarm) -> &'static str {
    match a.state {
        State::Active => "active",
        State::Acknowledged => "acknowledged",
        State::Cleared => "cleared",
    }
}

fn record(
    a: &mut Alarm,
    at_ns: i64,
    action: &'static str,
    user: Option<String>,
    comment: Option<String>,
    value: Option<f64>,
) -> Transition {
    let t = Transition {
        alarm: a.id,
        at_ns,
        action,
        level: a.level,
        user,
        comment,
        value,
    };
    a.history.push(t.clone());
    t
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn engine(delay: Duration) -> (Engine, TagId) {
        let tag = TagId::new("demo/hall-1/line-1/motor-01/temp").unwrap();
        let rule = Rule {
            tag: tag.clone(),
            limits: Limits {
                hihi: Some(100.0),
                hi: Some(80.0),
                lo: None,
                lolo: None,
                deadband: 2.0,
            },
            delay,
        };
        (Engine::new(vec![rule]), tag)
    }

    fn actions(t: &[Transition]) -> Vec<&'static str> {
        t.iter().map(|t| t.action).collect()
    }

    #[test]
    fn raise_after_the_delay_escalate_acknowledge_clear() {
        let (mut e, tag) = engine(Duration::from_secs(5));
        assert!(e.on_point(&tag, 0, Some(50.0)).is_empty());
        assert!(e.on_point(&tag, S, Some(85.0)).is_empty(), "delay not over");
        assert!(e.on_point(&tag, 3 * S, Some(86.0)).is_empty());
        let t = e.on_point(&tag, 6 * S, Some(87.0));
        assert_eq!(actions(&t), ["raised"]);
        let a = e.get(t[0].alarm).unwrap().clone();
        assert_eq!(
            (a.level, a.severity, a.state),
            (Level::Hi, "warning", State::Active)
        );
        assert_eq!((a.since_ns, a.raised_ns), (S, 6 * S));
        assert_eq!(actions(&e.on_point(&tag, 7 * S, Some(120.0))), ["level"]);
        assert_eq!(e.get(a.id).unwrap().severity, "critical");
        let ack = e
            .acknowledge(a.id, "alice", Some("on it".into()), 8 * S)
            .unwrap();
        assert_eq!(
            (ack.action, ack.user.as_deref()),
            ("acknowledged", Some("alice"))
        );
        assert!(e.acknowledge(a.id, "bob", None, 9 * S).is_err(), "twice");
        assert_eq!(e.list(Filter::Acknowledged).len(), 1);
        assert!(
            e.on_point(&tag, 9 * S, Some(79.0))
                .iter()
                .all(|t| t.action == "level")
        );
        assert_eq!(actions(&e.on_point(&tag, 10 * S, Some(70.0))), ["cleared"]);
        let a = e.get(a.id).unwrap();
        assert_eq!((a.state, a.acknowledged), (State::Cleared, true));
        assert_eq!(
            actions(&a.history),
            ["raised", "level", "acknowledged", "level", "cleared"]
        );
        assert!(e.list(Filter::Open).is_empty());
        assert_eq!(e.list(Filter::All).len(), 1);
    }

    #[test]
    fn a_short_excursion_raises_nothing_and_bad_points_change_nothing() {
        let (mut e, tag) = engine(Duration::from_secs(5));
        assert!(e.on_point(&tag, 0, Some(90.0)).is_empty());
        assert!(
            e.on_point(&tag, 2 * S, Some(60.0)).is_empty(),
            "back before the delay"
        );
        assert!(
            e.on_point(&tag, 3 * S, Some(90.0)).is_empty(),
            "the delay starts again"
        );
        assert!(e.on_point(&tag, 7 * S, None).is_empty(), "bad quality");
        assert!(e.on_point(&tag, 7 * S, Some(90.0)).is_empty(), "4 s of 5");
        assert_eq!(actions(&e.on_point(&tag, 8 * S, Some(90.0))), ["raised"]);
        let other = TagId::new("demo/hall-1/line-1/motor-01/other").unwrap();
        assert!(e.on_point(&other, 8 * S, Some(1e9)).is_empty(), "no rule");
    }

    #[test]
    fn shelving_expires_and_a_new_excursion_is_a_new_alarm() {
        let (mut e, tag) = engine(Duration::ZERO);
        let id = e.on_point(&tag, 0, Some(90.0))[0].alarm;
        e.shelve(id, "bob", Some("sensor swap".into()), S, 60 * S)
            .unwrap();
        assert_eq!(e.list(Filter::Shelved).len(), 1);
        assert!(e.expire_shelving(59 * S).is_empty());
        assert_eq!(actions(&e.expire_shelving(60 * S)), ["unshelved"]);
        assert_eq!(actions(&e.on_point(&tag, 61 * S, Some(10.0))), ["cleared"]);
        assert!(
            e.shelve(id, "bob", None, 62 * S, 70 * S).is_err(),
            "cleared"
        );
        // Acknowledging a cleared, unacknowledged alarm is recorded.
        assert_eq!(
            e.acknowledge(id, "carol", None, 63 * S).unwrap().action,
            "acknowledged"
        );
        let second = e.on_point(&tag, 64 * S, Some(95.0))[0].alarm;
        assert_ne!(second, id);
        // Memory stays bounded: only the newest MAX_KEPT alarms are kept.
        for i in 0..(MAX_KEPT as i64 + 5) {
            e.on_point(&tag, 100 * S + 2 * i, Some(10.0));
            e.on_point(&tag, 100 * S + 2 * i + 1, Some(95.0));
        }
        assert!(e.list(Filter::All).len() <= MAX_KEPT + 1);
        assert!(
            e.get(id).is_none(),
            "the oldest cleared alarm was forgotten"
        );
        assert_eq!(e.list(Filter::Open).len(), 1);
        assert_eq!(
            e.acknowledge(u64::MAX, "x", None, 0),
            Err(ActionError::Unknown(u64::MAX))
        );
    }
}
