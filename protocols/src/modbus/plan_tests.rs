//! Planner tests: hand-computed maps, protocol edge cases, and a brute force over every
//! partition of small random maps proving the planner's request count is minimal.
#![allow(clippy::unwrap_used)]

use proptest::prelude::*;

use super::*;

const H: RegisterKind = RegisterKind::Holding;
const I: RegisterKind = RegisterKind::Input;
const C: RegisterKind = RegisterKind::Coil;

fn item(kind: RegisterKind, address: u16, len: u16) -> PlanItem {
    PlanItem { kind, address, len }
}

fn limits(max_count: u16, max_gap: u16) -> PlanLimits {
    PlanLimits {
        max_registers_per_read: max_count,
        max_bits_per_read: max_count,
        max_gap_registers: max_gap,
        max_gap_bits: max_gap,
    }
}

/// (kind, start, count) of each request.
fn shape(reqs: &[ReadRequest]) -> Vec<(RegisterKind, u16, u16)> {
    reqs.iter().map(|r| (r.kind, r.start, r.count)).collect()
}

/// Whether `block` (indices into `items`) can be one request, by the rules in the module doc.
fn feasible(items: &[PlanItem], block: &[usize], lim: &PlanLimits) -> bool {
    let kind = items[block[0]].kind;
    if block.iter().any(|&i| items[i].kind != kind) {
        return false;
    }
    let (max_count, max_gap, _) = lim.for_kind(kind);
    let mut spans: Vec<(u32, u32)> = block
        .iter()
        .map(|&i| {
            let s = u32::from(items[i].address);
            (s, s + u32::from(items[i].len))
        })
        .collect();
    spans.sort_unstable();
    let first = spans[0].0;
    let mut covered = spans[0].1;
    for &(s, e) in &spans[1..] {
        if s > covered + u32::from(max_gap) {
            return false;
        }
        covered = covered.max(e);
    }
    covered - first <= u32::from(max_count)
}

/// Fewest requests over every set partition of `items` (restricted growth strings).
fn brute_force_min(items: &[PlanItem], lim: &PlanLimits) -> usize {
    fn go(
        k: usize,
        items: &[PlanItem],
        lim: &PlanLimits,
        blocks: &mut Vec<Vec<usize>>,
        best: &mut usize,
    ) {
        if blocks.len() >= *best {
            return;
        }
        if k == items.len() {
            if blocks.iter().all(|b| feasible(items, b, lim)) {
                *best = blocks.len();
            }
            return;
        }
        for b in 0..blocks.len() {
            blocks[b].push(k);
            go(k + 1, items, lim, blocks, best);
            blocks[b].pop();
        }
        blocks.push(vec![k]);
        go(k + 1, items, lim, blocks, best);
        blocks.pop();
    }
    let mut best = items.len() + 1;
    go(0, items, lim, &mut Vec::new(), &mut best);
    best
}

/// Every tag is covered exactly once, at the right offset, by a legal request.
fn assert_valid(items: &[PlanItem], lim: &PlanLimits, reqs: &[ReadRequest]) {
    let mut seen = vec![0; items.len()];
    for r in reqs {
        let (max_count, _, _) = lim.for_kind(r.kind);
        assert!(r.count >= 1 && r.count <= max_count, "{r:?}");
        let idx: Vec<usize> = r.tags.iter().map(|t| t.index).collect();
        assert!(feasible(items, &idx, lim), "{r:?}");
        for t in &r.tags {
            let it = items[t.index];
            assert_eq!(it.kind, r.kind);
            assert_eq!(it.address, r.start + t.offset);
            assert!(t.offset + it.len <= r.count, "{r:?}");
            seen[t.index] += 1;
        }
        let first = r.tags.iter().map(|t| t.offset).min().unwrap();
        let end = r.tags.iter().map(|t| t.offset + items[t.index].len).max();
        assert_eq!(
            (first, end),
            (0, Some(r.count)),
            "request reads no spare edges"
        );
    }
    assert!(seen.iter().all(|&n| n == 1), "{seen:?}");
}

#[test]
fn hand_computed_scattered_map() {
    // input: 0 u16, 1 u16, 2 f32, 10 u32, 30 u16, 31 f64, 200 u16; holding: 0 u16, 50 u16
    let items = [
        item(I, 0, 1),
        item(I, 1, 1),
        item(I, 2, 2),
        item(I, 10, 2),
        item(I, 30, 1),
        item(I, 31, 4),
        item(I, 200, 1),
        item(H, 0, 1),
        item(H, 50, 1),
    ];
    // gap 10: 0..4 + hole 6 + 10..12 merge; hole 18 to 30 splits; 200 alone.
    let reqs = plan_reads(&items, &limits(125, 10)).unwrap();
    assert_eq!(
        shape(&reqs),
        [(H, 0, 1), (H, 50, 1), (I, 0, 12), (I, 30, 5), (I, 200, 1)]
    );
    // gap 20: 0..35 is one read; holding 0..51 with hole 49 still splits.
    let reqs = plan_reads(&items, &limits(125, 20)).unwrap();
    assert_eq!(
        shape(&reqs),
        [(H, 0, 1), (H, 50, 1), (I, 0, 35), (I, 200, 1)]
    );
    // gap 0: only touching tags merge.
    let reqs = plan_reads(&items, &limits(125, 0)).unwrap();
    assert_eq!(
        shape(&reqs),
        [
            (H, 0, 1),
            (H, 50, 1),
            (I, 0, 4),
            (I, 10, 2),
            (I, 30, 5),
            (I, 200, 1)
        ]
    );
    // gap 200, count 125: 0..35 and 200 can't share (201 registers); holding merges.
    let reqs = plan_reads(&items, &limits(125, 200)).unwrap();
    assert_eq!(shape(&reqs), [(H, 0, 51), (I, 0, 35), (I, 200, 1)]);
    for gap in [0, 10, 20, 200] {
        assert_valid(
            &items,
            &limits(125, gap),
            &plan_reads(&items, &limits(125, gap)).unwrap(),
        );
    }
}

#[test]
fn offsets_name_each_tag_inside_the_response() {
    let items = [item(I, 12, 2), item(I, 10, 1), item(I, 11, 4)];
    let reqs = plan_reads(&items, &PlanLimits::default()).unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!((reqs[0].start, reqs[0].count), (10, 5));
    let offsets: Vec<_> = reqs[0].tags.iter().map(|t| (t.index, t.offset)).collect();
    assert_eq!(offsets, [(1, 0), (2, 1), (0, 2)]);
}

#[test]
fn tag_straddling_the_125_register_limit_starts_a_new_read() {
    let fits = [item(H, 0, 1), item(H, 123, 2)];
    assert_eq!(
        shape(&plan_reads(&fits, &limits(125, 200)).unwrap()),
        [(H, 0, 125)]
    );
    let straddles = [item(H, 0, 1), item(H, 124, 2)];
    assert_eq!(
        shape(&plan_reads(&straddles, &limits(125, 200)).unwrap()),
        [(H, 0, 1), (H, 124, 2)]
    );
    // 300 contiguous registers: three reads of at most 125.
    let dense: Vec<_> = (0..300).map(|a| item(I, a, 1)).collect();
    let reqs = plan_reads(&dense, &PlanLimits::default()).unwrap();
    assert_eq!(shape(&reqs), [(I, 0, 125), (I, 125, 125), (I, 250, 50)]);
    // 64-bit values every 4 registers: 31 per read (124 registers), never split.
    let wide: Vec<_> = (0..40).map(|k| item(H, k * 4, 4)).collect();
    let reqs = plan_reads(&wide, &PlanLimits::default()).unwrap();
    assert_eq!(shape(&reqs), [(H, 0, 124), (H, 124, 36)]);
    assert_valid(&wide, &PlanLimits::default(), &reqs);
}

#[test]
fn overlapping_tags_share_registers() {
    // A u32 at 10 and the u16 views of its two halves, plus an f64 overlapping it.
    let items = [
        item(H, 10, 2),
        item(H, 10, 1),
        item(H, 11, 1),
        item(H, 11, 4),
    ];
    let reqs = plan_reads(&items, &limits(5, 0)).unwrap();
    assert_eq!(shape(&reqs), [(H, 10, 5)]);
    assert_valid(&items, &limits(5, 0), &reqs);
    // With room for only 4 registers, the f64 needs its own read.
    let reqs = plan_reads(&items, &limits(4, 0)).unwrap();
    assert_eq!(reqs.len(), 2);
    assert_valid(&items, &limits(4, 0), &reqs);
}

#[test]
fn a_64_bit_tag_is_read_whole() {
    let items = [item(I, 0, 4), item(I, 4, 1)];
    assert_eq!(
        shape(&plan_reads(&items, &limits(125, 0)).unwrap()),
        [(I, 0, 5)]
    );
    assert_eq!(
        shape(&plan_reads(&items, &limits(4, 0)).unwrap()),
        [(I, 0, 4), (I, 4, 1)]
    );
    let err = plan_reads(&items, &limits(3, 0)).unwrap_err();
    assert!(
        matches!(
            err,
            PlanError::TooWide {
                index: 0,
                len: 4,
                limit: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn gaps_exactly_at_the_limit_merge_and_one_more_splits() {
    // hole of 10 unread registers (1..=10) with max gap 10: merged.
    let at = [item(H, 0, 1), item(H, 11, 1)];
    assert_eq!(
        shape(&plan_reads(&at, &limits(125, 10)).unwrap()),
        [(H, 0, 12)]
    );
    let over = [item(H, 0, 1), item(H, 12, 1)];
    assert_eq!(
        shape(&plan_reads(&over, &limits(125, 10)).unwrap()),
        [(H, 0, 1), (H, 12, 1)]
    );
    // bits: default max gap 100.
    let at = [item(C, 0, 1), item(C, 101, 1)];
    assert_eq!(
        shape(&plan_reads(&at, &PlanLimits::default()).unwrap()),
        [(C, 0, 102)]
    );
    let over = [item(C, 0, 1), item(C, 102, 1)];
    assert_eq!(plan_reads(&over, &PlanLimits::default()).unwrap().len(), 2);
}

#[test]
fn two_thousand_coils_per_read() {
    let coils: Vec<_> = (0..2000).map(|a| item(C, a, 1)).collect();
    assert_eq!(
        shape(&plan_reads(&coils, &PlanLimits::default()).unwrap()),
        [(C, 0, 2000)]
    );
    let coils: Vec<_> = (0..2001).map(|a| item(C, a, 1)).collect();
    assert_eq!(
        shape(&plan_reads(&coils, &PlanLimits::default()).unwrap()),
        [(C, 0, 2000), (C, 2000, 1)]
    );
    let ends = [item(C, 0, 1), item(C, 1999, 1), item(C, 65535, 1)];
    let lim = PlanLimits {
        max_gap_bits: 2000,
        ..PlanLimits::default()
    };
    assert_eq!(
        shape(&plan_reads(&ends, &lim).unwrap()),
        [(C, 0, 2000), (C, 65535, 1)]
    );
    let d = RegisterKind::Discrete;
    let mixed = [item(d, 5, 1), item(C, 5, 1), item(I, 5, 1), item(H, 5, 1)];
    let reqs = plan_reads(&mixed, &PlanLimits::default()).unwrap();
    let fcs: Vec<_> = reqs.iter().map(ReadRequest::function_code).collect();
    assert_eq!(fcs, [1, 2, 3, 4]);
}

#[test]
fn limits_are_checked() {
    let bad = PlanLimits {
        max_registers_per_read: 126,
        max_bits_per_read: 0,
        ..PlanLimits::default()
    };
    let errors = bad.check();
    assert_eq!(errors.len(), 2);
    assert!(errors[0].to_string().contains("max_registers_per_read"));
    assert!(plan_reads(&[item(H, 0, 1)], &bad).is_err());
    assert!(plan_reads(&[], &PlanLimits::default()).unwrap().is_empty());
}

#[test]
fn same_tags_in_any_order_give_the_same_plan() {
    let items = [
        item(I, 40, 2),
        item(H, 3, 1),
        item(I, 0, 1),
        item(I, 7, 4),
        item(C, 9, 1),
        item(I, 40, 1),
        item(H, 200, 2),
    ];
    let lim = limits(20, 5);
    let canonical = |order: &[usize]| {
        let shuffled: Vec<_> = order.iter().map(|&i| items[i]).collect();
        let reqs = plan_reads(&shuffled, &lim).unwrap();
        reqs.iter()
            .map(|r| {
                let mut tags: Vec<_> = r.tags.iter().map(|t| (order[t.index], t.offset)).collect();
                tags.sort_unstable();
                (r.kind, r.start, r.count, tags)
            })
            .collect::<Vec<_>>()
    };
    let base = canonical(&[0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(canonical(&[6, 5, 4, 3, 2, 1, 0]), base);
    assert_eq!(canonical(&[3, 0, 6, 1, 5, 2, 4]), base);
    assert_eq!(
        plan_reads(&items, &lim).unwrap(),
        plan_reads(&items, &lim).unwrap()
    );
}

fn small_map() -> impl Strategy<Value = (Vec<PlanItem>, PlanLimits)> {
    let one = (0u8..3, 0u16..40, prop::sample::select(vec![1u16, 1, 2, 4])).prop_map(
        |(k, address, len)| {
            let kind = [H, I, C][usize::from(k)];
            let len = if kind.is_bit() { 1 } else { len };
            item(kind, address, len)
        },
    );
    (prop::collection::vec(one, 1..=8), 4u16..=16, 0u16..=6)
        .prop_map(|(items, count, gap)| (items, limits(count, gap)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn request_count_is_minimal((items, lim) in small_map()) {
        let reqs = plan_reads(&items, &lim).unwrap();
        assert_valid(&items, &lim, &reqs);
        prop_assert_eq!(reqs.len(), brute_force_min(&items, &lim));
    }
}

#[test]
fn plans_around_holes() {
    use crate::modbus::{Hole, plan_reads_around};
    let item = |address, len| PlanItem {
        kind: RegisterKind::Holding,
        address,
        len,
    };
    // 0 (1), 2 (2), 6 (1), 8 (4), 20 (1)
    let items = [item(0, 1), item(2, 2), item(6, 1), item(8, 4), item(20, 1)];
    let limits = PlanLimits::default();
    let before = plan_reads_around(&items, &limits, &[]).unwrap();
    assert_eq!(before.len(), 1, "{before:?}");
    // The gap register 5 is refused, and tag 3 (8..11) lies in a hole.
    let holes = [
        Hole {
            kind: RegisterKind::Holding,
            start: 5,
            count: 1,
        },
        Hole {
            kind: RegisterKind::Holding,
            start: 10,
            count: 1,
        },
        // A hole in another table changes nothing here.
        Hole {
            kind: RegisterKind::Input,
            start: 0,
            count: 100,
        },
    ];
    let after = plan_reads_around(&items, &limits, &holes).unwrap();
    let ranges: Vec<_> = after
        .iter()
        .map(|r| {
            (
                r.start,
                r.count,
                r.tags.iter().map(|t| t.index).collect::<Vec<_>>(),
            )
        })
        .collect();
    // 6 and 20 cannot share a read: it would cover the hole at 10.
    assert_eq!(
        ranges,
        [(0, 4, vec![0, 1]), (6, 1, vec![2]), (20, 1, vec![4])]
    );
    for r in &after {
        let (s, e) = (u32::from(r.start), u32::from(r.start) + u32::from(r.count));
        assert!(!holes.iter().any(|h| h.kind == r.kind && h.blocks(s, e)));
    }
    // A boundary at 6: reads may end at 6 or start there, not cross it.
    let boundary = [Hole {
        kind: RegisterKind::Holding,
        start: 6,
        count: 0,
    }];
    let after = plan_reads_around(&items, &limits, &boundary).unwrap();
    let starts: Vec<_> = after.iter().map(|r| (r.start, r.count)).collect();
    assert_eq!(starts, [(0, 4), (6, 15)]);
}
