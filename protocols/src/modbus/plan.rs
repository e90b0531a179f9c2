//! The request planner: which reads cover a device's tags in as few requests as possible.
//!
//! I/O-free. Input: one [`PlanItem`] (table, address, length) per tag plus [`PlanLimits`];
//! output: [`ReadRequest`]s, each naming the tags it covers and their offsets inside the
//! response.
//!
//! A request reads one contiguous range of one table. Every tag lies entirely inside one
//! request (a tag never straddles two). A request may read unused registers between its tags
//! ("gap fill") as long as no unread hole is longer than the gap limit, and never reads more
//! than the count limit. Overlapping tags share registers.
//!
//! Learned holes ([`Hole`], see `holes.rs`) are ranges the device refuses (exception 02):
//! [`plan_reads_around`] leaves out the tags that overlap one and never lets a request's
//! range cross one.
//!
//! Per table, tags are sorted by (address, input index) and split into runs of consecutive
//! tags by a dynamic programme over the sorted list, which finds the fewest requests among
//! all such splits (`O(n * k)` for `n` tags and `k` tags per request). Among equally small
//! plans it makes earlier requests as long as possible. Requests are ordered by function code,
//! then address, so the same tags always give the same plan. The unit tests check the
//! request count against a brute force over every partition of small random maps.

use super::{Hole, RegisterKind};

/// Most registers one read may return (FC3/FC4, Modbus application protocol 6.3/6.4).
pub const MAX_REGISTERS_PER_READ: u16 = 125;
/// Most bits one read may return (FC1/FC2, Modbus application protocol 6.1/6.2).
pub const MAX_BITS_PER_READ: u16 = 2000;

/// How far the planner may merge reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanLimits {
    /// Registers per FC3/FC4 request, 1..=125.
    pub max_registers_per_read: u16,
    /// Bits per FC1/FC2 request, 1..=2000.
    pub max_bits_per_read: u16,
    /// Longest run of unused registers read to merge two neighbouring reads.
    pub max_gap_registers: u16,
    /// Longest run of unused bits read to merge two neighbouring reads.
    pub max_gap_bits: u16,
}

impl Default for PlanLimits {
    fn default() -> Self {
        Self {
            max_registers_per_read: MAX_REGISTERS_PER_READ,
            max_bits_per_read: MAX_BITS_PER_READ,
            max_gap_registers: 10,
            max_gap_bits: 100,
        }
    }
}

/// Why limits or tags cannot be planned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// A count limit is 0 or above the protocol maximum.
    #[error("{field} must be between 1 and {max} (got {value})")]
    Limit {
        /// `max_registers_per_read` or `max_bits_per_read`.
        field: &'static str,
        /// The value given.
        value: u16,
        /// The protocol maximum.
        max: u16,
    },
    /// A tag needs more registers than one request may read.
    #[error("tag #{index} needs {len} registers but {field} is {limit}")]
    TooWide {
        /// Index of the tag in the planner's input.
        index: usize,
        /// Registers it needs.
        len: u16,
        /// The limit.
        limit: u16,
        /// The limit's name.
        field: &'static str,
    },
}

impl PlanLimits {
    /// Every out-of-range count limit (the gap limits accept any value).
    pub fn check(&self) -> Vec<PlanError> {
        let mut errors = Vec::new();
        for (field, value, max) in [
            (
                "max_registers_per_read",
                self.max_registers_per_read,
                MAX_REGISTERS_PER_READ,
            ),
            (
                "max_bits_per_read",
                self.max_bits_per_read,
                MAX_BITS_PER_READ,
            ),
        ] {
            if value == 0 || value > max {
                errors.push(PlanError::Limit { field, value, max });
            }
        }
        errors
    }

    fn for_kind(&self, kind: RegisterKind) -> (u16, u16, &'static str) {
        if kind.is_bit() {
            (
                self.max_bits_per_read,
                self.max_gap_bits,
                "max_bits_per_read",
            )
        } else {
            (
                self.max_registers_per_read,
                self.max_gap_registers,
                "max_registers_per_read",
            )
        }
    }
}

/// What the planner needs to know about one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanItem {
    /// Table.
    pub kind: RegisterKind,
    /// First address.
    pub address: u16,
    /// Bits or registers, at least 1.
    pub len: u16,
}

/// One tag inside a [`ReadRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlannedTag {
    /// Index of the tag in the planner's input.
    pub index: usize,
    /// Position of its first bit or register in the response.
    pub offset: u16,
}

/// One read: a contiguous range of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    /// Table read.
    pub kind: RegisterKind,
    /// First address.
    pub start: u16,
    /// Bits or registers read.
    pub count: u16,
    /// Covered tags, by address.
    pub tags: Vec<PlannedTag>,
}

impl ReadRequest {
    /// The Modbus function code of this read.
    pub fn function_code(&self) -> u8 {
        self.kind.read_function_code()
    }

    /// Last address read (inclusive).
    pub fn last(&self) -> u16 {
        // count >= 1 and start + count - 1 <= 65535 by construction.
        self.start.saturating_add(self.count.saturating_sub(1))
    }
}

/// Plans the reads for `items` (one per tag).
pub fn plan_reads(items: &[PlanItem], limits: &PlanLimits) -> Result<Vec<ReadRequest>, PlanError> {
    plan_reads_around(items, limits, &[])
}

/// Plans the reads for `items` (one per tag) around `holes`: a tag that overlaps a hole is
/// left out of every request, and no request's range touches a hole.
pub fn plan_reads_around(
    items: &[PlanItem],
    limits: &PlanLimits,
    holes: &[Hole],
) -> Result<Vec<ReadRequest>, PlanError> {
    if let Some(e) = limits.check().into_iter().next() {
        return Err(e);
    }
    let mut requests = Vec::new();
    for kind in RegisterKind::ALL {
        let (max_count, max_gap, field) = limits.for_kind(kind);
        let holes: Vec<Hole> = holes.iter().copied().filter(|h| h.kind == kind).collect();
        let mut group: Vec<usize> = (0..items.len())
            .filter(|&i| items[i].kind == kind)
            .collect();
        if let Some(&index) = group
            .iter()
            .find(|&&i| items[i].len == 0 || items[i].len > max_count)
        {
            return Err(PlanError::TooWide {
                index,
                len: items[index].len,
                limit: max_count,
                field,
            });
        }
        group.retain(|&i| {
            let (s, e) = span(&items[i]);
            !holes.iter().any(|h| h.blocks(s, e))
        });
        group.sort_by_key(|&i| (items[i].address, i));
        let limits = RunLimits {
            max_count,
            max_gap,
            holes: &holes,
        };
        plan_group(kind, items, &group, &limits, &mut requests);
    }
    Ok(requests)
}

/// `[start, end)` of an item, in `u32` so the end of address 65535 fits.
fn span(item: &PlanItem) -> (u32, u32) {
    let s = u32::from(item.address);
    (s, s + u32::from(item.len))
}

/// What bounds one run of one table.
struct RunLimits<'a> {
    max_count: u16,
    max_gap: u16,
    holes: &'a [Hole],
}

/// Splits one table's sorted tags into the fewest feasible runs.
fn plan_group(
    kind: RegisterKind,
    items: &[PlanItem],
    sorted: &[usize],
    limits: &RunLimits<'_>,
    out: &mut Vec<ReadRequest>,
) {
    let RunLimits {
        max_count,
        max_gap,
        holes,
    } = *limits;
    let n = sorted.len();
    let start = |k: usize| u32::from(items[sorted[k]].address);
    let end = |k: usize| start(k) + u32::from(items[sorted[k]].len);
    // best[i]: fewest requests for sorted[i..]; next[i]: end (exclusive) of the first run.
    let mut best = vec![0usize; n + 1];
    let mut next = vec![n; n + 1];
    for i in (0..n).rev() {
        best[i] = usize::MAX;
        let mut covered = end(i);
        for j in i..n {
            if start(j) > covered + u32::from(max_gap) {
                break; // an unread hole too long; later tags start even later
            }
            covered = covered.max(end(j));
            if covered - start(i) > u32::from(max_count)
                || holes.iter().any(|h| h.blocks(start(i), covered))
            {
                break; // too long or across a hole; it only grows
            }
            if best[j + 1] < best[i] {
                best[i] = 1 + best[j + 1];
                next[i] = j + 1;
            }
        }
    }
    let mut i = 0;
    while i < n {
        let j = next[i];
        let first = items[sorted[i]].address;
        let last_end = (i..j).map(end).max().unwrap_or(start(i) + 1);
        let count = u16::try_from(last_end - start(i)).unwrap_or(max_count);
        let tags = (i..j)
            .map(|k| PlannedTag {
                index: sorted[k],
                offset: items[sorted[k]].address - first,
            })
            .collect();
        out.push(ReadRequest {
            kind,
            start: first,
            count,
            tags,
        });
        i = j;
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
