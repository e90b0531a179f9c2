//! Raw/engineering consistency: decodes every signal straight from the
//! register images with a small decoder written independently of
//! `encoding.rs` and compares with `Plant::engineering_value`.

#![allow(clippy::unwrap_used)]

use super::{DataType, EngValue, Plant, RegisterKind, SignalDef, WordOrder};

/// Reassembles the big-endian bytes A B C D from two wire registers.
fn bytes_abcd(order: WordOrder, r0: u16, r1: u16) -> [u8; 4] {
    let (h0, l0) = ((r0 >> 8) as u8, (r0 & 0xff) as u8);
    let (h1, l1) = ((r1 >> 8) as u8, (r1 & 0xff) as u8);
    match order {
        WordOrder::Abcd => [h0, l0, h1, l1],
        WordOrder::Cdab => [h1, l1, h0, l0],
        WordOrder::Badc => [l0, h0, l1, h1],
        WordOrder::Dcba => [l1, h1, l0, h0],
    }
}

fn decode(plant: &Plant, index: usize, def: &SignalDef) -> EngValue {
    let image = plant.image(index).unwrap();
    if def.register.is_bit() {
        return EngValue::Bool(image.bits(def.register, def.address, 1).unwrap()[0]);
    }
    let regs = image
        .registers(def.register, def.address, def.data_type.width())
        .unwrap();
    let int: i64 = match def.data_type {
        DataType::U16 => i64::from(regs[0]),
        DataType::I16 => i64::from(regs[0] as i16),
        DataType::U32 => i64::from(u32::from_be_bytes(bytes_abcd(def.order, regs[0], regs[1]))),
        DataType::I32 => i64::from(i32::from_be_bytes(bytes_abcd(def.order, regs[0], regs[1]))),
        DataType::F32 => {
            let f = f32::from_be_bytes(bytes_abcd(def.order, regs[0], regs[1]));
            return EngValue::Float(f64::from(f));
        }
        DataType::Bool => unreachable!("bits handled above"),
    };
    if def.scale == 1.0 && def.offset == 0.0 {
        EngValue::Int(int)
    } else {
        EngValue::Float(int as f64 * def.scale + def.offset)
    }
}

#[test]
fn registers_decode_to_engineering_values() {
    let mut plant = Plant::new(2024, 12).unwrap();
    for _ in 0..300 {
        for index in 0..plant.machine_count() {
            let kind = plant.machine(index).unwrap().kind();
            for def in kind.signals() {
                assert_eq!(
                    Some(decode(&plant, index, def)),
                    plant.engineering_value(index, def.name),
                    "machine {index} {} at tick {}",
                    def.name,
                    plant.tick()
                );
            }
        }
        plant.step();
    }
}

#[test]
fn unused_addresses_are_zero() {
    let plant = Plant::new(5, 3).unwrap();
    for index in 0..3 {
        let kind = plant.machine(index).unwrap().kind();
        let image = plant.image(index).unwrap();
        for (register, address) in [
            (RegisterKind::Input, 40),
            (RegisterKind::Holding, 0),
            (RegisterKind::Holding, 511),
        ] {
            let used = kind.signals().iter().any(|d| {
                d.register == register
                    && (d.address..d.address + d.data_type.width()).contains(&address)
            });
            if !used {
                assert_eq!(image.registers(register, address, 1), Some(&[0][..]));
            }
        }
        assert_eq!(image.bits(RegisterKind::Coil, 1, 1), Some(&[false][..]));
    }
}
