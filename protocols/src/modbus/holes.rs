//! Exception-02 hole learning, the I/O-free part.
//!
//! Many PLCs answer a read that touches an address they do not serve with exception 02
//! (illegal data address), even if every tag in it is fine and only a filled gap is not. When
//! a merged read gets exception 02 the driver bisects it over its tags ([`split`]): each half
//! is read over its own, shorter range. A single tag refused is a [`Hole`] over that tag's
//! registers; two halves that both succeed while their union failed put the hole in the gap
//! between them ([`gap_between`]), which may be empty: then the device refuses reads that
//! cross that address (a block boundary), a zero-length hole that requests may not span.
//! The register map is then re-planned around the holes (`plan.rs`): the tags in a hole are
//! left out (bad quality, "illegal data address"), the rest keep being read in few requests.
//! Holes are retried now and then by the caller, in case the PLC program changed.

use std::fmt;

use super::{PlannedTag, ReadRequest, RegisterKind};

/// A range of one table the device refuses to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Hole {
    /// The table.
    pub kind: RegisterKind,
    /// First refused address (for a zero-length hole, the address no read may cross).
    pub start: u16,
    /// Refused bits or registers; 0 for a boundary that reads may end or start at but not
    /// cross.
    pub count: u16,
}

impl Hole {
    /// Whether a read of `[start, end)` (addresses as `u32`) would touch this hole.
    pub fn blocks(&self, start: u32, end: u32) -> bool {
        let hs = u32::from(self.start);
        if self.count == 0 {
            start < hs && hs < end
        } else {
            start < hs + u32::from(self.count) && hs < end
        }
    }

    /// `kind start..last` with addresses shifted by `base` (the device's `address_base`), or
    /// `kind boundary at N` for a zero-length hole.
    pub fn describe(&self, base: u16) -> String {
        let first = u32::from(self.start) + u32::from(base);
        if self.count == 0 {
            format!("{} boundary at {first}", self.kind)
        } else {
            format!(
                "{} {first}..{}",
                self.kind,
                first + u32::from(self.count) - 1
            )
        }
    }
}

impl fmt::Display for Hole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe(0))
    }
}

/// The two halves of a refused multi-tag request, each over the range its own tags need.
/// `lens` gives each tag's width by input index. `None` for a request of one tag.
pub fn split(request: &ReadRequest, lens: &[u16]) -> Option<(ReadRequest, ReadRequest)> {
    if request.tags.len() < 2 {
        return None;
    }
    let mut tags = request.tags.clone();
    tags.sort_by_key(|t| (t.offset, t.index));
    let right = tags.split_off(tags.len() / 2);
    Some((
        narrowed(request, &tags, lens),
        narrowed(request, &right, lens),
    ))
}

/// A request over just `tags` (offsets relative to `request.start`).
fn narrowed(request: &ReadRequest, tags: &[PlannedTag], lens: &[u16]) -> ReadRequest {
    let first = tags.iter().map(|t| t.offset).min().unwrap_or(0);
    let end = tags
        .iter()
        .map(|t| t.offset + lens.get(t.index).copied().unwrap_or(1))
        .max()
        .unwrap_or(first + 1);
    ReadRequest {
        kind: request.kind,
        start: request.start + first,
        count: end - first,
        tags: tags
            .iter()
            .map(|t| PlannedTag {
                index: t.index,
                offset: t.offset - first,
            })
            .collect(),
    }
}

/// The hole a refused request leaves when both of its halves were read fine: the registers
/// between them (possibly none: a boundary).
pub fn gap_between(left: &ReadRequest, right: &ReadRequest) -> Hole {
    let left_end = u32::from(left.start) + u32::from(left.count);
    let start = left_end.min(u32::from(right.start));
    let count = u32::from(right.start).saturating_sub(left_end);
    Hole {
        kind: left.kind,
        start: u16::try_from(start).unwrap_or(u16::MAX),
        count: u16::try_from(count).unwrap_or(0),
    }
}

/// The hole a refused single-tag request leaves: its whole range.
pub(crate) fn whole(request: &ReadRequest) -> Hole {
    Hole {
        kind: request.kind,
        start: request.start,
        count: request.count,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn request(start: u16, tags: &[(usize, u16)]) -> ReadRequest {
        let lens = [1u16, 2, 2, 4, 1];
        let end = tags.iter().map(|&(i, o)| o + lens[i]).max().unwrap_or(1);
        ReadRequest {
            kind: RegisterKind::Holding,
            start,
            count: end,
            tags: tags
                .iter()
                .map(|&(index, offset)| PlannedTag { index, offset })
                .collect(),
        }
    }

    #[test]
    fn splits_into_halves_over_their_own_ranges() {
        let lens = [1u16, 2, 2, 4, 1];
        // tags at 100 (1), 103 (2), 110 (2), 114 (4), 120 (1)
        let r = request(100, &[(0, 0), (1, 3), (2, 10), (3, 14), (4, 20)]);
        let (a, b) = split(&r, &lens).unwrap();
        assert_eq!((a.start, a.count), (100, 5));
        assert_eq!(a.tags.iter().map(|t| t.index).collect::<Vec<_>>(), [0, 1]);
        assert_eq!((b.start, b.count), (110, 11));
        assert_eq!(
            b.tags
                .iter()
                .map(|t| (t.index, t.offset))
                .collect::<Vec<_>>(),
            [(2, 0), (3, 4), (4, 10)]
        );
        let (c, d) = split(&a, &lens).unwrap();
        assert_eq!((c.start, c.count, d.start, d.count), (100, 1, 103, 2));
        assert!(split(&c, &lens).is_none());
        assert_eq!(
            gap_between(&a, &b),
            Hole {
                kind: RegisterKind::Holding,
                start: 105,
                count: 5
            }
        );
        assert_eq!(gap_between(&c, &d).count, 2);
        assert_eq!(whole(&d).start, 103);
    }

    #[test]
    fn holes_block_ranges_that_touch_them() {
        let h = Hole {
            kind: RegisterKind::Input,
            start: 10,
            count: 2,
        };
        assert!(h.blocks(0, 11) && h.blocks(11, 12) && h.blocks(5, 20));
        assert!(!h.blocks(0, 10) && !h.blocks(12, 20));
        let boundary = Hole { count: 0, ..h };
        assert!(boundary.blocks(9, 11));
        assert!(!boundary.blocks(0, 10) && !boundary.blocks(10, 20));
        assert_eq!(h.describe(1), "input 11..12");
        assert_eq!(boundary.describe(0), "input boundary at 10");
    }
}
