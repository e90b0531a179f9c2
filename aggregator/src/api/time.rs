//! Time parameters: integer nanoseconds since the Unix epoch, or RFC 3339
//! (`2024-05-01T12:00:00Z`, `2024-05-01T12:00:00.5+02:00`). A space where the offset's `+`
//! should be (an unencoded `+` in a query string) is accepted.

use std::time::UNIX_EPOCH;

use protocols::model::TimestampNs;

pub(crate) fn parse_time(s: &str) -> Result<TimestampNs, String> {
    let s = s.trim_start();
    if !s.is_empty()
        && s.trim_start_matches('-')
            .bytes()
            .all(|b| b.is_ascii_digit())
    {
        return s
            .parse()
            .map_err(|_| format!("'{s}' is out of range for nanoseconds since the epoch"));
    }
    let bad = || format!("'{s}' is neither nanoseconds since the epoch nor an RFC 3339 time");
    let (base, offset_s) = split_offset(s).ok_or_else(bad)?;
    let t = humantime::parse_rfc3339(&base).map_err(|_| bad())?;
    let since = t
        .duration_since(UNIX_EPOCH)
        .map_err(|_| format!("'{s}' is before 1970"))?;
    let ns =
        i128::try_from(since.as_nanos()).map_err(|_| bad())? - i128::from(offset_s) * 1_000_000_000;
    TimestampNs::try_from(ns).map_err(|_| bad())
}

/// `...Z` → (text, 0); `...±HH:MM` → (text with `Z`, offset in seconds).
fn split_offset(s: &str) -> Option<(String, i64)> {
    if s.ends_with(['Z', 'z']) {
        return Some((format!("{}Z", &s[..s.len() - 1]), 0));
    }
    let cut = s.len().checked_sub(6)?;
    if !s.is_char_boundary(cut) {
        return None;
    }
    let (base, off) = s.split_at(cut);
    let mut chars = off.chars();
    let sign = match chars.next()? {
        '+' | ' ' => 1,
        '-' => -1,
        _ => return None,
    };
    let rest: &str = chars.as_str();
    let (h, m) = rest.split_once(':')?;
    let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
    if h > 23 || m > 59 || base.is_empty() {
        return None;
    }
    Some((format!("{base}Z"), sign * (h * 3600 + m * 60)))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn nanoseconds_and_rfc3339() {
        assert_eq!(
            parse_time("1700000000000000000").unwrap(),
            1_700_000_000_000_000_000
        );
        assert_eq!(parse_time("-5").unwrap(), -5);
        assert_eq!(parse_time("1970-01-01T00:00:01Z").unwrap(), 1_000_000_000);
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z").unwrap(), 1_500_000_000);
        assert_eq!(
            parse_time("1970-01-01T02:00:01+02:00").unwrap(),
            1_000_000_000
        );
        assert_eq!(
            parse_time("1970-01-01T02:00:01 02:00").unwrap(),
            1_000_000_000
        );
        assert_eq!(
            parse_time("1970-01-01T00:00:01-01:00").unwrap(),
            3_601_000_000_000
        );
        for bad in [
            "",
            "yesterday",
            "1970-01-01",
            "1970-01-01T00:00:01+25:00",
            "99999999999999999999",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }
}
