//! Validated identifiers: agents, assets (ISA-95 site/area/line/asset) and tags.
//!
//! Every segment is 1..=64 characters from `[A-Za-z0-9_.:-]`, so identifiers are safe as
//! MQTT topic levels (no `/`, `+`, `#`, `$`) and in URLs without escaping. Identifiers are
//! cheap to clone (`Arc<str>`).

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

/// Longest allowed identifier segment, in characters.
pub const MAX_SEGMENT_LEN: usize = 64;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A segment is empty (for example `a//b`).
    #[error("{kind} '{input}': empty segment")]
    Empty {
        /// Which identifier kind was being parsed.
        kind: &'static str,
        /// The rejected input.
        input: String,
    },
    /// A segment is longer than [`MAX_SEGMENT_LEN`].
    #[error("{kind} '{input}': segment longer than {MAX_SEGMENT_LEN} characters")]
    TooLong {
        /// Which identifier kind was being parsed.
        kind: &'static str,
        /// The rejected input.
        input: String,
    },
    /// A segment holds a character outside `[A-Za-z0-9_.:-]`.
    #[error("{kind} '{input}': character {ch:?} not allowed (use A-Z a-z 0-9 _ . : -)")]
    BadChar {
        /// Which identifier kind was being parsed.
        kind: &'static str,
        /// The rejected input.
        input: String,
        /// The first offending character.
        ch: char,
    },
    /// The number of `/`-separated segments is wrong.
    #[error("{kind} '{input}': expected {expected} '/'-separated segments, found {found}")]
    Segments {
        /// Which identifier kind was being parsed.
        kind: &'static str,
        /// The rejected input.
        input: String,
        /// Segments required.
        expected: usize,
        /// Segments found.
        found: usize,
    },
}

fn check_segment(kind: &'static str, input: &str, seg: &str) -> Result<(), IdError> {
    if seg.is_empty() {
        return Err(IdError::Empty {
            kind,
            input: input.to_owned(),
        });
    }
    if seg.chars().count() > MAX_SEGMENT_LEN {
        return Err(IdError::TooLong {
            kind,
            input: input.to_owned(),
        });
    }
    if let Some(ch) = seg
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-')))
    {
        return Err(IdError::BadChar {
            kind,
            input: input.to_owned(),
            ch,
        });
    }
    Ok(())
}

fn check_path(kind: &'static str, input: &str, expected: usize) -> Result<(), IdError> {
    let found = input.split('/').count();
    if found != expected {
        return Err(IdError::Segments {
            kind,
            input: input.to_owned(),
            expected,
            found,
        });
    }
    input
        .split('/')
        .try_for_each(|seg| check_segment(kind, input, seg))
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $segments:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates and wraps `s`.
            pub fn new(s: &str) -> Result<Self, IdError> {
                check_path($kind, s, $segments)?;
                Ok(Self(Arc::from(s)))
            }

            /// The identifier as a string.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::new(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), &*self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An edge agent's identity, one topic level (e.g. `edge-01`).
    AgentId, "agent id", 1
);
string_id!(
    /// An ISA-95 style asset path: `site/area/line/asset` (e.g. `demo/hall-1/line-1/motor-01`).
    AssetPath, "asset path", 4
);
string_id!(
    /// A tag: an asset path plus the tag's name (e.g. `demo/hall-1/line-1/motor-01/speed`).
    TagId, "tag id", 5
);

impl AssetPath {
    /// Builds a path from its four segments.
    pub fn from_parts(site: &str, area: &str, line: &str, asset: &str) -> Result<Self, IdError> {
        Self::new(&format!("{site}/{area}/{line}/{asset}"))
    }

    fn segment(&self, i: usize) -> &str {
        // Invariant: validated to exactly four segments.
        self.0.split('/').nth(i).unwrap_or_default()
    }

    /// The site segment.
    pub fn site(&self) -> &str {
        self.segment(0)
    }
    /// The area segment.
    pub fn area(&self) -> &str {
        self.segment(1)
    }
    /// The line segment.
    pub fn line(&self) -> &str {
        self.segment(2)
    }
    /// The asset's own name (last segment).
    pub fn name(&self) -> &str {
        self.segment(3)
    }
}

impl TagId {
    /// Builds a tag id from its asset and the tag's name.
    pub fn from_parts(asset: &AssetPath, name: &str) -> Result<Self, IdError> {
        Self::new(&format!("{asset}/{name}"))
    }

    /// The asset this tag belongs to.
    pub fn asset(&self) -> AssetPath {
        let cut = self.0.rfind('/').unwrap_or(0);
        AssetPath(Arc::from(&self.0[..cut]))
    }

    /// The tag's own name (last segment).
    pub fn name(&self) -> &str {
        let cut = self.0.rfind('/').map_or(0, |i| i + 1);
        &self.0[cut..]
    }

    /// Whether this tag belongs to `asset`.
    pub fn belongs_to(&self, asset: &AssetPath) -> bool {
        self.0.len() > asset.0.len()
            && self.0.starts_with(&*asset.0)
            && self.0.as_bytes()[asset.0.len()] == b'/'
            && !self.0[asset.0.len() + 1..].contains('/')
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn valid_ids_round_trip() {
        let asset = AssetPath::from_parts("demo", "hall-1", "line-1", "motor-01").unwrap();
        assert_eq!(asset.site(), "demo");
        assert_eq!(asset.area(), "hall-1");
        assert_eq!(asset.line(), "line-1");
        assert_eq!(asset.name(), "motor-01");
        let tag = TagId::from_parts(&asset, "speed").unwrap();
        assert_eq!(tag.as_str(), "demo/hall-1/line-1/motor-01/speed");
        assert_eq!(tag.asset(), asset);
        assert_eq!(tag.name(), "speed");
        assert!(tag.belongs_to(&asset));
        let other = AssetPath::new("demo/hall-1/line-1/motor-0").unwrap();
        assert!(!tag.belongs_to(&other));
    }

    #[test]
    fn invalid_ids_are_rejected_with_reason() {
        assert!(matches!(AgentId::new(""), Err(IdError::Empty { .. })));
        assert!(matches!(
            AgentId::new("a/b"),
            Err(IdError::Segments { found: 2, .. })
        ));
        assert!(matches!(
            AgentId::new("a+b"),
            Err(IdError::BadChar { ch: '+', .. })
        ));
        assert!(matches!(
            AgentId::new("a#"),
            Err(IdError::BadChar { ch: '#', .. })
        ));
        assert!(matches!(
            AssetPath::new("a/b/c"),
            Err(IdError::Segments { .. })
        ));
        assert!(matches!(TagId::new("a/b//d/e"), Err(IdError::Empty { .. })));
        assert!(matches!(
            AgentId::new(&"x".repeat(65)),
            Err(IdError::TooLong { .. })
        ));
        let msg = AgentId::new("bad id").unwrap_err().to_string();
        assert!(msg.contains("'bad id'") && msg.contains("' '"), "{msg}");
    }
}
