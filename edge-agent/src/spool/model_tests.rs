//! Model test: random appends, acks, limit drops, crashes (reopen, optionally with a torn
//! tail) checked against a `VecDeque` of (seq, size) — what should be retained, in order.
#![allow(clippy::unwrap_used)]

use std::collections::VecDeque;

use proptest::prelude::*;

use super::format::{self, SpoolRecord};
use super::{Dropped, Spool};
use crate::settings::{FsyncPolicy, SpoolSettings, WhenFull};

#[derive(Debug, Clone)]
enum Op {
    Append(usize),
    /// Ack the n-th retained record (modulo).
    Ack(usize),
    /// Close cleanly (sync) and reopen.
    Reopen,
    /// Reopen without syncing the ack floor (a crash).
    Crash,
    /// Crash while the last record is half written: chop `n` bytes off the active segment.
    TearTail(usize),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (1usize..600).prop_map(Op::Append),
        4 => any::<usize>().prop_map(Op::Ack),
        1 => Just(Op::Reopen),
        1 => Just(Op::Crash),
        1 => (1usize..40).prop_map(Op::TearTail),
    ]
}

fn record(seq: u64, size: usize) -> SpoolRecord {
    SpoolRecord {
        seq,
        points: 3,
        appended_ns: 0,
        topic: "sentia/v1/data/a".into(),
        payload: vec![7; size],
    }
}

/// The model: retained (seq, framed len, acked) and the drop counts.
#[derive(Default)]
struct Model {
    retained: VecDeque<(u64, u64, bool)>,
    next_seq: u64,
    dropped: Dropped,
}

fn retained(s: &Spool) -> Vec<u64> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(seq) = s.next_unacked(from, u64::MAX) {
        out.push(seq);
        from = seq + 1;
    }
    out
}

fn check(ops: Vec<Op>, when_full: WhenFull) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SpoolSettings {
        dir: dir.path().to_owned(),
        max_bytes: 8 * 1024,
        max_age: None,
        fsync: FsyncPolicy::Never,
        when_full,
        replay_rate: 1,
    };
    let (mut spool, _) = Spool::open(&cfg, 5).unwrap();
    let mut m = Model::default();
    // Acked since the last sync: a crash may resurrect them (at-least-once).
    let mut maybe_back: Vec<u64> = Vec::new();
    for op in ops {
        match op {
            Op::Append(size) => {
                let r = record(m.next_seq, size);
                let len = format::encode(&r).len() as u64;
                let got = spool.append(&r).unwrap();
                let mut want = Dropped::default();
                let used = |m: &Model| m.retained.iter().map(|e| e.1).sum::<u64>();
                if used(&m) + len > cfg.max_bytes {
                    match when_full {
                        WhenFull::DropNewest => want.add(m.next_seq, 3),
                        WhenFull::DropOldest => {
                            while used(&m) + len > cfg.max_bytes {
                                let (seq, _, acked) = m.retained.pop_front().unwrap();
                                if !acked {
                                    want.add(seq, 3);
                                }
                            }
                            m.retained.push_back((m.next_seq, len, false));
                        }
                    }
                } else {
                    m.retained.push_back((m.next_seq, len, false));
                }
                while m.retained.front().is_some_and(|e| e.2) {
                    m.retained.pop_front();
                }
                m.next_seq += 1;
                assert_eq!(got, want);
                m.dropped.batches += got.batches;
            }
            Op::Ack(n) => {
                let live: Vec<u64> = m.retained.iter().filter(|e| !e.2).map(|e| e.0).collect();
                if live.is_empty() {
                    continue;
                }
                let seq = live[n % live.len()];
                assert!(spool.ack(seq).unwrap());
                maybe_back.push(seq);
                for e in m.retained.iter_mut() {
                    if e.0 == seq {
                        e.2 = true;
                    }
                }
                while m.retained.front().is_some_and(|e| e.2) {
                    m.retained.pop_front();
                }
            }
            Op::Reopen => {
                spool.sync().unwrap();
                drop(spool);
                spool = Spool::open(&cfg, 6).unwrap().0;
                // Acked records above the floor come back after a restart.
                for e in m.retained.iter_mut() {
                    e.2 = false;
                }
                maybe_back.clear();
            }
            Op::Crash | Op::TearTail(_) => {
                let tear = if let Op::TearTail(n) = op { n } else { 0 };
                drop(spool);
                let path = last_segment(dir.path());
                let len = std::fs::metadata(&path).unwrap().len();
                // The last segment holds the last record appended unless it is empty.
                if tear > 0
                    && len > format::HEADER_LEN as u64
                    && m.retained.back().is_some_and(|e| e.0 + 1 == m.next_seq)
                {
                    // Only the last record can be torn; it is lost (never acked either way).
                    let (_, rlen, _) = *m.retained.back().unwrap();
                    let cut = (tear as u64).min(rlen);
                    std::fs::OpenOptions::new()
                        .write(true)
                        .open(&path)
                        .unwrap()
                        .set_len(len - cut)
                        .unwrap();
                    m.retained.pop_back();
                }
                spool = Spool::open(&cfg, 6).unwrap().0;
                // Anything acked since the last sync may be back; accept either.
                let got = retained(&spool);
                let want: Vec<u64> = m.retained.iter().filter(|e| !e.2).map(|e| e.0).collect();
                let resurrected: Vec<u64> =
                    got.iter().copied().filter(|s| !want.contains(s)).collect();
                assert!(
                    resurrected.iter().all(|s| maybe_back.contains(s)),
                    "only records acked since the last sync come back: {got:?} vs {want:?}"
                );
                assert!(
                    want.iter().all(|s| got.contains(s)),
                    "nothing unacknowledged is lost: {got:?} vs {want:?}"
                );
                for e in m.retained.iter_mut() {
                    e.2 = !got.contains(&e.0);
                }
                // What we treat as the new model: exactly what came back.
                m.retained.retain(|e| !e.2 || got.contains(&e.0));
                let mut rebuilt: VecDeque<(u64, u64, bool)> = VecDeque::new();
                for seq in &got {
                    let len = m
                        .retained
                        .iter()
                        .find(|e| e.0 == *seq)
                        .map(|e| e.1)
                        .unwrap_or_else(|| spool_len(&mut spool, *seq));
                    rebuilt.push_back((*seq, len, false));
                }
                m.retained = rebuilt;
                maybe_back.clear();
                m.next_seq = spool.next_seq();
            }
        }
        let want: Vec<u64> = m.retained.iter().filter(|e| !e.2).map(|e| e.0).collect();
        assert_eq!(retained(&spool), want);
        assert_eq!(spool.len(), want.len() as u64);
        // Within the limit, except right after a crash resurrected acked records (the
        // next append trims).
        assert_eq!(spool.bytes(), m.retained.iter().map(|e| e.1).sum::<u64>());
        for seq in want.iter().take(3) {
            assert_eq!(spool.read(*seq).unwrap().unwrap().seq, *seq);
        }
    }
}

fn spool_len(spool: &mut Spool, seq: u64) -> u64 {
    format::encode(&spool.read(seq).unwrap().unwrap()).len() as u64
}

fn last_segment(dir: &std::path::Path) -> std::path::PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v.pop().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn spool_matches_the_model_drop_oldest(ops in proptest::collection::vec(op(), 1..120)) {
        check(ops, WhenFull::DropOldest);
    }

    #[test]
    fn spool_matches_the_model_drop_newest(ops in proptest::collection::vec(op(), 1..120)) {
        check(ops, WhenFull::DropNewest);
    }
}
