//! Command and command-result wire form: golden fixtures, malformed commands and round trips.
//!
//! To regenerate the fixtures after a deliberate format change, run with `SENTIA_BLESS=1`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use protocols::codec::command::{decode_command, decode_result, encode_command, encode_result};
use protocols::model::*;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn check_golden(name: &str, bytes: &[u8]) {
    let path = fixture(name);
    if std::env::var_os("SENTIA_BLESS").is_some() {
        std::fs::write(&path, bytes).unwrap();
    }
    let pinned = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (run with SENTIA_BLESS=1 to create)",
            path.display()
        )
    });
    assert_eq!(
        pinned, bytes,
        "encoding of {name} changed: the command wire format changed, bump its version"
    );
}

fn setpoint() -> TagId {
    TagId::new("demo/hall-1/line-1/motor-01/speed_setpoint").unwrap()
}

fn sample_command() -> WriteCommand {
    WriteCommand {
        id: "c-17".into(),
        tag: setpoint(),
        value: Value::UInt(1500),
        user: "alice".into(),
        comment: Some("night shift".into()),
    }
}

fn sample_ok() -> WriteResult {
    WriteResult {
        id: "c-17".into(),
        tag: setpoint().to_string(),
        status: WriteStatus::Ok,
        error: None,
        old: Some(Value::UInt(1400)),
        new: Some(Value::UInt(1500)),
        ts_ns: 1_700_000_000_000_000_000,
    }
}

fn sample_rejected() -> WriteResult {
    WriteResult {
        id: "c-18".into(),
        tag: "demo/hall-1/line-1/motor-01/speed".into(),
        status: WriteStatus::Rejected,
        error: Some("tag is not writable".into()),
        old: None,
        new: None,
        ts_ns: 1_700_000_000_000_000_001,
    }
}

#[test]
fn golden_fixtures_pin_commands_and_results() {
    let cmd = encode_command(&sample_command()).unwrap();
    check_golden("write_command_v1.json", &cmd);
    assert_eq!(
        decode_command(&std::fs::read(fixture("write_command_v1.json")).unwrap()).unwrap(),
        sample_command()
    );
    for (name, result) in [
        ("write_result_ok_v1.json", sample_ok()),
        ("write_result_rejected_v1.json", sample_rejected()),
    ] {
        check_golden(name, &encode_result(&result).unwrap());
        assert_eq!(
            decode_result(&std::fs::read(fixture(name)).unwrap()).unwrap(),
            result
        );
    }
}

#[test]
fn malformed_commands_keep_the_id_when_it_is_readable() {
    let cases: [(&str, Option<&str>, &str); 8] = [
        ("not json", None, "malformed JSON"),
        (
            r#"{"v":1,"kind":"write","tag":"a/b/c/d/e","value":1,"user":"u"}"#,
            None,
            "missing field `id`",
        ),
        (
            r#"{"v":1,"kind":"write","id":"x","tag":"a/b/c/d","value":1,"user":"u"}"#,
            Some("x"),
            "invalid tag",
        ),
        (
            r#"{"v":1,"kind":"write","id":"x","tag":"a/b/c/d/e","value":null,"user":"u"}"#,
            Some("x"),
            "invalid value",
        ),
        (
            r#"{"v":1,"kind":"write","id":"x","tag":"a/b/c/d/e","value":[1],"user":"u"}"#,
            Some("x"),
            "invalid value",
        ),
        (
            r#"{"v":1,"kind":"write","id":"x","tag":"a/b/c/d/e","value":1,"user":" "}"#,
            Some("x"),
            "invalid user",
        ),
        (
            r#"{"v":1,"kind":"reboot","id":"x","tag":"a/b/c/d/e","value":1,"user":"u"}"#,
            Some("x"),
            "unknown command kind",
        ),
        (
            r#"{"v":1,"kind":"write","id":"x","tag":"a/b/c/d/e","value":1,"user":"u","extra":1}"#,
            Some("x"),
            "unknown field",
        ),
    ];
    for (payload, id, reason) in cases {
        let e = decode_command(payload.as_bytes()).unwrap_err();
        assert_eq!(e.id.as_deref(), id, "{payload}");
        assert!(e.reason.contains(reason), "{payload}: {}", e.reason);
    }
    let e =
        decode_command(br#"{"v":1,"kind":"write","id":"","tag":"a/b/c/d/e","value":1,"user":"u"}"#)
            .unwrap_err();
    assert_eq!(e.id, None);
}

#[test]
fn json_numbers_map_to_values() {
    let value = |v: &str| {
        let p = format!(
            r#"{{"v":1,"kind":"write","id":"x","tag":"a/b/c/d/e","value":{v},"user":"u"}}"#
        );
        decode_command(p.as_bytes()).unwrap().value
    };
    assert_eq!(value("7"), Value::UInt(7));
    assert_eq!(value("-7"), Value::Int(-7));
    assert_eq!(value("7.0"), Value::Float(7.0));
    assert_eq!(value("true"), Value::Bool(true));
    assert_eq!(value("\"on\""), Value::Text("on".into()));
}

fn value_strategy() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Bool),
        (i64::MIN..0).prop_map(Value::Int),
        any::<u64>().prop_map(Value::UInt),
        any::<f64>()
            .prop_filter("finite, with a fraction", |f| f.is_finite()
                && f.fract() != 0.0)
            .prop_map(Value::Float),
        "[ -~]{0,20}".prop_map(Value::Text),
    ]
}

proptest! {
    #[test]
    fn commands_and_results_round_trip(
        id in "[a-zA-Z0-9-]{1,40}",
        value in value_strategy(),
        old in prop::option::of(value_strategy()),
        user in "[a-z]{1,10}",
        comment in prop::option::of("[ -~]{0,30}"),
    ) {
        let cmd = WriteCommand { id: id.clone(), tag: setpoint(), value: value.clone(), user, comment };
        prop_assert_eq!(decode_command(&encode_command(&cmd).unwrap()).unwrap(), cmd);
        let result = WriteResult {
            id, tag: setpoint().to_string(), status: WriteStatus::Failed,
            error: Some("timeout".into()), old, new: Some(value), ts_ns: 5,
        };
        prop_assert_eq!(decode_result(&encode_result(&result).unwrap()).unwrap(), result);
    }

    #[test]
    fn decode_command_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = decode_command(&bytes);
    }
}
