//! `key=value` records (FortiGate, many appliances).
//!
//! Pairs are separated by whitespace (a comma directly after a value is also
//! accepted); a value is either quoted with `"` or `'` (backslash escapes the
//! quote and itself) or runs to the next whitespace. A key is made of
//! letters, digits and `_ . - : / @ [ ]`. Duplicate keys are rejected.

use serde_json::{Map, Value};

use super::cef::lossy;
use super::{Format, ParseError, MAX_FIELDS};
use crate::events::Record;

fn is_key_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'[' | b']' | b':' | b'@' | b'/')
}

/// Parses a key=value record; every value is a string field.
pub fn parse_kv(bytes: &[u8]) -> Result<Record, ParseError> {
    let b = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let off = bytes.len() - b.len();
    let err = |i: usize, m: String| ParseError::new(Format::KeyValue, off + i, m);
    let mut fields = Map::new();
    let mut i = 0;
    loop {
        while b
            .get(i)
            .is_some_and(|c| c.is_ascii_whitespace() || *c == b',')
        {
            i += 1;
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while b.get(i).copied().is_some_and(is_key_byte) {
            i += 1;
        }
        if i == start || b.get(i) != Some(&b'=') {
            return Err(err(i, "expected `key=`".into()));
        }
        let key = lossy(b.get(start..i).unwrap_or(&[]));
        i += 1;
        let value = match b.get(i).copied() {
            Some(q @ (b'"' | b'\'')) => {
                i += 1;
                let mut v = Vec::new();
                loop {
                    match b.get(i).copied() {
                        None => {
                            return Err(err(i, format!("unterminated quoted value of `{key}`")))
                        }
                        Some(b'\\') if matches!(b.get(i + 1), Some(&n) if n == q || n == b'\\') => {
                            v.extend(b.get(i + 1).copied());
                            i += 2;
                        }
                        Some(c) if c == q => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                if b.get(i)
                    .is_some_and(|c| !c.is_ascii_whitespace() && *c != b',')
                {
                    return Err(err(
                        i,
                        format!("unexpected byte after quoted value of `{key}`"),
                    ));
                }
                lossy(&v)
            }
            _ => {
                let s = i;
                while b.get(i).is_some_and(|c| !c.is_ascii_whitespace()) {
                    i += 1;
                }
                let raw = b.get(s..i).unwrap_or(&[]);
                let raw = raw.strip_suffix(b",").unwrap_or(raw);
                lossy(raw)
            }
        };
        if fields.len() >= MAX_FIELDS {
            return Err(err(start, format!("more than {MAX_FIELDS} fields")));
        }
        if fields.contains_key(&key) {
            return Err(err(start, format!("duplicate key `{key}`")));
        }
        fields.insert(key, Value::String(value));
    }
    Ok(Record::new(fields))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn quoted_and_bare_values() {
        let r = parse_kv(
            br#"date=2024-06-01 time=10:00:00 devname="FGT 60F" msg='it\'s ok' action=deny, x="""#,
        )
        .unwrap();
        let f = r.fields();
        assert_eq!(f["devname"], "FGT 60F");
        assert_eq!(f["msg"], "it's ok");
        assert_eq!(f["action"], "deny");
        assert_eq!(f["x"], "");
        assert_eq!(f.len(), 6);
    }

    #[test]
    fn errors_have_positions() {
        assert_eq!(parse_kv(b"a=1 bogus").unwrap_err().offset(), 9);
        assert_eq!(parse_kv(b"a=\"open").unwrap_err().offset(), 7);
        assert!(parse_kv(b"a=1 a=2").is_err());
        assert!(parse_kv(b"a=\"x\"y").is_err());
    }
}
