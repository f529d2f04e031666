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

use serde_json::{Map, Value};

use super::fields::{is_placeholder, Take};
use crate::events::record::escape_key;
use crate::events::write::{contains_either, special_bytes, write_json, write_str};

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
        // One UTF-8 check of the whole record (invalid UTF-8 is invalid
        // JSON anyway): strings are then sliced without another check.
        let text = std::str::from_utf8(bytes).ok()?;
        let mut p = Parser {
            text,
            bytes,
            pos: 0,
            depth: 0,
        };
        p.ws();
        if p.peek()? != b'{' {
            return None;
        }
        let Node::Obj(root) = p.object()? else {
            return None;
        };
        p.ws();
        (p.pos == bytes.len()).then_some(Doc { root })
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

impl<'a> Doc<'a> {
    /// Takes the text at `path` as [`Take::str`] does (a string that is not
    /// a placeholder, or a number or boolean as text), borrowed from the
    /// input when it had no escape.
    pub(crate) fn take_text(&mut self, path: &[&str]) -> Option<Cow<'a, str>> {
        let v = self.take_node(path, |v| match v {
            Node::Str(s) => !is_placeholder(s),
            Node::Val(Value::Number(_) | Value::Bool(_)) => true,
            _ => false,
        })?;
        match v {
            Node::Str(s) => Some(s),
            Node::Val(Value::Number(n)) => Some(Cow::Owned(n.to_string())),
            Node::Val(Value::Bool(b)) => Some(Cow::Borrowed(if b { "true" } else { "false" })),
            _ => None,
        }
    }

    /// Takes the node at `path` as [`Take::take`] does (anything but
    /// `null`), without turning it into a [`Value`].
    pub(crate) fn take_raw(&mut self, path: &[&str]) -> Option<Node<'a>> {
        self.take_node(path, |v| !v.is_null())
    }
}

impl Node<'_> {
    /// Appends the node as JSON: the bytes `serde_json` writes of
    /// [`Node::into_value`] (objects keep their order, as the map does).
    pub(crate) fn write(&self, out: &mut Vec<u8>) {
        match self {
            Node::Str(s) => write_str(out, s),
            Node::Obj(fields) => {
                out.push(b'{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_str(out, k);
                    out.push(b':');
                    v.write(out);
                }
                out.push(b'}');
            }
            Node::Val(v) => {
                // Only floats are left to serde_json, which never fails on
                // a `Value`.
                let _ = write_json(v, out);
            }
        }
    }
}

impl Doc<'_> {
    /// Writes what no mapping took as the entries of the `unmapped` object
    /// (`"key":value` separated by commas), exactly as
    /// [`Doc::into_unmapped`] then `serde_json` would write them; returns
    /// how many. `None`, with nothing written, when two fields would flatten
    /// to the same key (an object under the empty key at the top: its
    /// fields lose their prefix), where the map keeps only the last value.
    pub(crate) fn write_unmapped(&self, out: &mut Vec<u8>) -> Option<usize> {
        let ambiguous = self
            .root
            .iter()
            .any(|(k, v)| k.is_empty() && matches!(v, Node::Obj(m) if !m.is_empty()));
        if ambiguous {
            return None;
        }
        let mut prefix = String::with_capacity(64);
        let mut n = 0;
        write_flat(&mut prefix, &self.root, out, &mut n);
        Some(n)
    }
}

fn write_flat(prefix: &mut String, obj: &Obj<'_>, out: &mut Vec<u8>, n: &mut usize) {
    for (k, v) in obj {
        match v {
            Node::Val(Value::Null) => {}
            Node::Obj(m) if !m.is_empty() => {
                let len = prefix.len();
                push_segment(prefix, k);
                write_flat(prefix, m, out, n);
                prefix.truncate(len);
            }
            v => {
                if *n > 0 {
                    out.push(b',');
                }
                *n += 1;
                if prefix.is_empty() {
                    if needs_escape(k) {
                        write_str(out, &escape_key(k));
                    } else {
                        write_str(out, k);
                    }
                } else {
                    let len = prefix.len();
                    push_segment(prefix, k);
                    write_str(out, prefix);
                    prefix.truncate(len);
                }
                out.push(b':');
                match v {
                    Node::Str(s) => write_str(out, s),
                    Node::Obj(_) => out.extend_from_slice(b"{}"),
                    Node::Val(v) => {
                        // Only floats are left to serde_json, which never
                        // fails on a `Value`.
                        let _ = write_json(v, out);
                    }
                }
            }
        }
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
    contains_either(key.as_bytes(), b'.', b'\\')
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
        self.take_text(path).map(Cow::into_owned)
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

/// Deepest nesting the parser takes (`serde_json` stops at 127 too);
/// deeper records go to the general parser.
const MAX_DEPTH: usize = 127;

/// A strict JSON reader over UTF-8 text, borrowing strings without escapes.
/// It gives up (`None`) on anything that is not valid JSON; escaped strings
/// and numbers other than plain non-negative integers are decoded by
/// `serde_json`, so values come out exactly as `serde_json` reads them.
struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Option<Node<'a>> {
        self.ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => self.string().map(Node::Str),
            b't' => self.word(b"true", Value::Bool(true)),
            b'f' => self.word(b"false", Value::Bool(false)),
            b'n' => self.word(b"null", Value::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn word(&mut self, word: &[u8], value: Value) -> Option<Node<'a>> {
        let end = self.pos.checked_add(word.len())?;
        if self.bytes.get(self.pos..end)? != word {
            return None;
        }
        self.pos = end;
        Some(Node::Val(value))
    }

    fn number(&mut self) -> Option<Node<'a>> {
        let start = self.pos;
        while let Some(b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') = self.peek() {
            self.pos += 1;
        }
        let span = self.text.get(start..self.pos)?;
        let plain = span.len() <= 19
            && span.bytes().all(|b| b.is_ascii_digit())
            && (span.len() == 1 || !span.starts_with('0'));
        if plain {
            return span.parse::<u64>().ok().map(|n| Node::Val(Value::from(n)));
        }
        match serde_json::from_str::<Value>(span).ok()? {
            v @ Value::Number(_) => Some(Node::Val(v)),
            _ => None,
        }
    }

    /// A string, the reader on its opening quote.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let open = self.pos;
        let mut i = open.checked_add(1)?;
        let mut escapes = false;
        loop {
            if let Some(mask) = self.bytes.get(i..i.checked_add(8)?).and_then(special_bytes) {
                if mask == 0 {
                    i += 8;
                    continue;
                }
                // On the first byte that ends the plain run.
                i += (mask.trailing_zeros() / 8) as usize;
            }
            match *self.bytes.get(i)? {
                b'"' => break,
                b'\\' => {
                    escapes = true;
                    i = i.checked_add(2)?;
                }
                b if b < 0x20 => return None,
                _ => i += 1,
            }
        }
        self.pos = i.checked_add(1)?;
        if escapes {
            let quoted = self.text.get(open..self.pos)?;
            serde_json::from_str::<String>(quoted).ok().map(Cow::Owned)
        } else {
            self.text.get(open + 1..i).map(Cow::Borrowed)
        }
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        self.pos += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// An object, the reader on its `{`.
    fn object(&mut self) -> Option<Node<'a>> {
        self.enter()?;
        // Records hold a few dozen fields at the top, a few below.
        let mut fields: Obj<'a> = Vec::with_capacity(if self.depth == 1 { 32 } else { 8 });
        self.ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            self.depth -= 1;
            return Some(Node::Obj(fields));
        }
        // A 64-bit filter of key fingerprints: only a key whose bit is
        // already set is compared with the earlier keys.
        let mut seen = 0u64;
        loop {
            self.ws();
            if self.peek()? != b'"' || fields.len() == MAX_OBJECT_KEYS {
                return None;
            }
            let key = self.string()?;
            let bit = 1u64 << (fingerprint(&key) & 63);
            if seen & bit != 0 && fields.iter().any(|(k, _)| *k == key) {
                return None;
            }
            seen |= bit;
            self.ws();
            if self.peek()? != b':' {
                return None;
            }
            self.pos += 1;
            let value = self.value()?;
            fields.push((key, value));
            self.ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b'}' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Some(Node::Obj(fields))
    }

    /// An array, the reader on its `[`.
    fn array(&mut self) -> Option<Node<'a>> {
        self.enter()?;
        let mut items = Vec::new();
        self.ws();
        if self.peek()? == b']' {
            self.pos += 1;
            self.depth -= 1;
            return Some(Node::Val(Value::Array(items)));
        }
        loop {
            items.push(self.value()?.into_value());
            self.ws();
            match self.peek()? {
                b',' => self.pos += 1,
                b']' => break,
                _ => return None,
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Some(Node::Val(Value::Array(items)))
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

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
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

    /// The reader takes what `serde_json` takes and reads the same values.
    #[test]
    fn reads_as_serde_json_reads() {
        let cases: &[&str] = &[
            r#"{"a":"x\"y\\z\/\b\f\n\r\t\u00e9\ud83d\ude00","b":[1,-0,-1,0.5,1e3,1E-2,18446744073709551615,18446744073709551616,123456789012345678901,[],{},[{"c":null}]]}"#,
            " \t\r\n{ \"k\" : { } , \"l\" : [ true , false , null ] } \n",
            r#"{"long string without escapes at all":"0123456789abcdefghijklmnopqrstuvwxyz"}"#,
            r#"{"e":"é😀 text","n":0}"#,
        ];
        for text in cases {
            let doc = Doc::parse(text.as_bytes()).unwrap_or_else(|| panic!("{text}"));
            let v: Value = serde_json::from_str(text).unwrap();
            assert_eq!(Node::Obj(doc.root).into_value(), v, "{text}");
        }
        let bad: &[&[u8]] = &[
            b"{",
            b"{\"a\"}",
            b"{\"a\":}",
            b"{\"a\":1,}",
            b"{\"a\":[1,]}",
            b"{\"a\":01}",
            b"{\"a\":1.}",
            b"{\"a\":-}",
            b"{\"a\":+1}",
            b"{\"a\":tru}",
            b"{\"a\":\"\x01\"}",
            b"{\"a\":\"\\x\"}",
            b"{\"a\":\"\\ud800\"}",
            b"{\"a\":\"\xff\"}",
            b"{\"a\":\"abc",
            b"{'a':1}",
            b"{\"a\":1}}",
            b"{\"a\":NaN}",
            b"{\"a\":1e999}",
        ];
        for text in bad {
            assert!(
                Doc::parse(text).is_none(),
                "{}",
                String::from_utf8_lossy(text)
            );
            assert!(
                serde_json::from_slice::<Value>(text).is_err(),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let deep = |n: usize| format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
        assert!(Doc::parse(deep(100).as_bytes()).is_some());
        assert!(Doc::parse(deep(200).as_bytes()).is_none());
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
