//! Codec round trips, golden fixtures and malformed payloads.
//!
//! Golden fixtures pin the wire format. To regenerate after a deliberate format change
//! (which must bump `codec::VERSION`), run with `SENTIA_BLESS=1`.
#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use proptest::prelude::*;
use protocols::codec::{self, CodecError, Encoding, Message};
use protocols::model::*;

fn asset() -> AssetPath {
    AssetPath::new("demo/hall-1/line-1/motor-01").unwrap()
}

fn tag(name: &str) -> TagId {
    TagId::from_parts(&asset(), name).unwrap()
}

/// The batch pinned by the golden fixtures: every value variant and every quality.
fn sample_batch() -> Batch {
    let ts = 1_700_000_000_123_456_789;
    Batch {
        agent: AgentId::new("edge-01").unwrap(),
        session: 1_699_999_000_000_000_000,
        seq: 42,
        asset: asset(),
        historical: false,
        points: vec![
            Point::good(tag("running"), ts, Value::Bool(true)),
            Point::good(tag("speed"), ts, Value::UInt(1480)),
            Point::good(tag("shaft_position"), ts, Value::Int(-123_456)),
            Point::good(tag("winding_temp"), ts, Value::Float(61.25)),
            Point::good(tag("serial"), ts, Value::Text("SN-0042".into())),
            Point {
                tag: tag("current"),
                ts_ns: ts + 1,
                value: Some(Value::Float(12.5)),
                quality: Quality::Uncertain("last known value".into()),
            },
            Point::bad(
                tag("vibration_rms"),
                ts + 2,
                "exception 02 illegal data address",
            ),
        ],
    }
}

fn sample_catalog() -> TagCatalog {
    TagCatalog {
        agent: AgentId::new("edge-01").unwrap(),
        session: 7,
        tags: vec![TagMeta {
            id: tag("speed"),
            unit: "rpm".into(),
            data_type: "u16".into(),
            source: "modbus-tcp://127.0.0.1:15020/1/input/0".into(),
            poll_interval_ms: 1000,
            description: "Motor speed".into(),
        }],
    }
}

/// The status pinned by the version-1 fixtures (no spool figures).
fn sample_status_v1() -> AgentStatus {
    AgentStatus {
        spool: None,
        ..sample_status()
    }
}

fn sample_status() -> AgentStatus {
    AgentStatus {
        agent: AgentId::new("edge-01").unwrap(),
        session: 7,
        state: AgentState::Online,
        ts_ns: 1_700_000_000_000_000_000,
        devices: vec![
            DeviceStatus {
                id: "motor-01".into(),
                state: DeviceState::Connected,
            },
            DeviceStatus {
                id: "pump-02".into(),
                state: DeviceState::Disconnected,
            },
        ],
        spool: Some(SpoolStatus {
            depth_batches: 1200,
            depth_bytes: 3_500_000,
            dropped_batches: 3,
            dropped_points: 27,
            dropped_unconfirmed_batches: 1,
            dropped_unconfirmed_points: 9,
        }),
    }
}

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
        "encoding of {name} changed: the wire format changed, so bump codec::VERSION and re-bless"
    );
}

#[test]
fn golden_fixtures_pin_both_encodings() {
    let cases = [
        ("batch_v1", Message::Batch(sample_batch())),
        ("catalog_v1", Message::Catalog(sample_catalog())),
        ("status_v2", Message::Status(sample_status())),
    ];
    for (name, msg) in cases {
        let bin = codec::encode(&msg, Encoding::Binary).unwrap();
        check_golden(&format!("{name}.bin"), &bin);
        let json = codec::encode(&msg, Encoding::Json).unwrap();
        check_golden(&format!("{name}.json"), &json);
        // The pinned bytes decode to the message (old payloads stay readable).
        assert_eq!(
            codec::decode(&std::fs::read(fixture(&format!("{name}.bin"))).unwrap()).unwrap(),
            msg
        );
        assert_eq!(
            codec::decode(&std::fs::read(fixture(&format!("{name}.json"))).unwrap()).unwrap(),
            msg
        );
    }
}

/// Payloads of older versions of a kind stay readable; a kind newer than its layout here is
/// refused, and spool figures are refused where the version has none.
#[test]
fn older_status_versions_stay_readable() {
    for ext in ["bin", "json"] {
        let old = std::fs::read(fixture(&format!("status_v1.{ext}"))).unwrap();
        assert_eq!(
            codec::decode(&old).unwrap(),
            Message::Status(sample_status_v1()),
            "{ext}"
        );
    }
    let mut newer = codec::encode(&Message::Batch(sample_batch()), Encoding::Binary).unwrap();
    newer[3] = 2; // batches are version 1
    assert!(matches!(
        codec::decode(&newer),
        Err(CodecError::UnsupportedVersion { version: 2 })
    ));
    let json = br#"{"v":1,"kind":"status","agent":"a","session":1,"state":"online","ts_ns":1,
        "spool":{"depth_batches":1,"depth_bytes":1,"dropped_batches":0,"dropped_points":0,
        "dropped_unconfirmed_batches":0,"dropped_unconfirmed_points":0}}"#;
    assert!(
        codec::decode(json)
            .unwrap_err()
            .to_string()
            .contains("spool")
    );
}

#[test]
fn binary_envelope_layout() {
    let bin = codec::encode(&Message::Batch(sample_batch()), Encoding::Binary).unwrap();
    assert_eq!(&bin[..3], b"SNT");
    assert_eq!(bin[3], 1, "batch body version");
    let status = codec::encode(&Message::Status(sample_status()), Encoding::Binary).unwrap();
    assert_eq!(status[3], codec::VERSION, "status is the newest kind");
    assert_eq!(bin[4], 1, "kind byte for a batch");
}

#[test]
fn third_party_json_without_types_is_inferred() {
    let json = br#"{"v":1,"kind":"batch","agent":"py-1","session":1,"seq":0,
        "asset":"demo/hall-1/line-1/motor-01","points":[
        {"tag":"a","ts_ns":1,"value":3,"quality":"good"},
        {"tag":"b","ts_ns":1,"value":3.5,"quality":"good"},
        {"tag":"c","ts_ns":1,"value":true,"quality":"good"},
        {"tag":"d","ts_ns":1,"value":null,"quality":"bad","reason":"offline"}]}"#;
    let Message::Batch(b) = codec::decode(json).unwrap() else {
        panic!("not a batch")
    };
    let values: Vec<_> = b.points.iter().map(|p| p.value.clone()).collect();
    assert_eq!(
        values,
        [
            Some(Value::Int(3)),
            Some(Value::Float(3.5)),
            Some(Value::Bool(true)),
            None
        ]
    );
    assert_eq!(b.points[3].quality, Quality::Bad("offline".into()));
}

#[test]
fn malformed_payloads_give_specific_errors() {
    let good = codec::encode(&Message::Batch(sample_batch()), Encoding::Binary).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (vec![], "empty"),
        (b"hello".to_vec(), "unknown_format"),
        ([b"SNT".as_slice(), &[9, 1, 0]].concat(), "unsupported_version"),
        ([b"SNT".as_slice(), &[1, 77, 0]].concat(), "unknown_kind"),
        (good[..good.len() - 3].to_vec(), "malformed_binary"),
        ([good.as_slice(), &[0]].concat(), "invalid_field"),
        (b"{\"v\":1,".to_vec(), "malformed_json"),
        (br#"{"v":1,"kind":"batch","agent":"a/b","session":1,"seq":0,"asset":"a/b/c/d","points":[]}"#.to_vec(), "invalid_field"),
        (br#"{"v":1,"kind":"batch","agent":"a","session":1,"seq":0,"asset":"a/b/c/d","points":[{"tag":"x","ts_ns":1,"value":"s","type":"int","quality":"good"}]}"#.to_vec(), "invalid_field"),
        (br#"{"v":1,"kind":"nope","agent":"a","session":1}"#.to_vec(), "unknown_kind"),
    ];
    for (payload, label) in cases {
        let err = codec::decode(&payload).unwrap_err();
        assert_eq!(err.label(), label, "{err}");
    }
    // Corrupting a quality code is caught, not silently accepted.
    let mut bad_quality = good.clone();
    let last_point_quality = bad_quality.len() - 1 - "exception 02 illegal data address".len() - 2;
    bad_quality[last_point_quality] = 9;
    assert!(codec::decode(&bad_quality).is_err());
}

#[test]
fn encoding_rejects_foreign_tags_and_non_finite_json() {
    let mut b = sample_batch();
    b.points.push(Point::good(
        TagId::new("x/y/z/w/t").unwrap(),
        1,
        Value::Bool(true),
    ));
    assert!(matches!(
        codec::encode(&Message::Batch(b), Encoding::Binary),
        Err(CodecError::ForeignTag { .. })
    ));
    let mut b = sample_batch();
    b.points[0].value = Some(Value::Float(f64::NAN));
    assert!(matches!(
        codec::encode(&Message::Batch(b.clone()), Encoding::Json),
        Err(CodecError::NonFinite { .. })
    ));
    // Binary carries NaN fine.
    let Message::Batch(back) =
        codec::decode(&codec::encode(&Message::Batch(b), Encoding::Binary).unwrap()).unwrap()
    else {
        panic!()
    };
    assert!(matches!(back.points[0].value, Some(Value::Float(f)) if f.is_nan()));
}

fn value_strategy() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        any::<bool>().prop_map(|b| Some(Value::Bool(b))),
        any::<i64>().prop_map(|i| Some(Value::Int(i))),
        any::<u64>().prop_map(|u| Some(Value::UInt(u))),
        // Finite floats: JSON cannot carry NaN/inf (covered above).
        (-1e300f64..1e300).prop_map(|f| Some(Value::Float(f))),
        ".{0,20}".prop_map(|s| Some(Value::Text(s))),
    ]
}

fn quality_strategy() -> impl Strategy<Value = Quality> {
    prop_oneof![
        Just(Quality::Good),
        ".{0,10}".prop_map(Quality::Uncertain),
        ".{0,10}".prop_map(Quality::Bad),
    ]
}

proptest! {
    #[test]
    fn batches_round_trip_in_both_encodings(
        seq in any::<u64>(),
        session in any::<u64>(),
        historical in any::<bool>(),
        points in prop::collection::vec(("[a-z_]{1,12}", any::<i64>(), value_strategy(), quality_strategy()), 0..20),
    ) {
        let batch = Batch {
            agent: AgentId::new("edge-01").unwrap(),
            session,
            seq,
            asset: asset(),
            historical,
            points: points
                .into_iter()
                .map(|(n, ts_ns, value, quality)| Point { tag: tag(&n), ts_ns, value, quality })
                .collect(),
        };
        let msg = Message::Batch(batch);
        for enc in [Encoding::Binary, Encoding::Json] {
            let bytes = codec::encode(&msg, enc).unwrap();
            prop_assert_eq!(&codec::decode(&bytes).unwrap(), &msg);
        }
    }

    #[test]
    fn decode_never_panics_on_garbage(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = codec::decode(&bytes);
    }

    #[test]
    fn decode_never_panics_on_mutated_payloads(idx in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bin = codec::encode(&Message::Batch(sample_batch()), Encoding::Binary).unwrap();
        let i = idx.index(bin.len());
        bin[i] = byte;
        let _ = codec::decode(&bin);
    }
}
