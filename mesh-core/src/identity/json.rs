//! Strict JSON for credentials: duplicate members rejected at every depth,
//! nesting bounded, trailing data rejected.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::cell::RefCell;
use std::fmt;

use super::IdentityError;

/// Default maximum nesting depth of a header or claims set (the top-level
/// object counts as one).
pub const DEFAULT_MAX_DEPTH: usize = 8;

enum Fault {
    Duplicate(Vec<String>),
    TooDeep,
}

struct Seed<'f> {
    depth: usize,
    max: usize,
    fault: &'f RefCell<Option<Fault>>,
}

impl<'de> DeserializeSeed<'de> for Seed<'_> {
    type Value = Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        if depth > self.max {
            *self.fault.borrow_mut() = Some(Fault::TooDeep);
            return Err(de::Error::custom("too deep"));
        }
        let mut out = Vec::new();
        loop {
            let idx = out.len();
            let next = seq.next_element_seed(Seed {
                depth,
                max: self.max,
                fault: self.fault,
            });
            match next {
                Ok(Some(v)) => out.push(v),
                Ok(None) => break,
                Err(e) => {
                    if let Some(Fault::Duplicate(path)) = self.fault.borrow_mut().as_mut() {
                        path.push(idx.to_string());
                    }
                    return Err(e);
                }
            }
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.depth + 1;
        if depth > self.max {
            *self.fault.borrow_mut() = Some(Fault::TooDeep);
            return Err(de::Error::custom("too deep"));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                *self.fault.borrow_mut() = Some(Fault::Duplicate(vec![key]));
                return Err(de::Error::custom("duplicate key"));
            }
            let value = map.next_value_seed(Seed {
                depth,
                max: self.max,
                fault: self.fault,
            });
            match value {
                Ok(v) => {
                    out.insert(key, v);
                }
                Err(e) => {
                    if let Some(Fault::Duplicate(path)) = self.fault.borrow_mut().as_mut() {
                        path.push(key);
                    }
                    return Err(e);
                }
            }
        }
        Ok(Value::Object(out))
    }
}

/// Parse `bytes` as one strict JSON value.
///
/// `part` names the input in errors (`header`, `payload`, `jwks`).
pub(crate) fn parse_strict(
    bytes: &[u8],
    max_depth: usize,
    part: &'static str,
) -> Result<Value, IdentityError> {
    let fault = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let res = Seed {
        depth: 0,
        max: max_depth,
        fault: &fault,
    }
    .deserialize(&mut de)
    .and_then(|v| de.end().map(|()| v));
    match res {
        Ok(v) => Ok(v),
        Err(e) => Err(match fault.into_inner() {
            Some(Fault::TooDeep) => IdentityError::TooDeep {
                part,
                max: max_depth,
            },
            Some(Fault::Duplicate(path)) => IdentityError::DuplicateKey {
                part,
                pointer: pointer(&path),
            },
            None => IdentityError::malformed(
                part,
                format!(
                    "invalid JSON at {}:{}: {}",
                    e.line(),
                    e.column(),
                    json_reason(&e)
                ),
            ),
        }),
    }
}

/// Parse `bytes` as a strict JSON object.
pub(crate) fn parse_object(
    bytes: &[u8],
    max_depth: usize,
    part: &'static str,
) -> Result<Map<String, Value>, IdentityError> {
    match parse_strict(bytes, max_depth, part)? {
        Value::Object(m) => Ok(m),
        _ => Err(IdentityError::malformed(part, "not a JSON object")),
    }
}

fn json_reason(e: &serde_json::Error) -> String {
    // serde_json appends " at line L column C"; keep only the reason.
    let s = e.to_string();
    match s.rfind(" at line ") {
        Some(i) => s.get(..i).unwrap_or_default().to_owned(),
        None => s,
    }
}

/// A JSON pointer (RFC 6901) from a path collected innermost-first.
fn pointer(path_rev: &[String]) -> String {
    let mut out = String::new();
    for seg in path_rev.iter().rev() {
        out.push('/');
        let seg = super::error::clip(seg);
        out.push_str(&seg.replace('~', "~0").replace('/', "~1"));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind as K;

    fn kind(s: &str) -> K {
        parse_strict(s.as_bytes(), 4, "payload").unwrap_err().kind()
    }

    #[test]
    fn accepts_plain_json() {
        let v = parse_strict(br#"{"a":[1,2.5,"x",null,true],"b":{"c":-1}}"#, 4, "p").unwrap();
        assert_eq!(v["b"]["c"], -1);
    }

    #[test]
    fn duplicates_found_at_any_depth_with_pointer() {
        assert_eq!(kind(r#"{"a":1,"a":2}"#), K::DuplicateKey);
        assert_eq!(kind(r#"{"a":1,"\u0061":2}"#), K::DuplicateKey);
        let e = parse_strict(br#"{"x":[{"y":{"a/b":1,"a/b":2}}]}"#, 8, "payload").unwrap_err();
        assert_eq!(
            e,
            IdentityError::DuplicateKey {
                part: "payload",
                pointer: "/x/0/y/a~1b".into()
            }
        );
    }

    #[test]
    fn depth_bounded_and_trailing_rejected() {
        assert_eq!(kind(r#"{"a":{"b":{"c":{"d":{"e":1}}}}}"#), K::TooDeep);
        assert!(parse_strict(br#"{"a":{"b":{"c":{"d":1}}}}"#, 4, "p").is_ok());
        assert_eq!(kind(r#"[[[[[1]]]]]"#), K::TooDeep);
        assert_eq!(kind(r#"{"a":1} x"#), K::Malformed);
        assert_eq!(kind(r#"{"a":1,}"#), K::Malformed);
        assert_eq!(kind(r#"{"a":"\ud800"}"#), K::Malformed);
        assert_eq!(kind(""), K::Malformed);
    }
}
