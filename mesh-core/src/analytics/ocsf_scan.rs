//! A fast reader of the [`Fields`] of plain OCSF NDJSON lines.
//!
//! Hand-written for the common shape of a line (an object, keys without
//! escapes, integers that fit 18 digits, no exponents, nesting well within
//! the parser's limit), it reads the same fields as the `serde_json` reader
//! in `ocsf_text` with the same rules. It only accepts text that `serde_json`
//! accepts; anything it is not sure of (escapes in keys or kept strings,
//! `\u` escapes, exponents, long integers, deep nesting, any syntax error)
//! makes it give up with `None`, and the caller reads the line with the
//! exact reader instead, which also words the error.

use std::borrow::Cow;

use super::ocsf::{
    Coord, Fields, Location, Text, TimeField, UserFields, FACTOR_PUSH, MAX_FACTORS,
    PUSH_FACTOR_NAME,
};

/// Deepest nesting read here (`serde_json` allows 128).
const MAX_DEPTH: u32 = 64;
/// Most digits of an integer part read here (so it fits an `i64`).
const MAX_INT_DIGITS: usize = 18;

/// Reads the fields of one line into `f` (given as `Fields::default()`),
/// or gives up with `false`: `f` then holds part of the fields, and the line
/// is for the exact reader.
pub(crate) fn read_into<'a>(text: &'a str, f: &mut Fields<'a>) -> bool {
    read(text, f).is_some()
}

fn read<'a>(text: &'a str, f: &mut Fields<'a>) -> Option<()> {
    let mut s = Scan { text, i: 0 };
    if s.next()? != b'{' {
        return None;
    }
    f.is_object = true;
    s.object(1, |s, key, depth| top_field(s, f, key, depth))?;
    // Only white space may follow.
    s.next().is_none().then_some(())
}

/// The fields of one line, or `None` to use the exact reader.
#[cfg(test)]
fn fields(text: &str) -> Option<Fields<'_>> {
    let mut f = Fields::default();
    read(text, &mut f)?;
    Some(f)
}

/// A number as read: integers exactly, anything with a fraction as text.
#[derive(Clone, Copy)]
enum Num<'a> {
    U64(u64),
    I64(i64),
    /// A number `serde_json` reads as an `f64`; parsed on demand by
    /// `serde_json` itself, so the value is the same.
    Float(&'a str),
}

/// A leaf value: a number, or anything else (skipped).
enum Scalar<'a> {
    Num(Num<'a>),
    Other,
}

impl<'a> Scalar<'a> {
    /// As `Value::as_u64`.
    fn as_u64(&self) -> Option<u64> {
        match *self {
            Scalar::Num(Num::U64(n)) => Some(n),
            Scalar::Num(Num::I64(n)) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    /// As `Value::as_i64`.
    fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::Num(Num::U64(n)) => i64::try_from(n).ok(),
            Scalar::Num(Num::I64(n)) => Some(n),
            _ => None,
        }
    }

    /// As `Value::as_f64`.
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::Num(Num::U64(n)) => Some(n as f64),
            Scalar::Num(Num::I64(n)) => Some(n as f64),
            Scalar::Num(Num::Float(t)) => {
                short_float(t).or_else(|| serde_json::from_str::<f64>(t).ok())
            }
            _ => None,
        }
    }

    fn coord(&self) -> Coord {
        self.as_f64().map_or(Coord::Other, Coord::Num)
    }
}

/// Exact powers of ten as `f64` (every one up to 10²² is representable).
const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// A number with a fraction (`-?digits.digits`, as [`Scan::num`] found it)
/// whose digits as one integer are at most 2⁵³ and whose fraction has at
/// most 22 digits: that integer divided by a power of ten, both exact, so
/// the quotient is the correctly rounded value, the one `serde_json` gives
/// (it computes this same quotient, and its exact mode rounds correctly).
/// `None` for any other number.
fn short_float(t: &str) -> Option<f64> {
    let (neg, body) = match t.as_bytes().split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, t.as_bytes()),
    };
    let (mut sig, mut frac, mut dot) = (0u64, 0usize, false);
    for &c in body {
        if c == b'.' && !dot {
            dot = true;
            continue;
        }
        if !c.is_ascii_digit() {
            return None;
        }
        sig = sig.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
        frac += usize::from(dot);
    }
    if sig > 1 << 53 {
        return None;
    }
    let x = sig as f64 / POW10_F64.get(frac)?;
    Some(if neg { -x } else { x })
}

struct Scan<'a> {
    text: &'a str,
    i: usize,
}

/// `8 × 0x01`, the SWAR constant of one byte in every lane.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of every byte lane.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Powers of ten up to one per digit of a word.
const POW10: [u64; 9] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
];

/// The value of eight decimal digits, one per byte lane (0–9, the first
/// digit in the lowest byte).
fn eight_digits(v: u64) -> u64 {
    let v = (v.wrapping_mul(10).wrapping_add(v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v.wrapping_mul(100).wrapping_add(v >> 16)) & 0x0000_FFFF_0000_FFFF;
    v.wrapping_mul(10_000).wrapping_add(v >> 32) & 0xFFFF_FFFF
}

impl<'a> Scan<'a> {
    #[inline(always)]
    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.i).copied()
    }

    /// The next byte that is not white space, the cursor moved to it.
    #[inline(always)]
    fn next(&mut self) -> Option<u8> {
        let c = self.peek()?;
        if c > b' ' {
            return Some(c);
        }
        self.next_after_ws()
    }

    #[inline(never)]
    fn next_after_ws(&mut self) -> Option<u8> {
        loop {
            let c = self.peek()?;
            if !matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
                return Some(c);
            }
            self.i += 1;
        }
    }

    /// A string without escapes, at a `"`: its bytes, both ends at ASCII
    /// bytes.
    #[inline(always)]
    fn plain_bytes(&mut self) -> Option<&'a [u8]> {
        let bytes = self.bytes();
        let start = self.i + 1;
        let end = string_stop(bytes, start);
        if bytes.get(end) != Some(&b'"') {
            return None;
        }
        self.i = end + 1;
        bytes.get(start..end)
    }

    /// A string without escapes, at a `"`.
    fn plain_str(&mut self) -> Option<&'a str> {
        let start = self.i + 1;
        let len = self.plain_bytes()?.len();
        // Both ends are at ASCII bytes, so on character boundaries.
        self.text.get(start..start + len)
    }

    /// Skips a string at a `"`, allowing the one-character escapes.
    fn skip_str(&mut self) -> Option<()> {
        let bytes = self.bytes();
        self.i += 1;
        loop {
            self.i = string_stop(bytes, self.i);
            match bytes.get(self.i)? {
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                b'\\' => match bytes.get(self.i + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.i += 2,
                    _ => return None,
                },
                _ => return None,
            }
        }
    }

    /// A run of decimal digits at the cursor and its value, eight at a time;
    /// `None` past [`MAX_INT_DIGITS`].
    #[inline(always)]
    fn digits(&mut self) -> Option<u64> {
        let bytes = self.bytes();
        let start = self.i;
        let mut n = 0u64;
        while let Some(chunk) = bytes.get(self.i..self.i + 8) {
            let Ok(word) = <[u8; 8]>::try_from(chunk) else {
                break;
            };
            // Digits become 0–9; any other byte 10 or more, or with the
            // high bit set.
            let x = u64::from_le_bytes(word) ^ (ONES * u64::from(b'0'));
            let other = (x.wrapping_add(ONES * (0x80 - 10)) | x) & HIGH;
            let k = if other == 0 {
                8
            } else {
                (other.trailing_zeros() / 8) as usize
            };
            if k > 0 {
                // The `k` digits at the top, zeros (leading) below.
                let v = eight_digits(x << (8 * (8 - k)));
                n = n.wrapping_mul(POW10.get(k).copied()?).wrapping_add(v);
                self.i += k;
                if self.i - start > MAX_INT_DIGITS {
                    return None;
                }
            }
            if k < 8 {
                return Some(n);
            }
        }
        while let Some(&b @ b'0'..=b'9') = bytes.get(self.i) {
            if self.i - start == MAX_INT_DIGITS {
                return None;
            }
            // At most 18 digits: no overflow.
            n = n * 10 + u64::from(b - b'0');
            self.i += 1;
        }
        Some(n)
    }

    #[inline(always)]
    fn num(&mut self) -> Option<Num<'a>> {
        let bytes = self.bytes();
        let start = self.i;
        let neg = bytes.get(self.i) == Some(&b'-');
        if neg {
            self.i += 1;
        }
        let int_start = self.i;
        let n = self.digits()?;
        let digits = self.i - int_start;
        let leading_zero = bytes.get(int_start) == Some(&b'0');
        if digits == 0 || (digits > 1 && leading_zero) {
            return None;
        }
        let mut float = neg && leading_zero;
        if self.peek() == Some(b'.') {
            self.i += 1;
            let frac_start = self.i;
            while matches!(bytes.get(self.i), Some(b'0'..=b'9')) {
                self.i += 1;
            }
            if self.i == frac_start {
                return None;
            }
            float = true;
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            return None;
        }
        if float {
            return self.text.get(start..self.i).map(Num::Float);
        }
        Some(if neg {
            // At most 18 digits: fits an `i64`, and is not zero here.
            Num::I64(-i64::try_from(n).ok()?)
        } else {
            Num::U64(n)
        })
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.bytes().get(self.i..end)? == word).then(|| self.i = end)
    }

    /// Skips any value.
    fn skip(&mut self, depth: u32) -> Option<()> {
        match self.next()? {
            b'"' => self.skip_str(),
            b'{' => self.object(depth + 1, |s, _, d| s.skip(d)),
            b'[' => self.array(depth + 1, |s, _, d| s.skip(d)),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'0'..=b'9' if self.short_uint().is_some() => Some(()),
            b'-' | b'0'..=b'9' => self.num().map(|_| ()),
            _ => None,
        }
    }

    /// A number, or any other value skipped.
    fn scalar(&mut self, depth: u32) -> Option<Scalar<'a>> {
        match self.next()? {
            b'-' | b'0'..=b'9' => self.num().map(Scalar::Num),
            _ => self.skip(depth).map(|()| Scalar::Other),
        }
    }

    /// A string value (`None` for any other value, which is skipped).
    #[inline(always)]
    fn string(&mut self, depth: u32) -> Option<Option<Text<'a>>> {
        if self.next()? == b'"' {
            self.plain_str().map(|t| Some(Cow::Borrowed(t)))
        } else {
            self.skip(depth).map(|()| None)
        }
    }

    /// A plain unsigned integer at the cursor (one to 18 digits, no
    /// leading zero, no fraction or exponent after it), the cursor moved
    /// past it; `None`, the cursor unmoved, for anything else.
    #[inline(always)]
    fn short_uint(&mut self) -> Option<u64> {
        let bytes = self.bytes();
        let mut i = self.i;
        let mut n = 0u64;
        while let Some(&b @ b'0'..=b'9') = bytes.get(i) {
            n = n.wrapping_mul(10).wrapping_add(u64::from(b - b'0'));
            i += 1;
        }
        let len = i - self.i;
        let plain = (len == 1
            || (len > 1 && len <= MAX_INT_DIGITS && bytes.get(self.i) != Some(&b'0')))
            && !matches!(bytes.get(i), Some(b'.' | b'e' | b'E'));
        if !plain {
            return None;
        }
        self.i = i;
        Some(n)
    }

    /// A value as `Value::as_u64` reads it.
    #[inline(always)]
    fn uint(&mut self, depth: u32) -> Option<Option<u64>> {
        self.next()?;
        if let Some(n) = self.short_uint() {
            return Some(Some(n));
        }
        self.scalar(depth).map(|s| s.as_u64())
    }

    /// A value as `Value::as_u64` reads it, if it fits a `u32`.
    #[inline(always)]
    fn uint32(&mut self, depth: u32) -> Option<Option<u32>> {
        self.uint(depth)
            .map(|n| n.and_then(|n| u32::try_from(n).ok()))
    }

    /// A value as `Value::as_i64` reads it.
    #[inline(always)]
    fn int(&mut self, depth: u32) -> Option<Option<i64>> {
        self.next()?;
        if let Some(n) = self.short_uint() {
            // At most 18 digits: fits.
            return Some(i64::try_from(n).ok());
        }
        self.scalar(depth).map(|s| s.as_i64())
    }

    /// An object's entries, each given to `entry` with the key's bytes (a
    /// key without escapes); the cursor is at the `{`.
    #[inline(always)]
    fn object(
        &mut self,
        depth: u32,
        mut entry: impl FnMut(&mut Self, &'a [u8], u32) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        if self.next()? == b'}' {
            self.i += 1;
            return Some(());
        }
        loop {
            if self.next()? != b'"' {
                return None;
            }
            let key = self.plain_bytes()?;
            if self.next()? != b':' {
                return None;
            }
            self.i += 1;
            entry(self, key, depth)?;
            match self.next()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// An array's elements, each given to `element` with its index; the
    /// cursor is at the `[`.
    fn array(
        &mut self,
        depth: u32,
        mut element: impl FnMut(&mut Self, usize, u32) -> Option<()>,
    ) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.i += 1;
        if self.next()? == b']' {
            self.i += 1;
            return Some(());
        }
        let mut n = 0usize;
        loop {
            element(self, n, depth)?;
            n = n.saturating_add(1);
            match self.next()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A value read as object `T` by `entry`: `T::default()` when it is not
    /// an object (the value is skipped).
    #[inline(always)]
    fn obj<T: Default>(
        &mut self,
        depth: u32,
        mut entry: impl FnMut(&mut Self, &mut T, &'a [u8], u32) -> Option<()>,
    ) -> Option<T> {
        let mut t = T::default();
        if self.next()? == b'{' {
            self.object(depth + 1, |s, k, d| entry(s, &mut t, k, d))?;
        } else {
            self.skip(depth)?;
        }
        Some(t)
    }
}

/// The index of the first `"`, `\\` or control byte at or after `i` (the
/// length of `bytes` if none): eight bytes at a time, then one by one.
#[inline(always)]
fn string_stop(bytes: &[u8], mut i: usize) -> usize {
    // Bytes of `v` that are zero (exact up to the first one, which is all
    // that is used).
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    while let Some(chunk) = bytes.get(i..i + 8) {
        let Ok(word) = <[u8; 8]>::try_from(chunk) else {
            break;
        };
        let w = u64::from_le_bytes(word);
        let stop = zero(w ^ (ONES * u64::from(b'"')))
            | zero(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGH);
        if stop != 0 {
            return i + (stop.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            return i;
        }
        i += 1;
    }
    i
}

fn top_field<'a>(s: &mut Scan<'a>, f: &mut Fields<'a>, key: &'a [u8], d: u32) -> Option<()> {
    match key {
        b"time" => f.time = s.int(d)?.map_or(TimeField::Invalid, TimeField::Millis),
        b"class_uid" => f.class_uid = s.uint32(d)?,
        b"activity_id" => f.activity_id = s.uint32(d)?,
        b"status_id" => f.status_id = s.uint32(d)?,
        b"metadata" => {
            (f.uid, f.event_code) = s.obj(
                d,
                |s, m: &mut (Option<Text<'a>>, Option<Text<'a>>), k, d| {
                    match k {
                        b"uid" => m.0 = s.string(d)?,
                        b"event_code" => m.1 = s.string(d)?,
                        _ => s.skip(d)?,
                    }
                    Some(())
                },
            )?;
        }
        b"user" => f.user = Some(user(s, d)?),
        b"actor" => {
            (f.actor_user, f.actor_session_uid) = s.obj(
                d,
                |s, a: &mut (Option<UserFields<'a>>, Option<Text<'a>>), k, d| {
                    match k {
                        b"user" => a.0 = Some(user(s, d)?),
                        b"session" => a.1 = uid(s, d)?,
                        _ => s.skip(d)?,
                    }
                    Some(())
                },
            )?;
        }
        b"src_endpoint" => src_endpoint(s, f, d)?,
        b"device" => {
            (f.device_uid, f.device_hostname) = s.obj(
                d,
                |s, dev: &mut (Option<Text<'a>>, Option<Text<'a>>), k, d| {
                    match k {
                        b"uid" => dev.0 = s.string(d)?,
                        b"hostname" => dev.1 = s.string(d)?,
                        _ => s.skip(d)?,
                    }
                    Some(())
                },
            )?;
        }
        b"session" => f.session_uid = uid(s, d)?,
        b"api" => f.operation = one_string(s, d, b"operation")?,
        b"auth_factors" => f.push_factor = auth_factors(s, d)?,
        _ => s.skip(d)?,
    }
    Some(())
}

fn user<'a>(s: &mut Scan<'a>, d: u32) -> Option<UserFields<'a>> {
    s.obj(d, |s, u: &mut UserFields<'a>, k, d| {
        match k {
            b"email_addr" => u.email_addr = s.string(d)?,
            b"uid" => u.uid = s.string(d)?,
            b"name" => u.name = s.string(d)?,
            _ => s.skip(d)?,
        }
        Some(())
    })
}

/// An object's `uid` string.
fn uid<'a>(s: &mut Scan<'a>, d: u32) -> Option<Option<Text<'a>>> {
    one_string(s, d, b"uid")
}

/// One string field of an object.
fn one_string<'a>(s: &mut Scan<'a>, d: u32, name: &[u8]) -> Option<Option<Text<'a>>> {
    s.obj(d, |s, v: &mut Option<Text<'a>>, k, d| {
        if k == name {
            *v = s.string(d)?;
        } else {
            s.skip(d)?;
        }
        Some(())
    })
}

fn src_endpoint<'a>(s: &mut Scan<'a>, f: &mut Fields<'a>, d: u32) -> Option<()> {
    let (ip, asn, l) = s.obj(
        d,
        |s, e: &mut (Option<Text<'a>>, Option<u32>, Location<'a>), k, d| {
            match k {
                b"ip" => e.0 = s.string(d)?,
                b"autonomous_system" => {
                    e.1 = s.obj(d, |s, n: &mut Option<u32>, k, d| {
                        if k == b"number" {
                            *n = s.uint32(d)?;
                        } else {
                            s.skip(d)?;
                        }
                        Some(())
                    })?
                }
                b"location" => e.2 = location(s, d)?,
                _ => s.skip(d)?,
            }
            Some(())
        },
    )?;
    (f.src_ip, f.asn) = (ip, asn);
    (f.lat, f.long, f.coordinates) = (l.lat, l.long, l.coordinates);
    f.country = l.country;
    Some(())
}

fn location<'a>(s: &mut Scan<'a>, d: u32) -> Option<Location<'a>> {
    s.obj(d, |s, l: &mut Location<'a>, k, d| {
        match k {
            b"lat" => l.lat = s.scalar(d)?.coord(),
            b"long" => l.long = s.scalar(d)?.coord(),
            b"coordinates" => l.coordinates = pair(s, d)?,
            b"country" => l.country = s.string(d)?,
            _ => s.skip(d)?,
        }
        Some(())
    })
}

/// An array of exactly two numbers (anything else: `None`).
fn pair(s: &mut Scan<'_>, d: u32) -> Option<Option<(f64, f64)>> {
    if s.next()? != b'[' {
        s.skip(d)?;
        return Some(None);
    }
    let mut got: [Option<f64>; 2] = [None; 2];
    let mut n = 0usize;
    s.array(d + 1, |s, i, d| {
        let x = s.scalar(d)?;
        if let Some(slot) = got.get_mut(i) {
            *slot = x.as_f64();
        }
        n = i + 1;
        Some(())
    })?;
    Some(match (n, got) {
        (2, [Some(a), Some(b)]) => Some((a, b)),
        _ => None,
    })
}

/// Whether an `auth_factors` array has a push notification among its first
/// entries.
fn auth_factors(s: &mut Scan<'_>, d: u32) -> Option<bool> {
    if s.next()? != b'[' {
        s.skip(d)?;
        return Some(false);
    }
    let mut push = false;
    s.array(d + 1, |s, i, d| {
        let (type_id, type_name) =
            s.obj(d, |s, f: &mut (Option<u64>, Option<Text<'_>>), k, d| {
                match k {
                    b"factor_type_id" => f.0 = s.uint(d)?,
                    b"factor_type" => f.1 = s.string(d)?,
                    _ => s.skip(d)?,
                }
                Some(())
            })?;
        let is_push =
            type_id == Some(FACTOR_PUSH) || type_name.as_deref() == Some(PUSH_FACTOR_NAME);
        push |= i < MAX_FACTORS && is_push;
        Some(())
    })?;
    Some(push)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::super::ocsf_text::exact_fields;
    use super::fields;
    use proptest::prelude::*;

    /// Lines of the shapes hosts send, all read by the fast reader.
    const PLAIN: [&str; 7] = [
        r#"{"class_uid":3002,"activity_id":1,"type_uid":300201,"time":1717228800000,"metadata":{"uid":"evt-1","version":"1.8.0","product":{"name":"bench"}},"status_id":2,"user":{"email_addr":"User1@example.com"},"src_endpoint":{"ip":"10.1.0.0","location":{"coordinates":[-149.5,-59.25],"country":"FR"}}}"#,
        r#"{"class_uid":3002,"activity_id":1,"time":5,"status_id":1,"user":{"email_addr":"a@x"},"auth_factors":[{"factor_type_id":5},{"factor_type":"Push Notification"}],"src_endpoint":{"ip":"10.0.0.1"}}"#,
        r#"{"class_uid":6003,"activity_id":2,"time":-7,"status_id":1,"actor":{"user":{"uid":"arn:aws:sts::1:assumed-role/R/b@x"},"session":{"uid":"s-1"}},"api":{"operation":"GetObject"},"device":{"uid":"d-1","hostname":"h"},"src_endpoint":{"ip":"10.0.0.1","autonomous_system":{"number":64500}}}"#,
        r#"{"class_uid":1001,"activity_id":2,"time":1,"actor":{"user":{"email_addr":"c@x"}},"file":{"path":"C:\\share\\a.docx","type_id":1,"tags":[true,false,null,-0.5,[]]}}"#,
        r#" { "time" : 1 , "src_endpoint" : { "location" : { "lat" : -0 , "long" : 2.5 } } , "session" : "x" } "#,
        r#"{"time":1,"user":{"name":"a"},"user":"b","metadata":7,"api":[1,2],"auth_factors":{"a":1},"device":null}"#,
        r#"{"unmapped":{"a":[1,{"b":[[],{}],"c":"x\"y"},-2.5,0],"d":{"e":{"f":null}},"g":[[1],[{}]]},"time":3,"x":[],"y":{}}"#,
    ];

    #[test]
    fn string_stop_finds_the_first_special_byte() {
        let naive = |b: &[u8], i: usize| {
            (i..b.len())
                .find(|&j| b[j] == b'"' || b[j] == b'\\' || b[j] < 0x20)
                .unwrap_or(b.len())
        };
        let base = "abcdefghij\u{e9}klmnopqrstuvwxyz0123456789";
        for at in 0..base.len() {
            for special in [b'"', b'\\', 0u8, 0x1f, b'\n'] {
                let mut b = base.as_bytes().to_vec();
                b[at] = special;
                for from in 0..b.len() {
                    assert_eq!(
                        super::string_stop(&b, from),
                        naive(&b, from),
                        "{at} {special} {from}"
                    );
                }
            }
        }
        assert_eq!(super::string_stop(b"\xff\x80 !~\x7f", 0), 6);
    }

    #[test]
    fn digits_are_read_eight_at_a_time_exactly() {
        let mut values = vec![
            0u64,
            7,
            10,
            99,
            12_345_678,
            123_456_789,
            999_999_999_999_999_999,
        ];
        let mut x = 1u64;
        for _ in 0..18 {
            values.push(x);
            values.push(x * 3 + 1);
            x *= 10;
        }
        for n in values {
            let digits = n.to_string();
            for lead in ["", "0", "000000"] {
                for tail in ["", "}", ".5", " ,", "x123456789", "\u{e9}12345678"] {
                    let text = format!("{lead}{digits}{tail}");
                    let mut s = super::Scan { text: &text, i: 0 };
                    let count = lead.len() + digits.len();
                    let read = s.digits();
                    if count > super::MAX_INT_DIGITS {
                        assert_eq!(read, None, "{text}");
                    } else {
                        assert_eq!(read, Some(n), "{text}");
                        assert_eq!(s.i, count, "{text}");
                    }
                }
            }
        }
    }

    #[test]
    fn short_floats_are_those_serde_json_reads() {
        let mut cases: Vec<String> = [
            "-0",
            "0.5",
            "-0.5",
            "-149.5",
            "-59.25",
            "0.1",
            "0.3",
            "48.85",
            "2.35",
            "1.000000000000000000001",
            "123456789.123456",
            "9007199254740.993",
            "9007199254.740992",
            "0.0000000000000000000001",
            "0.00000000000000000000001",
            "179.99999999999997",
            "1.7976931348623157",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let int = x % 1000;
            let frac = (x >> 20) % 10u64.pow((x >> 50) as u32 % 16 + 1);
            cases.push(format!(
                "{}{int}.{frac:0w$}",
                if x & 1 == 0 { "-" } else { "" },
                w = ((x >> 56) % 17) as usize
            ));
        }
        for t in cases {
            let want: f64 = serde_json::from_str(&t).unwrap();
            if let Some(got) = super::short_float(&t) {
                assert_eq!(got.to_bits(), want.to_bits(), "{t}");
            }
        }
        assert!(super::short_float("0.5").is_some() && super::short_float("-149.5").is_some());
    }

    #[test]
    fn plain_lines_are_read_fast_and_the_same() {
        for line in PLAIN {
            let fast = fields(line);
            assert!(fast.is_some(), "{line}");
            assert_eq!(fast.unwrap(), exact_fields(line).unwrap(), "{line}");
        }
    }

    #[test]
    fn unusual_lines_are_left_to_the_exact_reader() {
        for line in [
            r#"{"time":1e3}"#,
            r#"{"time":12345678901234567890}"#,
            r#"{"user":{"name":"\u0061"},"time":1}"#,
            r#"{"us\"er":1,"time":1}"#,
            r#"{"time":1,}"#,
            r#"{"time":01}"#,
            r#"{"time":1} x"#,
            r#"[{"time":1}]"#,
            r#"{"time":1,"a":"tab	here"}"#,
            &format!(r#"{{"time":1,"a":{}{}}}"#, "[".repeat(100), "]".repeat(100)),
        ] {
            assert!(fields(line).is_none(), "{line}");
        }
    }

    proptest! {
        /// Whatever the text, the fast reader either gives up or reads what
        /// the exact reader reads.
        #[test]
        fn fast_reading_is_exact_or_absent(
            which in 0..PLAIN.len(),
            edits in proptest::collection::vec((any::<prop::sample::Index>(), prop_oneof![
                Just(b'"'), Just(b'\\'), Just(b','), Just(b'{'), Just(b'}'), Just(b'['), Just(b']'),
                Just(b':'), Just(b'-'), Just(b'0'), Just(b'9'), Just(b'.'), Just(b'e'), Just(b' '),
                Just(b'\t'), Just(b'n'), Just(b'u'), any::<u8>()]), 1..4),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut bytes = PLAIN[which].as_bytes().to_vec();
            for (at, b) in edits {
                let i = at.index(bytes.len());
                bytes[i] = b;
            }
            if let Ok(text) = std::str::from_utf8(&bytes) {
                if let Some(fast) = fields(text) {
                    prop_assert_eq!(Ok(fast), exact_fields(text), "{}", text);
                }
                let short = &bytes[..cut.index(bytes.len())];
                if let Ok(text) = std::str::from_utf8(short) {
                    if let Some(fast) = fields(text) {
                        prop_assert_eq!(Ok(fast), exact_fields(text), "{}", text);
                    }
                }
            }
        }
    }
}
