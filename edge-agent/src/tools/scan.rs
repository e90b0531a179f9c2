//! `modbus scan`: which unit ids answer on a link (Modbus TCP, RTU over TCP, RTU serial),
//! and which address blocks of each table they serve. One connection serves every unit.
//!
//! A unit is there if a one-register (or one-bit) read at the start of the first range gets
//! data or exception 01-03 (a device that parsed the request). Exceptions 04 (what pymodbus
//! answers for an unknown unit), 0A and 0B (a gateway saying the unit is not there), a
//! timeout or a refused connection mean no device; the report groups those by reason.
//!
//! Blocks are found with few requests (`find_blocks`, I/O-free over a [`Prober`]): walking
//! up from the first address, a chunk of at most 125 registers (2000 bits) is read; data
//! makes the whole chunk readable; exception 02 (illegal data address) means it holds an
//! unreadable address, and bisection on the length finds where the readable prefix ends
//! (about 7 requests). An unreadable address is skipped; since a read covering it always
//! fails, a gap costs one request per address probed (`--gap-step N` probes every Nth
//! address only: faster, but a block shorter than N inside a gap can be missed). So a
//! table costs about one request per 125 readable registers, 8 per block end, and one per
//! probed gap address. Any other exception (01 illegal function: the table does not exist)
//! or no answer stops that table with the reason.

use std::fmt::Write;
use std::time::Duration;

use protocols::modbus::{
    DriverError, Exception, Link, MAX_BITS_PER_READ, MAX_REGISTERS_PER_READ, ModbusDriver,
    ReadRequest, RegisterKind,
};

/// One range to scan: a table and an inclusive address range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScanRange {
    /// The table.
    pub kind: RegisterKind,
    /// First address.
    pub first: u16,
    /// Last address (inclusive).
    pub last: u16,
}

/// What one probe read got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Data: the range is readable.
    Data,
    /// A device exception.
    Exception(Exception),
    /// No usable answer (timeout, connection failure), with the reason.
    NoAnswer(String),
}

/// Something that can try one read.
pub(crate) trait Prober {
    /// Reads `count` entries of `kind` from `start` and says what came back.
    fn probe(
        &mut self,
        kind: RegisterKind,
        start: u16,
        count: u16,
    ) -> impl Future<Output = Probe> + Send;
}

/// Readable blocks of one range, or why the scan of the table stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableScan {
    /// The range scanned.
    pub range: ScanRange,
    /// Readable blocks, inclusive, in address order, adjacent blocks merged.
    pub blocks: Vec<(u16, u16)>,
    /// Why the scan stopped early, if it did.
    pub stopped: Option<String>,
    /// Requests sent.
    pub requests: usize,
}

/// Finds the readable blocks of `range` (see the module docs). In unreadable stretches only
/// every `gap_step`-th address is probed (1 = exact).
pub(crate) async fn find_blocks<P: Prober>(
    prober: &mut P,
    range: ScanRange,
    gap_step: u16,
) -> TableScan {
    let max = if range.kind.is_bit() {
        MAX_BITS_PER_READ
    } else {
        MAX_REGISTERS_PER_READ
    };
    let mut out = TableScan {
        range,
        blocks: Vec::new(),
        stopped: None,
        requests: 0,
    };
    let last = u32::from(range.last);
    let mut pos = u32::from(range.first);
    // The previous address was unreadable: start with a single-address probe.
    let mut in_gap = false;
    while pos <= last {
        let len = (last - pos + 1).min(u32::from(max));
        // Longest readable prefix of [pos, pos + len): the whole chunk first, then
        // bisection on the length (exception 02 = too long).
        let (mut good, mut bad) = (0u32, len + 1);
        let mut try_len = if in_gap { 1 } else { len };
        while good + 1 < bad {
            out.requests += 1;
            match prober.probe(range.kind, pos as u16, try_len as u16).await {
                Probe::Data => good = try_len,
                Probe::Exception(e) if e == Exception::ILLEGAL_DATA_ADDRESS => bad = try_len,
                Probe::Exception(e) => {
                    out.stopped = Some(format!("{e} at {pos}+{try_len}"));
                    return out;
                }
                Probe::NoAnswer(reason) => {
                    out.stopped = Some(format!("no answer at {pos}+{try_len}: {reason}"));
                    return out;
                }
            }
            // Nothing readable yet: test the first address alone (in a gap that is one
            // request per probed address). Readable first address: the whole chunk.
            // Then bisect.
            try_len = if good == 0 {
                1
            } else if bad == len + 1 {
                len
            } else {
                good + (bad - good) / 2
            };
        }
        in_gap = good == 0;
        if in_gap {
            pos += u32::from(gap_step.max(1));
            continue;
        }
        let (a, b) = (pos as u16, (pos + good - 1) as u16);
        match out.blocks.last_mut() {
            Some(prev) if u32::from(prev.1) + 1 == pos => prev.1 = b,
            _ => out.blocks.push((a, b)),
        }
        pos += good;
    }
    out
}

/// Scan settings from the command line.
#[derive(Debug, Clone)]
pub struct ScanTarget {
    /// Modbus TCP, RTU over TCP, or a serial line.
    pub link: Link,
    /// Unit ids to try, in order.
    pub units: Vec<u8>,
    /// Bound on every connect and request.
    pub timeout: Duration,
    /// What to scan per answering unit.
    pub ranges: Vec<ScanRange>,
    /// Probe every Nth address in unreadable stretches (1 = every address).
    pub gap_step: u16,
}

/// One unit over the link's connection, reconnected after a transport failure.
struct UnitProber<'a> {
    driver: &'a mut ModbusDriver,
    unit: u8,
}

impl Prober for UnitProber<'_> {
    async fn probe(&mut self, kind: RegisterKind, start: u16, count: u16) -> Probe {
        if !self.driver.is_connected()
            && let Err(e) = self.driver.connect().await
        {
            return Probe::NoAnswer(e.reason());
        }
        let request = ReadRequest {
            kind,
            start,
            count,
            tags: Vec::new(),
        };
        match self.driver.read(self.unit, &request).await {
            Ok(Ok(_)) => Probe::Data,
            Ok(Err(e)) => Probe::Exception(e),
            Err(e) => Probe::NoAnswer(DriverError::reason(&e)),
        }
    }
}

/// Runs the scan and renders the report.
pub async fn scan(target: &ScanTarget) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "modbus scan {} ({} unit id(s), timeout {})",
        target.link,
        target.units.len(),
        humantime::format_duration(target.timeout)
    );
    let _ = writeln!(out, "{:<5} {:<9} {:<24} blocks", "unit", "table", "range");
    let mut silent = Vec::new();
    let mut requests = 0;
    let Some(first) = target.ranges.first().copied() else {
        return out;
    };
    let mut driver = ModbusDriver::new(target.link.clone(), target.timeout);
    for &unit in &target.units {
        let mut prober = UnitProber {
            driver: &mut driver,
            unit,
        };
        requests += 1;
        let answer = prober.probe(first.kind, first.first, 1).await;
        let absent = match &answer {
            Probe::Data => None,
            // 01-03 come from a device that parsed the request; 04 (pymodbus for an unknown
            // unit), 0A and 0B (gateways) mean nobody is there to ask.
            Probe::Exception(e) if matches!(e.code(), 0x01..=0x03) => None,
            Probe::Exception(e) => Some(e.to_string()),
            Probe::NoAnswer(reason) => Some(reason.clone()),
        };
        if let Some(reason) = absent {
            silent.push((unit, reason));
            continue;
        }
        for range in &target.ranges {
            let t = find_blocks(&mut prober, *range, target.gap_step).await;
            requests += t.requests;
            let blocks = if t.blocks.is_empty() {
                "none".to_owned()
            } else {
                t.blocks
                    .iter()
                    .map(|(a, b)| {
                        if a == b {
                            format!("{a}")
                        } else {
                            format!("{a}-{b} ({})", u32::from(*b) - u32::from(*a) + 1)
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            let stopped = t
                .stopped
                .map(|s| format!("  (stopped: {s})"))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "{unit:<5} {:<9} {:<24} {blocks}{stopped}",
                range.kind.as_str(),
                format!("{}-{}", range.first, range.last),
            );
        }
    }
    driver.disconnect();
    if !silent.is_empty() {
        let _ = writeln!(out, "no device at {} unit id(s):", silent.len());
        for (reasons, units) in group(&silent) {
            let _ = writeln!(out, "  {units}: {reasons}");
        }
    }
    let _ = writeln!(
        out,
        "{} unit id(s) answered; {requests} requests",
        target.units.len() - silent.len()
    );
    out
}

/// Units grouped by reason, as compact ranges (`4-9, 12`).
fn group(silent: &[(u8, String)]) -> Vec<(String, String)> {
    let mut groups: Vec<(String, Vec<u8>)> = Vec::new();
    for (unit, reason) in silent {
        match groups.iter_mut().find(|(r, _)| r == reason) {
            Some((_, units)) => units.push(*unit),
            None => groups.push((reason.clone(), vec![*unit])),
        }
    }
    groups
        .into_iter()
        .map(|(reason, units)| (reason, compact(&units)))
        .collect()
}

/// `[1,2,3,5]` -> `1-3, 5`.
pub(crate) fn compact(units: &[u8]) -> String {
    let mut parts = Vec::new();
    let mut i = 0;
    while i < units.len() {
        let mut j = i;
        while j + 1 < units.len() && u16::from(units[j + 1]) == u16::from(units[j]) + 1 {
            j += 1;
        }
        parts.push(if i == j {
            units[i].to_string()
        } else {
            format!("{}-{}", units[i], units[j])
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// Parses `1-247` or `1,3,5-7` (1..=247; 0 is broadcast and never answers).
pub fn parse_units(text: &str) -> Result<Vec<u8>, String> {
    let mut units = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let n = |s: &str| {
            s.trim()
                .parse::<u8>()
                .ok()
                .filter(|u| (1..=247).contains(u))
                .ok_or_else(|| format!("unit id '{s}' is not in 1..=247"))
        };
        let (a, b) = (n(a)?, n(b)?);
        if a > b {
            return Err(format!("unit range '{part}' is reversed"));
        }
        units.extend(a..=b);
    }
    if units.is_empty() {
        return Err("no unit ids given".to_owned());
    }
    Ok(units)
}

/// Parses `holding:0-999,input:0-99,coil:0-15`.
pub fn parse_ranges(text: &str) -> Result<Vec<ScanRange>, String> {
    let mut ranges = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (kind, span) = part
            .split_once(':')
            .ok_or_else(|| format!("range '{part}': expected TABLE:FIRST-LAST"))?;
        let kind = RegisterKind::parse(kind).ok_or_else(|| {
            format!("range '{part}': table must be coil, discrete, holding or input")
        })?;
        let (a, b) = span.split_once('-').unwrap_or((span, span));
        let n = |s: &str| {
            s.trim()
                .parse::<u16>()
                .map_err(|_| format!("range '{part}': '{s}' is not an address 0..65535"))
        };
        let (first, last) = (n(a)?, n(b)?);
        if first > last {
            return Err(format!("range '{part}' is reversed"));
        }
        ranges.push(ScanRange { kind, first, last });
    }
    if ranges.is_empty() {
        return Err("no ranges given".to_owned());
    }
    Ok(ranges)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A register bank readable only inside `blocks` (the bisection's logic, not a device).
    struct Bank {
        blocks: Vec<(u16, u16)>,
        requests: Vec<(u16, u16)>,
    }

    impl Prober for Bank {
        async fn probe(&mut self, _: RegisterKind, start: u16, count: u16) -> Probe {
            self.requests.push((start, count));
            let last = start + count - 1;
            if self.blocks.iter().any(|&(a, b)| a <= start && last <= b) {
                Probe::Data
            } else {
                Probe::Exception(Exception::ILLEGAL_DATA_ADDRESS)
            }
        }
    }

    #[tokio::test]
    async fn bisection_finds_block_boundaries_with_few_requests() {
        let mut bank = Bank {
            blocks: vec![(0, 99), (200, 219), (221, 221), (900, 999)],
            requests: Vec::new(),
        };
        let range = ScanRange {
            kind: RegisterKind::Holding,
            first: 0,
            last: 999,
        };
        let t = find_blocks(&mut bank, range, 1).await;
        assert_eq!(t.blocks, [(0, 99), (200, 219), (221, 221), (900, 999)]);
        assert_eq!(t.stopped, None);
        assert_eq!(t.requests, bank.requests.len());
        // 100 + 1 + 678 gap addresses, 3 block ends at about 8 each, 1 full chunk.
        assert!(t.requests <= 820, "{} requests", t.requests);
        assert!(bank.requests.iter().all(|&(_, c)| (1..=125).contains(&c)));

        // Readable everywhere: one request per 125 registers.
        let mut full = Bank {
            blocks: vec![(0, 999)],
            requests: Vec::new(),
        };
        let t = find_blocks(&mut full, range, 1).await;
        assert_eq!((t.blocks, t.requests), (vec![(0, 999)], 8));

        // Every 10th gap address: far fewer requests, but a short block between two
        // probes (221) is missed.
        bank.requests.clear();
        let t = find_blocks(&mut bank, range, 10).await;
        assert_eq!(t.blocks, [(0, 99), (200, 219), (900, 999)]);
        assert!(t.requests < 120, "{} requests", t.requests);
    }

    #[test]
    fn arguments_parse() {
        assert_eq!(parse_units("1-3, 7").unwrap(), [1, 2, 3, 7]);
        assert!(parse_units("0").is_err() && parse_units("5-2").is_err());
        assert_eq!(compact(&[1, 2, 3, 5, 7, 8]), "1-3, 5, 7-8");
        let r = parse_ranges("holding:0-999,coil:5").unwrap();
        assert_eq!(
            r,
            [
                ScanRange {
                    kind: RegisterKind::Holding,
                    first: 0,
                    last: 999
                },
                ScanRange {
                    kind: RegisterKind::Coil,
                    first: 5,
                    last: 5
                }
            ]
        );
        assert!(parse_ranges("flash:0-1").is_err());
    }
}
