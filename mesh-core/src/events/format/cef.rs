//! ArcSight Common Event Format.
//!
//! `[syslog header ]CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension`
//!
//! Header fields escape `|` and `\` with a backslash. The extension is
//! `key=value` pairs separated by spaces; values may contain spaces (a value
//! ends where a space is followed by the next `key=`), and escape `=` and `\`
//! with a backslash and line breaks as `\n`/`\r`. Unescaped `=` inside a
//! value, which real devices emit in URLs, is kept as is.
//!
//! [`CefLine::parse`] reads a line without building a record: header fields
//! and extension values borrow from the input, and are copied only when an
//! escape has to be rebuilt or invalid UTF-8 replaced.
//! [`CefLine::into_record`] then builds the [`Record`] that [`parse_cef`]
//! returns.

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::syslog::parse_syslog;
use super::{find, Format, ParseError, MAX_FIELDS};
use crate::events::Record;
use crate::Timestamp;

/// The record field names of the seven CEF header fields, in order.
pub const CEF_HEADER: [&str; 7] = [
    "cefVersion",
    "deviceVendor",
    "deviceProduct",
    "deviceVersion",
    "deviceEventClassId",
    "name",
    "severity",
];

/// A CEF line parsed without building a record.
///
/// Every rule of [`parse_cef`] is applied (header arity, version, extension
/// keys, duplicate keys, [`MAX_FIELDS`]), with the same error offsets and
/// reasons; [`CefLine::into_record`] gives exactly [`parse_cef`]'s record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CefLine<'a> {
    prefix: &'a [u8],
    now: Timestamp,
    header: [Cow<'a, str>; 7],
    extension: Vec<(&'a str, Cow<'a, str>)>,
}

impl<'a> CefLine<'a> {
    /// Parses a CEF line. `now` serves only a syslog prefix before `CEF:`
    /// (the year of RFC 3164 timestamps), parsed when the record is built.
    pub fn parse(bytes: &'a [u8], now: Timestamp) -> Result<CefLine<'a>, ParseError> {
        let start = find(bytes, b"CEF:")
            .ok_or_else(|| ParseError::new(Format::Cef, 0, "no `CEF:` marker"))?;
        let prefix = bytes.get(..start).unwrap_or(&[]);
        let body = bytes.get(start + 4..).unwrap_or(&[]);
        let mut pos = 0usize;
        let mut header: [Cow<'a, str>; 7] = Default::default();
        for (n, slot) in header.iter_mut().enumerate() {
            let (value, next) = header_field(body, pos).ok_or_else(|| {
                ParseError::new(
                    Format::Cef,
                    start + 4 + body.len(),
                    format!("header has {n} of 7 `|`-terminated fields"),
                )
            })?;
            if n == 0 && !matches!(value.as_ref(), "0" | "1") {
                return Err(ParseError::new(
                    Format::Cef,
                    start + 4,
                    format!("unsupported CEF version `{value}`"),
                ));
            }
            *slot = value;
            pos = next;
        }
        let ext = body.get(pos..).unwrap_or(&[]);
        let mut prefix_key = PrefixKey::new(prefix, now);
        let extension = parse_extension(ext, start + 4 + pos, Format::Cef, |k| {
            CEF_HEADER.contains(&k) || prefix_key.is(k)
        })?;
        Ok(CefLine {
            prefix,
            now,
            header,
            extension,
        })
    }

    /// The bytes before `CEF:` (a syslog header, other text, or empty).
    pub fn prefix(&self) -> &'a [u8] {
        self.prefix
    }

    /// The seven header fields, unescaped, named as in [`CEF_HEADER`].
    pub fn header(&self) -> &[Cow<'a, str>; 7] {
        &self.header
    }

    /// The CEF version (`0` or `1`).
    pub fn version(&self) -> &str {
        &self.header[0]
    }

    /// The device vendor.
    pub fn device_vendor(&self) -> &str {
        &self.header[1]
    }

    /// The device product.
    pub fn device_product(&self) -> &str {
        &self.header[2]
    }

    /// The device version.
    pub fn device_version(&self) -> &str {
        &self.header[3]
    }

    /// The signature id (`deviceEventClassId`).
    pub fn signature_id(&self) -> &str {
        &self.header[4]
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.header[5]
    }

    /// The severity, as written.
    pub fn severity(&self) -> &str {
        &self.header[6]
    }

    /// The extension's `key=value` pairs in order, values unescaped.
    pub fn extension(&self) -> &[(&'a str, Cow<'a, str>)] {
        &self.extension
    }

    /// The value of extension key `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.extension
            .iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The record [`parse_cef`] gives: the prefix (as `syslog` or `prefix`),
    /// the header fields, then the extension's pairs, in order.
    pub fn into_record(self) -> Record {
        let mut fields = Map::with_capacity(CEF_HEADER.len() + 1 + self.extension.len());
        add_prefix(self.prefix, self.now, &mut fields, Format::Cef);
        for (name, value) in CEF_HEADER.iter().zip(self.header) {
            fields.insert((*name).to_owned(), Value::String(value.into_owned()));
        }
        // Keys were checked unique while parsing.
        for (key, value) in self.extension {
            fields.insert(key.to_owned(), Value::String(value.into_owned()));
        }
        Record::new(fields)
    }
}

/// Parses a CEF record (see the module docs for the field names): a
/// [`CefLine::parse`] then [`CefLine::into_record`].
///
/// A syslog header before `CEF:` is parsed too and kept under `syslog`;
/// a prefix that is not syslog is kept as the string `prefix`.
pub fn parse_cef(bytes: &[u8], now: Timestamp) -> Result<Record, ParseError> {
    CefLine::parse(bytes, now).map(CefLine::into_record)
}

/// The record key a prefix before a CEF/LEEF marker is kept under (`syslog`,
/// `prefix`, or none when blank), decided only when a key asks, since telling
/// syslog apart means parsing it.
pub(super) struct PrefixKey<'a> {
    prefix: &'a [u8],
    now: Timestamp,
    key: Option<Option<&'static str>>,
}

impl<'a> PrefixKey<'a> {
    pub(super) fn new(prefix: &'a [u8], now: Timestamp) -> PrefixKey<'a> {
        PrefixKey {
            prefix,
            now,
            key: None,
        }
    }

    /// Whether `key` is the prefix's record key.
    pub(super) fn is(&mut self, key: &str) -> bool {
        if key != "syslog" && key != "prefix" {
            return false;
        }
        let (prefix, now) = (self.prefix, self.now);
        let found = *self.key.get_or_insert_with(|| {
            let trimmed = super::trim_start(prefix);
            if trimmed.iter().all(u8::is_ascii_whitespace) {
                None
            } else if parse_syslog(trimmed, now).is_ok() {
                Some("syslog")
            } else {
                Some("prefix")
            }
        });
        found == Some(key)
    }

    /// Whether the prefix adds a field to the record.
    pub(super) fn is_field(&self) -> bool {
        !super::trim_start(self.prefix)
            .iter()
            .all(u8::is_ascii_whitespace)
    }
}

/// Keys seen so far, for the duplicate check: a 256-bit filter of key
/// hashes (a key whose bit is clear is new; only a set bit costs a scan of
/// the earlier keys), then, past [`SCAN_KEYS`] keys, an ordered set of the
/// hashes (a hash already present is confirmed by a scan), so long records
/// stay cheap per key.
pub(super) struct SeenKeys {
    filter: [u64; 4],
    hashes: Option<BTreeSet<u64>>,
}

/// Up to this many earlier keys are checked with the filter and a scan.
const SCAN_KEYS: usize = 64;

/// FNV-1a, 64 bits: deterministic, no keyed state.
fn key_hash(key: &str) -> u64 {
    key.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl SeenKeys {
    pub(super) fn new() -> SeenKeys {
        SeenKeys {
            filter: [0; 4],
            hashes: None,
        }
    }

    /// Whether `key` is new among `earlier`, the pairs so far (the same
    /// vector at every call, grown by the keys found new).
    pub(super) fn is_new<K: AsRef<str>, V>(&mut self, earlier: &[(K, V)], key: &str) -> bool {
        let scan = || !earlier.iter().any(|(k, _)| k.as_ref() == key);
        let h = key_hash(key);
        if earlier.len() < SCAN_KEYS {
            let bit = 1u64 << (h & 63);
            let Some(word) = self.filter.get_mut(((h >> 6) & 3) as usize) else {
                return scan();
            };
            let clear = *word & bit == 0;
            *word |= bit;
            return clear || scan();
        }
        let hashes = self
            .hashes
            .get_or_insert_with(|| earlier.iter().map(|(k, _)| key_hash(k.as_ref())).collect());
        hashes.insert(h) || scan()
    }
}

/// Keeps a syslog (or other) prefix before a CEF/LEEF marker.
pub(super) fn add_prefix(
    prefix: &[u8],
    now: Timestamp,
    fields: &mut Map<String, Value>,
    _f: Format,
) {
    let trimmed = super::trim_start(prefix);
    if trimmed.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match parse_syslog(trimmed, now) {
        Ok(msg) => {
            let mut rec = msg.into_record().into_fields();
            // The message of the prefix is what follows the marker: drop the empty tail.
            if rec
                .get("message")
                .and_then(Value::as_str)
                .is_some_and(|m| m.trim().is_empty())
            {
                rec.remove("message");
            }
            fields.insert("syslog".into(), Value::Object(rec));
        }
        Err(_) => {
            fields.insert(
                "prefix".into(),
                Value::String(lossy(prefix).trim().to_owned()),
            );
        }
    }
}

/// One `|`-terminated header field starting at `pos`: its unescaped value and
/// the position after the `|`.
pub(super) fn header_field(b: &[u8], pos: usize) -> Option<(Cow<'_, str>, usize)> {
    let rest = b.get(pos..)?;
    let at = memchr::memchr2(b'|', b'\\', rest)?;
    if rest.get(at) == Some(&b'|') {
        // No escape before the bar: the field is a plain slice.
        return Some((String::from_utf8_lossy(rest.get(..at)?), pos + at + 1));
    }
    let mut out = Vec::with_capacity(at + 16);
    let mut i = pos;
    loop {
        let c = *b.get(i)?;
        match c {
            b'\\' => match b.get(i + 1) {
                Some(&n @ (b'|' | b'\\')) => {
                    out.push(n);
                    i += 2;
                }
                _ => {
                    out.push(c);
                    i += 1;
                }
            },
            b'|' => return Some((Cow::Owned(lossy_vec(out)), i + 1)),
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// The bytes as a string (invalid UTF-8 replaced).
pub(super) fn lossy(b: &[u8]) -> String {
    match std::str::from_utf8(b) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// The bytes as a string without copying when they are valid UTF-8.
pub(super) fn lossy_vec(v: Vec<u8>) -> String {
    String::from_utf8(v).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']' | b':' | b'@' | b'/')
}

/// Whether `b[i..]` starts with `key=` (key bytes then an `=`).
fn key_at(b: &[u8], i: usize) -> Option<usize> {
    let mut j = i;
    while b.get(j).copied().is_some_and(is_key_byte) {
        j += 1;
    }
    (j > i && b.get(j) == Some(&b'=')).then_some(j)
}

/// Parses space-separated `key=value` pairs with CEF value escapes. `base`
/// is the offset of `b` in the record, for errors; `reserved` says whether a
/// key is already a field of the record (a duplicate).
pub(super) fn parse_extension<'a>(
    b: &'a [u8],
    base: usize,
    format: Format,
    mut reserved: impl FnMut(&str) -> bool,
) -> Result<Vec<(&'a str, Cow<'a, str>)>, ParseError> {
    // Checked as UTF-8 once: keys and values are then sliced at ASCII
    // delimiters without checking each again.
    let text = std::str::from_utf8(b).ok();
    // Room for every pair (each has an `=`), bounded.
    let guess = memchr::memchr_iter(b'=', b).count().min(64);
    let mut pairs: Vec<(&'a str, Cow<'a, str>)> = Vec::with_capacity(guess);
    let mut seen = SeenKeys::new();
    let mut i = 0;
    // The key found where the previous value ended: (its start, its `=`).
    let mut next_key: Option<(usize, usize)> = None;
    loop {
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(pairs);
        }
        let key_end = match next_key.take() {
            Some((at, end)) if at == i => end,
            _ => key_at(b, i)
                .ok_or_else(|| ParseError::new(format, base + i, "expected `key=` in extension"))?,
        };
        let key_start = i;
        // Key bytes are ASCII (`is_key_byte`), so always a valid `str`.
        let key = b
            .get(i..key_end)
            .and_then(|k| std::str::from_utf8(k).ok())
            .unwrap_or_default();
        i = key_end + 1;
        let (value, next, key_after) = extension_value(b, text, i);
        i = next;
        next_key = key_after.map(|end| (next, end));
        if pairs.len() >= MAX_FIELDS {
            return Err(ParseError::new(
                format,
                base + i,
                format!("more than {MAX_FIELDS} fields"),
            ));
        }
        if reserved(key) || !seen.is_new(&pairs, key) {
            return Err(ParseError::new(
                format,
                base + key_start,
                format!("duplicate key `{key}`"),
            ));
        }
        pairs.push((key, value));
    }
}

/// `b[start..end]` as a string: sliced from `text` (`b` checked as UTF-8)
/// when there is one, else with invalid bytes replaced.
fn slice_text<'a>(b: &'a [u8], text: Option<&'a str>, start: usize, end: usize) -> Cow<'a, str> {
    match text.and_then(|t| t.get(start..end)) {
        Some(s) => Cow::Borrowed(s),
        None => String::from_utf8_lossy(b.get(start..end).unwrap_or(&[])),
    }
}

/// The value starting at `start`, unescaped, where the next pair starts, and
/// the end of that pair's key when the value ended at one: a value ends at a
/// run of spaces or tabs followed by `key=`, or at the end. Bytes are
/// borrowed up to the first escape; only escaped values are copied byte run
/// by byte run.
fn extension_value<'a>(
    b: &'a [u8],
    text: Option<&'a str>,
    start: usize,
) -> (Cow<'a, str>, usize, Option<usize>) {
    let mut i = start;
    // Unescaped bytes of the value, once an escape was met.
    let mut owned: Option<Vec<u8>> = None;
    // Start of the bytes not yet copied into `owned`.
    let mut run = start;
    let mut key_after = None;
    let end = loop {
        let rest = b.get(i..).unwrap_or(&[]);
        let Some(k) = memchr::memchr3(b'\\', b' ', b'\t', rest) else {
            i = b.len();
            break b.len();
        };
        i += k;
        if b.get(i) == Some(&b'\\') {
            let v = owned.get_or_insert_with(|| Vec::with_capacity(rest.len().min(256)));
            v.extend_from_slice(b.get(run..i).unwrap_or(&[]));
            match b.get(i + 1).copied() {
                Some(b'n') => v.push(b'\n'),
                Some(b'r') => v.push(b'\r'),
                Some(b't') => v.push(b'\t'),
                Some(n @ (b'=' | b'\\' | b'|')) => v.push(n),
                Some(n) => {
                    v.push(b'\\');
                    v.push(n);
                }
                None => v.push(b'\\'),
            }
            i = (i + 2).min(b.len());
            run = i;
            continue;
        }
        let mut j = i;
        while b.get(j).is_some_and(|c| *c == b' ' || *c == b'\t') {
            j += 1;
        }
        if j >= b.len() {
            let end = i;
            i = j;
            break end;
        }
        if let Some(key_end) = key_at(b, j) {
            key_after = Some(key_end);
            let end = i;
            i = j;
            break end;
        }
        i = j;
    };
    let value = match owned {
        None => {
            let v = b.get(start..end).unwrap_or(&[]);
            if v.last() == Some(&b'\r') {
                slice_text(b, text, start, end - 1)
            } else {
                slice_text(b, text, start, end)
            }
        }
        Some(mut v) => {
            v.extend_from_slice(b.get(run..end).unwrap_or(&[]));
            if v.last() == Some(&b'\r') {
                v.pop();
            }
            Cow::Owned(lossy_vec(v))
        }
    };
    (value, i, key_after)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        Timestamp::from_unix_seconds(1_717_200_000)
    }

    #[test]
    fn header_escapes_and_extension_values_with_spaces() {
        let r = parse_cef(
            br"CEF:0|Sec\|Corp|Thr\\eat|1.0|100|Port scan detected|10|src=10.0.0.1 msg=Detected a scan from 10.0.0.1 cs1Label=Rule Name cs1=a\=b c\\d\nnext request=http://x/?q=1&r=2",
            now(),
        )
        .unwrap();
        let f = r.fields();
        assert_eq!(f["deviceVendor"], "Sec|Corp");
        assert_eq!(f["deviceProduct"], "Thr\\eat");
        assert_eq!(f["name"], "Port scan detected");
        assert_eq!(f["severity"], "10");
        assert_eq!(f["msg"], "Detected a scan from 10.0.0.1");
        assert_eq!(f["cs1Label"], "Rule Name");
        assert_eq!(f["cs1"], "a=b c\\d\nnext");
        assert_eq!(f["request"], "http://x/?q=1&r=2");
    }

    #[test]
    fn syslog_prefix_is_kept() {
        let r = parse_cef(
            b"<134>Jun  1 00:00:00 fw01 CEF:0|V|P|1|sig|n|3|src=1.2.3.4",
            now(),
        )
        .unwrap();
        assert_eq!(r.fields()["syslog"]["hostname"], "fw01");
        let r = parse_cef(b"garbage CEF:0|V|P|1|sig|n|3|", now()).unwrap();
        assert_eq!(r.fields()["prefix"], "garbage");
    }

    #[test]
    fn rejects_short_header_bad_key_and_duplicates() {
        assert!(parse_cef(b"CEF:0|V|P|1|sig|n", now()).is_err());
        assert!(parse_cef(b"CEF:7|V|P|1|sig|n|3|", now()).is_err());
        let e = parse_cef(b"CEF:0|V|P|1|sig|n|3| =x", now()).unwrap_err();
        assert_eq!(e.offset(), 21);
        assert!(parse_cef(b"CEF:0|V|P|1|sig|n|3|a=1 a=2", now()).is_err());
        assert!(parse_cef(b"CEF:0|V|P|1|sig|n|3|name=x", now()).is_err());
    }
}
