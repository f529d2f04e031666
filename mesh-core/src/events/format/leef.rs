//! IBM QRadar Log Event Extended Format, 1.0 and 2.0.
//!
//! * `LEEF:1.0|Vendor|Product|Version|EventID|attr=value<TAB>attr=value…`
//! * `LEEF:2.0|Vendor|Product|Version|EventID|Delimiter|attr=value<D>…`
//!
//! The 2.0 delimiter is one character or a hex code (`x09`, `0x09`, `^`,
//! `\t`); an empty delimiter field, or a 2.0 header without one, means tab.
//! A 1.0 record whose attributes contain no tab but are separated by spaces
//! (emitted by some devices) is split like a CEF extension. An attribute is
//! split at its first `=`; empty attributes are skipped.

use serde_json::{Map, Value};

use super::cef::{add_prefix, header_field, lossy, parse_extension};
use super::{find, Format, ParseError, MAX_FIELDS};
use crate::events::Record;
use crate::Timestamp;

const HEADER: [&str; 5] = ["leefVersion", "vendor", "product", "version", "eventId"];

/// Parses a LEEF record (header names: `leefVersion`, `vendor`, `product`,
/// `version`, `eventId`, and in 2.0 `delimiter` as written). A syslog header
/// before `LEEF:` is kept under `syslog`, any other prefix as `prefix`.
pub fn parse_leef(bytes: &[u8], now: Timestamp) -> Result<Record, ParseError> {
    let start = find(bytes, b"LEEF:")
        .ok_or_else(|| ParseError::new(Format::Leef, 0, "no `LEEF:` marker"))?;
    let pairs = memchr::memchr_iter(b'=', bytes.get(start..).unwrap_or(&[])).count();
    let mut fields = Map::with_capacity(HEADER.len() + 2 + pairs.min(64));
    add_prefix(
        bytes.get(..start).unwrap_or(&[]),
        now,
        &mut fields,
        Format::Leef,
    );
    let body_off = start + 5;
    let body = bytes.get(body_off..).unwrap_or(&[]);
    let mut pos = 0;
    let mut version = String::new();
    for (n, name) in HEADER.iter().enumerate() {
        let (value, next) = header_field(body, pos).ok_or_else(|| {
            ParseError::new(
                Format::Leef,
                body_off + body.len(),
                format!("header has {n} of 5 `|`-terminated fields"),
            )
        })?;
        if n == 0 {
            if !matches!(value.as_str(), "1.0" | "2.0" | "1" | "2") {
                return Err(ParseError::new(
                    Format::Leef,
                    body_off,
                    format!("unsupported LEEF version `{value}`"),
                ));
            }
            version = value.clone();
        }
        fields.insert((*name).to_owned(), Value::String(value));
        pos = next;
    }
    let mut delim = b'\t';
    if version.starts_with('2') {
        // The delimiter field is present unless what follows is already an attribute.
        let rest = body.get(pos..).unwrap_or(&[]);
        let bar = rest.iter().position(|c| *c == b'|');
        if let Some(end) = bar.filter(|e| !rest.get(..*e).unwrap_or(&[]).contains(&b'=')) {
            let spec = rest.get(..end).unwrap_or(&[]);
            delim = parse_delimiter(spec).ok_or_else(|| {
                ParseError::new(
                    Format::Leef,
                    body_off + pos,
                    format!("invalid delimiter `{}`", lossy(spec)),
                )
            })?;
            fields.insert("delimiter".into(), Value::String(lossy(spec)));
            pos += end + 1;
        }
    }
    let attrs = body.get(pos..).unwrap_or(&[]);
    let base = body_off + pos;
    if delim == b'\t' && !attrs.contains(&b'\t') && attrs.contains(&b' ') {
        return parse_extension(attrs, base, Format::Leef, &mut fields)
            .map(|()| Record::new(fields));
    }
    // The parts between delimiters, found with memchr rather than byte by byte.
    let parts = memchr::memchr_iter(delim, attrs)
        .chain(std::iter::once(attrs.len()))
        .scan(0usize, |start, end| {
            let part = attrs.get(*start..end).unwrap_or(&[]);
            *start = end + 1;
            Some(part)
        });
    leef_pairs(parts, base, fields)
}

/// Adds the `attr=value` parts of a LEEF record to `fields`, in order.
fn leef_pairs<'a>(
    parts: impl Iterator<Item = &'a [u8]>,
    base: usize,
    mut fields: Map<String, Value>,
) -> Result<Record, ParseError> {
    let mut off = 0;
    for part in parts {
        let part_off = off;
        off += part.len() + 1;
        let part = part.strip_suffix(b"\r").unwrap_or(part);
        let trimmed = part.strip_suffix(b"\n").unwrap_or(part);
        if trimmed.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let eq = memchr::memchr(b'=', trimmed).ok_or_else(|| {
            ParseError::new(Format::Leef, base + part_off, "attribute without `=`")
        })?;
        let key = String::from_utf8_lossy(trimmed.get(..eq).unwrap_or(&[]))
            .trim()
            .to_owned();
        if key.is_empty() {
            return Err(ParseError::new(
                Format::Leef,
                base + part_off,
                "empty attribute name",
            ));
        }
        if fields.len() >= MAX_FIELDS {
            return Err(ParseError::new(
                Format::Leef,
                base + part_off,
                format!("more than {MAX_FIELDS} fields"),
            ));
        }
        match fields.entry(key) {
            serde_json::map::Entry::Occupied(o) => {
                return Err(ParseError::new(
                    Format::Leef,
                    base + part_off,
                    format!("duplicate key `{}`", o.key()),
                ))
            }
            serde_json::map::Entry::Vacant(v) => {
                v.insert(Value::String(lossy(trimmed.get(eq + 1..).unwrap_or(&[]))));
            }
        }
    }
    Ok(Record::new(fields))
}

fn parse_delimiter(spec: &[u8]) -> Option<u8> {
    match spec {
        [] => Some(b'\t'),
        [c] => Some(*c),
        [b'\\', b't'] => Some(b'\t'),
        _ => {
            let s = std::str::from_utf8(spec).ok()?;
            let hex = s
                .strip_prefix("0x")
                .or_else(|| s.strip_prefix("0X"))
                .or_else(|| s.strip_prefix('x'))
                .or_else(|| s.strip_prefix('X'))?;
            if hex.is_empty() || hex.len() > 2 {
                return None;
            }
            u8::from_str_radix(hex, 16).ok().filter(|c| *c != 0)
        }
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
    fn leef1_tabs() {
        let r = parse_leef(b"LEEF:1.0|Microsoft|MSExchange|2016|15345|src=10.50.1.1\tdst=2.10.20.20\tusrName=joe user\tsev=5", now()).unwrap();
        let f = r.fields();
        assert_eq!(f["vendor"], "Microsoft");
        assert_eq!(f["eventId"], "15345");
        assert_eq!(f["usrName"], "joe user");
        assert_eq!(f["sev"], "5");
    }

    #[test]
    fn leef2_custom_and_hex_delimiters() {
        let r = parse_leef(
            b"LEEF:2.0|Lancope|StealthWatch|1.0|41|^|src=10.0.1.8^dst=10.0.0.5^sev=5^msg=a=b",
            now(),
        )
        .unwrap();
        assert_eq!(r.fields()["delimiter"], "^");
        assert_eq!(r.fields()["msg"], "a=b");
        let r = parse_leef(b"LEEF:2.0|V|P|1|E|x09|src=1.1.1.1\tdst=2.2.2.2", now()).unwrap();
        assert_eq!(r.fields()["dst"], "2.2.2.2");
        let r = parse_leef(b"LEEF:2.0|V|P|1|E|0x7C|src=1.1.1.1|dst=2.2.2.2", now()).unwrap();
        assert_eq!(r.fields()["src"], "1.1.1.1");
        let r = parse_leef(b"LEEF:2.0|V|P|1|E|src=1.1.1.1\tdst=2.2.2.2", now()).unwrap();
        assert_eq!(r.fields()["dst"], "2.2.2.2");
    }

    #[test]
    fn leef1_space_separated_and_errors() {
        let r = parse_leef(
            b"<13>Jun  1 00:00:00 h LEEF:1.0|V|P|1|E|src=1.1.1.1 usrName=joe user",
            now(),
        )
        .unwrap();
        assert_eq!(r.fields()["usrName"], "joe user");
        assert_eq!(r.fields()["syslog"]["hostname"], "h");
        assert!(parse_leef(b"LEEF:3.0|V|P|1|E|", now()).is_err());
        assert!(parse_leef(b"LEEF:1.0|V|P|1", now()).is_err());
        assert!(parse_leef(b"LEEF:2.0|V|P|1|E|xZZ|a=1", now()).is_err());
        assert!(parse_leef(b"LEEF:1.0|V|P|1|E|a=1\tnoeq", now()).is_err());
    }
}
