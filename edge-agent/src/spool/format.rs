//! The spool's on-disk encoding, pure functions over byte slices (no I/O): the segment
//! header, one record, and the scan that finds the valid prefix of a segment. The layout is
//! documented in the module docs of [`crate::spool`].

/// First bytes of every segment file.
pub(crate) const MAGIC: &[u8; 8] = b"SNTSPOOL";
/// Format version written after the magic. Bump it when the layout changes.
pub(crate) const VERSION: u32 = 1;
/// Segment header: magic, version (u32 LE), reserved (u32, zero).
pub(crate) const HEADER_LEN: usize = 16;
/// Record frame: body length (u32 LE) and CRC32 of the body (u32 LE).
pub(crate) const FRAME_LEN: usize = 8;
/// Fixed part of a record body: seq (u64), points (u32), appended at (i64 ns), topic
/// length (u16).
const BODY_FIXED_LEN: usize = 8 + 4 + 8 + 2;
/// Largest body accepted when reading (a corrupt length must not allocate gigabytes).
pub(crate) const MAX_BODY_LEN: usize = 64 * 1024 * 1024;

/// One spooled batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SpoolRecord {
    /// Sequence number, assigned on append.
    pub(crate) seq: u64,
    /// Points in the batch (for drop accounting).
    pub(crate) points: u32,
    /// When it was appended (ns since the epoch), for `max_age`.
    pub(crate) appended_ns: i64,
    /// The data topic.
    pub(crate) topic: String,
    /// The encoded `Message::Batch` (historical = false).
    pub(crate) payload: Vec<u8>,
}

/// The segment header bytes.
pub(crate) fn header() -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h
}

/// Why a segment header is unusable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Shorter than a header (a torn segment creation).
    #[error("segment header is truncated")]
    Short,
    /// Not a spool segment.
    #[error("bad magic (not a spool segment)")]
    Magic,
    /// Written by another format version.
    #[error("unsupported spool format version {0} (this agent reads version {VERSION})")]
    Version(u32),
}

/// Checks a segment header.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), HeaderError> {
    if bytes.len() < HEADER_LEN {
        return Err(HeaderError::Short);
    }
    if &bytes[..8] != MAGIC {
        return Err(HeaderError::Magic);
    }
    let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
    if version != VERSION {
        return Err(HeaderError::Version(version));
    }
    Ok(())
}

/// Encodes `r` as one framed record.
pub(crate) fn encode(r: &SpoolRecord) -> Vec<u8> {
    let topic = r.topic.as_bytes();
    let topic_len = u16::try_from(topic.len()).unwrap_or(u16::MAX);
    let topic = &topic[..usize::from(topic_len)];
    let body_len = BODY_FIXED_LEN + topic.len() + r.payload.len();
    let mut out = Vec::with_capacity(FRAME_LEN + body_len);
    out.extend_from_slice(&u32::try_from(body_len).unwrap_or(u32::MAX).to_le_bytes());
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&r.seq.to_le_bytes());
    out.extend_from_slice(&r.points.to_le_bytes());
    out.extend_from_slice(&r.appended_ns.to_le_bytes());
    out.extend_from_slice(&topic_len.to_le_bytes());
    out.extend_from_slice(topic);
    out.extend_from_slice(&r.payload);
    let crc = crc32fast::hash(&out[FRAME_LEN..]);
    out[4..8].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Why bytes at some offset are not a valid record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum RecordError {
    /// The frame or body runs past the end (a torn write).
    #[error("partial record")]
    Partial,
    /// The length field is impossible.
    #[error("bad record length {0}")]
    Length(usize),
    /// The checksum does not match.
    #[error("checksum mismatch")]
    Crc,
}

/// Decodes the record at the start of `bytes`; returns it and its framed length.
pub(crate) fn decode(bytes: &[u8]) -> Result<(SpoolRecord, usize), RecordError> {
    if bytes.len() < FRAME_LEN {
        return Err(RecordError::Partial);
    }
    let len = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    if !(BODY_FIXED_LEN..=MAX_BODY_LEN).contains(&len) {
        return Err(RecordError::Length(len));
    }
    let Some(body) = bytes.get(FRAME_LEN..FRAME_LEN + len) else {
        return Err(RecordError::Partial);
    };
    let crc = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]);
    if crc32fast::hash(body) != crc {
        return Err(RecordError::Crc);
    }
    let u64_at = |i: usize| {
        let mut b = [0u8; 8];
        b.copy_from_slice(&body[i..i + 8]);
        b
    };
    let seq = u64::from_le_bytes(u64_at(0));
    let points = u32::from_le_bytes([body[8], body[9], body[10], body[11]]);
    let appended_ns = i64::from_le_bytes(u64_at(12));
    let topic_len = usize::from(u16::from_le_bytes([body[20], body[21]]));
    let Some(topic) = body.get(BODY_FIXED_LEN..BODY_FIXED_LEN + topic_len) else {
        return Err(RecordError::Length(len));
    };
    let record = SpoolRecord {
        seq,
        points,
        appended_ns,
        topic: String::from_utf8_lossy(topic).into_owned(),
        payload: body[BODY_FIXED_LEN + topic_len..].to_vec(),
    };
    Ok((record, FRAME_LEN + len))
}

/// Result of scanning a segment's records.
#[derive(Debug, Default)]
pub(crate) struct Scan {
    /// Each valid record with its offset in the segment and framed length.
    pub(crate) records: Vec<(SpoolRecord, u64, u64)>,
    /// Length of the valid prefix (header included): the file is truncated here.
    pub(crate) valid_len: u64,
    /// Why scanning stopped early, if it did (the torn or corrupt tail).
    pub(crate) tail: Option<RecordError>,
}

/// Scans the records after the header of `segment` (whose header was checked); stops at
/// the first partial or corrupt record or at a sequence number that does not increase.
pub(crate) fn scan(segment: &[u8]) -> Scan {
    let mut s = Scan {
        valid_len: HEADER_LEN as u64,
        ..Scan::default()
    };
    let mut at = HEADER_LEN;
    while at < segment.len() {
        match decode(&segment[at..]) {
            Ok((r, n)) => {
                if s.records
                    .last()
                    .is_some_and(|(last, _, _)| last.seq >= r.seq)
                {
                    s.tail = Some(RecordError::Crc);
                    break;
                }
                s.records.push((r, at as u64, n as u64));
                at += n;
                s.valid_len = at as u64;
            }
            Err(e) => {
                s.tail = Some(e);
                break;
            }
        }
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn rec(seq: u64) -> SpoolRecord {
        SpoolRecord {
            seq,
            points: 3,
            appended_ns: 1_700_000_000_000_000_000,
            topic: "sentia/v1/data/a/s/a/l/x".into(),
            payload: vec![1, 2, 3, 4, 5],
        }
    }

    fn segment(records: &[SpoolRecord]) -> Vec<u8> {
        let mut s = header().to_vec();
        for r in records {
            s.extend(encode(r));
        }
        s
    }

    #[test]
    fn header_bytes_are_pinned() {
        assert_eq!(
            header(),
            *b"SNTSPOOL\x01\x00\x00\x00\x00\x00\x00\x00",
            "changing the header changes the format: bump VERSION"
        );
        assert_eq!(check_header(&header()), Ok(()));
        assert_eq!(check_header(&header()[..15]), Err(HeaderError::Short));
        assert_eq!(check_header(&[0; 16]), Err(HeaderError::Magic));
        let mut v2 = header();
        v2[8] = 2;
        assert_eq!(check_header(&v2), Err(HeaderError::Version(2)));
    }

    #[test]
    fn record_bytes_are_pinned_and_round_trip() {
        let r = SpoolRecord {
            seq: 0x0102,
            points: 7,
            appended_ns: -1,
            topic: "t".into(),
            payload: vec![0xAA],
        };
        let bytes = encode(&r);
        let body: Vec<u8> = [
            &[0x02, 0x01, 0, 0, 0, 0, 0, 0][..],
            &[7, 0, 0, 0],
            &[0xFF; 8],
            &[1, 0],
            b"t",
            &[0xAA],
        ]
        .concat();
        assert_eq!(&bytes[..4], &(body.len() as u32).to_le_bytes());
        assert_eq!(&bytes[4..8], &crc32fast::hash(&body).to_le_bytes());
        assert_eq!(&bytes[8..], &body[..]);
        assert_eq!(decode(&bytes), Ok((r, bytes.len())));
    }

    #[test]
    fn every_cut_of_the_last_record_is_detected_and_the_prefix_kept() {
        let full = segment(&[rec(0), rec(1), rec(2)]);
        let last_start = full.len() - encode(&rec(2)).len();
        for cut in last_start..full.len() {
            let s = scan(&full[..cut]);
            assert_eq!(s.records.len(), 2, "cut at {cut}");
            assert_eq!(s.valid_len, last_start as u64, "cut at {cut}");
            assert_eq!(s.tail.is_some(), cut > last_start, "cut at {cut}");
        }
        let s = scan(&full);
        assert_eq!(
            (s.records.len(), s.valid_len, s.tail),
            (3, full.len() as u64, None)
        );
    }

    #[test]
    fn a_flipped_bit_anywhere_in_the_last_record_is_caught() {
        let full = segment(&[rec(0), rec(1)]);
        let last_start = full.len() - encode(&rec(1)).len();
        for i in last_start..full.len() {
            let mut bad = full.clone();
            bad[i] ^= 0x10;
            let s = scan(&bad);
            assert_eq!(s.records.len(), 1, "flip at {i}");
            assert_eq!(s.valid_len, last_start as u64);
            assert!(s.tail.is_some());
        }
    }

    #[test]
    fn absurd_lengths_are_rejected_without_allocating() {
        let mut bytes = encode(&rec(0));
        bytes[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(RecordError::Length(_))));
        bytes[..4].copy_from_slice(&3u32.to_le_bytes());
        assert!(matches!(decode(&bytes), Err(RecordError::Length(3))));
    }
}
