//! Timestamp formats seen in the built-in sources, parsed to epoch
//! milliseconds without a clock or a time zone database.

/// Days from 1970-01-01 to the civil date (proleptic Gregorian).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Epoch milliseconds of a civil date-time in UTC, checking ranges.
pub(crate) fn civil_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> Option<i64> {
    let ok = (1..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..=23).contains(&h)
        && (0..=59).contains(&mi)
        && (0..=60).contains(&s);
    ok.then(|| ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi) * 60_000 + s * 1000 + ms)
}

/// Milliseconds of a fraction like `123456` (digits after the dot).
fn frac_ms(f: &str) -> Option<i64> {
    if f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ms = 0;
    for (i, b) in f.bytes().take(3).enumerate() {
        ms += i64::from(b - b'0') * [100, 10, 1].get(i).copied().unwrap_or(0);
    }
    Some(ms)
}

/// Parses `HH:MM:SS[.fff…]` into (h, m, s, ms).
fn hms(t: &str) -> Option<(i64, i64, i64, i64)> {
    let (clock, frac) = match t.split_once(['.', ',']) {
        Some((c, f)) => (c, frac_ms(f)?),
        None => (t, 0),
    };
    let mut it = clock.split(':');
    let h = num(it.next()?)?;
    let m = num(it.next()?)?;
    let s = num(it.next()?)?;
    if it.next().is_some() {
        return None;
    }
    Some((h, m, s, frac))
}

/// Offset in milliseconds of `Z`, `+HH:MM`, `+HHMM` or `+HH`.
fn offset_ms(z: &str) -> Option<i64> {
    if z.eq_ignore_ascii_case("z") || z.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let (sign, rest) = match z.as_bytes().first()? {
        b'+' => (1, z.get(1..)?),
        b'-' => (-1, z.get(1..)?),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    let (h, m) = match digits.len() {
        2 => (num(&digits)?, 0),
        4 => (num(digits.get(..2)?)?, num(digits.get(2..)?)?),
        _ => return None,
    };
    (h <= 23 && m <= 59).then_some(sign * (h * 60 + m) * 60_000)
}

/// RFC 3339 / ISO 8601 date-times: `2026-11-25T18:02:11.123Z`,
/// `…+00:00`, `…+0000`, seven fractional digits, or a space instead of `T`;
/// no offset means UTC. Also `2026/11/25 18:20:00` (PAN-OS).
pub(crate) fn parse_iso(s: &str) -> Option<i64> {
    let s = s.trim();
    let date = s.get(..10)?;
    let sep = date.as_bytes().get(4).copied()?;
    if sep != b'-' && sep != b'/' {
        return None;
    }
    let mut it = date.split(sep as char);
    let (y, mo, d) = (num(it.next()?)?, num(it.next()?)?, num(it.next()?)?);
    let rest = s.get(10..)?;
    let rest = rest
        .strip_prefix('T')
        .or_else(|| rest.strip_prefix('t'))
        .or_else(|| rest.strip_prefix(' '))?;
    let split = rest
        .char_indices()
        .find(|(i, c)| *i >= 8 && matches!(c, 'Z' | 'z' | '+' | '-' | ' '))
        .map_or(rest.len(), |(i, _)| i);
    let (clock, zone) = rest.split_at(split);
    let (h, mi, sec, ms) = hms(clock)?;
    let zone = zone.trim();
    let off = if zone.is_empty() { 0 } else { offset_ms(zone)? };
    civil_ms(y, mo, d, h, mi, sec, ms).map(|t| t - off)
}

/// The month number of an English three-letter abbreviation.
pub(crate) fn month(s: &str) -> Option<i64> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let lower = s.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| *m == lower)
        .and_then(|i| i64::try_from(i + 1).ok())
}

/// `MMM dd yyyy HH:mm:ss[.SSS] [zone]` (CEF `rt`, LEEF `devTime`).
pub(crate) fn parse_mdy(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace();
    let mo = month(it.next()?)?;
    let d = num(it.next()?)?;
    let y = num(it.next()?)?;
    let (h, mi, sec, ms) = hms(it.next()?)?;
    let off = match it.next() {
        Some(z) => offset_ms(z)?,
        None => 0,
    };
    if it.next().is_some() {
        return None;
    }
    civil_ms(y, mo, d, h, mi, sec, ms).map(|t| t - off)
}

/// Epoch time given as a number whose unit is guessed from its size:
/// seconds (with a fraction), milliseconds, microseconds or nanoseconds.
pub(crate) fn parse_epoch(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Some((whole, frac)) = t.split_once('.') {
        let secs = num(whole)?;
        return Some(secs.checked_mul(1000)? + frac_ms(frac)?);
    }
    let n = num(t)?;
    Some(match n {
        n if n < 100_000_000_000 => n.checked_mul(1000)?,
        n if n < 100_000_000_000_000 => n,
        n if n < 100_000_000_000_000_000 => n / 1000,
        n => n / 1_000_000,
    })
}

/// Any of the formats above, tried in turn (not BSD syslog dates, which need
/// a reference year).
pub(crate) fn parse_any(s: &str) -> Option<i64> {
    parse_iso(s)
        .or_else(|| parse_epoch(s))
        .or_else(|| parse_mdy(s))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const T: i64 = 1_795_629_731_000; // 2026-11-25T18:02:11Z

    #[test]
    fn iso_variants() {
        assert_eq!(parse_iso("2026-11-25T18:02:11Z"), Some(T));
        assert_eq!(parse_iso("2026-11-25T18:02:11.1234567Z"), Some(T + 123));
        assert_eq!(parse_iso("2026-11-25T18:02:11.123456+0000"), Some(T + 123));
        assert_eq!(parse_iso("2026-11-25T19:02:11+01:00"), Some(T));
        assert_eq!(parse_iso("2026-11-25 18:02:11.198"), Some(T + 198));
        assert_eq!(parse_iso("2026/11/25 18:02:11"), Some(T));
        assert_eq!(parse_iso("2026-13-25T18:02:11Z"), None);
        assert_eq!(parse_iso("garbage"), None);
    }

    #[test]
    fn epoch_units() {
        assert_eq!(parse_epoch("1795629731.5"), Some(T + 500));
        assert_eq!(parse_epoch("1795629731000"), Some(T));
        assert_eq!(parse_epoch("1795629731000000000"), Some(T));
    }

    #[test]
    fn month_day_year() {
        assert_eq!(parse_mdy("Nov 25 2026 18:02:11"), Some(T));
        assert_eq!(parse_mdy("Nov 25 2026 18:02:11 UTC"), Some(T));
    }
}
