//! The fast path of token verification: a zero-copy scanner for the common
//! shape of a compact JWT.
//!
//! It accepts only a strict subset of what the general path
//! ([`super::CompactJws`] and the strict JSON parser) accepts: a header of
//! string or boolean members, a claims object whose values are strings
//! without escapes, integers, booleans, `null` or flat arrays of those. On
//! anything else (escapes, fractions, nested objects, any fault) it answers
//! `None` and the caller takes the general path, which then accepts or
//! rejects with its own precise error. So whenever the scanner accepts, the
//! general path accepts the same token with the same result.

use std::mem::MaybeUninit;

use super::claims::{check_rules, Limits};
use super::jws::Algorithm;
use super::swar;
use super::{
    ClaimRules, ClaimsInit, Identity, IdentityError, IdentityKind, Narrow, Packer, SpanSink, Times,
};
use crate::Timestamp;

/// Most top-level claims the scanner handles.
const MAX_MEMBERS: usize = 32;
/// Most array items (over all claims) the scanner handles.
const MAX_ITEMS: usize = 64;
/// Most header members the scanner handles.
const MAX_HEADER_MEMBERS: usize = 12;
/// Decoded header bytes held on the stack; longer headers take the general path.
const HEADER_BUF: usize = 384;
/// Decoded signature bytes held on the stack (up to RSA-4096); longer
/// signatures take the general path.
const SIG_BUF: usize = 520;
/// Decoded payload bytes held on the stack; longer payloads use the heap.
const PAYLOAD_BUF: usize = 2048;

/// A JSON scalar, borrowed from the decoded bytes.
#[derive(Clone, Copy, Debug)]
enum Scalar<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Null,
}

impl Scalar<'_> {
    fn to_value(self) -> serde_json::Value {
        match self {
            Scalar::Str(s) => serde_json::Value::String(s.to_owned()),
            Scalar::Int(i) => serde_json::Value::from(i),
            Scalar::Bool(b) => serde_json::Value::Bool(b),
            Scalar::Null => serde_json::Value::Null,
        }
    }
}

/// A byte cursor over UTF-8 validated JSON text.
struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    #[inline(always)]
    fn ws(&mut self) {
        // Every byte above a space ends the run at once (the common case).
        while let Some(&b) = self.text.as_bytes().get(self.pos) {
            if b > b' ' || !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    /// Skip whitespace, then consume `c`.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.pos += 1)
    }

    /// A string without escapes or control characters, at `"`. The caller
    /// has checked that the text holds no `\\` at all, so the end of the
    /// string is its first `"` (or a control byte, rejected).
    #[inline(always)]
    fn string(&mut self) -> Option<&'a str> {
        self.ws();
        self.string_here()
    }

    /// [`Cursor::string`] with no whitespace before the `"`.
    #[inline(always)]
    fn string_here(&mut self) -> Option<&'a str> {
        let body = self.text.as_bytes().get(self.pos..)?.strip_prefix(b"\"")?;
        // Eight bytes at a time: stop at the first `"` or control byte.
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGHS: u64 = 0x8080_8080_8080_8080;
        const QUOTES: u64 = ONES * b'"' as u64;
        let mut chunks = body.chunks_exact(8);
        let mut len = 0;
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            let w = u64::from_le_bytes(word);
            let q = w ^ QUOTES;
            // The lowest flagged byte is exact (borrows only run upwards).
            let m = (q.wrapping_sub(ONES) & !q | w.wrapping_sub(ONES * 0x20) & !w) & HIGHS;
            if m != 0 {
                len += (m.trailing_zeros() / 8) as usize;
                return self.close_string(len);
            }
            len += 8;
        }
        len += chunks
            .remainder()
            .iter()
            .position(|&c| c == b'"' || c < 0x20)?;
        self.close_string(len)
    }

    /// Ends the string of `len` bytes after the `"` at `pos` (the byte after
    /// it must be the closing `"`).
    #[inline(always)]
    fn close_string(&mut self, len: usize) -> Option<&'a str> {
        let start = self.pos + 1;
        let end = start + len;
        if *self.text.as_bytes().get(end)? != b'"' {
            return None;
        }
        let s = slice(self.text, start, end)?;
        self.pos = end + 1;
        Some(s)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        (self.text.as_bytes().get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// An integer of at most 18 digits (no fraction, no exponent, not `-0`).
    fn integer(&mut self) -> Option<i64> {
        let (v, end) = int_at(self.text.as_bytes(), self.pos)?;
        self.pos = end;
        Some(v)
    }

    /// A scalar value (after whitespace).
    #[inline(always)]
    fn scalar(&mut self) -> Option<Scalar<'a>> {
        self.ws();
        self.scalar_here()
    }

    /// [`Cursor::scalar`] with no whitespace before it.
    #[inline(always)]
    fn scalar_here(&mut self) -> Option<Scalar<'a>> {
        match self.peek()? {
            b'"' => self.string_here().map(Scalar::Str),
            b't' => self.literal(b"true").map(|()| Scalar::Bool(true)),
            b'f' => self.literal(b"false").map(|()| Scalar::Bool(false)),
            b'n' => self.literal(b"null").map(|()| Scalar::Null),
            b'-' | b'0'..=b'9' => self.integer().map(Scalar::Int),
            _ => None,
        }
    }

    /// After a member or item: `,` (more follow, `true`) or `close`.
    #[inline(always)]
    fn next_or_close(&mut self, close: u8) -> Option<bool> {
        self.ws();
        let c = self.peek()?;
        self.pos += 1;
        match c {
            b',' => Some(true),
            c if c == close => Some(false),
            _ => None,
        }
    }

    /// Only whitespace remains.
    fn end(&mut self) -> Option<()> {
        self.ws();
        (self.pos == self.text.len()).then_some(())
    }
}

/// The claims an identity keeps from a fast-path token, read back from the
/// claims text [`FastClaims::identity`] kept (members of the shape the scan
/// accepted), every claim but the mapped ones; `None` for any other text
/// (the caller then parses it with `serde_json`, which reads it the same,
/// and drops the mapped claims).
pub(crate) fn kept_claims(text: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use serde_json::Value;
    if memchr::memchr(b'\\', text.as_bytes()).is_some() {
        return None;
    }
    let mut map = serde_json::Map::new();
    let mut c = Cursor { text, pos: 0 };
    c.eat(b'{')?;
    loop {
        let key = c.string()?;
        let kb = key.as_bytes();
        // Mapped claims are read past, not kept.
        let keep = !matches!(name_of(kb, key_word(kb, 0, kb)), Name::Slot(_));
        c.eat(b':')?;
        c.ws();
        let value = if c.peek()? == b'[' {
            c.pos += 1;
            let mut items = Vec::new();
            c.ws();
            if c.peek()? == b']' {
                c.pos += 1;
            } else {
                loop {
                    let item = c.scalar()?;
                    if keep {
                        items.push(item.to_value());
                    }
                    if !c.next_or_close(b']')? {
                        break;
                    }
                }
            }
            Value::Array(items)
        } else {
            let item = c.scalar()?;
            if keep {
                item.to_value()
            } else {
                Value::Null
            }
        };
        if keep && map.insert(key.to_owned(), value).is_some() {
            return None;
        }
        if !c.next_or_close(b'}')? {
            break;
        }
    }
    c.end()?;
    Some(map)
}

/// The integer at `i` of `b` (at most 18 digits, no fraction, no exponent,
/// not `-0`) and the position after it.
#[inline(always)]
fn int_at(b: &[u8], i: usize) -> Option<(i64, usize)> {
    let neg = *b.get(i)? == b'-';
    let start = i + usize::from(neg);
    let rest = b.get(start..)?;
    // Eight digits in one step when there are, and two more at once
    // (NumericDates have ten), then one at a time. At most 18 digits are
    // read (a 19th rejects), so the value stays below 10^18 and wrapping
    // arithmetic never wraps.
    let (mut v, mut digits) = match rest.get(..8).and_then(eight_digits) {
        Some(eight) => match rest.get(8..10) {
            Some(&[x, y]) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let two = u64::from(x - b'0') * 10 + u64::from(y - b'0');
                (eight.wrapping_mul(100).wrapping_add(two), 10)
            }
            _ => (eight, 8),
        },
        None => (0, 0),
    };
    while let Some(&c) = rest.get(digits) {
        let d = c.wrapping_sub(b'0');
        if d > 9 {
            break;
        }
        if digits == 18 {
            return None;
        }
        v = v.wrapping_mul(10).wrapping_add(u64::from(d));
        digits += 1;
    }
    let leading_zero = digits > 1 && rest.first() == Some(&b'0');
    if digits == 0 || leading_zero || matches!(rest.get(digits), Some(b'.' | b'e' | b'E')) {
        return None;
    }
    let v = i64::try_from(v).ok()?;
    let end = start + digits;
    if neg {
        // `-0` is a float for serde_json: leave it to the general path.
        (v != 0).then_some((-v, end))
    } else {
        Some((v, end))
    }
}

/// The value of eight ASCII digits (`chunk` has eight bytes), `None` when
/// any byte is not a digit.
#[inline(always)]
fn eight_digits(chunk: &[u8]) -> Option<u64> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let w = swar::word(chunk);
    // A byte is a digit exactly when its high nibble is 3 both before and
    // after adding 6 (a low nibble above 9 carries into it, and no `h` has
    // its low two bits set in both `h` and `h + 1`). A byte that carries
    // into the next fails itself.
    let high = ONES * 0xf0;
    if w & w.wrapping_add(ONES * 0x06) & high != ONES * 0x30 {
        return None;
    }
    // Bytes 0..=9, the first digit lowest: combine pairs, quads, halves.
    // (No step wraps: every byte holds a digit.)
    let x = w.wrapping_sub(ONES * 0x30);
    let x = x.wrapping_mul(10).wrapping_add(x >> 8) & 0x00ff_00ff_00ff_00ff;
    let x = x.wrapping_mul(100).wrapping_add(x >> 16) & 0x0000_ffff_0000_ffff;
    let x = x.wrapping_mul(10_000).wrapping_add(x >> 32) & 0xffff_ffff;
    Some(x)
}

/// `text[start..end]`, `None` unless both ends are character boundaries
/// (`str::get` with checks that inline: the scans take many short slices).
#[inline(always)]
fn slice(text: &str, start: usize, end: usize) -> Option<&str> {
    let (head, _) = text.split_at_checked(end)?;
    let (_, s) = head.split_at_checked(start)?;
    Some(s)
}

/// The algorithm named `name` (as `Algorithm::from_str`, by byte patterns).
fn alg_of(name: &str) -> Option<Algorithm> {
    use Algorithm as A;
    Some(match *name.as_bytes() {
        [b'H', b'S', b'2', b'5', b'6'] => A::HS256,
        [b'H', b'S', b'3', b'8', b'4'] => A::HS384,
        [b'H', b'S', b'5', b'1', b'2'] => A::HS512,
        [b'R', b'S', b'2', b'5', b'6'] => A::RS256,
        [b'R', b'S', b'3', b'8', b'4'] => A::RS384,
        [b'R', b'S', b'5', b'1', b'2'] => A::RS512,
        [b'P', b'S', b'2', b'5', b'6'] => A::PS256,
        [b'P', b'S', b'3', b'8', b'4'] => A::PS384,
        [b'P', b'S', b'5', b'1', b'2'] => A::PS512,
        [b'E', b'S', b'2', b'5', b'6'] => A::ES256,
        [b'E', b'S', b'3', b'8', b'4'] => A::ES384,
        [b'E', b'd', b'D', b'S', b'A'] => A::EdDSA,
        _ => return None,
    })
}

/// The header members the fast path uses.
#[cfg_attr(test, derive(Debug, PartialEq))]
pub(crate) struct FastHeader<'a> {
    pub(crate) alg: Algorithm,
    pub(crate) kid: Option<&'a str>,
    pub(crate) typ: Option<&'a str>,
}

/// A header member name the fast path tells apart.
#[derive(Clone, Copy, PartialEq, Eq)]
enum HeaderName {
    Alg,
    Kid,
    Typ,
    Cty,
    B64,
    Crit,
    /// `jku`, `x5u`, `jwk` or `x5c`.
    KeyRef,
    Other,
}

/// The header name of `name`, by byte patterns.
#[inline(always)]
fn header_name(name: &str) -> HeaderName {
    use HeaderName as H;
    match *name.as_bytes() {
        [b'a', b'l', b'g'] => H::Alg,
        [b'k', b'i', b'd'] => H::Kid,
        [b't', b'y', b'p'] => H::Typ,
        [b'c', b't', b'y'] => H::Cty,
        [b'b', b'6', b'4'] => H::B64,
        [b'c', b'r', b'i', b't'] => H::Crit,
        [b'j', b'k', b'u'] | [b'x', b'5', b'u'] | [b'j', b'w', b'k'] | [b'x', b'5', b'c'] => {
            H::KeyRef
        }
        _ => H::Other,
    }
}

/// `"alg":"`, `"kid":"` and `"typ":"`: the low seven bytes of a word.
const MEMBER_ALG: u64 = word8(b"\"alg\":\"");
const MEMBER_KID: u64 = word8(b"\"kid\":\"");
const MEMBER_TYP: u64 = word8(b"\"typ\":\"");
const SEVEN_BYTES: u64 = (1 << 56) - 1;

/// The common header shapes, by fixed byte patterns: an object of string
/// members `alg`, `kid` and `typ` only (in any order, each at most once,
/// `alg` present), no whitespace, no backslash. `None` for anything else:
/// [`scan_header`] then reads it member by member (it accepts every header
/// this accepts, with the same result).
#[inline(always)]
fn common_header(text: &str) -> Option<FastHeader<'_>> {
    let b = text.as_bytes();
    if b.first() != Some(&b'{') {
        return None;
    }
    let (mut alg, mut kid, mut typ) = (None, None, None);
    let mut i = 1;
    loop {
        // The name, the colon and the value's `"` in one word.
        let member = swar::word(b.get(i..i + 8)?) & SEVEN_BYTES;
        let (s, e) = plain_string_at(b, i + 6)?;
        let value = slice(text, s, e)?;
        match member {
            MEMBER_ALG if alg.is_none() => alg = Some(alg_of(value)?),
            MEMBER_KID if kid.is_none() => kid = Some(value),
            MEMBER_TYP if typ.is_none() => typ = Some(value),
            _ => return None,
        }
        match *b.get(e + 1)? {
            b',' => i = e + 2,
            b'}' if e + 2 == b.len() => break,
            _ => return None,
        }
    }
    Some(FastHeader {
        alg: alg?,
        kid,
        typ,
    })
}

/// Scan a decoded header: an object of string or boolean members with a
/// supported `alg`, no `crit`, `b64` only `true`, key headers only when
/// `ignore_key_headers`.
fn scan_header(text: &str, ignore_key_headers: bool) -> Option<FastHeader<'_>> {
    // The common shape finds any backslash itself (in its values: its
    // other bytes are fixed patterns).
    common_header(text).or_else(|| {
        if has_backslash(text.as_bytes()) {
            return None;
        }
        header_members(text, ignore_key_headers)
    })
}

/// Whether `b` holds a `\`, eight bytes at a time (for short texts such
/// as a header, where a `memchr` call costs more than the search).
fn has_backslash(b: &[u8]) -> bool {
    let mut found = 0;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        found |= backslash_mask(swar::word(chunk));
    }
    // The padding bytes are zero, never a backslash.
    found |= backslash_mask(swar::tail_word(b));
    found != 0
}

/// The high bit of each byte of `w` that is a `\`.
#[inline(always)]
fn backslash_mask(w: u64) -> u64 {
    swar::eq7(w & swar::LOW7, b'\\') & !w
}

/// [`scan_header`] member by member, in a text without backslashes.
fn header_members(text: &str, ignore_key_headers: bool) -> Option<FastHeader<'_>> {
    let b = text.as_bytes();
    let (c, i) = next_byte(b, 0)?;
    if c != b'{' {
        return None;
    }
    let (mut c, mut i) = next_byte(b, i + 1)?;
    // Names seen: the known ones as bits, the others listed (all compared
    // by their bytes, as the general path's duplicate check).
    let mut seen: u8 = 0;
    let mut keys: [&str; MAX_HEADER_MEMBERS] = [""; MAX_HEADER_MEMBERS];
    let mut n = 0;
    let mut members = 0;
    let (mut alg, mut kid, mut typ) = (None, None, None);
    loop {
        if c != b'"' {
            return None;
        }
        let (ks, ke) = string_at(b, i)?;
        let key = slice(text, ks, ke)?;
        members += 1;
        if members > MAX_HEADER_MEMBERS {
            return None;
        }
        let name = header_name(key);
        if name == HeaderName::Other || name == HeaderName::KeyRef {
            if keys.get(..n)?.contains(&key) {
                return None;
            }
            *keys.get_mut(n)? = key;
            n += 1;
        } else {
            let bit = 1u8 << (name as u8);
            if seen & bit != 0 {
                return None;
            }
            seen |= bit;
        }
        let (c2, j) = next_byte(b, ke + 1)?;
        if c2 != b':' {
            return None;
        }
        let (c2, j) = next_byte(b, j + 1)?;
        let (v, end) = scalar_at(b, j, c2)?;
        let string = || match v {
            Val::Str(s, e) => slice(text, s as usize, e as usize),
            _ => None,
        };
        match (name, v) {
            (HeaderName::Alg, _) => alg = Some(alg_of(string()?)?),
            (HeaderName::Kid, _) => kid = Some(string()?),
            (HeaderName::Typ, _) => typ = Some(string()?),
            (HeaderName::Cty, Val::Str(..)) => {}
            (HeaderName::B64, _) if b.get(j..end) == Some(b"true") => {}
            (HeaderName::KeyRef, _) if ignore_key_headers => {}
            (HeaderName::Other, _) => {}
            _ => return None,
        }
        let (c2, j) = next_byte(b, end)?;
        match c2 {
            b',' => (c, i) = next_byte(b, j + 1)?,
            b'}' => {
                i = j + 1;
                break;
            }
            _ => return None,
        }
    }
    if skip_ws(b, i) != b.len() {
        return None;
    }
    Some(FastHeader {
        alg: alg?,
        kid,
        typ,
    })
}

/// Index of the claims the fast path maps or checks.
#[derive(Clone, Copy)]
enum Slot {
    Iss = 0,
    Sub,
    Exp,
    Iat,
    Jti,
    Sid,
    AuthTime,
    Amr,
    Acr,
    Groups,
    Roles,
    Scope,
    Scp,
    Entitlements,
}
const SLOTS: usize = 14;

/// The little-endian word of the first (up to) eight bytes of a name.
const fn word8(name: &[u8]) -> u64 {
    let (mut w, mut i, mut rest) = (0u64, 0, name);
    while let [c, tail @ ..] = rest {
        if i == 8 {
            break;
        }
        w |= (*c as u64) << (8 * i);
        rest = tail;
        i += 1;
    }
    w
}

const ISS: u64 = word8(b"iss");
const SUB: u64 = word8(b"sub");
const EXP: u64 = word8(b"exp");
const IAT: u64 = word8(b"iat");
const JTI: u64 = word8(b"jti");
const SID: u64 = word8(b"sid");
const AMR: u64 = word8(b"amr");
const ACR: u64 = word8(b"acr");
const SCP: u64 = word8(b"scp");
const AUD: u64 = word8(b"aud");
const NBF: u64 = word8(b"nbf");
const ROLES: u64 = word8(b"roles");
const SCOPE: u64 = word8(b"scope");
const GROUPS: u64 = word8(b"groups");
/// The first eight bytes of `auth_time` and of `entitlements`.
const AUTH_TIM: u64 = word8(b"auth_tim");
const ENTITLEM: u64 = word8(b"entitlem");

/// What the claims scan does with a member, by its name.
#[derive(Clone, Copy)]
enum Name {
    /// A mapped claim.
    Slot(Slot),
    /// `aud` or `nbf`: kept, and checked by the claim rules.
    Aud,
    Nbf,
    /// Any other claim: kept as it is.
    Other,
}

/// The word of the first (up to) eight bytes of `key`, the key at
/// `start` of `b` (one load when eight bytes follow the start).
#[inline(always)]
fn key_word(b: &[u8], start: usize, key: &[u8]) -> u64 {
    match b.get(start..start + 8) {
        Some(chunk) if key.len() < 8 => swar::word(chunk) & ((1u64 << (8 * key.len())) - 1),
        Some(chunk) => swar::word(chunk),
        None => key
            .iter()
            .take(8)
            .rev()
            .fold(0, |w, &c| (w << 8) | u64::from(c)),
    }
}

/// The name of claim `key` (`word` from [`key_word`]).
#[inline(always)]
fn name_of(key: &[u8], word: u64) -> Name {
    let tail = key.get(8..).unwrap_or_default();
    name_by_words(key.len(), word, key_word(tail, 0, tail))
}

/// The name of a claim of `len` bytes, from the [`key_word`]s of its first
/// eight bytes (`word`) and of the next eight (`hi`, zero for a shorter
/// name): a switch on the length and the first word, no `memcmp` calls.
#[inline(always)]
fn name_by_words(len: usize, word: u64, hi: u64) -> Name {
    use Slot as S;
    let slot = match (len, word) {
        (3, ISS) => S::Iss,
        (3, SUB) => S::Sub,
        (3, EXP) => S::Exp,
        (3, IAT) => S::Iat,
        (3, JTI) => S::Jti,
        (3, SID) => S::Sid,
        (3, AMR) => S::Amr,
        (3, ACR) => S::Acr,
        (3, SCP) => S::Scp,
        (3, AUD) => return Name::Aud,
        (3, NBF) => return Name::Nbf,
        (5, ROLES) => S::Roles,
        (5, SCOPE) => S::Scope,
        (6, GROUPS) => S::Groups,
        (9, AUTH_TIM) if hi == word8(b"e") => S::AuthTime,
        (12, ENTITLEM) if hi == word8(b"ents") => S::Entitlements,
        _ => return Name::Other,
    };
    Name::Slot(slot)
}

/// The slot of a mapped claim name.
#[cfg(test)]
#[inline(always)]
fn slot_of(name: &str) -> Option<Slot> {
    let key = name.as_bytes();
    match name_of(key, key_word(key, 0, key)) {
        Name::Slot(s) => Some(s),
        _ => None,
    }
}

/// The bit of `aud` in a [`Required`] (the slots' bits come first).
const AUD_BIT: usize = SLOTS;
/// The bit of `nbf` in a [`Required`].
const NBF_BIT: usize = SLOTS + 1;
// Every bit of a [`Required`] fits its `u16`.
const _: () = assert!(NBF_BIT < u16::BITS as usize);

/// Required claim names as the scan finds them: one bit per mapped claim
/// (by slot), then `aud` and `nbf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Required(u16);

impl Required {
    /// The bits of `names`; `None` when one is none of those claims (its
    /// presence is then looked up by name).
    pub(crate) fn of(names: &[String]) -> Option<Required> {
        let mut bits = 0u16;
        for name in names {
            let key = name.as_bytes();
            let bit = match name_of(key, key_word(key, 0, key)) {
                Name::Slot(s) => s as usize,
                Name::Aud => AUD_BIT,
                Name::Nbf => NBF_BIT,
                Name::Other => return None,
            };
            bits |= 1 << bit;
        }
        Some(Required(bits))
    }
}

/// A claim value, by its place in the claims text.
#[derive(Clone, Copy, Debug)]
enum Val {
    /// A string without escapes: its body's start and end.
    Str(u32, u32),
    Int(i64),
    /// `true`, `false` or `null` (never read, only told from the others).
    Lit,
    /// A flat array: `len` items from `start` in the item buffer (the
    /// strings among them; `strs` when every item is one).
    Array {
        start: u32,
        len: u32,
        strs: bool,
    },
}

/// A claim that is not mapped (kept in the claims text): its name's
/// place, from its `"` to its end (for the duplicate check).
#[derive(Clone, Copy)]
struct Member {
    start: u32,
    key_end: u32,
}

impl Member {
    const EMPTY: Member = Member {
        start: 0,
        key_end: 0,
    };

    fn key<'t>(&self, b: &'t [u8]) -> &'t [u8] {
        b.get(self.start as usize + 1..self.key_end as usize)
            .unwrap_or_default()
    }
}

/// A hash of a member name from its first word and its length (equal
/// names hash equal); its top bits pick a bit of the scan's seen mask.
#[inline(always)]
fn name_hash(word: u64, len: usize) -> u64 {
    (word ^ len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// Whether `c` may start JSON whitespace (bytes below `!`; the others
/// among them are refused by whatever reads them next).
#[inline(always)]
fn maybe_ws(c: u8) -> bool {
    c <= b' '
}

/// The first position from `i` that is not JSON whitespace.
#[inline(always)]
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while let Some(b' ' | b'\t' | b'\n' | b'\r') = b.get(i) {
        i += 1;
    }
    i
}

/// The next byte from `i` after whitespace, and its position.
#[inline(always)]
fn next_byte(b: &[u8], i: usize) -> Option<(u8, usize)> {
    let c = *b.get(i)?;
    if maybe_ws(c) {
        let i = skip_ws(b, i);
        Some((*b.get(i)?, i))
    } else {
        Some((c, i))
    }
}

/// The string whose `"` is at `at`, in a text without backslashes: the
/// start and end of its body (its closing `"` at the end). `None` at a
/// control byte or at the end of the text.
#[inline(always)]
fn string_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    string_until::<false>(b, at)
}

/// The string whose `"` is at `at` (as [`string_at`]), `None` also when a
/// backslash comes before its closing `"` (for texts not searched for
/// backslashes first).
#[inline(always)]
fn plain_string_at(b: &[u8], at: usize) -> Option<(usize, usize)> {
    string_until::<true>(b, at)
}

/// The body of the string whose `"` is at `at`, stopping at the first `"`
/// or control byte, and at a backslash when `BACKSLASH`: `Some` only when
/// that stop is the closing `"`.
#[inline(always)]
fn string_until<const BACKSLASH: bool>(b: &[u8], at: usize) -> Option<(usize, usize)> {
    let start = at + 1;
    let mask = |w: u64| {
        if BACKSLASH {
            stop_mask(w) | backslash_mask(w)
        } else {
            stop_mask(w)
        }
    };
    // Eight bytes at a time while eight remain (one index, one bound):
    // stop at the first stop byte.
    let mut i = start;
    if let Some(last) = b.len().checked_sub(8) {
        while i <= last {
            let w = swar::word(b.get(i..i + 8).unwrap_or_default());
            let m = mask(w);
            if m != 0 {
                let n = m.trailing_zeros() / 8;
                let end = i + n as usize;
                return ((w >> (8 * n)) as u8 == b'"').then_some((start, end));
            }
            i += 8;
        }
    }
    let rest = b.get(i..)?;
    let n = rest
        .iter()
        .position(|&c| c == b'"' || (BACKSLASH && c == b'\\') || c < 0x20)?;
    (rest.get(n) == Some(&b'"')).then_some((start, i + n))
}

/// A name's closing `"` and a `:` at once, as the low half of a word.
const NAME_END: u16 = u16::from_le_bytes(*b"\":");

/// The member name whose `"` is at `at`, in a text without backslashes:
/// its body's end (its start is `at + 1`), the [`key_word`]s of its first
/// eight bytes and of the next eight (as [`name_by_words`] takes them),
/// and whether a `:` follows the closing `"` at once (`false` may also
/// mean not seen). A name shorter than sixteen bytes (claim names but the
/// longest) is read from the one or two words after the `"`: its end, its
/// words and (but at the last byte of a word) the `:` all come from those
/// loads.
#[inline(always)]
fn key_at(b: &[u8], at: usize) -> Option<(usize, u64, u64, bool)> {
    let start = at + 1;
    if let Some(chunk) = b.get(start..start + 8) {
        let w = swar::word(chunk);
        let m = stop_mask(w);
        if m != 0 {
            // The first `"` or control byte, at byte `n` of `w`.
            let n = m.trailing_zeros() / 8;
            let word = w & ((1u64 << (8 * n)) - 1);
            let end = start + n as usize;
            // `":` in one test (never true at the last byte of the word).
            if (w >> (8 * n)) as u16 == NAME_END {
                return Some((end, word, 0, true));
            }
            return ((w >> (8 * n)) as u8 == b'"').then_some((end, word, 0, false));
        }
        if let Some(chunk) = b.get(start + 8..start + 16) {
            // Eight bytes or more: the key word is the whole first word.
            let v = swar::word(chunk);
            let m = stop_mask(v);
            if m != 0 {
                let n = m.trailing_zeros() / 8;
                let hi = v & ((1u64 << (8 * n)) - 1);
                let end = start + 8 + n as usize;
                if (v >> (8 * n)) as u16 == NAME_END {
                    return Some((end, w, hi, true));
                }
                return ((v >> (8 * n)) as u8 == b'"').then_some((end, w, hi, false));
            }
        }
    }
    let (s, e) = string_at(b, at)?;
    let key = b.get(s..e)?;
    let tail = key.get(8..).unwrap_or_default();
    Some((e, key_word(b, s, key), key_word(tail, 0, tail), false))
}

/// The high bit of each byte of `w` that is a `"` or a control byte
/// (below 0x20); the lowest flagged byte is exact (borrows only run
/// upwards), the ones above it may not be.
#[inline(always)]
fn stop_mask(w: u64) -> u64 {
    // Flipping bit 1 maps `"` (0x22) to 0x20 and a space to 0x22, and keeps
    // control bytes below 0x20: the stop bytes are then exactly those
    // below 0x21 (bytes from 0x80 keep their high bit and never match).
    let x = w ^ (swar::ONES * 0x02);
    x.wrapping_sub(swar::ONES * 0x21) & !x & swar::HIGHS
}

/// The literal `word` at `i` of `b`, and the position after it.
#[inline(always)]
fn literal_at(b: &[u8], i: usize, word: &[u8]) -> Option<(Val, usize)> {
    let end = i + word.len();
    (b.get(i..end)? == word).then_some((Val::Lit, end))
}

/// The scalar starting with `c` at `i`, and the position after it.
#[inline(always)]
fn scalar_at(b: &[u8], i: usize, c: u8) -> Option<(Val, usize)> {
    let literal = |word: &[u8]| literal_at(b, i, word);
    match c {
        b'"' => {
            let (s, e) = string_at(b, i)?;
            // The text is shorter than `u32::MAX` (checked by the scan).
            Some((Val::Str(s as u32, e as u32), e + 1))
        }
        b't' => literal(b"true"),
        b'f' => literal(b"false"),
        b'n' => literal(b"null"),
        b'-' | b'0'..=b'9' => {
            let (v, end) = int_at(b, i)?;
            Some((Val::Int(v), end))
        }
        _ => None,
    }
}

/// A scanned claims object: the mapped claims by slot, the others in
/// document order, and the string items of arrays.
pub(crate) struct FastClaims<'a> {
    text: &'a str,
    mapped: [Option<Val>; SLOTS],
    others: [Member; MAX_MEMBERS],
    n_others: usize,
    /// The `aud` and `nbf` members among the others (read by every check).
    aud: Option<Val>,
    nbf: Option<Val>,
    /// The body of each string item (non-strings are left empty).
    items: [(u32, u32); MAX_ITEMS],
    n_items: usize,
}

/// Typed registered claims, borrowed.
pub(crate) struct FastRegistered<'a> {
    pub(crate) iss: &'a str,
    exp: Option<Timestamp>,
    nbf: Option<Timestamp>,
    iat: Option<Timestamp>,
}

fn opt_date(v: Option<Val>) -> Option<Option<Timestamp>> {
    match v {
        None => Some(None),
        Some(Val::Int(i)) => Some(Some(Timestamp::from_unix_seconds(i))),
        Some(_) => None,
    }
}

impl<'a> FastClaims<'a> {
    /// An empty scan result, to be filled in place by [`FastClaims::scan`].
    pub(crate) fn new() -> FastClaims<'a> {
        FastClaims {
            text: "",
            mapped: [None; SLOTS],
            others: [Member::EMPTY; MAX_MEMBERS],
            n_others: 0,
            aud: None,
            nbf: None,
            items: [(0, 0); MAX_ITEMS],
            n_items: 0,
        }
    }

    /// Scan the claims object `text` into `self` (which must be fresh).
    pub(crate) fn scan(&mut self, text: &'a str) -> Option<()> {
        let out = self;
        let b = text.as_bytes();
        // No escapes (nor stray backslashes): strings end at their first
        // `"`. Positions are kept as `u32`.
        if memchr::memchr(b'\\', b).is_some() || u32::try_from(b.len()).is_err() {
            return None;
        }
        out.text = text;
        let (c, i) = next_byte(b, 0)?;
        if c != b'{' {
            return None;
        }
        let (c, mut i) = next_byte(b, i + 1)?;
        if c == b'}' {
            return (skip_ws(b, i + 1) == b.len()).then_some(());
        }
        // One bit per hash of the names of the others seen: a name whose
        // bit is clear is new, so the others are only searched on a hit.
        let mut seen = 0u64;
        // Positions are below `u32::MAX` (checked above), so stepping past
        // a byte of the text never overflows.
        if c != b'"' {
            return None;
        }
        loop {
            // At the member's `"` (whitespace skipped).
            let member_start = i;
            let (ke, word, hi, colon) = key_at(b, i)?;
            let len = ke.wrapping_sub(i.wrapping_add(1));
            let j = if colon {
                ke.wrapping_add(2)
            } else {
                let (c, j) = next_byte(b, ke.wrapping_add(1))?;
                if c != b':' {
                    return None;
                }
                j.wrapping_add(1)
            };
            let (c, j) = next_byte(b, j)?;
            let (val, j) = if c == b'"' {
                let (s, e) = string_at(b, j)?;
                (Val::Str(s as u32, e as u32), e.wrapping_add(1))
            } else if c == b'[' {
                out.array(b, j.wrapping_add(1))?
            } else {
                scalar_at(b, j, c)?
            };
            i = j;
            match name_by_words(len, word, hi) {
                Name::Slot(s) => {
                    let slot = out.mapped.get_mut(s as usize)?;
                    if slot.is_some() {
                        return None;
                    }
                    *slot = Some(val);
                }
                name => {
                    let bit = 1u64 << (name_hash(word, len) >> 58);
                    if seen & bit != 0 {
                        let key = b.get(member_start.wrapping_add(1)..ke)?;
                        if out.others().iter().any(|m| m.key(b) == key) {
                            return None;
                        }
                    }
                    seen |= bit;
                    *out.others.get_mut(out.n_others)? = Member {
                        start: member_start as u32,
                        key_end: ke as u32,
                    };
                    // At most `MAX_MEMBERS`.
                    out.n_others = out.n_others.wrapping_add(1);
                    match name {
                        Name::Aud => out.aud = Some(val),
                        Name::Nbf => out.nbf = Some(val),
                        _ => {}
                    }
                }
            }
            // `,` and the next name's `"` at once (no whitespace between
            // members), or one at a time.
            if b.get(i..i.wrapping_add(2)) == Some(b",\"") {
                i = i.wrapping_add(1);
                continue;
            }
            let (c, j) = next_byte(b, i)?;
            match c {
                b',' => {
                    i = j.wrapping_add(1);
                    if maybe_ws(*b.get(i)?) {
                        i = skip_ws(b, i);
                    }
                    if *b.get(i)? != b'"' {
                        return None;
                    }
                }
                b'}' => return (skip_ws(b, j.wrapping_add(1)) == b.len()).then_some(()),
                _ => return None,
            }
        }
    }

    /// A flat array whose items start at `i` (after the `[`): its value
    /// and the position after its `]`.
    #[inline(always)]
    fn array(&mut self, b: &[u8], i: usize) -> Option<(Val, usize)> {
        let start = self.n_items;
        let mut n = start;
        let mut strs = true;
        let (mut c, mut i) = next_byte(b, i)?;
        if c != b']' {
            loop {
                let (item, j) = if c == b'"' {
                    let (s, e) = string_at(b, i)?;
                    ((s as u32, e as u32), e.wrapping_add(1))
                } else {
                    let (_, j) = scalar_at(b, i, c)?;
                    strs = false;
                    ((0, 0), j)
                };
                *self.items.get_mut(n)? = item;
                // At most `MAX_ITEMS`.
                n = n.wrapping_add(1);
                // `,` and the next item's `"` at once, or one at a time.
                if b.get(j..j.wrapping_add(2)) == Some(b",\"") {
                    (c, i) = (b'"', j.wrapping_add(1));
                    continue;
                }
                let (d, j) = next_byte(b, j)?;
                match d {
                    b',' => (c, i) = next_byte(b, j.wrapping_add(1))?,
                    b']' => {
                        i = j;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.n_items = n;
        let array = Val::Array {
            start: start as u32,
            len: n.wrapping_sub(start) as u32,
            strs,
        };
        Some((array, i.wrapping_add(1)))
    }

    fn others(&self) -> &[Member] {
        self.others.get(..self.n_others).unwrap_or_default()
    }

    fn get(&self, s: Slot) -> Option<Val> {
        self.mapped.get(s as usize).copied().flatten()
    }

    /// The text `start..end` (string bodies lie between `"` bytes, so
    /// always on character boundaries).
    #[inline(always)]
    fn str(&self, start: u32, end: u32) -> &'a str {
        slice(self.text, start as usize, end as usize).unwrap_or_default()
    }

    fn has(&self, name: &str) -> bool {
        let key = name.as_bytes();
        let word = key_word(key, 0, key);
        match name_of(key, word) {
            Name::Slot(s) => self.get(s).is_some(),
            Name::Aud => self.aud.is_some(),
            Name::Nbf => self.nbf.is_some(),
            Name::Other => {
                let b = self.text.as_bytes();
                self.others().iter().any(|m| m.key(b) == key)
            }
        }
    }

    fn items(&self, start: u32, len: u32) -> &[(u32, u32)] {
        self.items
            .get(start as usize..start as usize + len as usize)
            .unwrap_or_default()
    }

    /// A string, or an array of strings.
    fn all_str(v: Val) -> bool {
        matches!(v, Val::Str(..) | Val::Array { strs: true, .. })
    }

    /// Type-check the registered claims and every mapped claim; `None` when
    /// any has a type the general path would reject (it then reports it).
    pub(crate) fn registered(&self) -> Option<FastRegistered<'a>> {
        let Some(Val::Str(s, e)) = self.get(Slot::Iss) else {
            return None;
        };
        let iss = self.str(s, e);
        match self.aud {
            None | Some(Val::Str(..)) => {}
            Some(Val::Array {
                len, strs: true, ..
            }) if len > 0 => {}
            Some(_) => return None,
        }
        let lists = [
            Slot::Groups,
            Slot::Roles,
            Slot::Scope,
            Slot::Scp,
            Slot::Entitlements,
        ];
        for s in lists {
            if self.get(s).is_some_and(|v| !Self::all_str(v)) {
                return None;
            }
        }
        match self.get(Slot::Amr) {
            None | Some(Val::Array { strs: true, .. }) => {}
            Some(_) => return None,
        }
        for s in [Slot::Sub, Slot::Jti, Slot::Sid, Slot::Acr] {
            if !matches!(self.get(s), None | Some(Val::Str(..))) {
                return None;
            }
        }
        opt_date(self.get(Slot::AuthTime))?;
        Some(FastRegistered {
            iss,
            exp: opt_date(self.get(Slot::Exp))?,
            nbf: opt_date(self.nbf)?,
            iat: opt_date(self.get(Slot::Iat))?,
        })
    }

    fn aud(&self) -> impl Iterator<Item = &'a str> + Clone + '_ {
        let (single, items) = match self.aud {
            Some(Val::Str(s, e)) => (Some(self.str(s, e)), &[][..]),
            Some(Val::Array { start, len, .. }) => (None, self.items(start, len)),
            _ => (None, &[][..]),
        };
        single
            .into_iter()
            .chain(items.iter().map(|&(s, e)| self.str(s, e)))
    }

    /// Whether every claim of `required` is present.
    fn has_all(&self, required: Required) -> bool {
        let mut bits = required.0;
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let present = match bit {
                AUD_BIT => self.aud.is_some(),
                NBF_BIT => self.nbf.is_some(),
                slot => self.mapped.get(slot).is_some_and(Option::is_some),
            };
            if !present {
                return false;
            }
        }
        true
    }

    /// Whether an `aud` claim, if any, names an audience of `rules`.
    fn aud_accepted(&self, rules: &ClaimRules) -> bool {
        let accepted = |s: u32, e: u32| {
            let a = self.str(s, e);
            rules.audiences.iter().any(|r| r == a)
        };
        match self.aud {
            None => true,
            Some(Val::Str(s, e)) => accepted(s, e),
            Some(Val::Array { start, len, .. }) => {
                self.items(start, len).iter().any(|&(s, e)| accepted(s, e))
            }
            Some(_) => false,
        }
    }

    /// Presence, audience and time rules; `required` is the scan's form of
    /// `rules.required` when it has one ([`Required::of`]) and `limits`
    /// the time limits of `rules`.
    pub(crate) fn check(
        &self,
        reg: &FastRegistered<'a>,
        rules: &ClaimRules,
        required: Option<Required>,
        limits: Limits,
        now: Timestamp,
    ) -> Result<(), IdentityError> {
        // All present: no name is looked up. Otherwise the names are, in
        // order, for the error naming the first one missing.
        let all_present = required.is_some_and(|r| self.has_all(r));
        let times = [reg.exp, reg.nbf, reg.iat];
        // Passing every rule needs no error: `check_rules` only runs to
        // name the first rule broken.
        if all_present && self.aud_accepted(rules) && limits.times_pass(times, now) {
            return Ok(());
        }
        check_rules(
            |name| all_present || self.has(name),
            self.aud(),
            times,
            rules,
            now,
        )
    }

    /// The strings [`FastClaims::push_list`] likely adds for `slot`: exact
    /// but for a space-separated string, whose words are guessed from its
    /// length (one per eight bytes, at most [`MAX_GUESSED_WORDS`]); a
    /// longer list grows the table once instead of being counted first.
    #[inline(always)]
    fn list_len(&self, slot: Slot, split_spaces: bool) -> usize {
        match self.get(slot) {
            Some(Val::Str(s, e)) if split_spaces => {
                (1 + (e - s) as usize / 8).min(MAX_GUESSED_WORDS)
            }
            Some(Val::Str(..)) => 1,
            Some(Val::Array { len, .. }) => len as usize,
            _ => 0,
        }
    }

    /// Add the strings of `slot` to the current list of `out` (a packer
    /// over the claims text: by their place).
    #[inline(always)]
    fn push_list<S: SpanSink>(&self, slot: Slot, split_spaces: bool, out: &mut S) {
        match self.get(slot) {
            Some(Val::Str(s, e)) if split_spaces => {
                push_words(self.str(s, e), s as usize, out);
            }
            Some(Val::Str(s, e)) => out.part(s as usize, e as usize),
            Some(Val::Array { start, len, .. }) => out.parts(self.items(start, len)),
            _ => {}
        }
    }

    /// Add the lists (groups, roles, entitlements, methods) to `out`.
    #[inline(always)]
    fn push_lists<S: SpanSink>(&self, out: &mut S) {
        self.push_list(Slot::Groups, false, out);
        out.end_list();
        self.push_list(Slot::Roles, false, out);
        out.end_list();
        self.push_list(Slot::Scope, true, out);
        self.push_list(Slot::Scp, true, out);
        self.push_list(Slot::Entitlements, false, out);
        out.end_list();
        self.push_list(Slot::Amr, false, out);
        out.end_list();
    }

    /// The identity of checked claims (as `identity_from_set` builds it):
    /// its text is a copy of the claims text, its strings are parts of it,
    /// and the claims it does not map are kept as their verified JSON text
    /// (their members as they appear in the token). Few strings in a short
    /// text are placed by an inline table ([`Narrow`]), others by a
    /// [`Packer`].
    pub(crate) fn identity(&self, reg: &FastRegistered<'a>, kind: IdentityKind) -> Identity {
        let span = |v: Option<Val>| match v {
            Some(Val::Str(s, e)) => Some((s as usize, e as usize)),
            _ => None,
        };
        let items = self.list_len(Slot::Groups, false)
            + self.list_len(Slot::Roles, false)
            + self.list_len(Slot::Scope, true)
            + self.list_len(Slot::Scp, true)
            + self.list_len(Slot::Entitlements, false)
            + self.list_len(Slot::Amr, false);
        let subject = span(self.get(Slot::Sub)).unwrap_or_default();
        let issuer = span(self.get(Slot::Iss)).unwrap_or_default();
        let singles = [
            span(self.get(Slot::Jti)),
            span(self.get(Slot::Sid)),
            span(self.get(Slot::Acr)),
        ];
        let times = Times {
            auth_time: opt_date(self.get(Slot::AuthTime)).flatten(),
            issued_at: reg.iat,
            expires_at: reg.exp,
        };
        // The claims text itself (when it has others): read back, its
        // mapped claims are skipped, leaving exactly the others.
        let claims = if self.n_others > 0 {
            (0, self.text.len())
        } else {
            (0, 0)
        };
        if Narrow::fits(self.text.len(), items) {
            let mut n = Narrow::new(subject, issuer, singles, claims);
            self.push_lists(&mut n);
            if let Some(id) = n.finish(self.text, kind, times) {
                return id;
            }
        }
        let mut p = Packer::over(self.text, 0, items, subject, issuer, singles);
        p.claims_part(claims.0, claims.1);
        self.push_lists(&mut p);
        p.finish(kind, times, None, ClaimsInit::Text)
    }
}

/// Most words a space-separated claim reserves room for up front.
const MAX_GUESSED_WORDS: usize = 16;

/// Add the words of `s` (split at each space, empty words dropped, as
/// `split(' ')` and a filter) to `out` as parts of its source, `s` being
/// at `offset` in it; the spaces are found eight bytes at a time.
fn push_words<S: SpanSink>(s: &str, offset: usize, out: &mut S) {
    let b = s.as_bytes();
    let mut word_start = 0;
    let mut base = 0;
    let mut chunks = b.chunks_exact(8);
    for chunk in &mut chunks {
        let spaces = space_mask(swar::word(chunk));
        push_words_of(spaces, base, offset, &mut word_start, out);
        base += 8;
    }
    if !chunks.remainder().is_empty() {
        // The padding bytes are zero, never spaces.
        let spaces = space_mask(swar::tail_word(b));
        push_words_of(spaces, base, offset, &mut word_start, out);
    }
    if word_start < b.len() {
        out.part(offset + word_start, offset + b.len());
    }
}

/// The high bit of each byte of `w` that is a space.
#[inline(always)]
fn space_mask(w: u64) -> u64 {
    swar::eq7(w & swar::LOW7, b' ') & !w
}

/// The words that end at the spaces flagged in `spaces` (the word of `s`
/// at `base`), as [`push_words`] adds them.
#[inline(always)]
fn push_words_of<S: SpanSink>(
    mut spaces: u64,
    base: usize,
    offset: usize,
    word_start: &mut usize,
    out: &mut S,
) {
    while spaces != 0 {
        let at = base + (spaces.trailing_zeros() / 8) as usize;
        if at > *word_start {
            out.part(offset + *word_start, offset + at);
        }
        *word_start = at + 1;
        spaces &= spaces - 1;
    }
}

/// A compact JWS split at its dots, its header scanned.
pub(crate) struct FastJws<'t> {
    pub(crate) header: FastHeader<'t>,
    pub(crate) signing_input: &'t [u8],
    payload_b64: &'t [u8],
    signature_b64: &'t [u8],
}

/// Split `token` and scan its header into `buf`; `None` sends the token to
/// the general path. The caller has checked the token length.
pub(crate) fn split<'t>(
    token: &'t str,
    max_header_len: usize,
    ignore_key_headers: bool,
    known: &'t KnownHeaders,
    buf: &'t mut [MaybeUninit<u8>; HEADER_BUF],
) -> Option<FastJws<'t>> {
    // The payload and signature decoders reject any further `.`.
    let b = token.as_bytes();
    let d1 = memchr::memchr(b'.', b)?;
    let d2 = memchr::memrchr(b'.', b)?;
    let header_b64 = b.get(..d1)?;
    let signature_b64 = b.get(d2 + 1..)?;
    if d2 <= d1 || header_b64.is_empty() || header_b64.len() > max_header_len {
        return None;
    }
    let header = match known.get(header_b64) {
        Some(h) => h,
        None => {
            let text = std::str::from_utf8(decode(header_b64, buf)?).ok()?;
            scan_header(text, ignore_key_headers)?
        }
    };
    Some(FastJws {
        header,
        signing_input: b.get(..d2)?,
        payload_b64: b.get(d1 + 1..d2)?,
        signature_b64,
    })
}

/// Most entries of a [`KnownHeaders`] table (later headers are scanned).
const MAX_KNOWN_HEADERS: usize = 4096;

/// The hash of encoded headers: eight bytes per multiply-and-fold step.
///
/// Unkeyed on purpose: the table holds only headers built from the
/// configuration, so a token's header can select a bucket but never
/// lengthen one.
#[derive(Default)]
pub(crate) struct HeaderHasher(u64);

impl std::hash::Hasher for HeaderHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut h = self.0 ^ bytes.len() as u64;
        swar::for_each_word(bytes, |w| h = swar::fold_mul(h ^ w, K));
        self.0 = h;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The scanned form of a known header, owning its strings.
#[derive(Debug, Clone)]
struct KnownHeader {
    alg: Algorithm,
    kid: Option<Box<str>>,
    typ: Option<Box<str>>,
}

/// The encoded headers a registry's configuration makes likely (each
/// allowed `alg` with each key's `kid`, with and without `typ`, members in
/// any order, no whitespace), each with the [`scan_header`] result of its
/// decoded text: a token whose header segment is byte for byte one of them
/// skips decoding and scanning it, with the same result.
#[derive(Clone, Default)]
pub(crate) struct KnownHeaders {
    map: std::collections::HashMap<
        Box<[u8]>,
        KnownHeader,
        std::hash::BuildHasherDefault<HeaderHasher>,
    >,
}

impl std::fmt::Debug for KnownHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KnownHeaders")
            .field("len", &self.map.len())
            .finish()
    }
}

impl KnownHeaders {
    /// The scanned header of the segment `b64`, when known.
    #[inline(always)]
    fn get(&self, b64: &[u8]) -> Option<FastHeader<'_>> {
        if self.map.is_empty() {
            return None;
        }
        self.map.get(b64).map(|h| FastHeader {
            alg: h.alg,
            kid: h.kid.as_deref(),
            typ: h.typ.as_deref(),
        })
    }

    /// [`KnownHeaders::get`], for tests.
    #[cfg(test)]
    pub(crate) fn get_for_test(&self, b64: &[u8]) -> Option<FastHeader<'_>> {
        self.get(b64)
    }

    /// The number of entries, for tests.
    #[cfg(test)]
    pub(crate) fn len_for_test(&self) -> usize {
        self.map.len()
    }

    /// Add the headers of `algs` with each of `kids` (and without a `kid`),
    /// without `typ` and with each of `typs`, until the table is full.
    pub(crate) fn add<'k>(
        &mut self,
        algs: &[Algorithm],
        kids: impl Iterator<Item = &'k str> + Clone,
        typs: &[&str],
        ignore_key_headers: bool,
    ) {
        use base64::Engine;
        let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
        for &alg in algs {
            let alg_member = format!("\"alg\":\"{}\"", alg.as_str());
            for kid in std::iter::once(None).chain(kids.clone().map(Some)) {
                for typ in std::iter::once(None).chain(typs.iter().copied().map(Some)) {
                    let mut members = vec![alg_member.clone()];
                    members.extend(kid.map(|k| format!("\"kid\":{}", quote(k))));
                    members.extend(typ.map(|t| format!("\"typ\":{}", quote(t))));
                    for order in ORDERS {
                        let picked: Vec<&str> = order
                            .iter()
                            .filter_map(|&i| members.get(i).map(String::as_str))
                            .collect();
                        if picked.len() != members.len() {
                            continue;
                        }
                        if self.map.len() >= MAX_KNOWN_HEADERS {
                            return;
                        }
                        let text = format!("{{{}}}", picked.join(","));
                        let key = super::jws::B64
                            .encode(&text)
                            .into_bytes()
                            .into_boxed_slice();
                        if self.map.contains_key(&key) {
                            continue;
                        }
                        if let Some(h) = scan_header(&text, ignore_key_headers) {
                            let known = KnownHeader {
                                alg: h.alg,
                                kid: h.kid.map(Box::from),
                                typ: h.typ.map(Box::from),
                            };
                            self.map.insert(key, known);
                        }
                    }
                }
            }
        }
    }
}

/// Member orders for [`KnownHeaders::add`]: every order of up to three
/// members (those naming an absent member are skipped; an order of fewer
/// members is listed once, as the prefix of a longer one is not).
const ORDERS: [&[usize]; 9] = [
    &[0],
    &[0, 1],
    &[1, 0],
    &[0, 1, 2],
    &[0, 2, 1],
    &[1, 0, 2],
    &[1, 2, 0],
    &[2, 0, 1],
    &[2, 1, 0],
];

impl<'t> FastJws<'t> {
    /// Decode the payload (into `stack`, or `heap` when long) as text.
    pub(crate) fn payload<'b>(
        &self,
        stack: &'b mut [MaybeUninit<u8>; PAYLOAD_BUF],
        heap: &'b mut Vec<u8>,
    ) -> Option<&'b str> {
        let bytes: &'b [u8] = if self.payload_b64.len() / 4 * 3 + 3 <= PAYLOAD_BUF {
            decode(self.payload_b64, stack)?
        } else {
            // Decoded into the spare capacity: only the returned bytes are read.
            heap.clear();
            heap.reserve(self.payload_b64.len() / 4 * 3 + 3);
            decode(self.payload_b64, heap.spare_capacity_mut())?
        };
        std::str::from_utf8(bytes).ok()
    }

    /// Decode the signature into `buf`.
    pub(crate) fn signature<'b>(
        &self,
        buf: &'b mut [MaybeUninit<u8>; SIG_BUF],
    ) -> Option<&'b [u8]> {
        if self.signature_b64.is_empty() {
            return None;
        }
        decode(self.signature_b64, buf)
    }
}

/// Strict base64url without padding into `out`, as the general path decodes it
/// (canonical final symbol, no `=`, no whitespace); `None` for anything
/// else or when `out` is too small. Returns the decoded bytes (the buffers
/// are not zeroed first: the decoder writes every byte it returns).
///
/// `base64-simd` decodes 32 characters per step with AVX2 (SSSE3 or NEON
/// elsewhere, a table loop without them), about a tenth of the instructions
/// of a four-characters-at-a-time table loop; in its `NoPad` configuration
/// it rejects `=`, whitespace, a length of 4n+1 and non-zero unused bits of
/// the final symbol, exactly as the general path.
fn decode<'o>(input: &[u8], out: &'o mut [MaybeUninit<u8>]) -> Option<&'o [u8]> {
    // The decoded length (a length of 4n+1, which has none, is rejected by
    // the decoder).
    let n = input.len() / 4 * 3 + input.len() % 4 * 3 / 4;
    let out = out.get_mut(..n)?;
    base64_simd::URL_SAFE_NO_PAD
        .decode(input, base64_simd::Out::from_uninit_slice(out))
        .ok()
        .map(|d| &*d)
}

/// A header buffer (not zeroed).
pub(crate) fn header_buf() -> [MaybeUninit<u8>; HEADER_BUF] {
    [MaybeUninit::uninit(); HEADER_BUF]
}

/// A signature buffer (not zeroed).
pub(crate) fn sig_buf() -> [MaybeUninit<u8>; SIG_BUF] {
    [MaybeUninit::uninit(); SIG_BUF]
}

/// A payload buffer (not zeroed).
pub(crate) fn payload_buf() -> [MaybeUninit<u8>; PAYLOAD_BUF] {
    [MaybeUninit::uninit(); PAYLOAD_BUF]
}

/// The base64url decoder, for tests against the general path's.
#[cfg(test)]
pub(crate) fn decode_for_test(input: &[u8], out: &mut [u8]) -> Option<usize> {
    let mut buf = vec![MaybeUninit::uninit(); out.len()];
    let d = decode(input, &mut buf)?;
    out.get_mut(..d.len())?.copy_from_slice(d);
    Some(d.len())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The fast decoder's answer for `text`, as the general path's would be.
    fn fast_decode(text: &[u8]) -> Option<Vec<u8>> {
        let mut out = vec![0; text.len()];
        decode_for_test(text, &mut out).map(|n| out[..n].to_vec())
    }

    /// The general path's strict decoder.
    fn strict_decode(text: &[u8]) -> Option<Vec<u8>> {
        use base64::Engine;
        super::super::jws::B64.decode(text).ok()
    }

    /// Deterministic bytes for the decoder tests.
    fn test_bytes(len: usize, seed: u64) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 24) as u8
            })
            .collect()
    }

    /// Every text length from 0 to 100 characters and around the lengths
    /// of real payloads and RSA signatures (so every count of characters
    /// left after the vector steps), with every possible final byte: the
    /// decoder accepts exactly what the strict engine accepts (canonical
    /// final symbol, no `=`, `+`, `/`, whitespace or other bytes, no length
    /// of 4n+1) and decodes it to the same bytes.
    #[test]
    fn decoder_matches_the_strict_engine_for_every_length_and_final_byte() {
        use base64::Engine;
        let lengths = (0..=100).chain(330..=372).chain(690..=740);
        let (mut accepted, mut rejected) = (0, 0);
        for len in lengths {
            // A valid text of `len` characters, or for 4n+1 one character
            // more than a valid text of 4n.
            let data = test_bytes(len * 3 / 4, len as u64);
            let mut text = super::super::jws::B64.encode(&data).into_bytes();
            if len % 4 == 1 {
                text.push(b'A');
            }
            assert_eq!(text.len(), len);
            assert_eq!(fast_decode(&text), strict_decode(&text), "len {len}");
            if len % 4 != 1 {
                assert_eq!(fast_decode(&text), Some(data), "len {len}");
            }
            let Some(last) = len.checked_sub(1) else {
                continue;
            };
            for byte in 0..=255u8 {
                text[last] = byte;
                let (fast, strict) = (fast_decode(&text), strict_decode(&text));
                assert_eq!(fast, strict, "len {len}, final byte {byte:#04x}");
                if strict.is_some() {
                    accepted += 1;
                } else {
                    rejected += 1;
                }
            }
        }
        // Both outcomes occur for every length class.
        assert!(
            accepted > 1000 && rejected > 10_000,
            "{accepted} {rejected}"
        );
    }

    /// A forbidden byte anywhere (in a vector block or in the tail) is
    /// rejected as the strict engine rejects it.
    #[test]
    fn decoder_rejects_a_foreign_byte_at_any_position() {
        use base64::Engine;
        for len in [2, 3, 4, 38, 43, 86, 342, 707] {
            let data = test_bytes(len * 3 / 4, 7 + len as u64);
            let valid = super::super::jws::B64.encode(&data).into_bytes();
            assert_eq!(valid.len(), len);
            for at in 0..len {
                for byte in [b'=', b'+', b'/', b' ', b'\n', b'.', b'\\', 0, 0x80, 0xff] {
                    let mut text = valid.clone();
                    text[at] = byte;
                    assert_eq!(fast_decode(&text), None, "len {len}, {byte:#04x} at {at}");
                    assert_eq!(strict_decode(&text), None);
                }
            }
        }
    }

    proptest! {
        /// Valid texts of any length, with one byte replaced (often by a
        /// near-miss: another base64 character, `=`, `+`, `/`, space), cut
        /// short, or extended.
        #[test]
        fn decoder_agrees_with_the_strict_engine_on_mutated_text(
            data in proptest::collection::vec(any::<u8>(), 0..600),
            at in any::<proptest::sample::Index>(),
            byte in prop_oneof![
                any::<u8>(),
                proptest::sample::select(b"AQgw_-+/= .9zZ".to_vec()),
            ],
            edit in 0..4u8,
        ) {
            use base64::Engine;
            let mut text = super::super::jws::B64.encode(&data).into_bytes();
            match edit {
                0 if !text.is_empty() => {
                    let i = at.index(text.len());
                    text[i] = byte;
                }
                1 => text.truncate(at.index(text.len() + 1)),
                2 => text.push(byte),
                _ => {}
            }
            prop_assert_eq!(fast_decode(&text), strict_decode(&text));
            if edit == 3 {
                prop_assert_eq!(fast_decode(&text), Some(data));
            }
        }
    }

    #[test]
    fn kept_claims_read_as_serde_json_reads_them() {
        for text in [
            r#"{"aud":"api"}"#,
            r#"{ "aud" : [ "a" , "b" ] ,"n":-12,"t":true,"f":false,"z":null,"e":[],"u":"é ✓"}"#,
            r#"{"mix":[1,"a",true,null,-3],"big":123456789012345678}"#,
        ] {
            let general: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(text).unwrap();
            let fast = kept_claims(text).unwrap();
            assert_eq!(fast, general, "{text}");
            assert_eq!(
                serde_json::to_string(&fast).unwrap(),
                serde_json::to_string(&general).unwrap()
            );
        }
        // The mapped claims are read past.
        let text = r#"{"iss":"i","aud":"a","groups":["g",1],"scope":"s t","n":2,"exp":9}"#;
        let mut general: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text).unwrap();
        general.retain(|k, _| !crate::identity::MAPPED_CLAIMS.contains(&k.as_str()));
        assert_eq!(kept_claims(text).unwrap(), general);
        assert_eq!(general.len(), 2);
        for other in [
            "",
            "{}",
            r#"{"a":1.5}"#,
            r#"{"a":"\u0041"}"#,
            r#"{"a":{"b":1}}"#,
            r#"{"a":1,"a":2}"#,
        ] {
            assert!(kept_claims(other).is_none(), "{other}");
        }
    }

    #[test]
    fn scope_words_beyond_the_guess_are_all_kept() {
        for n in [0, 1, 5, 16, 17, 60] {
            let scope: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
            let text = serde_json::json!({
                "iss": "i", "sub": "s", "scope": scope.join(" "), "groups": ["g"],
            })
            .to_string();
            let mut claims = FastClaims::new();
            claims.scan(&text).unwrap();
            let reg = claims.registered().unwrap();
            let id = claims.identity(&reg, IdentityKind::Human);
            assert_eq!(id.entitlements(), scope, "{n}");
            assert_eq!(id.groups(), ["g"]);
            assert_eq!(id.subject(), "s");
        }
    }

    #[test]
    fn known_headers_hold_the_scan_of_their_text() {
        use base64::Engine;
        let mut known = KnownHeaders::default();
        let algs = [Algorithm::HS256, Algorithm::ES256];
        let kids = ["k1", "k\"2", "k/3"];
        known.add(&algs, kids.iter().copied(), &["JWT", "at+jwt"], false);
        // Per alg: one header without kid or typ, two with one of them,
        // six with both; the kid needing an escape is left to the scan.
        let per_alg = 1 + 2 * 2 + 2 * (2 + 2 * 6);
        assert_eq!(known.map.len(), algs.len() * per_alg);
        for (key, h) in &known.map {
            let text = super::super::jws::B64.decode(key).unwrap();
            let text = std::str::from_utf8(&text).unwrap();
            let scanned = scan_header(text, false).unwrap();
            assert_eq!(known.get(key), Some(scanned), "{text}");
            assert!(h.kid.as_deref() != Some("k\"2"));
        }
        // Full: nothing more is added.
        let many: Vec<String> = (0..MAX_KNOWN_HEADERS).map(|i| format!("k{i}")).collect();
        known.add(&algs, many.iter().map(String::as_str), &["JWT"], false);
        assert_eq!(known.map.len(), MAX_KNOWN_HEADERS);
    }

    #[test]
    fn claim_slots_are_found_by_exact_name() {
        // The slots follow the mapped claims, in order.
        let names = crate::identity::MAPPED_CLAIMS;
        for (i, name) in names.iter().enumerate() {
            assert_eq!(slot_of(name).map(|s| s as usize), Some(i), "{name}");
            // One byte changed, added or removed: no slot.
            let mut changed = name.as_bytes().to_vec();
            changed[0] ^= 0x20;
            assert!(slot_of(std::str::from_utf8(&changed).unwrap()).is_none());
            assert!(slot_of(&format!("{name}x")).is_none());
            assert!(slot_of(&name[1..]).is_none());
        }
        for other in ["", "is", "iss\0", "nbf", "aud", "ISS", "email"] {
            assert!(slot_of(other).is_none(), "{other}");
        }
    }

    #[test]
    fn required_claims_have_bits_when_the_scan_tells_them_apart() {
        let of = |names: &[&str]| {
            Required::of(&names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).map(|r| r.0)
        };
        assert_eq!(of(&[]), Some(0));
        assert_eq!(
            of(&["exp", "iss", "aud", "sub"]),
            Some(
                1 << Slot::Exp as u16
                    | 1 << Slot::Iss as u16
                    | 1 << AUD_BIT
                    | 1 << Slot::Sub as u16
            )
        );
        assert_eq!(of(&["nbf", "nbf"]), Some(1 << NBF_BIT));
        assert_eq!(of(&["entitlements"]), Some(1 << Slot::Entitlements as u16));
        assert_eq!(of(&["exp", "email"]), None);
        assert_eq!(of(&["Exp"]), None);
    }

    #[test]
    fn header_names_are_told_apart() {
        use HeaderName as H;
        for (name, want) in [
            ("alg", H::Alg),
            ("kid", H::Kid),
            ("typ", H::Typ),
            ("cty", H::Cty),
            ("b64", H::B64),
            ("crit", H::Crit),
            ("jku", H::KeyRef),
            ("x5u", H::KeyRef),
            ("jwk", H::KeyRef),
            ("x5c", H::KeyRef),
            ("Alg", H::Other),
            ("al", H::Other),
            ("algs", H::Other),
            ("x5t", H::Other),
        ] {
            assert!(header_name(name) == want, "{name}");
        }
        let alg = r#""alg":"HS256""#;
        assert!(scan_header(&format!("{{{alg}}}"), false).is_some());
        assert!(scan_header(&format!("{{{alg},{alg}}}"), false).is_none());
        assert!(scan_header(&format!(r#"{{{alg},"x":1,"x":2}}"#), false).is_none());
        assert!(scan_header(&format!(r#"{{{alg},"jku":"u"}}"#), false).is_none());
        assert!(scan_header(&format!(r#"{{{alg},"jku":"u"}}"#), true).is_some());
        assert!(scan_header(&format!(r#"{{{alg},"jku":"u","jku":"u"}}"#), true).is_none());
        assert!(scan_header(&format!(r#"{{{alg},"crit":["b64"]}}"#), false).is_none());
        assert!(scan_header(&format!(r#"{{{alg},"b64":false}}"#), false).is_none());
        assert!(scan_header(&format!(r#"{{{alg},"kid":1}}"#), false).is_none());
        let many: String = (0..MAX_HEADER_MEMBERS)
            .map(|i| format!(r#","k{i}":"v""#))
            .collect();
        assert!(scan_header(&format!("{{{alg}{many}}}"), false).is_none());
    }

    /// Header members, good and bad, for the common-shape matcher.
    const HEADER_MEMBERS: &[&str] = &[
        r#""alg":"HS256""#,
        r#""alg":"ES256""#,
        r#""alg":"none""#,
        r#""alg":"HS2566""#,
        r#""kid":"k1""#,
        r#""kid":"é ✓""#,
        r#""kid":"""#,
        r#""typ":"JWT""#,
        r#""typ":1"#,
        r#""typ":true"#,
        r#""cty":"x""#,
        r#""jku":"u""#,
        r#""x":"y""#,
        r#" "kid" : "k" "#,
        "\"kid\":\"a\u{1}b\"",
        r#""kid":"a"#,
        r#""kid":"a\"b""#,
        r#""kid":"k\u0031""#,
        r#""typ":"\\""#,
    ];

    #[test]
    fn common_headers_are_matched_by_pattern() {
        for text in [
            r#"{"alg":"HS256","kid":"hs-2025-01","typ":"JWT"}"#,
            r#"{"typ":"JWT","alg":"RS256","kid":"k"}"#,
            r#"{"alg":"EdDSA"}"#,
            r#"{"kid":"","alg":"ES256"}"#,
        ] {
            let fast = common_header(text);
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, header_members(text, false), "{text}");
        }
        for text in [
            r#"{"alg":"HS256","alg":"HS256"}"#,
            r#"{"kid":"k","typ":"JWT"}"#,
            r#"{"alg":"HS256" }"#,
            r#"{"alg":"HS256"} "#,
            r#"{"alg":"HS256"}}"#,
            r#"{"alg":"HS256",}"#,
            r#"{"alg":"HS256","cty":"x"}"#,
            r#"{"alg":"HS256","kid":"k","kid":"k"}"#,
            r#"{"alg":"HS256","typ":"a"b"}"#,
            r#"{"alg":"HS256"#,
            "{\"alg\":\"HS256\",\"kid\":\"\t\"}",
            r#"{"alg":"HS256","kid":"a\"b"}"#,
            r#"{"alg":"HS256","kid":"a\u0062"}"#,
            r#"{"alg":"HS256","kid":"0123456789\\"}"#,
            "",
            "{}",
        ] {
            assert!(common_header(text).is_none(), "{text}");
        }
    }

    #[test]
    fn algorithm_names_match_from_str() {
        for a in Algorithm::ALL {
            assert_eq!(alg_of(a.as_str()), Some(a));
        }
        for s in ["", "none", "hs256", "HS25", "HS2566", "EDDSA", "ES512"] {
            assert_eq!(alg_of(s), None);
            assert!(s.parse::<Algorithm>().is_err());
        }
    }

    /// The words [`push_words`] adds, read back from an identity.
    fn words(s: &str) -> Vec<String> {
        let mut p = Packer::over(s, 0, 0, (0, 0), (0, 0), [None; 3]);
        p.end_list();
        p.end_list();
        push_words(s, 0, &mut p);
        let id = p.finish(
            IdentityKind::Human,
            Times::default(),
            None,
            ClaimsInit::Text,
        );
        id.entitlements().to_vec()
    }

    #[test]
    fn claim_names_tell_long_names_apart() {
        let name = |k: &str| match name_of(k.as_bytes(), key_word(k.as_bytes(), 0, k.as_bytes())) {
            Name::Slot(s) => Some(s as usize),
            _ => None,
        };
        assert_eq!(name("auth_time"), Some(Slot::AuthTime as usize));
        assert_eq!(name("entitlements"), Some(Slot::Entitlements as usize));
        for other in [
            "auth_timE",
            "auth_tim",
            "auth_times",
            "entitlement",
            "entitlemenTs",
        ] {
            assert_eq!(name(other), None, "{other}");
        }
        // The key word reads the same whether or not eight bytes follow.
        let text = br#"{"iss":"x"}"#;
        assert_eq!(key_word(text, 2, b"iss"), key_word(b"iss", 0, b"iss"));
        assert_eq!(key_word(b"auth_time", 0, b"auth_time"), AUTH_TIM);
    }

    #[test]
    fn names_of_any_length_are_read_in_any_spacing() {
        for len in 1..24 {
            let name = "k".repeat(len);
            for (text, ok) in [
                (format!(r#"{{"iss":"x","{name}":1}}"#), true),
                (format!(r#"{{"{name}":[1],"iss":"x"}}"#), true),
                (format!(r#"{{"{name}" :"v" , "iss":"x"}}"#), true),
                (format!(r#"{{"iss":"x","{name}":1,"{name}":2}}"#), false),
                (format!(r#"{{"iss":"x","{name}"1}}"#), false),
                (format!(r#"{{"iss":"x","{name}":1,}}"#), false),
                (format!(r#"{{"iss":"x","{name}":1,x}}"#), false),
            ] {
                let mut claims = FastClaims::new();
                assert_eq!(claims.scan(&text).is_some(), ok, "{text}");
                assert!(!ok || claims.has(&name), "{text}");
            }
        }
    }

    #[test]
    fn duplicate_names_are_found_among_many_others() {
        // Thirty names (more than the seen mask tells apart without
        // collisions), short and long ones sharing their first word.
        let names: Vec<String> = (0..15)
            .flat_map(|k| [format!("n{k}"), format!("a_long_name_{k}")])
            .collect();
        let members: Vec<String> = names.iter().map(|n| format!("\"{n}\":1")).collect();
        let text = format!("{{\"iss\":\"x\",{}}}", members.join(","));
        let mut claims = FastClaims::new();
        assert!(claims.scan(&text).is_some());
        assert_eq!(claims.others().len(), names.len());
        assert!(names.iter().all(|n| claims.has(n)));
        assert!(!claims.has("n15") && !claims.has("a_long_name_15"));
        for n in &names {
            let dup = format!("{},\"{n}\":[]}}", text.trim_end_matches('}'));
            assert!(FastClaims::new().scan(&dup).is_none(), "{n}");
        }
    }

    proptest! {
        #[test]
        fn strings_end_at_their_first_quote_or_control_byte(
            bytes in proptest::collection::vec(
                prop_oneof![
                    Just(b'"'), Just(b'a'), Just(0x1f), Just(0xc3), Just(b' '), Just(b'!'),
                    Just(0xa2), any::<u8>(),
                ], 0..40),
            lead in 0..9usize,
        ) {
            let mut text = vec![b' '; lead];
            text.push(b'"');
            text.extend(&bytes);
            let naive = bytes
                .iter()
                .position(|&c| c == b'"' || c < 0x20)
                .filter(|&p| bytes[p] == b'"')
                .map(|p| (lead + 1, lead + 1 + p));
            prop_assert_eq!(string_at(&text, lead), naive);
        }

        #[test]
        fn common_headers_read_as_member_by_member(
            picks in proptest::collection::vec(0..HEADER_MEMBERS.len(), 0..5),
            tail in prop_oneof![Just(""), Just(" "), Just("}"), Just(","), Just("x")],
        ) {
            let members: Vec<&str> = picks.iter().map(|&i| HEADER_MEMBERS[i]).collect();
            let text = format!("{{{}}}{tail}", members.join(","));
            if text.contains('\\') {
                prop_assert!(common_header(&text).is_none(), "{}", text);
            }
            if let Some(fast) = common_header(&text) {
                prop_assert_eq!(Some(fast), header_members(&text, false), "{}", text);
            }
        }

        #[test]
        fn words_split_as_split_does(s in "[a b\u{e9}\u{2713}]{0,40}") {
            let want: Vec<String> = s.split(' ').filter(|w| !w.is_empty()).map(str::to_owned).collect();
            prop_assert_eq!(words(&s), want);
        }

        #[test]
        fn backslashes_are_found_anywhere(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'\\'), Just(0xdc), Just(b'a'), any::<u8>()], 0..40),
        ) {
            prop_assert_eq!(has_backslash(&bytes), bytes.contains(&b'\\'));
        }

        #[test]
        fn member_names_read_as_strings_do(
            bytes in proptest::collection::vec(
                prop_oneof![Just(b'"'), Just(b':'), Just(b'a'), Just(0x1f), Just(0xc3), any::<u8>()], 0..24),
            lead in 0..3usize,
        ) {
            let mut text = vec![b' '; lead];
            text.push(b'"');
            text.extend(&bytes);
            let want = string_at(&text, lead).map(|(s, e)| {
                let key = &text[s..e];
                let tail = key.get(8..).unwrap_or_default();
                (e, key_word(&text, s, key), key_word(tail, 0, tail))
            });
            let got = key_at(&text, lead);
            prop_assert_eq!(got.map(|(e, w, hi, _)| (e, w, hi)), want);
            // A `:` said to follow the name does follow it.
            if let Some((e, _, _, colon)) = got {
                prop_assert!(!colon || text.get(e + 1) == Some(&b':'), "{:?}", text);
            }
        }

        #[test]
        fn eight_digits_reads_exactly_eight_ascii_digits(
            digits in proptest::collection::vec(b'0'..=b'9', 8),
            at in 0..10usize,
            byte in prop_oneof![
                b'0'..=b'9', Just(b'/'), Just(b':'), Just(b'*'), Just(b'?'), Just(0x29),
                Just(0xb5), Just(0xfa), any::<u8>(),
            ],
        ) {
            // Eight digits, one of them (or none, `at` of 8 or 9) replaced.
            let mut bytes = digits;
            if let Some(b) = bytes.get_mut(at) {
                *b = byte;
            }
            let naive = bytes.iter().all(u8::is_ascii_digit).then(|| {
                bytes.iter().fold(0u64, |v, b| v * 10 + u64::from(b - b'0'))
            });
            prop_assert_eq!(eight_digits(&bytes), naive);
        }

        #[test]
        fn integers_read_as_serde_json_reads_them(n in any::<i64>(), digits in 1..21usize) {
            let text = n.to_string();
            let text = text.get(..digits.min(text.len())).unwrap_or("0");
            let mut c = Cursor { text, pos: 0 };
            let fast = c.integer().filter(|_| c.pos == text.len());
            let general = serde_json::from_str::<serde_json::Value>(text).ok().and_then(|v| v.as_i64());
            if let Some(v) = fast {
                prop_assert_eq!(Some(v), general);
            } else {
                // Refused: `-`, `-0`, or more than 18 digits.
                prop_assert!(text == "-" || text == "-0" || text.trim_start_matches('-').len() > 18 || general.is_none(), "{}", text);
            }
        }
    }
}
