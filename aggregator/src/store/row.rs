//! How a sample maps to the `points` columns and back, shared by both backends.
//!
//! - `value_kind`: 0 bool, 1 int, 2 uint, 3 float, 4 text; NULL when the point has no value.
//! - `value_num`: the numeric value (bool as 0/1) — what aggregates use.
//! - `value_text`: text values; also the exact decimal of an int/uint beyond ±2^53 (where
//!   `value_num` is only approximate) and `NaN`/`inf`/`-inf` floats (SQLite cannot store
//!   NaN, so non-finite floats keep `value_num` NULL on both backends and stay out of
//!   aggregates).
//! - `quality`: `QualityLevel::code`; `reason`: the non-good reason.

use protocols::model::{Quality, QualityLevel, Value};

/// `value_kind` codes.
pub(crate) const KIND_BOOL: i16 = 0;
pub(crate) const KIND_INT: i16 = 1;
pub(crate) const KIND_UINT: i16 = 2;
pub(crate) const KIND_FLOAT: i16 = 3;
pub(crate) const KIND_TEXT: i16 = 4;

/// Largest magnitude an `f64` holds exactly for every integer up to it.
const F64_EXACT_INT: u64 = 1 << 53;

/// The value columns of one point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ValueColumns {
    pub(crate) num: Option<f64>,
    pub(crate) text: Option<String>,
    pub(crate) kind: Option<i16>,
}

pub(crate) fn to_columns(value: Option<&Value>) -> ValueColumns {
    let (num, text, kind) = match value {
        None => (None, None, None),
        Some(Value::Bool(b)) => (Some(f64::from(u8::from(*b))), None, Some(KIND_BOOL)),
        Some(Value::Int(i)) => {
            let exact = (i.unsigned_abs() > F64_EXACT_INT).then(|| i.to_string());
            (Some(*i as f64), exact, Some(KIND_INT))
        }
        Some(Value::UInt(u)) => {
            let exact = (*u > F64_EXACT_INT).then(|| u.to_string());
            (Some(*u as f64), exact, Some(KIND_UINT))
        }
        Some(Value::Float(f)) if f.is_finite() => (Some(*f), None, Some(KIND_FLOAT)),
        Some(Value::Float(f)) => (None, Some(f.to_string()), Some(KIND_FLOAT)),
        Some(Value::Text(s)) => (None, Some(s.clone()), Some(KIND_TEXT)),
    };
    ValueColumns { num, text, kind }
}

/// Rebuilds a value from its columns; `Err` names what is inconsistent.
pub(crate) fn from_columns(
    kind: Option<i64>,
    num: Option<f64>,
    text: Option<String>,
) -> Result<Option<Value>, String> {
    let Some(kind) = kind else {
        return Ok(None);
    };
    let missing = || format!("value_kind {kind} without a value");
    let value = match i16::try_from(kind).unwrap_or(-1) {
        KIND_BOOL => Value::Bool(num.ok_or_else(missing)? != 0.0),
        KIND_INT => match text {
            Some(t) => Value::Int(t.parse().map_err(|_| format!("bad exact int '{t}'"))?),
            None => Value::Int(num.ok_or_else(missing)? as i64),
        },
        KIND_UINT => match text {
            Some(t) => Value::UInt(t.parse().map_err(|_| format!("bad exact uint '{t}'"))?),
            None => Value::UInt(num.ok_or_else(missing)? as u64),
        },
        KIND_FLOAT => match (num, text) {
            (Some(f), _) => Value::Float(f),
            (None, Some(t)) => Value::Float(t.parse().map_err(|_| format!("bad float '{t}'"))?),
            (None, None) => return Err(missing()),
        },
        KIND_TEXT => Value::Text(text.ok_or_else(missing)?),
        _ => return Err(format!("unknown value_kind {kind}")),
    };
    Ok(Some(value))
}

/// The quality column code.
pub(crate) fn quality_code(q: &Quality) -> i16 {
    i16::from(q.level().code())
}

pub(crate) fn quality_from(code: i64, reason: Option<String>) -> Result<Quality, String> {
    let level = u8::try_from(code)
        .ok()
        .and_then(QualityLevel::from_code)
        .ok_or_else(|| format!("unknown quality code {code}"))?;
    Ok(Quality::from_parts(level, reason))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn round_trip(v: Value) -> Value {
        let c = to_columns(Some(&v));
        from_columns(c.kind.map(i64::from), c.num, c.text)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn every_kind_round_trips() {
        for v in [
            Value::Bool(true),
            Value::Bool(false),
            Value::Int(-42),
            Value::Int(i64::MIN),
            Value::UInt(u64::MAX),
            Value::UInt(1480),
            Value::Float(12.5),
            Value::Float(f64::INFINITY),
            Value::Text("Auto".into()),
        ] {
            assert_eq!(round_trip(v.clone()), v);
        }
        assert!(matches!(round_trip(Value::Float(f64::NAN)), Value::Float(f) if f.is_nan()));
    }

    #[test]
    fn columns_for_aggregates() {
        assert_eq!(to_columns(Some(&Value::Bool(true))).num, Some(1.0));
        assert_eq!(to_columns(Some(&Value::UInt(7))).text, None);
        assert_eq!(to_columns(Some(&Value::Float(f64::NAN))).num, None);
        assert_eq!(
            to_columns(None),
            ValueColumns {
                num: None,
                text: None,
                kind: None
            }
        );
        assert!(from_columns(Some(9), Some(1.0), None).is_err());
    }

    #[test]
    fn quality_codes() {
        let q = Quality::Bad("timeout".into());
        assert_eq!(quality_code(&q), 2);
        assert_eq!(quality_from(2, Some("timeout".into())).unwrap(), q);
        assert_eq!(quality_from(0, None).unwrap(), Quality::Good);
        assert!(quality_from(7, None).is_err());
    }
}
