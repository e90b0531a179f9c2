//! Validation of write commands against the configuration, I/O-free: which tags exist,
//! which are writable, and whether a value fits a tag's type, range and limits.
//!
//! Checks, in this order, each with its own reason: the tag exists in this agent's
//! configuration; it is `writable = true`; a numeric value lies within the tag's `min`/`max`
//! (engineering units, inclusive); the value encodes for the tag's type (kind, whole number
//! for unscaled integers, range of the raw value; see `protocols::modbus::encode`). A
//! command that passes becomes a [`Accepted`] write request for the owning device.

use std::collections::HashMap;

use protocols::modbus::{RegisterTag, WriteAction, encode_value};
use protocols::model::{TagId, Value, WriteCommand};

use crate::settings::{DeviceSettings, DeviceSource, WriteAccess};

/// One configured tag, as far as writes are concerned.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The owning device's id.
    pub device: String,
    /// The tag's register description.
    pub tag: RegisterTag,
    /// `None` for a read-only tag.
    pub access: Option<WriteAccess>,
}

/// A command that passed validation.
#[derive(Debug, Clone, PartialEq)]
pub struct Accepted {
    /// The device that executes it.
    pub device: String,
    /// The tag written.
    pub tag: RegisterTag,
    /// The encoded request (FC5/6/15/16).
    pub request: WriteAction,
}

/// Every tag of the configuration, by id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteTargets {
    tags: HashMap<TagId, Target>,
}

impl WriteTargets {
    /// The targets of `devices`.
    pub fn from_devices(devices: &[DeviceSettings]) -> Self {
        let mut tags = HashMap::new();
        for device in devices {
            match &device.source {
                DeviceSource::Modbus { map, .. } => {
                    for (i, tag) in map.tags().iter().enumerate() {
                        let access = device.tags.get(i).and_then(|t| t.write);
                        tags.insert(
                            tag.id().clone(),
                            Target {
                                device: device.id.clone(),
                                tag: tag.clone(),
                                access,
                            },
                        );
                    }
                }
            }
        }
        Self { tags }
    }

    /// Number of writable tags.
    pub fn writable(&self) -> usize {
        self.tags.values().filter(|t| t.access.is_some()).count()
    }

    /// Validates `cmd`; the error is the reason for a `rejected` result.
    pub fn check(&self, cmd: &WriteCommand) -> Result<Accepted, String> {
        let target = self
            .tags
            .get(&cmd.tag)
            .ok_or_else(|| format!("unknown tag {} (not configured on this agent)", cmd.tag))?;
        let Some(access) = target.access else {
            return Err(format!(
                "tag {} is not writable (set writable = true in the agent configuration)",
                cmd.tag
            ));
        };
        if let Value::Int(_) | Value::UInt(_) | Value::Float(_) = cmd.value
            && let Some(v) = cmd.value.as_f64()
        {
            if let Some(min) = access.min.filter(|&min| v < min) {
                return Err(format!("value {} is below the tag's min {min}", cmd.value));
            }
            if let Some(max) = access.max.filter(|&max| v > max) {
                return Err(format!("value {} is above the tag's max {max}", cmd.value));
            }
        }
        let encoded = encode_value(&target.tag, &cmd.value).map_err(|e| e.to_string())?;
        let request = WriteAction::for_tag(&target.tag, encoded).map_err(|e| e.to_string())?;
        Ok(Accepted {
            device: target.device.clone(),
            tag: target.tag.clone(),
            request,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use protocols::modbus::{WriteData, WriteRequest};

    use super::*;

    const CONFIG: &str = include_str!("../../../deploy/edge-agent.reference.toml");

    fn targets() -> WriteTargets {
        let s = crate::config::parse(CONFIG, "reference.toml").unwrap();
        WriteTargets::from_devices(&s.devices)
    }

    fn cmd(tag: &str, value: Value) -> WriteCommand {
        WriteCommand {
            id: "c".into(),
            tag: TagId::new(&format!("demo/hall-1/line-1/motor-01/{tag}")).unwrap(),
            value,
            user: "u".into(),
            comment: None,
        }
    }

    #[test]
    fn accepts_writable_tags_within_limits() {
        let t = targets();
        assert_eq!(t.writable(), 2);
        let a = t.check(&cmd("setpoint", Value::UInt(1500))).unwrap();
        assert_eq!(a.device, "motor-01");
        let plain = |a: &Accepted| match &a.request {
            WriteAction::Request(WriteRequest { data, .. }) => data.clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(plain(&a), WriteData::Registers(vec![1500]));
        assert_eq!(a.request.function_code(), 6);
        let a = t.check(&cmd("setpoint", Value::Float(3000.0))).unwrap();
        assert_eq!(plain(&a), WriteData::Registers(vec![3000]));
        let a = t.check(&cmd("running", Value::Bool(true))).unwrap();
        assert_eq!(a.request.function_code(), 5);
    }

    #[test]
    fn rejects_with_a_reason() {
        let t = targets();
        let reason = |tag: &str, v: Value| t.check(&cmd(tag, v)).unwrap_err();
        assert!(reason("nope", Value::UInt(1)).contains("unknown tag"));
        assert!(reason("speed", Value::UInt(1)).contains("is not writable"));
        assert!(reason("setpoint", Value::UInt(3001)).contains("above the tag's max 3000"));
        assert!(reason("setpoint", Value::Int(-1)).contains("below the tag's min 0"));
        assert!(reason("setpoint", Value::Text("1".into())).contains("type mismatch"));
        assert!(reason("setpoint", Value::Bool(true)).contains("type mismatch"));
        assert!(reason("setpoint", Value::Float(1.5)).contains("whole numbers"));
        assert!(reason("running", Value::UInt(1)).contains("type mismatch"));
    }
}
