//! The register image of one machine: four fixed-size banks (coils, discrete
//! inputs, input registers, holding registers) as a Modbus unit exposes them.
//!
//! Unused addresses hold 0. Access is bounds-checked and returns `None` when a
//! range leaves the bank, so callers map that to their own error.

use super::encoding::RawValue;
use super::layout::SignalDef;
use super::register::RegisterKind;

/// Entries per bank (bits for coils/discrete inputs, registers otherwise).
pub const BANK_SIZE: usize = 512;

/// One machine's Modbus data tables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterImage {
    coils: Vec<bool>,
    discrete: Vec<bool>,
    input: Vec<u16>,
    holding: Vec<u16>,
}

impl Default for RegisterImage {
    fn default() -> Self {
        Self::new()
    }
}

impl RegisterImage {
    /// An image with every bit and register cleared.
    pub fn new() -> Self {
        Self {
            coils: vec![false; BANK_SIZE],
            discrete: vec![false; BANK_SIZE],
            input: vec![0; BANK_SIZE],
            holding: vec![0; BANK_SIZE],
        }
    }

    /// Bits `address..address+count` of a bit bank; `None` for a register
    /// bank or a range outside the bank.
    pub fn bits(&self, kind: RegisterKind, address: u16, count: u16) -> Option<&[bool]> {
        let bank = match kind {
            RegisterKind::Coil => &self.coils,
            RegisterKind::Discrete => &self.discrete,
            RegisterKind::Input | RegisterKind::Holding => return None,
        };
        bank.get(range(address, count)?)
    }

    /// Registers `address..address+count` of a register bank; `None` for a
    /// bit bank or a range outside the bank.
    pub fn registers(&self, kind: RegisterKind, address: u16, count: u16) -> Option<&[u16]> {
        let bank = match kind {
            RegisterKind::Input => &self.input,
            RegisterKind::Holding => &self.holding,
            RegisterKind::Coil | RegisterKind::Discrete => return None,
        };
        bank.get(range(address, count)?)
    }

    /// Overwrites coils starting at `address`; `false` (and no change) if the
    /// range leaves the bank.
    pub fn write_coils(&mut self, address: u16, values: &[bool]) -> bool {
        let Some(slot) = count_of(values.len())
            .and_then(|n| range(address, n))
            .and_then(|r| self.coils.get_mut(r))
        else {
            return false;
        };
        slot.copy_from_slice(values);
        true
    }

    /// Overwrites holding registers starting at `address`; `false` (and no
    /// change) if the range leaves the bank.
    pub fn write_holding(&mut self, address: u16, values: &[u16]) -> bool {
        let Some(slot) = count_of(values.len())
            .and_then(|n| range(address, n))
            .and_then(|r| self.holding.get_mut(r))
        else {
            return false;
        };
        slot.copy_from_slice(values);
        true
    }

    /// Stores an encoded signal at its place in the layout. Out-of-bank
    /// layouts are rejected by the layout tests, so they are ignored here.
    pub(crate) fn store(&mut self, def: &SignalDef, raw: RawValue) {
        let address = usize::from(def.address);
        match (def.register, raw) {
            (RegisterKind::Coil, RawValue::Bool(b)) => set(&mut self.coils, address, &[b]),
            (RegisterKind::Discrete, RawValue::Bool(b)) => {
                set(&mut self.discrete, address, &[b]);
            }
            (kind, raw) => {
                let Some(words) = raw.to_words(def) else {
                    return;
                };
                match kind {
                    RegisterKind::Input => set(&mut self.input, address, &words),
                    RegisterKind::Holding => set(&mut self.holding, address, &words),
                    RegisterKind::Coil | RegisterKind::Discrete => {}
                }
            }
        }
    }
}

fn set<T: Copy>(bank: &mut [T], address: usize, values: &[T]) {
    if let Some(slot) = bank.get_mut(address..address + values.len()) {
        slot.copy_from_slice(values);
    }
}

fn count_of(len: usize) -> Option<u16> {
    u16::try_from(len).ok()
}

fn range(address: u16, count: u16) -> Option<std::ops::Range<usize>> {
    let start = usize::from(address);
    let end = start + usize::from(count);
    (end <= BANK_SIZE).then_some(start..end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let image = RegisterImage::new();
        assert_eq!(
            image
                .registers(RegisterKind::Input, 0, 125)
                .map(<[u16]>::len),
            Some(125)
        );
        assert!(image.registers(RegisterKind::Input, 511, 1).is_some());
        assert!(image.registers(RegisterKind::Input, 511, 2).is_none());
        assert!(image.registers(RegisterKind::Holding, 600, 1).is_none());
        assert!(image.registers(RegisterKind::Coil, 0, 1).is_none());
        assert!(image.bits(RegisterKind::Discrete, 500, 12).is_some());
        assert!(image.bits(RegisterKind::Discrete, 500, 13).is_none());
        assert!(image.bits(RegisterKind::Holding, 0, 1).is_none());
    }

    #[test]
    fn writes_are_bounds_checked() {
        let mut image = RegisterImage::new();
        assert!(image.write_holding(510, &[1, 2]));
        assert_eq!(
            image.registers(RegisterKind::Holding, 510, 2),
            Some(&[1, 2][..])
        );
        assert!(!image.write_holding(511, &[1, 2]));
        assert!(image.write_coils(3, &[true]));
        assert_eq!(
            image.bits(RegisterKind::Coil, 2, 2),
            Some(&[false, true][..])
        );
        assert!(!image.write_coils(512, &[true]));
    }
}
