//! JSON forms shared by several endpoints: values keep their JSON type (bool, integer,
//! float, string); non-finite floats, which JSON cannot carry, become `null`.

use protocols::model::{TagId, Value};
use serde::{Serialize, Serializer};

use crate::cache::LatestValue;

/// A value serialized as [`value_json`] would build it, without the intermediate tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueRef<'a>(pub(crate) Option<&'a Value>);

impl Serialize for ValueRef<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            None => s.serialize_none(),
            Some(Value::Bool(b)) => s.serialize_bool(*b),
            Some(Value::Int(i)) => s.serialize_i64(*i),
            Some(Value::UInt(u)) => s.serialize_u64(*u),
            Some(Value::Float(f)) if f.is_finite() => s.serialize_f64(*f),
            Some(Value::Float(_)) => s.serialize_none(),
            Some(Value::Text(t)) => s.serialize_str(t),
        }
    }
}

/// One latest value as `/latest` and `/live` show it; `stale` only in `/latest`.
/// Serialized directly (no `serde_json::Value` tree): `/latest` of a 1000-tag asset is
/// dominated by this.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ValueEntry<'a> {
    /// Tag id.
    tag: &'a str,
    /// Number, bool, string, or `null` (no value, e.g. a bad-quality point).
    #[schema(value_type = serde_json::Value)]
    value: ValueRef<'a>,
    /// `bool`, `int`, `uint`, `float` or `text`; `null` without a value.
    value_type: Option<&'static str>,
    /// `good`, `uncertain` or `bad`.
    quality: &'static str,
    /// Why the quality is not good (device exception, timeout, ...).
    reason: Option<&'a str>,
    /// When the source sampled it (ns since the epoch).
    source_ts_ns: i64,
    /// When the aggregator received it (ns since the epoch).
    receive_ts_ns: i64,
    /// `/latest` only: not refreshed within the staleness rule's time.
    #[serde(skip_serializing_if = "Option::is_none")]
    stale: Option<bool>,
}

impl<'a> ValueEntry<'a> {
    pub(crate) fn new(tag: &'a TagId, v: &'a LatestValue, stale: Option<bool>) -> Self {
        Self {
            tag: tag.as_str(),
            value: ValueRef(v.value.as_ref()),
            value_type: v.value.as_ref().map(|v| v.kind()),
            quality: v.quality.level().as_str(),
            reason: v.quality.reason(),
            source_ts_ns: v.source_ts_ns,
            receive_ts_ns: v.receive_ts_ns,
            stale,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use serde_json::{Number, Value as Json, json};

    use super::*;

    /// The reference: a `serde_json::Value` built by hand.
    fn value_json(v: Option<&Value>) -> Json {
        match v {
            None => Json::Null,
            Some(Value::Bool(b)) => Json::Bool(*b),
            Some(Value::Int(i)) => Json::from(*i),
            Some(Value::UInt(u)) => Json::from(*u),
            Some(Value::Float(f)) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
            Some(Value::Text(s)) => Json::String(s.clone()),
        }
    }

    #[test]
    fn keeps_json_types() {
        assert_eq!(value_json(Some(&Value::UInt(1480))), json!(1480));
        assert_eq!(value_json(Some(&Value::Int(-2))), json!(-2));
        assert_eq!(value_json(Some(&Value::Float(1.5))), json!(1.5));
        assert_eq!(value_json(Some(&Value::Bool(true))), json!(true));
        assert_eq!(value_json(Some(&Value::Text("x".into()))), json!("x"));
        assert_eq!(value_json(Some(&Value::Float(f64::NAN))), Json::Null);
        assert_eq!(value_json(None), Json::Null);
    }

    #[test]
    fn value_ref_serializes_like_value_json() {
        for v in [
            Value::UInt(u64::MAX),
            Value::Int(-2),
            Value::Float(1.25),
            Value::Float(f64::INFINITY),
            Value::Bool(false),
            Value::Text("a\"b".into()),
        ] {
            let direct = serde_json::to_value(ValueRef(Some(&v))).unwrap();
            assert_eq!(direct, value_json(Some(&v)), "{v:?}");
        }
        assert_eq!(serde_json::to_value(ValueRef(None)).unwrap(), Json::Null);
    }
}
