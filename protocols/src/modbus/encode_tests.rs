#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;
use crate::modbus::{RegisterKind, TagSpec, decode_registers};
use crate::model::TagId;

fn tag(ty: DataType, order: WordOrder, scale: f64, offset: f64) -> RegisterTag {
    let kind = if ty == DataType::Bool {
        RegisterKind::Coil
    } else {
        RegisterKind::Holding
    };
    let mut spec = TagSpec::new(TagId::new("s/a/l/d/t").unwrap(), kind, 0, ty);
    if ty.is_multi_register() {
        spec.order = order;
    }
    spec.scale = scale;
    spec.offset = offset;
    RegisterTag::new(spec).unwrap()
}

fn plain(ty: DataType) -> RegisterTag {
    tag(ty, WordOrder::BigEndian, 1.0, 0.0)
}

#[test]
fn known_register_images_for_each_order() {
    // 0x41200000 is 10.0f32; 0x0102_0304 as u32.
    let cases = [
        (WordOrder::BigEndian, vec![0x4120, 0x0000]),
        (WordOrder::WordSwap, vec![0x0000, 0x4120]),
        (WordOrder::ByteSwap, vec![0x2041, 0x0000]),
        (WordOrder::LittleEndian, vec![0x0000, 0x2041]),
    ];
    for (order, words) in cases {
        let t = tag(DataType::F32, order, 1.0, 0.0);
        assert_eq!(
            encode_registers(&t, &Value::Float(10.0)).unwrap(),
            words,
            "{order}"
        );
    }
    let t = tag(DataType::U64, WordOrder::WordSwap, 1.0, 0.0);
    assert_eq!(
        encode_registers(&t, &Value::UInt(0x0102_0304_0506_0708)).unwrap(),
        [0x0708, 0x0506, 0x0304, 0x0102]
    );
    assert_eq!(
        encode_registers(&plain(DataType::I16), &Value::Int(-2)).unwrap(),
        [0xFFFE]
    );
    assert_eq!(
        encode_value(&plain(DataType::Bool), &Value::Bool(true)).unwrap(),
        Encoded::Bit(true)
    );
}

#[test]
fn scale_and_offset_are_undone_with_rounding_half_away_from_zero() {
    // value = raw * 0.5 - 40 (binary fractions, so the halves are exact)
    let t = tag(DataType::I16, WordOrder::BigEndian, 0.5, -40.0);
    assert_eq!(encode_registers(&t, &Value::Float(21.5)).unwrap(), [123u16]);
    // 21.75 -> raw 123.5 -> 124 (half away from zero).
    assert_eq!(
        encode_registers(&t, &Value::Float(21.75)).unwrap(),
        [124u16]
    );
    // -40.25 -> raw -0.5 -> -1.
    assert_eq!(
        encode_registers(&t, &Value::Float(-40.25)).unwrap(),
        [0xFFFF]
    );
    // 21.6 -> raw 123.2 -> 123: reading back gives 21.5 (within scale / 2).
    assert_eq!(encode_registers(&t, &Value::Float(21.6)).unwrap(), [123u16]);
    // Integers go through the same arithmetic when the tag is scaled.
    assert_eq!(encode_registers(&t, &Value::Int(-40)).unwrap(), [0u16]);
}

#[test]
fn refuses_values_that_do_not_fit() {
    let u16t = plain(DataType::U16);
    assert!(matches!(
        encode_registers(&u16t, &Value::Int(-1)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert!(matches!(
        encode_registers(&u16t, &Value::UInt(65536)),
        Err(EncodeError::OutOfRange { .. })
    ));
    assert!(matches!(
        encode_registers(&u16t, &Value::Float(1.5)),
        Err(EncodeError::NotWhole { .. })
    ));
    assert_eq!(
        encode_registers(&u16t, &Value::Float(1500.0)).unwrap(),
        [1500]
    );
    assert!(matches!(
        encode_registers(&u16t, &Value::Bool(true)),
        Err(EncodeError::WrongType { .. })
    ));
    assert!(matches!(
        encode_value(&plain(DataType::Bool), &Value::Int(1)),
        Err(EncodeError::WrongType { .. })
    ));
    assert!(matches!(
        encode_registers(&plain(DataType::F32), &Value::Text("1".into())),
        Err(EncodeError::WrongType { .. })
    ));
    assert!(matches!(
        encode_registers(&plain(DataType::F64), &Value::Float(f64::NAN)),
        Err(EncodeError::NonFinite)
    ));
    assert!(matches!(
        encode_registers(&plain(DataType::F32), &Value::Float(1e39)),
        Err(EncodeError::OutOfRange { .. })
    ));
    // A scaled value whose raw value overflows the type.
    let t = tag(DataType::U16, WordOrder::BigEndian, 0.01, 0.0);
    let e = encode_registers(&t, &Value::Float(655.36)).unwrap_err();
    assert!(e.to_string().contains("0..=65535"), "{e}");
    // i64 and u64 extremes are exact when unscaled.
    assert_eq!(
        encode_registers(&plain(DataType::U64), &Value::UInt(u64::MAX)).unwrap(),
        [0xFFFF; 4]
    );
    assert_eq!(
        encode_registers(&plain(DataType::I64), &Value::Int(i64::MIN)).unwrap(),
        [0x8000, 0, 0, 0]
    );
}

#[test]
fn bits_in_registers_and_strings() {
    let mut spec = TagSpec::new(
        TagId::new("s/a/l/d/t").unwrap(),
        RegisterKind::Holding,
        0,
        DataType::Bool,
    );
    spec.bit = Some(3);
    let t = RegisterTag::new(spec).unwrap();
    assert_eq!(
        encode_value(&t, &Value::Bool(true)).unwrap(),
        Encoded::RegisterBit {
            bit: 3,
            value: true
        }
    );
    let string = |length: u16, order: ByteOrder| {
        let mut spec = TagSpec::new(
            TagId::new("s/a/l/d/t").unwrap(),
            RegisterKind::Holding,
            0,
            DataType::String,
        );
        spec.length = length;
        spec.byte_order = order;
        RegisterTag::new(spec).unwrap()
    };
    let t = string(5, ByteOrder::HighFirst);
    let words = encode_registers(&t, &Value::Text("SN-1".into())).unwrap();
    assert_eq!(words, [0x534E, 0x2D31, 0x0000]);
    assert_eq!(
        decode_registers(&t, &words).unwrap(),
        Value::Text("SN-1".into())
    );
    let t = string(4, ByteOrder::LowFirst);
    assert_eq!(
        encode_registers(&t, &Value::Text("AB".into())).unwrap(),
        [0x4241, 0]
    );
    assert!(matches!(
        encode_registers(&t, &Value::Text("ABCDE".into())),
        Err(EncodeError::StringFit {
            len: 5,
            length: 4,
            ..
        })
    ));
    assert!(matches!(
        encode_registers(&t, &Value::Text("A\0".into())),
        Err(EncodeError::StringFit { .. })
    ));
    assert!(matches!(
        encode_registers(&t, &Value::UInt(1)),
        Err(EncodeError::WrongType { .. })
    ));
}

fn order() -> impl Strategy<Value = WordOrder> {
    prop::sample::select(WordOrder::ALL.to_vec())
}

proptest! {
    /// decode(encode(v)) == v for every unscaled value of every type and order.
    #[test]
    fn decode_inverts_encode_for_unscaled_values(
        o in order(),
        u in any::<u64>(),
        i in any::<i64>(),
        f in any::<f64>().prop_filter("finite", |f| f.is_finite()),
        g in any::<f32>().prop_filter("finite", |f| f.is_finite()),
    ) {
        let cases: Vec<(DataType, Value)> = vec![
            (DataType::U16, Value::UInt(u & 0xFFFF)),
            (DataType::I16, Value::Int(i64::from(i as i16))),
            (DataType::U32, Value::UInt(u & 0xFFFF_FFFF)),
            (DataType::I32, Value::Int(i64::from(i as i32))),
            (DataType::U64, Value::UInt(u)),
            (DataType::I64, Value::Int(i)),
            (DataType::F32, Value::Float(f64::from(g))),
            (DataType::F64, Value::Float(f)),
        ];
        for (ty, v) in cases {
            let t = tag(ty, o, 1.0, 0.0);
            let words = encode_registers(&t, &v).unwrap();
            prop_assert_eq!(words.len(), usize::from(ty.width()));
            prop_assert_eq!(decode_registers(&t, &words).unwrap(), v);
        }
    }

    /// encode(decode(words)) == words for scaled integer tags: the rounding recovers the
    /// raw value the device holds.
    #[test]
    fn encode_inverts_decode_for_scaled_integers(
        o in order(),
        w in prop::collection::vec(any::<u16>(), 4),
        scale in prop::sample::select(vec![0.1, 0.01, 0.5, 2.0, 10.0, -0.1]),
        offset in -1000.0f64..1000.0,
    ) {
        for ty in [DataType::U16, DataType::I16, DataType::U32, DataType::I32] {
            let t = tag(ty, o, scale, offset);
            let words = &w[..usize::from(ty.width())];
            let v = decode_registers(&t, words).unwrap();
            prop_assert_eq!(encode_registers(&t, &v).unwrap(), words.to_vec());
        }
    }

    #[test]
    fn from_be_bytes_inverts_to_be_bytes(o in order(), w in prop::collection::vec(any::<u16>(), 1..5)) {
        let bytes = o.to_be_bytes(&w);
        prop_assert_eq!(from_be_bytes(o, &bytes), w);
    }
}
