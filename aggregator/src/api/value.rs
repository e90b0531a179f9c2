//! JSON forms shared by several endpoints: values keep their JSON type (bool, integer,
//! float, string); non-finite floats, which JSON cannot carry, become `null`.

use protocols::model::Value;
use serde_json::{Number, Value as Json};

pub(crate) fn value_json(v: Option<&Value>) -> Json {
    match v {
        None => Json::Null,
        Some(Value::Bool(b)) => Json::Bool(*b),
        Some(Value::Int(i)) => Json::from(*i),
        Some(Value::UInt(u)) => Json::from(*u),
        Some(Value::Float(f)) => Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Some(Value::Text(s)) => Json::String(s.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
}
