//! Modbus exception responses as model-level data, so no tokio-modbus type crosses the
//! crate's public API.

use std::fmt;

/// A device's exception response code (Modbus application protocol, section 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Exception(pub u8);

impl Exception {
    /// 0x02: the address range is not served by the device.
    pub const ILLEGAL_DATA_ADDRESS: Self = Self(0x02);

    /// The exception code.
    pub fn code(self) -> u8 {
        self.0
    }

    /// The name from the specification, lower case.
    pub fn name(self) -> &'static str {
        match self.0 {
            0x01 => "illegal function",
            0x02 => "illegal data address",
            0x03 => "illegal data value",
            0x04 => "server device failure",
            0x05 => "acknowledge",
            0x06 => "server device busy",
            0x08 => "memory parity error",
            0x0A => "gateway path unavailable",
            0x0B => "gateway target device failed to respond",
            _ => "unknown exception",
        }
    }

    /// The quality reason for points hit by this exception, e.g.
    /// `exception 02 illegal data address`.
    pub fn reason(self) -> String {
        self.to_string()
    }
}

impl fmt::Display for Exception {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exception {:02X} {}", self.0, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_carry_code_and_name() {
        assert_eq!(
            Exception::ILLEGAL_DATA_ADDRESS.reason(),
            "exception 02 illegal data address"
        );
        assert_eq!(
            Exception(0x0B).reason(),
            "exception 0B gateway target device failed to respond"
        );
        assert_eq!(Exception(0x42).reason(), "exception 42 unknown exception");
    }
}
