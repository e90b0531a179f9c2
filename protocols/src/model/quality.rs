//! How far a sample can be trusted, and why not.
//!
//! A failing device never produces silence: its tags get points with [`Quality::Bad`] and a
//! reason ("timeout", "connection refused", "exception 02 illegal data address", ...).

use std::fmt;

/// The quality of a sample. Non-good qualities carry a short human-readable reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quality {
    /// The value is what the device reported.
    Good,
    /// The value is present but doubtful (e.g. last known value, sensor out of range).
    Uncertain(String),
    /// No trustworthy value (device unreachable, exception, decode failure).
    Bad(String),
}

/// The level of a [`Quality`], without its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum QualityLevel {
    /// See [`Quality::Good`].
    Good = 0,
    /// See [`Quality::Uncertain`].
    Uncertain = 1,
    /// See [`Quality::Bad`].
    Bad = 2,
}

impl Quality {
    /// The level without the reason.
    pub fn level(&self) -> QualityLevel {
        match self {
            Quality::Good => QualityLevel::Good,
            Quality::Uncertain(_) => QualityLevel::Uncertain,
            Quality::Bad(_) => QualityLevel::Bad,
        }
    }

    /// The reason, for non-good qualities.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Quality::Good => None,
            Quality::Uncertain(r) | Quality::Bad(r) => Some(r),
        }
    }

    /// Rebuilds a quality from its level and reason (an absent reason becomes empty).
    pub fn from_parts(level: QualityLevel, reason: Option<String>) -> Self {
        match level {
            QualityLevel::Good => Quality::Good,
            QualityLevel::Uncertain => Quality::Uncertain(reason.unwrap_or_default()),
            QualityLevel::Bad => Quality::Bad(reason.unwrap_or_default()),
        }
    }

    /// Whether this is [`Quality::Good`].
    pub fn is_good(&self) -> bool {
        matches!(self, Quality::Good)
    }
}

impl QualityLevel {
    /// Lower-case name: `good`, `uncertain` or `bad`.
    pub fn as_str(self) -> &'static str {
        match self {
            QualityLevel::Good => "good",
            QualityLevel::Uncertain => "uncertain",
            QualityLevel::Bad => "bad",
        }
    }

    /// Parses [`QualityLevel::as_str`] output.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "good" => Some(QualityLevel::Good),
            "uncertain" => Some(QualityLevel::Uncertain),
            "bad" => Some(QualityLevel::Bad),
            _ => None,
        }
    }

    /// The numeric code stored in databases (0 good, 1 uncertain, 2 bad).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`QualityLevel::code`].
    pub fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(QualityLevel::Good),
            1 => Some(QualityLevel::Uncertain),
            2 => Some(QualityLevel::Bad),
            _ => None,
        }
    }
}

impl fmt::Display for QualityLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
