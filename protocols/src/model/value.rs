//! Typed sample values.

use std::fmt;

/// A sampled value. Integer types keep their signedness; scaled integers become `Float`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A coil, discrete input, bit or boolean node.
    Bool(bool),
    /// A signed integer (i16, i32, i64 sources).
    Int(i64),
    /// An unsigned integer (u16, u32, u64 sources).
    UInt(u64),
    /// A floating-point value (f32, f64 sources, or any scaled integer).
    Float(f64),
    /// A string (fixed-length register strings, OPC UA strings).
    Text(String),
}

impl Value {
    /// The value as `f64` where that is meaningful (booleans become 0/1; text is `None`).
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(f64::from(u8::from(*b))),
            Value::Int(i) => Some(*i as f64),
            Value::UInt(u) => Some(*u as f64),
            Value::Float(f) => Some(*f),
            Value::Text(_) => None,
        }
    }

    /// The name of the variant, as used in tag metadata and JSON (`bool`, `int`, `uint`, `float`, `text`).
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::UInt(_) => "uint",
            Value::Float(_) => "float",
            Value::Text(_) => "text",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::UInt(u) => write!(f, "{u}"),
            Value::Float(x) => write!(f, "{x}"),
            Value::Text(s) => f.write_str(s),
        }
    }
}
