//! UTC dates for report periods and columns, without a calendar crate: `YYYY-MM-DD`,
//! RFC 3339 (`2026-11-01T00:00:00Z`, offsets and fractions allowed) or Unix seconds in, RFC
//! 3339 out. Proleptic Gregorian (Howard Hinnant's days-from-civil).

const DAY_MS: i64 = 86_400_000;

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn num(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

fn date_ms(text: &str) -> Option<i64> {
    let mut parts = text.splitn(3, '-');
    let (y, m, d) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if text.len() != 10 || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 2026-02-31 would silently become March 3rd: refuse it.
    (civil_from_days(days) == (y, m, d)).then_some(days * DAY_MS)
}

/// Milliseconds since midnight of `HH:MM:SS[.fff…]`.
fn clock_ms(text: &str) -> Option<i64> {
    let (hms, frac) = text.split_once('.').unwrap_or((text, ""));
    let mut parts = hms.split(':');
    let (h, m, s) = (
        num(parts.next()?)?,
        num(parts.next()?)?,
        num(parts.next()?)?,
    );
    if parts.next().is_some() || h > 23 || m > 59 || s > 60 {
        return None;
    }
    let ms = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        num(&digits)?
    };
    if !frac.is_empty() && num(frac).is_none() {
        return None;
    }
    Some(((h * 60 + m) * 60 + s) * 1000 + ms)
}

fn rfc3339_ms(text: &str) -> Option<i64> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let day = date_ms(date)?;
    let (clock, offset_ms) = if let Some(c) = rest.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let at = rest.rfind(['+', '-'])?;
        let (c, off) = rest.split_at(at);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (oh, om) = off[1..].split_once(':')?;
        let (oh, om) = (num(oh)?, num(om)?);
        if oh > 23 || om > 59 {
            return None;
        }
        (c, sign * (oh * 60 + om) * 60_000)
    };
    Some(day + clock_ms(clock)? - offset_ms)
}

/// A period bound: Unix seconds, `YYYY-MM-DD` or RFC 3339. A bare date as an upper bound
/// (`end_of_day`) means the whole day, up to its last millisecond.
pub fn parse_bound(text: &str, end_of_day: bool) -> Option<i64> {
    let text = text.trim();
    if let Some(secs) = num(text) {
        return secs.checked_mul(1000);
    }
    if let Some(day) = date_ms(text) {
        return Some(if end_of_day { day + DAY_MS - 1 } else { day });
    }
    rfc3339_ms(text)
}

/// `2026-11-01T12:00:00Z` (milliseconds dropped).
pub fn format_utc(ms: i64) -> String {
    let days = ms.div_euclid(DAY_MS);
    let secs = ms.rem_euclid(DAY_MS) / 1000;
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_rfc3339_times_parse_to_utc_milliseconds() {
        assert_eq!(parse_bound("1970-01-01", false), Some(0));
        assert_eq!(parse_bound("1970-01-01", true), Some(DAY_MS - 1));
        assert_eq!(
            parse_bound("2025-11-01T00:00:00Z", false),
            Some(1_761_955_200_000)
        );
        assert_eq!(
            parse_bound("2025-11-01T02:00:00.5+02:00", false),
            Some(1_761_955_200_500)
        );
        assert_eq!(
            parse_bound("1761955200", false),
            Some(1_761_955_200_000),
            "Unix seconds"
        );
        for bad in [
            "2026-02-30",
            "2026-13-01",
            "yesterday",
            "2026-11-01T25:00:00Z",
            "",
        ] {
            assert_eq!(parse_bound(bad, false), None, "{bad}");
        }
    }

    #[test]
    fn formatting_round_trips_through_parsing() {
        for ms in [0, 951_782_400_000, 1_761_955_200_000, 4_102_444_799_000] {
            assert_eq!(parse_bound(&format_utc(ms), false), Some(ms));
        }
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00Z");
    }
}
