//! Calendar arithmetic and timestamp parsing (no clock, no dependencies).

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of a time in ms since the epoch.
pub(crate) fn year_of(ms: i64) -> i64 {
    let days = ms.div_euclid(86_400_000);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        _ => 0,
    }
}

/// Milliseconds since the epoch of a UTC date and time, if it is valid.
pub(crate) fn to_millis(y: i64, mo: u32, d: u32, h: u32, mi: u32, s: u32, ms: u32) -> Option<i64> {
    if !(1..=12).contains(&mo)
        || d == 0
        || d > days_in_month(y, mo)
        || h > 23
        || mi > 59
        || s > 60
        || ms > 999
    {
        return None;
    }
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s.min(59));
    secs.checked_mul(1000)?.checked_add(i64::from(ms))
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            let c = *self.b.get(self.i)?;
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + u32::from(c - b'0');
            self.i += 1;
        }
        Some(v)
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.b.get(self.i) == Some(&c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
}

/// Parses an RFC 3339 / ISO 8601 date-time (`2024-01-31T12:00:00.123Z`,
/// `…+02:00`, a space instead of `T`; fractions beyond ms truncated; no zone
/// means UTC) into ms since the epoch.
pub(crate) fn parse_rfc3339(s: &str) -> Option<i64> {
    let mut c = Cursor {
        b: s.trim().as_bytes(),
        i: 0,
    };
    let y = c.digits(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let mo = c.digits(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let d = c.digits(2)?;
    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    let sec = if c.eat(b':') { c.digits(2)? } else { 0 };
    let mut ms = 0u32;
    if c.eat(b'.') || c.eat(b',') {
        let mut n = 0;
        while let Some(ch) = c.peek().filter(u8::is_ascii_digit) {
            if n < 3 {
                ms = ms * 10 + u32::from(ch - b'0');
            }
            n += 1;
            c.i += 1;
        }
        if n == 0 || n > 12 {
            return None;
        }
        for _ in n..3 {
            ms *= 10;
        }
    }
    let base = to_millis(i64::from(y), mo, d, h, mi, sec, ms)?;
    let offset_min: i64 = match c.peek() {
        None => 0,
        Some(b'Z' | b'z') => {
            c.i += 1;
            0
        }
        Some(sign @ (b'+' | b'-')) => {
            c.i += 1;
            let oh = c.digits(2)?;
            c.eat(b':');
            let om = c.digits(2)?;
            if oh > 23 || om > 59 {
                return None;
            }
            let m = i64::from(oh * 60 + om);
            if sign == b'+' {
                m
            } else {
                -m
            }
        }
        _ => return None,
    };
    if c.i != c.b.len() {
        return None;
    }
    base.checked_sub(offset_min * 60_000)
}

const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];

/// The month (1–12) of a three-letter English abbreviation.
pub(crate) fn month_of(abbr: &[u8]) -> Option<u32> {
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(abbr))
        .and_then(|i| u32::try_from(i + 1).ok())
}

/// Parses a BSD syslog timestamp `Mmm dd hh:mm:ss` (day space-padded or
/// zero-padded; 15 bytes), returning the time in ms and the bytes consumed.
/// The year is absent, so it is inferred from `now_ms`: the current year,
/// unless that puts the time more than a day in the future (a December record
/// read in January), in which case the previous year.
pub(crate) fn parse_bsd_timestamp(b: &[u8], now_ms: i64) -> Option<(i64, usize)> {
    let month = month_of(b.get(..3)?)?;
    if b.get(3) != Some(&b' ') {
        return None;
    }
    let mut c = Cursor { b, i: 4 };
    let day = if c.eat(b' ') {
        c.digits(1)?
    } else {
        c.digits(2)?
    };
    if !c.eat(b' ') {
        return None;
    }
    let h = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let mi = c.digits(2)?;
    if !c.eat(b':') {
        return None;
    }
    let s = c.digits(2)?;
    let mut ms = 0;
    if c.eat(b'.') {
        let mut n = 0;
        while let Some(ch) = c.peek().filter(u8::is_ascii_digit) {
            if n < 3 {
                ms = ms * 10 + u32::from(ch - b'0');
            }
            n += 1;
            c.i += 1;
        }
        for _ in n.min(3)..3 {
            ms *= 10;
        }
    }
    let year = year_of(now_ms);
    let this = to_millis(year, month, day, h, mi, s, ms);
    let t = match this {
        Some(t) if t <= now_ms.saturating_add(86_400_000) => t,
        _ => to_millis(year - 1, month, day, h, mi, s, ms)?,
    };
    Some((t, c.i))
}

// Lenient formats seen in the built-in sources' records (ISO 8601 variants,
// epoch numbers of any unit, `MMM dd yyyy HH:mm:ss`).

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Epoch milliseconds of a civil date-time in UTC, checking ranges loosely
/// (any day up to 31, a leap second counted as such), as the sources'
/// lenient formats have always been read.
pub(crate) fn civil_ms(y: i64, mo: i64, d: i64, h: i64, mi: i64, s: i64, ms: i64) -> Option<i64> {
    let ok = (1..=9999).contains(&y)
        && (1..=12).contains(&mo)
        && (1..=31).contains(&d)
        && (0..=23).contains(&h)
        && (0..=59).contains(&mi)
        && (0..=60).contains(&s);
    let (mo, d) = (u32::try_from(mo).ok()?, u32::try_from(d).ok()?);
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
    iso_utc_seconds(s.as_bytes()).or_else(|| parse_iso_any(s))
}

/// [`parse_iso`] of any of its forms.
fn parse_iso_any(s: &str) -> Option<i64> {
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

/// The common shape `YYYY-MM-DDThh:mm:ssZ` exactly (CloudTrail and most
/// JSON logs), read digit by digit: what [`parse_iso`] gives of it, or
/// `None` for any other text (which `parse_iso` then reads).
fn iso_utc_seconds(b: &[u8]) -> Option<i64> {
    let b = <&[u8; 20]>::try_from(b).ok()?;
    let [y0, y1, y2, y3, b'-', m0, m1, b'-', d0, d1, b'T', h0, h1, b':', i0, i1, b':', s0, s1, b'Z'] =
        *b
    else {
        return None;
    };
    let digit = |c: u8| c.is_ascii_digit().then(|| i64::from(c - b'0'));
    let two = |a: u8, b: u8| Some(digit(a)? * 10 + digit(b)?);
    let y = two(y0, y1)? * 100 + two(y2, y3)?;
    civil_ms(
        y,
        two(m0, m1)?,
        two(d0, d1)?,
        two(h0, h1)?,
        two(i0, i1)?,
        two(s0, s1)?,
        0,
    )
}

/// `MMM dd yyyy HH:mm:ss[.SSS] [zone]` (CEF `rt`, LEEF `devTime`).
pub(crate) fn parse_mdy(s: &str) -> Option<i64> {
    let mut it = s.split_whitespace();
    let mo = i64::from(month_of(it.next()?.as_bytes())?);
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

    #[test]
    fn rfc3339_forms() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339("2024-02-29T12:34:56.789Z"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29T14:34:56.789123+02:00"),
            Some(1_709_210_096_789)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29 12:34:56"),
            Some(1_709_210_096_000)
        );
        assert_eq!(parse_rfc3339("2023-02-29T00:00:00Z"), None);
        assert_eq!(parse_rfc3339("2024-01-01T00:00:00Zjunk"), None);
        assert_eq!(year_of(1_709_210_096_789), 2024);
        assert_eq!(year_of(-1), 1969);
    }

    #[test]
    fn bsd_year_inference() {
        let now = parse_rfc3339("2024-01-02T00:00:00Z").unwrap();
        let (t, n) = parse_bsd_timestamp(b"Dec 31 23:59:59 host", now).unwrap();
        assert_eq!(t, parse_rfc3339("2023-12-31T23:59:59Z").unwrap());
        assert_eq!(n, 15);
        let (t, _) = parse_bsd_timestamp(b"Jan  1 10:00:00", now).unwrap();
        assert_eq!(t, parse_rfc3339("2024-01-01T10:00:00Z").unwrap());
        assert!(parse_bsd_timestamp(b"Foo  1 10:00:00", now).is_none());
    }

    const T: i64 = 1_795_629_731_000; // 2026-11-25T18:02:11Z

    #[test]
    fn iso_variants() {
        assert_eq!(parse_iso("2026-11-25T18:02:11Z"), Some(T));
        // The exact `...Z` shape read digit by digit reads as the general form.
        for s in [
            "2026-11-25T18:02:11Z",
            "1970-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:60Z",
            "2024-02-29T12:00:00Z",
            "2026-13-25T18:02:11Z",
            "2026-00-25T18:02:11Z",
            "2026-11-32T18:02:11Z",
            "2026-11-25T24:02:11Z",
            "2026-11-25T18:60:11Z",
            "2026-11-25T18:02:61Z",
            "0000-11-25T18:02:11Z",
            "2026-1a-25T18:02:11Z",
        ] {
            assert_eq!(iso_utc_seconds(s.as_bytes()), parse_iso_any(s), "{s}");
        }
        assert_eq!(iso_utc_seconds(b"2026-11-25T18:02:11z"), None);
        assert_eq!(iso_utc_seconds(b"2026-11-25 18:02:11Z"), None);
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
