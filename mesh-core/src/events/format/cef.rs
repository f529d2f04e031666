//! ArcSight Common Event Format.
//!
//! `[syslog header ]CEF:Version|Vendor|Product|Version|SignatureID|Name|Severity|Extension`
//!
//! Header fields escape `|` and `\` with a backslash. The extension is
//! `key=value` pairs separated by spaces; values may contain spaces (a value
//! ends where a space is followed by the next `key=`), and escape `=` and `\`
//! with a backslash and line breaks as `\n`/`\r`. Unescaped `=` inside a
//! value, which real devices emit in URLs, is kept as is.

use serde_json::{Map, Value};

use super::syslog::parse_syslog;
use super::{find, Format, ParseError, MAX_FIELDS};
use crate::events::Record;
use crate::Timestamp;

const HEADER: [&str; 7] = [
    "cefVersion",
    "deviceVendor",
    "deviceProduct",
    "deviceVersion",
    "deviceEventClassId",
    "name",
    "severity",
];

/// Parses a CEF record (see the module docs for the field names).
///
/// A syslog header before `CEF:` is parsed too and kept under `syslog`;
/// a prefix that is not syslog is kept as the string `prefix`.
pub fn parse_cef(bytes: &[u8], now: Timestamp) -> Result<Record, ParseError> {
    let start =
        find(bytes, b"CEF:").ok_or_else(|| ParseError::new(Format::Cef, 0, "no `CEF:` marker"))?;
    // Room for the header, the extension's pairs and a prefix.
    let pairs = memchr::memchr_iter(b'=', bytes.get(start..).unwrap_or(&[])).count();
    let mut fields = Map::with_capacity(HEADER.len() + 1 + pairs.min(64));
    let prefix = bytes.get(..start).unwrap_or(&[]);
    add_prefix(prefix, now, &mut fields, Format::Cef);
    let body = bytes.get(start + 4..).unwrap_or(&[]);
    let mut pos = 0usize;
    for (n, name) in HEADER.iter().enumerate() {
        let (value, next) = header_field(body, pos).ok_or_else(|| {
            ParseError::new(
                Format::Cef,
                start + 4 + body.len(),
                format!("header has {n} of 7 `|`-terminated fields"),
            )
        })?;
        if n == 0 && !matches!(value.as_str(), "0" | "1") {
            return Err(ParseError::new(
                Format::Cef,
                start + 4,
                format!("unsupported CEF version `{value}`"),
            ));
        }
        fields.insert((*name).to_owned(), Value::String(value));
        pos = next;
    }
    let ext = body.get(pos..).unwrap_or(&[]);
    parse_extension(ext, start + 4 + pos, Format::Cef, &mut fields)?;
    Ok(Record::new(fields))
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
pub(super) fn header_field(b: &[u8], pos: usize) -> Option<(String, usize)> {
    let rest = b.get(pos..)?;
    let at = memchr::memchr2(b'|', b'\\', rest)?;
    if rest.get(at) == Some(&b'|') {
        // No escape before the bar: the field is a plain slice.
        return Some((lossy(rest.get(..at)?), pos + at + 1));
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
            b'|' => return Some((lossy_vec(out), i + 1)),
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

/// Inserts a new field, rejecting a duplicate key (ambiguous input).
pub(super) fn insert_new(
    fields: &mut Map<String, Value>,
    key: String,
    value: String,
    format: Format,
    offset: usize,
) -> Result<(), ParseError> {
    match fields.entry(key) {
        serde_json::map::Entry::Vacant(v) => {
            v.insert(Value::String(value));
            Ok(())
        }
        serde_json::map::Entry::Occupied(o) => Err(ParseError::new(
            format,
            offset,
            format!("duplicate key `{}`", o.key()),
        )),
    }
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

/// Parses space-separated `key=value` pairs with CEF value escapes into
/// `fields`. `base` is the offset of `b` in the record, for errors.
pub(super) fn parse_extension(
    b: &[u8],
    base: usize,
    format: Format,
    fields: &mut Map<String, Value>,
) -> Result<(), ParseError> {
    // Checked as UTF-8 once: keys and values are then sliced at ASCII
    // delimiters without checking each again.
    let text = std::str::from_utf8(b).ok();
    let mut i = 0;
    let mut count = 0usize;
    // The key found where the previous value ended: (its start, its `=`).
    let mut next_key: Option<(usize, usize)> = None;
    loop {
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(());
        }
        let key_end = match next_key.take() {
            Some((at, end)) if at == i => end,
            _ => key_at(b, i)
                .ok_or_else(|| ParseError::new(format, base + i, "expected `key=` in extension"))?,
        };
        let key_start = i;
        let key = slice_text(b, text, i, key_end);
        i = key_end + 1;
        let (value, next, key_after) = extension_value(b, text, i);
        i = next;
        next_key = key_after.map(|end| (next, end));
        count += 1;
        if count > MAX_FIELDS {
            return Err(ParseError::new(
                format,
                base + i,
                format!("more than {MAX_FIELDS} fields"),
            ));
        }
        insert_new(fields, key, value, format, base + key_start)?;
    }
}

/// `b[start..end]` as a string: sliced from `text` (`b` checked as UTF-8)
/// when there is one, else with invalid bytes replaced.
fn slice_text(b: &[u8], text: Option<&str>, start: usize, end: usize) -> String {
    match text.and_then(|t| t.get(start..end)) {
        Some(s) => s.to_owned(),
        None => lossy(b.get(start..end).unwrap_or(&[])),
    }
}

/// The value starting at `start`, unescaped, where the next pair starts, and
/// the end of that pair's key when the value ended at one: a value ends at a
/// run of spaces or tabs followed by `key=`, or at the end. Bytes are
/// borrowed up to the first escape; only escaped values are copied byte run
/// by byte run.
fn extension_value(b: &[u8], text: Option<&str>, start: usize) -> (String, usize, Option<usize>) {
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
            lossy_vec(v)
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
