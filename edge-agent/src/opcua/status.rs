//! OPC UA data values to Sentia points: `StatusCode` to [`Quality`] (Good -> good,
//! Uncertain* -> uncertain, Bad* -> bad, the status name as the reason), `Variant` to
//! [`Value`], and the source timestamp kept (the receive time only when the server sent
//! none).

use opcua::types::{DataValue, DateTime, StatusCode, Variant};
use protocols::model::{Point, Quality, TagId, Value, now_ns};

/// The quality a status code stands for.
pub(crate) fn quality(status: StatusCode) -> Quality {
    if status.is_good() {
        Quality::Good
    } else if status.is_uncertain() {
        Quality::Uncertain(status_name(status))
    } else {
        Quality::Bad(status_name(status))
    }
}

/// `BadNodeIdUnknown`, `UncertainLastUsableValue`, ... (the numeric code when unnamed).
pub(crate) fn status_name(status: StatusCode) -> String {
    let name = status.sub_code().name();
    if name.is_empty() {
        format!("0x{:08X}", status.bits())
    } else {
        name.to_owned()
    }
}

/// A scalar variant as a value; `None` for empty, arrays and structures.
pub(crate) fn value(v: &Variant) -> Option<Value> {
    Some(match v {
        Variant::Boolean(b) => Value::Bool(*b),
        Variant::SByte(x) => Value::Int(i64::from(*x)),
        Variant::Int16(x) => Value::Int(i64::from(*x)),
        Variant::Int32(x) => Value::Int(i64::from(*x)),
        Variant::Int64(x) => Value::Int(*x),
        Variant::Byte(x) => Value::UInt(u64::from(*x)),
        Variant::UInt16(x) => Value::UInt(u64::from(*x)),
        Variant::UInt32(x) => Value::UInt(u64::from(*x)),
        Variant::UInt64(x) => Value::UInt(*x),
        Variant::Float(x) => Value::Float(f64::from(*x)),
        Variant::Double(x) => Value::Float(*x),
        Variant::String(s) => Value::Text(s.as_ref().to_owned()),
        Variant::LocalizedText(t) => Value::Text(t.text.as_ref().to_owned()),
        Variant::DateTime(t) => Value::Int(ns(t)?),
        Variant::StatusCode(s) => Value::UInt(u64::from(s.bits())),
        _ => return None,
    })
}

/// Nanoseconds since the Unix epoch; `None` for a null (MinValue) time.
pub(crate) fn ns(t: &DateTime) -> Option<i64> {
    if t.is_null() {
        return None;
    }
    t.as_chrono().timestamp_nanos_opt()
}

/// The point for one data value of `tag`.
pub(crate) fn point(tag: &TagId, dv: &DataValue) -> Point {
    let ts = dv
        .source_timestamp
        .as_ref()
        .and_then(ns)
        .or_else(|| dv.server_timestamp.as_ref().and_then(ns))
        .unwrap_or_else(now_ns);
    let status = dv.status.unwrap_or(StatusCode::Good);
    let quality = quality(status);
    if let Quality::Bad(reason) = &quality {
        return Point::bad(tag.clone(), ts, reason.as_str());
    }
    match dv.value.as_ref().map(value) {
        Some(Some(v)) => Point {
            tag: tag.clone(),
            ts_ns: ts,
            value: Some(v),
            quality,
        },
        Some(None) => Point::bad(
            tag.clone(),
            ts,
            "unsupported OPC UA value type (array, structure or empty)",
        ),
        None => Point::bad(tag.clone(), ts, "no value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_map_to_quality_levels_with_names() {
        assert_eq!(quality(StatusCode::Good), Quality::Good);
        assert_eq!(
            quality(StatusCode::UncertainLastUsableValue),
            Quality::Uncertain("UncertainLastUsableValue".into())
        );
        assert_eq!(
            quality(StatusCode::BadNodeIdUnknown),
            Quality::Bad("BadNodeIdUnknown".into())
        );
    }

    #[test]
    fn bad_status_wins_over_a_value_and_source_timestamp_is_kept() {
        let tag = TagId::new("s/a/l/m/speed").expect("tag");
        let mut dv = DataValue::new_now(Variant::Double(1.5));
        dv.status = Some(StatusCode::BadSensorFailure);
        let p = point(&tag, &dv);
        assert_eq!(p.quality, Quality::Bad("BadSensorFailure".into()));
        assert_eq!(p.value, None);
        let dv = DataValue::new_now(Variant::Int16(-3));
        let p = point(&tag, &dv);
        assert_eq!(p.value, Some(Value::Int(-3)));
        let src = dv.source_timestamp.as_ref().and_then(ns).expect("ts");
        assert_eq!(p.ts_ns, src);
    }
}
