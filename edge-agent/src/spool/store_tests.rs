//! Spool unit tests on a temporary directory.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;

pub(super) fn settings(dir: &Path, max_bytes: u64, when_full: WhenFull) -> SpoolSettings {
    SpoolSettings {
        dir: dir.to_owned(),
        max_bytes,
        max_age: None,
        fsync: FsyncPolicy::Never,
        when_full,
        replay_rate: 100,
    }
}

pub(super) fn rec(seq: u64, size: usize) -> SpoolRecord {
    SpoolRecord {
        seq,
        points: 2,
        appended_ns: i64::try_from(seq).unwrap() * 1_000_000_000,
        topic: "t".into(),
        payload: vec![u8::try_from(seq % 251).unwrap(); size],
    }
}

/// Framed size of `rec(_, size)`.
fn framed(size: usize) -> u64 {
    format::encode(&rec(0, size)).len() as u64
}

fn unacked(s: &Spool) -> Vec<u64> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(seq) = s.next_unacked(from, u64::MAX) {
        out.push(seq);
        from = seq + 1;
    }
    out
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    v.sort();
    v
}

#[test]
fn records_survive_reopen_and_acks_persist() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(dir.path(), 1 << 20, WhenFull::DropOldest);
    let (mut s, rec0) = Spool::open(&cfg, 42).unwrap();
    assert_eq!((rec0.records, s.session(), s.next_seq()), (0, 42, 0));
    for seq in 0..5 {
        assert_eq!(s.append(&rec(seq, 10)).unwrap(), Dropped::default());
    }
    assert!(s.ack(1).unwrap());
    assert!(s.ack(0).unwrap());
    assert!(!s.ack(0).unwrap(), "second ack of the same record");
    assert_eq!(s.floor(), 2);
    s.sync().unwrap();
    drop(s);
    let (mut s, r) = Spool::open(&cfg, 99).unwrap();
    assert_eq!((r.records, s.session(), s.next_seq()), (3, 42, 5));
    assert_eq!(unacked(&s), [2, 3, 4]);
    assert_eq!(s.read(3).unwrap(), Some(rec(3, 10)));
    assert_eq!(s.read(1).unwrap(), None);
}

#[test]
fn a_torn_tail_is_truncated_at_every_cut_point() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(dir.path(), 1 << 20, WhenFull::DropOldest);
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    for seq in 0..3 {
        s.append(&rec(seq, 20)).unwrap();
    }
    s.sync().unwrap();
    drop(s);
    let file = segment_files(dir.path()).pop().unwrap();
    let full = fs::read(&file).unwrap();
    let state_file = dir.path().join("state");
    let saved_state = fs::read(&state_file).unwrap();
    let last = full.len() - framed(20) as usize;
    for cut in last..full.len() {
        fs::write(&file, &full[..cut]).unwrap();
        fs::write(&state_file, &saved_state).unwrap();
        let (mut s, r) = Spool::open(&cfg, 1).unwrap();
        assert_eq!(unacked(&s), [0, 1], "cut at {cut}");
        assert_eq!(r.truncated_bytes, (cut - last) as u64);
        assert_eq!(fs::metadata(&file).unwrap().len(), last as u64);
        // The torn record's seq is not reused (the state file had moved past it).
        assert_eq!(s.next_seq(), 3, "cut at {cut}");
        assert_eq!(s.append(&rec(3, 20)).unwrap(), Dropped::default());
        drop(s);
        let (s, _) = Spool::open(&cfg, 1).unwrap();
        assert_eq!(unacked(&s), [0, 1, 3]);
    }
    // Without a state file, the sequence continues after the last record on disk.
    fs::write(&file, &full[..full.len() - 1]).unwrap();
    fs::remove_file(&state_file).unwrap();
    let (s, _) = Spool::open(&cfg, 1).unwrap();
    assert_eq!((unacked(&s), s.next_seq()), (vec![0, 1], 2));
}

#[test]
fn a_crc_mismatch_ends_the_valid_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(dir.path(), 1 << 20, WhenFull::DropOldest);
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    for seq in 0..4 {
        s.append(&rec(seq, 20)).unwrap();
    }
    drop(s);
    let file = segment_files(dir.path()).pop().unwrap();
    let mut bytes = fs::read(&file).unwrap();
    let third_payload = HEADER_LEN + 2 * framed(20) as usize + 40;
    bytes[third_payload] ^= 0xFF;
    fs::write(&file, &bytes).unwrap();
    let (s, r) = Spool::open(&cfg, 1).unwrap();
    assert_eq!(unacked(&s), [0, 1]);
    assert_eq!(r.truncated_bytes, 2 * framed(20));
}

#[test]
fn segments_roll_and_are_deleted_only_when_fully_acked() {
    let dir = tempfile::tempdir().unwrap();
    // 64 KiB limit: 4 KiB segments; 1031-byte records → 3 per segment (header + 4 > 4 KiB).
    let cfg = settings(dir.path(), 64 * 1024, WhenFull::DropOldest);
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    for seq in 0..10 {
        s.append(&rec(seq, 1000)).unwrap();
    }
    let names: Vec<String> = segment_files(dir.path())
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "00000000000000000000.seg",
            "00000000000000000003.seg",
            "00000000000000000006.seg",
            "00000000000000000009.seg"
        ]
    );
    for seq in [1, 2, 3] {
        s.ack(seq).unwrap();
    }
    assert_eq!(segment_files(dir.path()).len(), 4, "seq 0 not acked yet");
    s.ack(0).unwrap();
    assert_eq!(segment_files(dir.path()).len(), 3);
    for seq in 4..10 {
        s.ack(seq).unwrap();
    }
    assert_eq!(
        segment_files(dir.path()).len(),
        1,
        "the active segment stays"
    );
    assert_eq!((s.len(), s.bytes()), (0, 0));
    s.sync().unwrap();
    drop(s);
    let (s, _) = Spool::open(&cfg, 1).unwrap();
    assert_eq!((s.len(), s.next_seq()), (0, 10));
}

#[test]
fn drop_oldest_counts_exactly_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(dir.path(), 5 * framed(100), WhenFull::DropOldest);
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    let mut dropped = Dropped::default();
    for seq in 0..12 {
        let d = s.append(&rec(seq, 100)).unwrap();
        dropped.batches += d.batches;
        dropped.points += d.points;
        dropped.records.extend(d.records);
    }
    assert_eq!((dropped.batches, dropped.points), (7, 14));
    let seqs: Vec<u64> = dropped.records.iter().map(|r| r.0).collect();
    assert_eq!(seqs, [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(unacked(&s), [7, 8, 9, 10, 11]);
    assert_eq!(s.bytes(), 5 * framed(100));
    drop(s);
    let (s, _) = Spool::open(&cfg, 1).unwrap();
    assert_eq!(unacked(&s), [7, 8, 9, 10, 11]);
}

#[test]
fn drop_newest_keeps_the_oldest_and_uses_up_the_seq() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(dir.path(), 3 * framed(100), WhenFull::DropNewest);
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    let total: u64 = (0..5)
        .map(|seq| s.append(&rec(seq, 100)).unwrap().batches)
        .sum();
    assert_eq!(total, 2);
    assert_eq!(unacked(&s), [0, 1, 2]);
    assert_eq!(s.next_seq(), 5);
    s.ack(0).unwrap();
    assert_eq!(s.append(&rec(5, 100)).unwrap(), Dropped::default());
    assert_eq!(unacked(&s), [1, 2, 5]);
}

#[test]
fn records_older_than_max_age_are_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = settings(dir.path(), 1 << 20, WhenFull::DropOldest);
    cfg.max_age = Some(Duration::from_secs(3));
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    let mut total = 0;
    for seq in 0..10 {
        total += s.append(&rec(seq, 10)).unwrap().batches;
    }
    // rec(n) is appended at n seconds: at 9 s, records from before 6 s are too old.
    assert_eq!(total, 6);
    assert_eq!(unacked(&s), [6, 7, 8, 9]);
    assert_eq!(s.expire(20_000_000_000).batches, 4);
}

#[test]
fn a_foreign_file_is_refused_and_a_torn_header_recreated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = settings(dir.path(), 1 << 20, WhenFull::DropOldest);
    let (mut s, _) = Spool::open(&cfg, 1).unwrap();
    s.append(&rec(0, 10)).unwrap();
    drop(s);
    fs::write(dir.path().join("00000000000000000001.seg"), b"SNTSP").unwrap();
    let (s, r) = Spool::open(&cfg, 1).unwrap();
    assert_eq!(
        (unacked(&s), r.truncated_bytes, s.next_seq()),
        (vec![0], 5, 1)
    );
    drop(s);
    fs::write(
        dir.path().join("00000000000000000000.seg"),
        b"not a spool file",
    )
    .unwrap();
    let err = Spool::open(&cfg, 1).unwrap_err().to_string();
    assert!(err.contains("bad magic"), "{err}");
}
