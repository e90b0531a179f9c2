//! Limit rules (I/O-free): which alarm level a value is at, with a deadband so a value
//! hovering on a limit does not chatter.
//!
//! Levels, most severe outward: `lolo < lo < normal < hi < hihi`. A value reaches a level
//! as soon as it is at or past the limit (`>= hi`, `<= lo`); it leaves the level only once it
//! is back past the limit by `deadband` (`< hi - deadband`, `> lo + deadband`). Escalation is
//! immediate; the raise delay is the engine's (`engine.rs`).

use serde::Serialize;

/// An alarm level of a limit rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Below the low-low limit.
    LoLo,
    /// Below the low limit.
    Lo,
    /// Inside the limits.
    #[default]
    Normal,
    /// Above the high limit.
    Hi,
    /// Above the high-high limit.
    HiHi,
}

impl Level {
    /// `critical` for hihi/lolo, `warning` for hi/lo.
    pub fn severity(self) -> &'static str {
        match self {
            Level::HiHi | Level::LoLo => "critical",
            Level::Hi | Level::Lo => "warning",
            Level::Normal => "none",
        }
    }

    /// The name used in the API (`hihi`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::LoLo => "lolo",
            Level::Lo => "lo",
            Level::Normal => "normal",
            Level::Hi => "hi",
            Level::HiHi => "hihi",
        }
    }

    /// How far from normal (0 normal, 1 hi/lo, 2 hihi/lolo).
    fn rank(self) -> u8 {
        match self {
            Level::Normal => 0,
            Level::Hi | Level::Lo => 1,
            Level::HiHi | Level::LoLo => 2,
        }
    }

    fn high(self) -> bool {
        matches!(self, Level::Hi | Level::HiHi)
    }
}

/// Limits of one tag; at least one limit is set (checked by the configuration).
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// High-high limit.
    pub hihi: Option<f64>,
    /// High limit.
    pub hi: Option<f64>,
    /// Low limit.
    pub lo: Option<f64>,
    /// Low-low limit.
    pub lolo: Option<f64>,
    /// Hysteresis (engineering units, ≥ 0).
    pub deadband: f64,
}

impl Limits {
    /// The level of `v` without hysteresis.
    fn raw(&self, v: f64) -> Level {
        let past = |limit: Option<f64>, high: bool| {
            limit.is_some_and(|l| if high { v >= l } else { v <= l })
        };
        if past(self.hihi, true) {
            Level::HiHi
        } else if past(self.hi, true) {
            Level::Hi
        } else if past(self.lolo, false) {
            Level::LoLo
        } else if past(self.lo, false) {
            Level::Lo
        } else {
            Level::Normal
        }
    }

    /// Whether `v` is still inside the deadband of `level`'s limit.
    fn holds(&self, level: Level, v: f64) -> bool {
        let db = self.deadband;
        match level {
            Level::HiHi => self.hihi.is_some_and(|l| v > l - db),
            Level::Hi => self.hi.is_some_and(|l| v > l - db),
            Level::Lo => self.lo.is_some_and(|l| v < l + db),
            Level::LoLo => self.lolo.is_some_and(|l| v < l + db),
            Level::Normal => false,
        }
    }

    /// One step less severe on the same side.
    fn step_down(&self, level: Level) -> Level {
        match level {
            Level::HiHi if self.hi.is_some() => Level::Hi,
            Level::LoLo if self.lo.is_some() => Level::Lo,
            _ => Level::Normal,
        }
    }

    /// The level of `v` when the tag is at `current`.
    pub fn level(&self, v: f64, current: Level) -> Level {
        if !v.is_finite() {
            return current;
        }
        let raw = self.raw(v);
        let mut held = current;
        loop {
            // Escalating, or on the other side: the raw level applies at once.
            if held == Level::Normal || raw.high() != held.high() && raw != Level::Normal {
                return raw;
            }
            if raw.rank() >= held.rank() {
                return raw;
            }
            if self.holds(held, v) {
                return held;
            }
            held = self.step_down(held);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            hihi: Some(100.0),
            hi: Some(80.0),
            lo: Some(10.0),
            lolo: Some(0.0),
            deadband: 2.0,
        }
    }

    #[test]
    fn levels_escalate_at_once_and_clear_past_the_deadband() {
        let l = limits();
        let mut at = Level::Normal;
        let mut walk = |v: f64| {
            at = l.level(v, at);
            at
        };
        assert_eq!(walk(50.0), Level::Normal);
        assert_eq!(walk(80.0), Level::Hi, "at the limit");
        assert_eq!(walk(79.0), Level::Hi, "inside the deadband");
        assert_eq!(walk(101.0), Level::HiHi);
        assert_eq!(walk(99.0), Level::HiHi, "hihi deadband");
        assert_eq!(
            walk(97.5),
            Level::Hi,
            "past the hihi deadband, still above hi"
        );
        assert_eq!(walk(78.5), Level::Hi);
        assert_eq!(walk(77.9), Level::Normal);
        assert_eq!(walk(10.0), Level::Lo);
        assert_eq!(walk(11.5), Level::Lo);
        assert_eq!(walk(-1.0), Level::LoLo);
        assert_eq!(walk(120.0), Level::HiHi, "straight to the other side");
        assert_eq!(walk(f64::NAN), Level::HiHi, "NaN changes nothing");
        assert_eq!(walk(5.0), Level::Lo);
    }

    #[test]
    fn a_single_limit_and_no_deadband() {
        let l = Limits {
            hihi: None,
            hi: Some(1.0),
            lo: None,
            lolo: None,
            deadband: 0.0,
        };
        assert_eq!(l.level(1.0, Level::Normal), Level::Hi);
        assert_eq!(l.level(0.99, Level::Hi), Level::Normal);
        assert_eq!(l.level(-1e9, Level::Normal), Level::Normal);
        assert_eq!(Level::HiHi.severity(), "critical");
    }
}
