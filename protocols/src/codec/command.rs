//! JSON wire form of commands and their results (`Topic::Command`, `Topic::CommandResult`).
//!
//! ```json
//! {"v":1,"kind":"write","id":"c-17","tag":"demo/hall-1/line-1/motor-01/speed_setpoint",
//!  "value":1500,"user":"alice","comment":"night shift"}
//! {"v":1,"kind":"write-result","id":"c-17","tag":"demo/hall-1/line-1/motor-01/speed_setpoint",
//!  "status":"ok","old":1400,"new":1500,"ts_ns":1700000000000000000}
//! ```
//!
//! Commands are JSON only (they come from operators' tools, not from the hot data path).
//! Values are plain JSON: `true`/`false`, numbers, strings. A number without a fraction or
//! exponent is an integer (`UInt` when non-negative, else `Int`); any other number is a
//! float (`1500.0` is a float, which an integer tag accepts since it is whole). `error`,
//! `old` and `new` are omitted when absent.
//!
//! Decoding a command never fails silently: [`decode_command`] returns the command's `id`
//! with the reason whenever the id could be read, so the agent can answer `rejected`.

use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

use super::CodecError;
use crate::model::{
    MAX_COMMAND_ID_LEN, MAX_COMMAND_TEXT_LEN, TagId, Value, WriteCommand, WriteResult, WriteStatus,
};

/// `"kind"` of a write command.
pub const KIND_WRITE: &str = "write";
/// `"kind"` of a write result.
pub const KIND_WRITE_RESULT: &str = "write-result";
/// Largest command payload accepted, in bytes.
pub const MAX_COMMAND_BYTES: usize = 64 * 1024;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonCommand {
    v: u8,
    kind: String,
    id: String,
    tag: String,
    value: Json,
    user: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    comment: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct JsonResult {
    v: u8,
    kind: String,
    id: String,
    tag: String,
    status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    old: Option<Json>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    new: Option<Json>,
    ts_ns: i64,
}

/// Why a command payload is not a usable command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct CommandError {
    /// The command's id, if it could be read (then the sender gets a `rejected` result).
    pub id: Option<String>,
    /// The tag as given, if it could be read.
    pub tag: Option<String>,
    /// What is wrong.
    pub reason: String,
}

/// Encodes a command.
pub fn encode_command(cmd: &WriteCommand) -> Result<Vec<u8>, CodecError> {
    let json = JsonCommand {
        v: 1,
        kind: KIND_WRITE.to_owned(),
        id: cmd.id.clone(),
        tag: cmd.tag.to_string(),
        value: value_to_json(&cmd.value).ok_or_else(|| CodecError::NonFinite {
            tag: cmd.tag.to_string(),
        })?,
        user: cmd.user.clone(),
        comment: cmd.comment.clone(),
    };
    serde_json::to_vec(&json).map_err(|e| CodecError::Json(e.to_string()))
}

/// Decodes and checks a command.
pub fn decode_command(payload: &[u8]) -> Result<WriteCommand, CommandError> {
    let fail =
        |id: Option<String>, tag: Option<String>, reason: String| CommandError { id, tag, reason };
    if payload.len() > MAX_COMMAND_BYTES {
        return Err(fail(
            None,
            None,
            format!(
                "command of {} bytes exceeds the {MAX_COMMAND_BYTES} byte limit",
                payload.len()
            ),
        ));
    }
    let raw: Json = serde_json::from_slice(payload)
        .map_err(|e| fail(None, None, format!("malformed JSON: {e}")))?;
    let id = raw.get("id").and_then(Json::as_str).map(str::to_owned);
    let tag = raw.get("tag").and_then(Json::as_str).map(str::to_owned);
    let bad = |reason: String| fail(id.clone(), tag.clone(), reason);
    let cmd: JsonCommand =
        serde_json::from_value(raw.clone()).map_err(|e| bad(format!("malformed command: {e}")))?;
    if cmd.v != 1 {
        return Err(bad(format!("unsupported command version {}", cmd.v)));
    }
    if cmd.kind != KIND_WRITE {
        return Err(bad(format!(
            "unknown command kind '{}' (expected '{KIND_WRITE}')",
            cmd.kind
        )));
    }
    if cmd.id.is_empty()
        || cmd.id.len() > MAX_COMMAND_ID_LEN
        || cmd.id.chars().any(char::is_control)
    {
        return Err(fail(
            None,
            tag.clone(),
            format!(
                "invalid id: must be 1 to {MAX_COMMAND_ID_LEN} bytes without control characters"
            ),
        ));
    }
    if cmd.user.trim().is_empty() {
        return Err(bad("invalid user: must not be empty".to_owned()));
    }
    let long = cmd.user.len() > MAX_COMMAND_TEXT_LEN
        || cmd
            .comment
            .as_ref()
            .is_some_and(|c| c.len() > MAX_COMMAND_TEXT_LEN);
    if long {
        return Err(bad(format!(
            "user and comment must be at most {MAX_COMMAND_TEXT_LEN} bytes"
        )));
    }
    let tag_id = TagId::new(&cmd.tag).map_err(|e| bad(format!("invalid tag: {e}")))?;
    let value = value_from_json(&cmd.value).ok_or_else(|| {
        bad(format!(
            "invalid value {}: expected a boolean, number or string",
            cmd.value
        ))
    })?;
    Ok(WriteCommand {
        id: cmd.id,
        tag: tag_id,
        value,
        user: cmd.user,
        comment: cmd.comment,
    })
}

/// Encodes a result.
pub fn encode_result(result: &WriteResult) -> Result<Vec<u8>, CodecError> {
    let value = |v: &Option<Value>| -> Result<Option<Json>, CodecError> {
        v.as_ref()
            .map(|v| {
                value_to_json(v).ok_or_else(|| CodecError::NonFinite {
                    tag: result.tag.clone(),
                })
            })
            .transpose()
    };
    let json = JsonResult {
        v: 1,
        kind: KIND_WRITE_RESULT.to_owned(),
        id: result.id.clone(),
        tag: result.tag.clone(),
        status: result.status.as_str().to_owned(),
        error: result.error.clone(),
        old: value(&result.old)?,
        new: value(&result.new)?,
        ts_ns: result.ts_ns,
    };
    serde_json::to_vec(&json).map_err(|e| CodecError::Json(e.to_string()))
}

/// Decodes a result.
pub fn decode_result(payload: &[u8]) -> Result<WriteResult, CodecError> {
    let r: JsonResult =
        serde_json::from_slice(payload).map_err(|e| CodecError::Json(e.to_string()))?;
    if r.v != 1 {
        return Err(CodecError::UnsupportedVersion { version: r.v });
    }
    if r.kind != KIND_WRITE_RESULT {
        return Err(CodecError::UnknownKind { kind: r.kind });
    }
    let status = WriteStatus::parse(&r.status).ok_or_else(|| CodecError::Invalid {
        field: "status",
        reason: format!("'{}' is not ok, rejected or failed", r.status),
    })?;
    let value = |field: &'static str, v: Option<Json>| -> Result<Option<Value>, CodecError> {
        v.map(|j| {
            value_from_json(&j).ok_or_else(|| CodecError::Invalid {
                field,
                reason: format!("{j} is not a boolean, number or string"),
            })
        })
        .transpose()
    };
    Ok(WriteResult {
        id: r.id,
        tag: r.tag,
        status,
        error: r.error,
        old: value("old", r.old)?,
        new: value("new", r.new)?,
        ts_ns: r.ts_ns,
    })
}

/// A value as plain JSON; `None` for NaN and infinities.
fn value_to_json(v: &Value) -> Option<Json> {
    Some(match v {
        Value::Bool(b) => Json::from(*b),
        Value::Int(i) => Json::from(*i),
        Value::UInt(u) => Json::from(*u),
        Value::Float(f) => Json::Number(serde_json::Number::from_f64(*f)?),
        Value::Text(s) => Json::from(s.as_str()),
    })
}

/// Plain JSON as a value (see the module docs for the inference rule).
fn value_from_json(j: &Json) -> Option<Value> {
    match j {
        Json::Bool(b) => Some(Value::Bool(*b)),
        Json::Number(n) => n
            .as_u64()
            .map(Value::UInt)
            .or_else(|| n.as_i64().map(Value::Int))
            .or_else(|| n.as_f64().map(Value::Float)),
        Json::String(s) => Some(Value::Text(s.clone())),
        Json::Null | Json::Array(_) | Json::Object(_) => None,
    }
}
