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
    let mut fields = Map::new();
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
    let mut out = Vec::new();
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
            b'|' => return Some((lossy(&out), i + 1)),
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
}

pub(super) fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
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
    let mut i = 0;
    let mut count = 0usize;
    loop {
        while b.get(i).is_some_and(|c| c.is_ascii_whitespace()) {
            i += 1;
        }
        if i >= b.len() {
            return Ok(());
        }
        let key_end = key_at(b, i)
            .ok_or_else(|| ParseError::new(format, base + i, "expected `key=` in extension"))?;
        let key = lossy(b.get(i..key_end).unwrap_or(&[]));
        i = key_end + 1;
        let mut value = Vec::new();
        loop {
            match b.get(i).copied() {
                None => break,
                Some(b'\\') => {
                    match b.get(i + 1).copied() {
                        Some(b'n') => value.push(b'\n'),
                        Some(b'r') => value.push(b'\r'),
                        Some(b't') => value.push(b'\t'),
                        Some(n @ (b'=' | b'\\' | b'|')) => value.push(n),
                        Some(n) => {
                            value.push(b'\\');
                            value.push(n);
                        }
                        None => value.push(b'\\'),
                    }
                    i += 2;
                }
                Some(c) if c == b' ' || c == b'\t' => {
                    let mut j = i;
                    while b.get(j).is_some_and(|c| *c == b' ' || *c == b'\t') {
                        j += 1;
                    }
                    if j >= b.len() || key_at(b, j).is_some() {
                        i = j;
                        break;
                    }
                    value.extend_from_slice(b.get(i..j).unwrap_or(&[]));
                    i = j;
                }
                Some(c) => {
                    value.push(c);
                    i += 1;
                }
            }
        }
        count += 1;
        if count > MAX_FIELDS {
            return Err(ParseError::new(
                format,
                base + i,
                format!("more than {MAX_FIELDS} fields"),
            ));
        }
        if fields.contains_key(&key) {
            return Err(ParseError::new(
                format,
                base + key_end.saturating_sub(key.len()),
                format!("duplicate key `{key}`"),
            ));
        }
        let v = lossy(value.strip_suffix(b"\r").unwrap_or(&value));
        fields.insert(key, Value::String(v));
    }
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
