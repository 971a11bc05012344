//! Fast parsing of CloudTrail `eventTime` values to whole minutes since the Unix epoch.

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)` to minutes since the Unix epoch (UTC).
///
/// Returns `None` for anything else, including impossible dates such as February 30th.
pub fn parse_event_minute(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 17 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ') || b[13] != b':' {
        return None;
    }
    let year = digits(b, 0, 4)? as i64;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)? as i64;
    let minute = digits(b, 14, 2)? as i64;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) || hour > 23 || minute > 59 {
        return None;
    }
    let mut rest = &b[16..];
    if rest.first() == Some(&b':') {
        let sec = digits(rest, 1, 2)?;
        if sec > 60 {
            return None;
        }
        rest = &rest[3..];
        if rest.first() == Some(&b'.') {
            let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return None;
            }
            rest = &rest[1 + n..];
        }
    }
    let offset_minutes = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h = digits(&[*h1, *h2], 0, 2)? as i64;
            let m = digits(&[*m1, *m2], 0, 2)? as i64;
            let total = h * 60 + m;
            if *sign == b'+' {
                total
            } else {
                -total
            }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(days * 1440 + hour * 60 + minute - offset_minutes)
}

fn digits(b: &[u8], at: usize, n: usize) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(at..at + n)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloudtrail_times_parse_to_epoch_minutes() {
        assert_eq!(parse_event_minute("1970-01-01T00:01:59Z"), Some(1));
        assert_eq!(parse_event_minute("2017-06-01T08:00:00Z"), Some(1_496_304_000 / 60));
        assert_eq!(parse_event_minute("2024-02-29T23:59:00.123Z"), Some(1_709_251_140 / 60));
        assert_eq!(parse_event_minute("2017-06-01T10:00:00+02:00"), Some(1_496_304_000 / 60));
    }

    #[test]
    fn malformed_times_are_rejected() {
        for s in [
            "",
            "2017-06-01",
            "2017-13-01T00:00:00Z",
            "2017-02-30T00:00:00Z",
            "2017-06-01T24:00:00Z",
            "2017-06-01T08:00:00",
            "yyyy-06-01T08:00:00Z",
            "2017-06-01T08:00:00.Z",
        ] {
            assert_eq!(parse_event_minute(s), None, "{s}");
        }
    }
}
