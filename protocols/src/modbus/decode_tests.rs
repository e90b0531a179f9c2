//! Decoder tests: every type in every word order against hand-written registers, the
//! scale/offset rule, and whole responses.
#![allow(clippy::unwrap_used)]

use super::*;
use crate::modbus::{ByteOrder, PlannedTag, RegisterKind, TagSpec, WordOrder};
use crate::model::{Quality, TagId};

const ORDERS: [WordOrder; 4] = [
    WordOrder::BigEndian,
    WordOrder::WordSwap,
    WordOrder::ByteSwap,
    WordOrder::LittleEndian,
];

fn tag(ty: DataType, order: WordOrder, scale: f64, offset: f64) -> RegisterTag {
    let mut spec = TagSpec::new(
        TagId::new("s/a/l/d/t").unwrap(),
        RegisterKind::Holding,
        0,
        ty,
    );
    spec.order = order;
    spec.scale = scale;
    spec.offset = offset;
    RegisterTag::new(spec).unwrap()
}

fn dec(ty: DataType, order: WordOrder, words: &[u16]) -> Value {
    decode_registers(&tag(ty, order, 1.0, 0.0), words).unwrap()
}

#[test]
fn f32_in_every_order() {
    // 1234.5678f32 = 0x449A522B
    let cases: [(WordOrder, [u16; 2]); 4] = [
        (WordOrder::BigEndian, [0x449A, 0x522B]),
        (WordOrder::WordSwap, [0x522B, 0x449A]),
        (WordOrder::ByteSwap, [0x9A44, 0x2B52]),
        (WordOrder::LittleEndian, [0x2B52, 0x9A44]),
    ];
    for (order, words) in cases {
        assert_eq!(
            dec(DataType::F32, order, &words),
            Value::Float(f64::from(1234.5678f32)),
            "{order:?}"
        );
    }
}

#[test]
fn thirty_two_bit_integers_in_every_order() {
    // 0x8001_FFFE: u32 2147614718, i32 -2147352578
    let cases: [(WordOrder, [u16; 2]); 4] = [
        (WordOrder::BigEndian, [0x8001, 0xFFFE]),
        (WordOrder::WordSwap, [0xFFFE, 0x8001]),
        (WordOrder::ByteSwap, [0x0180, 0xFEFF]),
        (WordOrder::LittleEndian, [0xFEFF, 0x0180]),
    ];
    for (order, words) in cases {
        assert_eq!(dec(DataType::U32, order, &words), Value::UInt(0x8001_FFFE));
        assert_eq!(
            dec(DataType::I32, order, &words),
            Value::Int(i64::from(0x8001_FFFEu32 as i32))
        );
    }
    assert_eq!(
        dec(DataType::I32, WordOrder::BigEndian, &[0xFFFF, 0xFFFF]),
        Value::Int(-1)
    );
}

#[test]
fn sixty_four_bit_values_in_every_order() {
    // -2.5e-300 as f64 bits, and a u64/i64 pattern; bytes A..H = be bytes.
    let patterns = [
        (-2.5e-300f64).to_bits(),
        0x0102_0304_0506_0708u64,
        0xFEDC_BA98_7654_3210u64,
    ];
    for bits in patterns {
        let [a, b, c, d, e, f, g, h] = bits.to_be_bytes();
        let w = |x: u8, y: u8| u16::from_be_bytes([x, y]);
        let cases: [(WordOrder, [u16; 4]); 4] = [
            (WordOrder::BigEndian, [w(a, b), w(c, d), w(e, f), w(g, h)]),
            (WordOrder::WordSwap, [w(g, h), w(e, f), w(c, d), w(a, b)]),
            (WordOrder::ByteSwap, [w(b, a), w(d, c), w(f, e), w(h, g)]),
            (
                WordOrder::LittleEndian,
                [w(h, g), w(f, e), w(d, c), w(b, a)],
            ),
        ];
        for (order, words) in cases {
            assert_eq!(dec(DataType::U64, order, &words), Value::UInt(bits));
            assert_eq!(dec(DataType::I64, order, &words), Value::Int(bits as i64));
            assert_eq!(
                dec(DataType::F64, order, &words),
                Value::Float(f64::from_bits(bits))
            );
        }
    }
    // Hand-written: 1.0f64 = 0x3FF0_0000_0000_0000.
    assert_eq!(
        dec(DataType::F64, WordOrder::WordSwap, &[0, 0, 0, 0x3FF0]),
        Value::Float(1.0)
    );
    assert_eq!(
        dec(DataType::U64, WordOrder::BigEndian, &[0, 0, 0x0001, 0x0002]),
        Value::UInt(0x0001_0002)
    );
}

#[test]
fn sixteen_bit_values() {
    assert_eq!(
        dec(DataType::U16, WordOrder::BigEndian, &[0xFFFF]),
        Value::UInt(65535)
    );
    assert_eq!(
        dec(DataType::I16, WordOrder::BigEndian, &[0xFFFF]),
        Value::Int(-1)
    );
    assert_eq!(
        dec(DataType::I16, WordOrder::BigEndian, &[0x7FFF]),
        Value::Int(32767)
    );
    assert_eq!(
        dec(DataType::U16, WordOrder::BigEndian, &[1480, 9]),
        Value::UInt(1480)
    );
}

#[test]
fn scale_and_offset_rule() {
    let t = tag(DataType::U16, WordOrder::BigEndian, 0.1, 0.0);
    assert_eq!(
        decode_registers(&t, &[1234]).unwrap(),
        Value::Float(1234.0 * 0.1)
    );
    let t = tag(DataType::I16, WordOrder::BigEndian, 1.0, -40.0);
    assert_eq!(
        decode_registers(&t, &[0xFFF6]).unwrap(),
        Value::Float(-50.0)
    );
    let t = tag(DataType::U32, WordOrder::WordSwap, 0.01, 5.0);
    assert_eq!(
        decode_registers(&t, &[0x0001, 0x0000]).unwrap(),
        Value::Float(1.0 * 0.01 + 5.0)
    );
    let t = tag(DataType::F32, WordOrder::BigEndian, 2.0, 1.0);
    assert_eq!(
        decode_registers(&t, &[0x449A, 0x522B]).unwrap(),
        Value::Float(f64::from(1234.5678f32) * 2.0 + 1.0)
    );
    // Unscaled floats are passed through untouched, even negative zero.
    let v = dec(DataType::F32, WordOrder::BigEndian, &[0x8000, 0x0000]);
    assert!(matches!(v, Value::Float(f) if f == 0.0 && f.is_sign_negative()));
    for order in ORDERS {
        assert_eq!(
            dec(DataType::U16, WordOrder::BigEndian, &[7]),
            Value::UInt(7),
            "{order:?}"
        );
    }
}

#[test]
fn non_finite_and_short_inputs_are_errors() {
    let nan = decode_registers(
        &tag(DataType::F32, WordOrder::BigEndian, 1.0, 0.0),
        &[0x7FC0, 0],
    );
    assert!(matches!(nan, Err(DecodeError::NonFinite(_))));
    let short = decode_registers(&tag(DataType::F64, WordOrder::BigEndian, 1.0, 0.0), &[1, 2]);
    assert_eq!(short, Err(DecodeError::Short { needed: 4, got: 2 }));
}

#[test]
fn whole_response_to_points() {
    let mk = |name: &str, kind, address, ty| {
        let id = TagId::new(&format!("s/a/l/d/{name}")).unwrap();
        RegisterTag::new(TagSpec::new(id, kind, address, ty)).unwrap()
    };
    let tags = vec![
        mk("speed", RegisterKind::Input, 0, DataType::U16),
        mk("temp", RegisterKind::Input, 2, DataType::F32),
        mk("far", RegisterKind::Input, 9, DataType::U32),
    ];
    let request = ReadRequest {
        kind: RegisterKind::Input,
        start: 0,
        count: 11,
        tags: vec![
            PlannedTag {
                index: 0,
                offset: 0,
            },
            PlannedTag {
                index: 1,
                offset: 2,
            },
            PlannedTag {
                index: 2,
                offset: 9,
            },
        ],
    };
    let data = ReadData::Registers(vec![1480, 0, 0x449A, 0x522B, 0, 0, 0, 0, 0, 7]);
    let points = decode_response(&tags, &request, &data, 42);
    assert_eq!(points.len(), 3);
    assert_eq!(points[0].value, Some(Value::UInt(1480)));
    assert_eq!(points[0].ts_ns, 42);
    assert_eq!(points[1].value, Some(Value::Float(f64::from(1234.5678f32))));
    assert_eq!(
        points[2].quality,
        Quality::Bad("short response: needed 11 values, got 10".into())
    );
    let bad = bad_points(&tags, &request, 7, "exception 02 illegal data address");
    assert!(bad.iter().all(|p| p.value.is_none()
        && p.quality == Quality::Bad("exception 02 illegal data address".into())));

    let coil = vec![mk("run", RegisterKind::Coil, 3, DataType::Bool)];
    let request = ReadRequest {
        kind: RegisterKind::Coil,
        start: 3,
        count: 1,
        tags: vec![PlannedTag {
            index: 0,
            offset: 0,
        }],
    };
    let points = decode_response(&coil, &request, &ReadData::Bits(vec![true]), 1);
    assert_eq!(points[0].value, Some(Value::Bool(true)));
    let points = decode_response(&coil, &request, &ReadData::Registers(vec![1]), 1);
    assert!(!points[0].quality.is_good());
}

#[test]
fn bits_of_a_register() {
    let bit = |b: u8| {
        let mut spec = TagSpec::new(
            TagId::new("s/a/l/d/b").unwrap(),
            RegisterKind::Input,
            0,
            DataType::Bool,
        );
        spec.bit = Some(b);
        RegisterTag::new(spec).unwrap()
    };
    for b in 0..16u8 {
        let word = 1u16 << b;
        assert_eq!(decode_registers(&bit(b), &[word]), Ok(Value::Bool(true)));
        assert_eq!(decode_registers(&bit(b), &[!word]), Ok(Value::Bool(false)));
    }
}

#[test]
fn strings_in_both_byte_orders_trimmed() {
    let string = |length: u16, order: ByteOrder| {
        let mut spec = TagSpec::new(
            TagId::new("s/a/l/d/s").unwrap(),
            RegisterKind::Holding,
            0,
            DataType::String,
        );
        spec.length = length;
        spec.byte_order = order;
        RegisterTag::new(spec).unwrap()
    };
    let text = |s: &str| Ok(Value::Text(s.to_owned()));
    // "PUMP-7" then NUL padding; an odd length stops mid-register.
    let ab = [0x5055, 0x4D50, 0x2D37, 0x0000];
    assert_eq!(
        decode_registers(&string(8, ByteOrder::HighFirst), &ab),
        text("PUMP-7")
    );
    assert_eq!(
        decode_registers(&string(5, ByteOrder::HighFirst), &ab),
        text("PUMP-")
    );
    let ba = [0x5550, 0x504D, 0x372D, 0x2020];
    assert_eq!(
        decode_registers(&string(8, ByteOrder::LowFirst), &ba),
        text("PUMP-7")
    );
    assert_eq!(
        decode_registers(&string(2, ByteOrder::HighFirst), &[0xC328]),
        Err(DecodeError::InvalidUtf8(vec![0xC3, 0x28]))
    );
    assert_eq!(
        decode_registers(&string(8, ByteOrder::HighFirst), &ab[..3]),
        Err(DecodeError::Short { needed: 4, got: 3 })
    );
    // UTF-8 across a register boundary.
    assert_eq!(
        decode_registers(&string(4, ByteOrder::HighFirst), &[0x41C3, 0xA900]),
        text("Aé")
    );
}
