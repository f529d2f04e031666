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
//!
//! [`LeefLine::parse`] reads a line without building a record: fields borrow
//! from the input unless invalid UTF-8 must be replaced or an escape rebuilt;
//! [`LeefLine::into_record`] then builds the [`Record`] that [`parse_leef`]
//! returns.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::cef::{add_prefix, header_field, lossy, parse_extension, PrefixKey, SeenKeys};
use super::{find, Format, ParseError, MAX_FIELDS};
use crate::events::Record;
use crate::Timestamp;

/// The record field names of the five LEEF header fields, in order.
pub const LEEF_HEADER: [&str; 5] = ["leefVersion", "vendor", "product", "version", "eventId"];

/// One LEEF attribute: its name and value.
pub type LeefAttribute<'a> = (Cow<'a, str>, Cow<'a, str>);

/// A LEEF line parsed without building a record.
///
/// Every rule of [`parse_leef`] is applied (header arity, version, delimiter,
/// attribute names, duplicate keys, [`MAX_FIELDS`]), with the same error
/// offsets and reasons; [`LeefLine::into_record`] gives exactly
/// [`parse_leef`]'s record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeefLine<'a> {
    prefix: &'a [u8],
    now: Timestamp,
    header: [Cow<'a, str>; 5],
    delimiter: Option<Cow<'a, str>>,
    attributes: Vec<LeefAttribute<'a>>,
}

impl<'a> LeefLine<'a> {
    /// Parses a LEEF line. `now` serves only a syslog prefix before `LEEF:`
    /// (the year of RFC 3164 timestamps), parsed when the record is built.
    pub fn parse(bytes: &'a [u8], now: Timestamp) -> Result<LeefLine<'a>, ParseError> {
        let start = find(bytes, b"LEEF:")
            .ok_or_else(|| ParseError::new(Format::Leef, 0, "no `LEEF:` marker"))?;
        let prefix = bytes.get(..start).unwrap_or(&[]);
        let body_off = start + 5;
        let body = bytes.get(body_off..).unwrap_or(&[]);
        let mut pos = 0;
        let mut header: [Cow<'a, str>; 5] = Default::default();
        for (n, slot) in header.iter_mut().enumerate() {
            let (value, next) = header_field(body, pos).ok_or_else(|| {
                ParseError::new(
                    Format::Leef,
                    body_off + body.len(),
                    format!("header has {n} of 5 `|`-terminated fields"),
                )
            })?;
            if n == 0 && !matches!(value.as_ref(), "1.0" | "2.0" | "1" | "2") {
                return Err(ParseError::new(
                    Format::Leef,
                    body_off,
                    format!("unsupported LEEF version `{value}`"),
                ));
            }
            *slot = value;
            pos = next;
        }
        let mut delim = b'\t';
        let mut delimiter = None;
        if header[0].starts_with('2') {
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
                delimiter = Some(String::from_utf8_lossy(spec));
                pos += end + 1;
            }
        }
        let attrs = body.get(pos..).unwrap_or(&[]);
        let base = body_off + pos;
        let mut prefix_key = PrefixKey::new(prefix, now);
        let has_delimiter = delimiter.is_some();
        let attributes = if delim == b'\t' && !attrs.contains(&b'\t') && attrs.contains(&b' ') {
            parse_extension(attrs, base, Format::Leef, |k| {
                LEEF_HEADER.contains(&k) || (has_delimiter && k == "delimiter") || prefix_key.is(k)
            })?
            .into_iter()
            .map(|(k, v)| (Cow::Borrowed(k), v))
            .collect()
        } else {
            // The parts between delimiters, found with memchr rather than byte by byte.
            let parts = memchr::memchr_iter(delim, attrs)
                .chain(std::iter::once(attrs.len()))
                .scan(0usize, |start, end| {
                    let part = attrs.get(*start..end).unwrap_or(&[]);
                    *start = end + 1;
                    Some(part)
                });
            // Fields of the record before the attributes.
            let before =
                usize::from(prefix_key.is_field()) + LEEF_HEADER.len() + usize::from(has_delimiter);
            leef_pairs(parts, base, before, |k| {
                LEEF_HEADER.contains(&k) || (has_delimiter && k == "delimiter") || prefix_key.is(k)
            })?
        };
        Ok(LeefLine {
            prefix,
            now,
            header,
            delimiter,
            attributes,
        })
    }

    /// The bytes before `LEEF:` (a syslog header, other text, or empty).
    pub fn prefix(&self) -> &'a [u8] {
        self.prefix
    }

    /// The five header fields, unescaped, named as in [`LEEF_HEADER`].
    pub fn header(&self) -> &[Cow<'a, str>; 5] {
        &self.header
    }

    /// The LEEF version as written (`1.0`, `2.0`, `1` or `2`).
    pub fn leef_version(&self) -> &str {
        &self.header[0]
    }

    /// The vendor.
    pub fn vendor(&self) -> &str {
        &self.header[1]
    }

    /// The product.
    pub fn product(&self) -> &str {
        &self.header[2]
    }

    /// The product version.
    pub fn version(&self) -> &str {
        &self.header[3]
    }

    /// The event id.
    pub fn event_id(&self) -> &str {
        &self.header[4]
    }

    /// The 2.0 delimiter field as written, when the header has one.
    pub fn delimiter(&self) -> Option<&str> {
        self.delimiter.as_deref()
    }

    /// The `attr=value` pairs in order.
    pub fn attributes(&self) -> &[LeefAttribute<'a>] {
        &self.attributes
    }

    /// The value of attribute `key`, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_ref())
    }

    /// The record [`parse_leef`] gives: the prefix (as `syslog` or `prefix`),
    /// the header fields, `delimiter` when written, then the attributes.
    pub fn into_record(self) -> Record {
        let mut fields = Map::with_capacity(LEEF_HEADER.len() + 2 + self.attributes.len());
        add_prefix(self.prefix, self.now, &mut fields, Format::Leef);
        for (name, value) in LEEF_HEADER.iter().zip(self.header) {
            fields.insert((*name).to_owned(), Value::String(value.into_owned()));
        }
        if let Some(d) = self.delimiter {
            fields.insert("delimiter".into(), Value::String(d.into_owned()));
        }
        // Keys were checked unique while parsing.
        for (key, value) in self.attributes {
            fields.insert(key.into_owned(), Value::String(value.into_owned()));
        }
        Record::new(fields)
    }
}

/// Parses a LEEF record (header names: `leefVersion`, `vendor`, `product`,
/// `version`, `eventId`, and in 2.0 `delimiter` as written): a
/// [`LeefLine::parse`] then [`LeefLine::into_record`]. A syslog header
/// before `LEEF:` is kept under `syslog`, any other prefix as `prefix`.
pub fn parse_leef(bytes: &[u8], now: Timestamp) -> Result<Record, ParseError> {
    LeefLine::parse(bytes, now).map(LeefLine::into_record)
}

/// The `attr=value` parts of a LEEF record, in order. `before` is the number
/// of record fields before them; `reserved` says whether a key is one.
fn leef_pairs<'a>(
    parts: impl Iterator<Item = &'a [u8]>,
    base: usize,
    before: usize,
    mut reserved: impl FnMut(&str) -> bool,
) -> Result<Vec<LeefAttribute<'a>>, ParseError> {
    let mut pairs: Vec<LeefAttribute<'a>> = Vec::new();
    let mut seen = SeenKeys::new();
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
        let key = match String::from_utf8_lossy(trimmed.get(..eq).unwrap_or(&[])) {
            Cow::Borrowed(k) => Cow::Borrowed(k.trim()),
            Cow::Owned(k) => Cow::Owned(k.trim().to_owned()),
        };
        if key.is_empty() {
            return Err(ParseError::new(
                Format::Leef,
                base + part_off,
                "empty attribute name",
            ));
        }
        if before + pairs.len() >= MAX_FIELDS {
            return Err(ParseError::new(
                Format::Leef,
                base + part_off,
                format!("more than {MAX_FIELDS} fields"),
            ));
        }
        if reserved(&key) || !seen.is_new(&pairs, &key) {
            return Err(ParseError::new(
                Format::Leef,
                base + part_off,
                format!("duplicate key `{key}`"),
            ));
        }
        let value = String::from_utf8_lossy(trimmed.get(eq + 1..).unwrap_or(&[]));
        pairs.push((key, value));
    }
    Ok(pairs)
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
