//! A JSON record parsed once, borrowing from the raw bytes, for mappings
//! that run straight from the bytes (see [`crate::events::Source::normalize_raw`]).
//!
//! Objects are kept as vectors of `(key, node)` in source order and strings
//! without escapes as slices of the input: no key is hashed and no string
//! copied until a mapping takes it or it goes to `unmapped`. Arrays, numbers,
//! booleans and `null` are plain [`Value`]s.
//!
//! Every operation mirrors its [`Fields`](super::fields::Fields) counterpart
//! on a record parsed to a [`serde_json::Map`], including the order of what
//! is left: a removal moves the last key of its object into the removed
//! slot, as the map's removal does. A record with a duplicate key in any
//! object is refused (the map would keep only the last value), and so the
//! caller takes the general path for it.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use super::fields::{is_placeholder, Take};
use crate::events::record::escape_key;

/// Most keys of one object this parser takes: the duplicate check compares
/// a key with the earlier ones, so bigger objects go to the general parser
/// (which hashes its keys) instead of costing quadratic time.
const MAX_OBJECT_KEYS: usize = 256;

/// The fields of one object, in source order.
type Obj<'a> = Vec<(Cow<'a, str>, Node<'a>)>;

/// A parsed JSON value.
#[derive(Debug)]
pub(crate) enum Node<'a> {
    /// A string, borrowed when the input has no escape in it.
    Str(Cow<'a, str>),
    /// An object.
    Obj(Obj<'a>),
    /// `null`, a boolean, a number or an array.
    Val(Value),
}

impl Node<'_> {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Node::Val(Value::Null))
    }

    fn to_value(&self) -> Value {
        match self {
            Node::Str(s) => Value::String(s.as_ref().to_owned()),
            Node::Obj(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (k, v) in fields {
                    map.insert(k.as_ref().to_owned(), v.to_value());
                }
                Value::Object(map)
            }
            Node::Val(v) => v.clone(),
        }
    }

    pub(crate) fn into_value(self) -> Value {
        match self {
            Node::Str(s) => Value::String(s.into_owned()),
            Node::Obj(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (k, v) in fields {
                    map.insert(k.into_owned(), v.into_value());
                }
                Value::Object(map)
            }
            Node::Val(v) => v,
        }
    }
}

/// A JSON record parsed with borrowed strings.
#[derive(Debug)]
pub(crate) struct Doc<'a> {
    root: Obj<'a>,
}

impl<'a> Doc<'a> {
    /// Parses a JSON object (a UTF-8 BOM and surrounding whitespace
    /// allowed); `None` for anything [`Doc`] does not represent exactly
    /// (invalid JSON, not an object, a duplicate key, an object of more than
    /// [`MAX_OBJECT_KEYS`] keys): the general parser then reports or handles it.
    pub(crate) fn parse(bytes: &'a [u8]) -> Option<Doc<'a>> {
        let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let node = Node::deserialize(&mut de).ok()?;
        de.end().ok()?;
        match node {
            Node::Obj(root) => Some(Doc { root }),
            _ => None,
        }
    }

    /// The node at `path` (object keys).
    pub(crate) fn leaf<S: AsRef<str>>(&self, path: &[S]) -> Option<&Node<'a>> {
        let (last, parents) = path.split_last()?;
        let mut cur = &self.root;
        for p in parents {
            match get(cur, p.as_ref())? {
                Node::Obj(o) => cur = o,
                _ => return None,
            }
        }
        get(cur, last.as_ref())
    }

    /// Removes the node at `path` if `accept` holds for it; objects left
    /// empty by the removal are removed too.
    pub(crate) fn take_node<S: AsRef<str>>(
        &mut self,
        path: &[S],
        accept: impl FnOnce(&Node<'a>) -> bool,
    ) -> Option<Node<'a>> {
        take_in(&mut self.root, path, accept)
    }

    /// A copy of the value at `path`.
    pub(crate) fn cloned<S: AsRef<str>>(&self, path: &[S]) -> Option<Value> {
        self.leaf(path).map(Node::to_value)
    }

    /// What no mapping took, flattened to the documented `unmapped` shape
    /// (as `Record::into_unmapped` does; `null`s carry no value and are
    /// skipped at any depth, so this is also what `Fields::into_record`
    /// then `Record::into_unmapped` give).
    pub(crate) fn into_unmapped(self) -> Map<String, Value> {
        let mut out = Map::with_capacity(self.root.len() + 8);
        let mut prefix = String::new();
        flatten(&mut prefix, self.root, &mut out);
        out
    }
}

fn position(obj: &Obj<'_>, key: &str) -> Option<usize> {
    obj.iter().position(|(k, _)| k == key)
}

fn get<'o, 'a>(obj: &'o Obj<'a>, key: &str) -> Option<&'o Node<'a>> {
    obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn take_in<'a, S: AsRef<str>>(
    obj: &mut Obj<'a>,
    path: &[S],
    accept: impl FnOnce(&Node<'a>) -> bool,
) -> Option<Node<'a>> {
    match path {
        [] => None,
        [last] => {
            let i = position(obj, last.as_ref())?;
            if !accept(&obj.get(i)?.1) {
                return None;
            }
            Some(obj.swap_remove(i).1)
        }
        [head, rest @ ..] => {
            let i = position(obj, head.as_ref())?;
            let Node::Obj(child) = &mut obj.get_mut(i)?.1 else {
                return None;
            };
            let out = take_in(child, rest, accept);
            if out.is_some() && child.is_empty() {
                obj.swap_remove(i);
            }
            out
        }
    }
}

fn flatten(prefix: &mut String, obj: Obj<'_>, out: &mut Map<String, Value>) {
    for (k, v) in obj {
        match v {
            Node::Val(Value::Null) => {}
            Node::Obj(m) if !m.is_empty() => {
                let len = prefix.len();
                push_segment(prefix, &k);
                flatten(prefix, m, out);
                prefix.truncate(len);
            }
            v if prefix.is_empty() && !needs_escape(&k) => {
                out.insert(k.into_owned(), v.into_value());
            }
            v => {
                let mut key = String::with_capacity(prefix.len() + k.len() + 1);
                key.push_str(prefix);
                push_segment(&mut key, &k);
                out.insert(key, v.into_value());
            }
        }
    }
}

/// Whether a key holds a `.` or `\\` (escaped in paths).
fn needs_escape(key: &str) -> bool {
    key.bytes().any(|b| b == b'.' || b == b'\\')
}

fn push_segment(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    if needs_escape(key) {
        path.push_str(&escape_key(key));
    } else {
        path.push_str(key);
    }
}

impl<'a> Take for Doc<'a> {
    fn peek_str(&self, path: &[&str]) -> Option<&str> {
        match self.leaf(path)? {
            Node::Str(s) if !is_placeholder(s) => Some(s),
            _ => None,
        }
    }

    fn str(&mut self, path: &[&str]) -> Option<String> {
        let v = self.take_node(path, |v| match v {
            Node::Str(s) => !is_placeholder(s),
            Node::Val(Value::Number(_) | Value::Bool(_)) => true,
            _ => false,
        })?;
        match v {
            Node::Str(s) => Some(s.into_owned()),
            Node::Val(Value::Number(n)) => Some(n.to_string()),
            Node::Val(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        }
    }

    fn bool(&mut self, path: &[&str]) -> Option<bool> {
        let keep = |v: &Node<'_>| match v {
            Node::Val(Value::Bool(b)) => Some(*b),
            Node::Str(s) => super::fields::bool_word(s),
            _ => None,
        };
        let b = keep(self.leaf(path)?)?;
        self.take_node(path, |_| true)?;
        Some(b)
    }

    fn take(&mut self, path: &[&str]) -> Option<Value> {
        self.take_node(path, |v| !v.is_null()).map(Node::into_value)
    }

    fn drop_null(&mut self, path: &[&str]) {
        self.take_node(path, Node::is_null);
    }

    fn peek_array(&self, path: &[&str]) -> Option<&Vec<Value>> {
        match self.leaf(path)? {
            Node::Val(Value::Array(items)) => Some(items),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Node<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Node::Val(Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Node::Val(Value::Number(v.into())))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Node::Val(Value::Number(v.into())))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Node::Val(
            serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number),
        ))
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Borrowed(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Owned(v.to_owned())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Node::Str(Cow::Owned(v)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Val(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Node::Val(Value::Null))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(v) = seq.next_element::<Value>()? {
            items.push(v);
        }
        Ok(Node::Val(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut fields: Obj<'de> = Vec::with_capacity(8);
        // A 64-bit filter of key fingerprints: only a key whose bit is
        // already set is compared with the earlier keys.
        let mut seen = 0u64;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if fields.len() == MAX_OBJECT_KEYS {
                return Err(de::Error::custom(
                    "object too large for the one-pass parser",
                ));
            }
            let bit = 1u64 << (fingerprint(&key) & 63);
            if seen & bit != 0 && fields.iter().any(|(k, _)| *k == key) {
                return Err(de::Error::custom("duplicate key"));
            }
            seen |= bit;
            let value = map.next_value::<Node<'de>>()?;
            fields.push((key, value));
        }
        Ok(Node::Obj(fields))
    }
}

fn fingerprint(key: &str) -> u32 {
    let b = key.as_bytes();
    let first = b.first().copied().unwrap_or(0);
    let last = b.last().copied().unwrap_or(0);
    (b.len() as u32)
        .wrapping_mul(31)
        .wrapping_add(u32::from(first))
        .wrapping_mul(31)
        .wrapping_add(u32::from(last))
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string key")
    }

    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Cow::Owned(v))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::fields::Fields;
    use super::*;
    use crate::events::Record;
    use serde_json::json;

    fn both(text: &str) -> (Doc<'_>, Fields) {
        let doc = Doc::parse(text.as_bytes()).unwrap();
        let v: Value = serde_json::from_str(text).unwrap();
        (
            doc,
            Fields::new(Record::new(v.as_object().cloned().unwrap())),
        )
    }

    /// The same operations on a `Doc` and on `Fields` give the same values
    /// and leave the same `unmapped`, key order included.
    #[test]
    fn mirrors_fields_including_order() {
        let text = r#"{"a":"x","b":{"c":"7","d":"-","e":null,"f":true},"n":3,"id.orig_h":1,
            "empty":{},"o":{"p":null},"arr":[1,null],"s":"yes","q":{"r":{"t":"u"}},"z":"last","esc":"a\"b"}"#;
        let (mut d, mut f) = both(text);
        assert_eq!(d.peek_str(&["a"]), f.peek_str(&["a"]));
        assert_eq!(d.str(&["a"]), f.str(&["a"]));
        assert_eq!(d.str(&["b", "d"]), f.str(&["b", "d"]));
        assert_eq!(Take::str(&mut d, &["n"]), Take::str(&mut f, &["n"]));
        assert_eq!(d.bool(&["b", "f"]), f.bool(&["b", "f"]));
        assert_eq!(d.bool(&["s"]), f.bool(&["s"]));
        assert_eq!(d.bool(&["z"]), f.bool(&["z"]));
        assert_eq!(d.take(&["q", "r", "t"]), f.take(&["q", "r", "t"]));
        assert_eq!(d.peek_array(&["arr"]), f.peek_array(&["arr"]));
        assert_eq!(d.str(&["esc"]), f.str(&["esc"]));
        d.drop_null(&["o", "p"]);
        f.drop_null(&["o", "p"]);
        let du = d.into_unmapped();
        let fu = f.into_record().into_unmapped();
        assert_eq!(
            serde_json::to_string(&du).unwrap(),
            serde_json::to_string(&fu).unwrap()
        );
    }

    #[test]
    fn refuses_what_it_cannot_mirror() {
        assert!(Doc::parse(b"[1]").is_none());
        assert!(Doc::parse(b"{\"a\":1,\"a\":2}").is_none());
        assert!(Doc::parse(b"{\"x\":{\"k\":1,\"k\":1}}").is_none());
        assert!(Doc::parse(b"{\"a\":1} x").is_none());
        assert!(Doc::parse(b"\xEF\xBB\xBF {\"a\":1}").is_some());
        assert!(Doc::parse(&json!({"ab": 1, "ba": 2}).to_string().into_bytes()).is_some());
    }

    #[test]
    fn big_objects_go_to_the_general_parser() {
        let object = |n: usize| {
            let map: serde_json::Map<String, Value> =
                (0..n).map(|i| (format!("k{i}"), json!(i))).collect();
            Value::Object(map).to_string()
        };
        assert!(Doc::parse(object(MAX_OBJECT_KEYS).as_bytes()).is_some());
        assert!(Doc::parse(object(MAX_OBJECT_KEYS + 1).as_bytes()).is_none());
        let nested = format!("{{\"a\":{}}}", object(MAX_OBJECT_KEYS + 1));
        assert!(Doc::parse(nested.as_bytes()).is_none());
    }
}
