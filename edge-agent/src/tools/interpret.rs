//! The byte-order assistant's core, I/O-free: every interpretation of a run of registers,
//! one line each, so a user can pick the type and order that give a plausible value.
//!
//! For each register: hex, `u16`, `i16`, the 16 bits, and its two bytes as ASCII. For each
//! start position: `u32`/`i32`/`f32` in the four 32-bit orders (`ABCD`, `CDAB`, `BADC`,
//! `DCBA`) and `u64`/`i64`/`f64` in the four 64-bit orders; then the whole run as an ASCII
//! string with bytes in register order (`AB`) and swapped (`BA`). Floats are flagged:
//! `[NaN]`, `[inf]`, `[denormal]`, and `[implausible]` when the magnitude is above 1e12 or
//! below 1e-9 (not zero), which is what a wrong byte order usually produces.

use std::fmt::Write;

use protocols::modbus::{WordOrder, wire_to_be_bytes};

/// Renders every interpretation of `words`, read from address `start` (for labels).
pub fn render(start: u32, words: &[u16]) -> String {
    let mut out = String::new();
    let addr = |i: usize| start + i as u32;
    let _ = writeln!(out, "# {} register(s) from address {start}", words.len());
    let _ = writeln!(out, "# per register");
    for (i, w) in words.iter().enumerate() {
        let [hi, lo] = w.to_be_bytes();
        let _ = writeln!(
            out,
            "{:<13} hex 0x{w:04X}  u16 {w:>5}  i16 {:>6}  bits {:08b}_{:08b}  ascii \"{}{}\"",
            format!("[{}]", addr(i)),
            *w as i16,
            hi,
            lo,
            ascii(hi),
            ascii(lo),
        );
    }
    for (width, label) in [(2usize, "32-bit"), (4, "64-bit")] {
        if words.len() < width {
            continue;
        }
        let _ = writeln!(out, "# {label}");
        for i in 0..=words.len() - width {
            for order in WordOrder::ALL {
                let bytes = wire_to_be_bytes(order, &words[i..i + width]);
                let range = format!("[{}..{}]", addr(i), addr(i + width - 1));
                let line = if width == 2 {
                    let b: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
                    let f = f32::from_be_bytes(b);
                    format!(
                        "{range:<13} {:<8}  u32 {:>10}  i32 {:>11}  f32 {}",
                        order.as_str(),
                        u32::from_be_bytes(b),
                        i32::from_be_bytes(b),
                        float(f, f.is_subnormal())
                    )
                } else {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(&bytes[..8]);
                    let f = f64::from_be_bytes(b);
                    format!(
                        "{range:<13} {:<8}  u64 {:>20}  i64 {:>20}  f64 {}",
                        order.as_str_64(),
                        u64::from_be_bytes(b),
                        i64::from_be_bytes(b),
                        float(f, f.is_subnormal())
                    )
                };
                let _ = writeln!(out, "{}", line.trim_end());
            }
        }
    }
    let _ = writeln!(out, "# string");
    let ab: String = words
        .iter()
        .flat_map(|w| w.to_be_bytes())
        .map(ascii)
        .collect();
    let ba: String = words
        .iter()
        .flat_map(|w| w.to_le_bytes())
        .map(ascii)
        .collect();
    let _ = writeln!(out, "{:<13} AB  \"{ab}\"", "string");
    let _ = writeln!(out, "{:<13} BA  \"{ba}\"", "string");
    out
}

/// A byte as a printable ASCII character, `.` otherwise.
fn ascii(b: u8) -> char {
    if b.is_ascii_graphic() || b == b' ' {
        char::from(b)
    } else {
        '.'
    }
}

/// A float (shortest text of its own type), compact, with its flag.
fn float<F: Into<f64> + Copy + std::fmt::Display + std::fmt::LowerExp>(
    value: F,
    subnormal: bool,
) -> String {
    let f: f64 = value.into();
    let text = if f != 0.0 && f.is_finite() && (f.abs() >= 1e9 || f.abs() < 1e-4) {
        format!("{value:e}")
    } else {
        format!("{value}")
    };
    let flag = if f.is_nan() {
        " [NaN]"
    } else if f.is_infinite() {
        " [inf]"
    } else if subnormal {
        " [denormal]"
    } else if f != 0.0 && (f.abs() > 1e12 || f.abs() < 1e-9) {
        " [implausible]"
    } else {
        ""
    };
    format!("{text}{flag}")
}

/// Parses `0x4148,16712,0b1` style register lists.
pub fn parse_registers(text: &str) -> Result<Vec<u16>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            let parsed = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                u16::from_str_radix(hex, 16)
            } else if let Some(bin) = s.strip_prefix("0b") {
                u16::from_str_radix(bin, 2)
            } else {
                s.parse::<u16>()
            };
            parsed.map_err(|e| format!("register '{s}': {e} (expected 0..65535, 0x.. or 0b..)"))
        })
        .collect::<Result<Vec<_>, _>>()
        .and_then(|v| {
            if v.is_empty() {
                Err("no registers given".to_owned())
            } else {
                Ok(v)
            }
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn line<'a>(out: &'a str, prefix: &str, order: &str) -> &'a str {
        out.lines()
            .find(|l| l.starts_with(prefix) && l.contains(&format!(" {order} ")))
            .unwrap_or_else(|| panic!("no {prefix} {order} line in\n{out}"))
    }

    #[test]
    fn shows_every_type_and_order() {
        // 12.5f32 = 0x41480000; 0x4148 is also "AH".
        let out = render(100, &[0x4148, 0x0000]);
        assert!(out.contains("[100]         hex 0x4148  u16 16712  i16  16712  bits 01000001_01001000  ascii \"AH\""), "{out}");
        assert!(
            line(&out, "[100..101]", "ABCD").ends_with("f32 12.5"),
            "{out}"
        );
        assert!(
            line(&out, "[100..101]", "CDAB").contains("[denormal]"),
            "{out}"
        );
        assert!(
            line(&out, "[100..101]", "BADC").contains("u32 1212219392"),
            "{out}"
        );
        assert!(out.contains("string        AB  \"AH..\""), "{out}");
        assert!(out.contains("string        BA  \"HA..\""), "{out}");
        assert!(!out.contains("64-bit"));
        let out = render(0, &[0x4029, 0x2000, 0, 0]);
        assert!(
            line(&out, "[0..3]", "ABCDEFGH").ends_with("f64 12.5625"),
            "{out}"
        );
        assert!(
            line(&out, "[0..3]", "HGFEDCBA").contains("[denormal]"),
            "{out}"
        );
        let out = render(0, &[0x7FC0, 0]);
        assert!(line(&out, "[0..1]", "ABCD").ends_with("[NaN]"), "{out}");
        assert!(
            line(&out, "[0..1]", "CDAB").ends_with("f32 4.5828e-41 [denormal]"),
            "{out}"
        );
        let out = render(0, &[0x0000, 0x7149]);
        assert!(
            line(&out, "[0..1]", "CDAB").contains("[implausible]"),
            "{out}"
        );
    }

    #[test]
    fn register_lists_parse() {
        assert_eq!(
            parse_registers("0x4148, 0,0b11,65535").unwrap(),
            [0x4148, 0, 3, 65535]
        );
        assert!(parse_registers("65536").unwrap_err().contains("'65536'"));
        assert!(parse_registers("").is_err());
    }
}
