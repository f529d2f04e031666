//! A source record consumed field by field, so that whatever no mapping
//! took is what goes to OCSF `unmapped`.
//!
//! Mappings `take` the fields they map: a field is removed from the record
//! only when its value was used. Placeholders (`-`, empty strings) and values
//! of the wrong shape stay in the record and so reach `unmapped`. JSON `null`
//! carries no value and is dropped.

use serde_json::{Map, Value};

use crate::events::record::at_leaf;
use crate::events::Record;

/// A source record being mapped.
#[derive(Debug, Default)]
pub(crate) struct Fields {
    rec: Record,
}

/// Whether a string is a placeholder meaning "no value".
pub(crate) fn is_placeholder(s: &str) -> bool {
    let t = s.trim();
    t.is_empty() || t == "-" || t.eq_ignore_ascii_case("n/a")
}

impl Fields {
    /// A record to map.
    pub(crate) fn new(rec: Record) -> Fields {
        Fields { rec }
    }

    /// A read-only view of the record.
    pub(crate) fn view(&self) -> View<'_> {
        View(self.rec.fields())
    }

    /// The value at `path` (object keys), without taking it.
    pub(crate) fn peek(&self, path: &[&str]) -> Option<&Value> {
        peek_in(self.rec.fields(), path)
    }

    /// The string at `path` (not a placeholder), without taking it.
    pub(crate) fn peek_str(&self, path: &[&str]) -> Option<&str> {
        self.view().peek_str(path)
    }

    /// Whether the record has a (non-null) value at `path`.
    pub(crate) fn has(&self, path: &[&str]) -> bool {
        self.view().has(path)
    }

    /// Runs `f` on the map holding the last segment of `path` (walking the
    /// record once); when `f` gives a result, objects that its removal left
    /// empty are pruned on the way back up.
    fn at_leaf<T>(
        &mut self,
        path: &[&str],
        f: impl FnOnce(&mut Map<String, Value>, &str) -> Option<T>,
    ) -> Option<T> {
        at_leaf(self.rec.fields_mut(), path, f)
    }

    /// Removes the value at `path` if `keep` accepts it (objects left empty
    /// are pruned); `keep` reads the value in place.
    fn take_if<T>(&mut self, path: &[&str], keep: impl FnOnce(&Value) -> Option<T>) -> Option<T> {
        self.at_leaf(path, |map, last| {
            let out = keep(map.get(last)?)?;
            map.remove(last);
            Some(out)
        })
    }

    /// Removes the value at `path` if `accept` holds for it, and moves it
    /// out (objects left empty are pruned).
    fn take_moved(&mut self, path: &[&str], accept: impl FnOnce(&Value) -> bool) -> Option<Value> {
        self.at_leaf(path, |map, last| {
            if !accept(map.get(last)?) {
                return None;
            }
            map.remove(last)
        })
    }

    /// Takes the raw value at `path` (anything but `null`).
    pub(crate) fn take(&mut self, path: &[&str]) -> Option<Value> {
        self.take_moved(path, |v| !v.is_null())
    }

    /// Takes a string at `path`; numbers and booleans are taken as text.
    /// Placeholders (`-`, empty) are left in place.
    pub(crate) fn str(&mut self, path: &[&str]) -> Option<String> {
        let v = self.take_moved(path, |v| match v {
            Value::String(s) => !is_placeholder(s),
            Value::Number(_) | Value::Bool(_) => true,
            _ => false,
        })?;
        match v {
            Value::String(s) => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// Takes an integer at `path`; decimal strings and `0x` hex strings are
    /// accepted (numbers as strings are common in real records).
    pub(crate) fn int(&mut self, path: &[&str]) -> Option<i64> {
        self.take_if(path, as_int)
    }

    /// Takes a number at `path` (integer or decimal, also as a string).
    pub(crate) fn float(&mut self, path: &[&str]) -> Option<f64> {
        self.take_if(path, |v| match v {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
            _ => None,
        })
    }

    /// Takes a boolean at `path` (`true`/`false`, also as strings, any case).
    pub(crate) fn bool(&mut self, path: &[&str]) -> Option<bool> {
        self.take_if(path, |v| match v {
            Value::Bool(b) => Some(*b),
            Value::String(s) => bool_word(s),
            _ => None,
        })
    }

    /// Takes the value at `path` if it is a non-empty array of strings.
    pub(crate) fn strings(&mut self, path: &[&str]) -> Option<Vec<String>> {
        let v = self.take_moved(path, |v| {
            v.as_array()
                .is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
        })?;
        let Value::Array(items) = v else { return None };
        items
            .into_iter()
            .map(|i| match i {
                Value::String(s) => Some(s),
                _ => None,
            })
            .collect()
    }

    /// Drops a `null` at `path` (there is no value to keep).
    pub(crate) fn drop_null(&mut self, path: &[&str]) {
        self.take_if(path, |v| v.is_null().then_some(()));
    }

    /// What no mapping took, with `null`s (which carry no value) removed:
    /// the normalizer puts it under `unmapped`.
    pub(crate) fn into_record(self) -> Record {
        let mut fields = self.rec.into_fields();
        drop_nulls(&mut fields, 0);
        Record::new(fields)
    }

    /// What no mapping took, in the documented `unmapped` shape (see
    /// [`Record::into_unmapped`]).
    #[cfg(test)]
    pub(crate) fn into_unmapped(self) -> Option<Map<String, Value>> {
        let out = self.into_record().into_unmapped();
        (!out.is_empty()).then_some(out)
    }
}

/// A boolean written as a word: `true`/`yes`, `false`/`no`, any case.
pub(crate) fn bool_word(s: &str) -> Option<bool> {
    match s.trim() {
        t if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("yes") => Some(true),
        t if t.eq_ignore_ascii_case("false") || t.eq_ignore_ascii_case("no") => Some(false),
        _ => None,
    }
}

/// The reads and takes a mapping written once for two record forms uses:
/// [`Fields`] (a record parsed to a map) and [`super::doc::Doc`] (a record
/// parsed with borrowed strings). Both give the same results and leave the
/// same fields for `unmapped`.
pub(crate) trait Take {
    /// The string at `path` (not a placeholder), without taking it.
    fn peek_str(&self, path: &[&str]) -> Option<&str>;
    /// Takes a string at `path`; numbers and booleans are taken as text.
    fn str(&mut self, path: &[&str]) -> Option<String>;
    /// Takes a boolean at `path` (also as a word, any case).
    fn bool(&mut self, path: &[&str]) -> Option<bool>;
    /// Takes the raw value at `path` (anything but `null`).
    fn take(&mut self, path: &[&str]) -> Option<Value>;
    /// Drops a `null` at `path`.
    fn drop_null(&mut self, path: &[&str]);
    /// The array at `path`, without taking it.
    fn peek_array(&self, path: &[&str]) -> Option<&Vec<Value>>;
}

impl Take for Fields {
    fn peek_str(&self, path: &[&str]) -> Option<&str> {
        Fields::peek_str(self, path)
    }
    fn str(&mut self, path: &[&str]) -> Option<String> {
        Fields::str(self, path)
    }
    fn bool(&mut self, path: &[&str]) -> Option<bool> {
        Fields::bool(self, path)
    }
    fn take(&mut self, path: &[&str]) -> Option<Value> {
        Fields::take(self, path)
    }
    fn drop_null(&mut self, path: &[&str]) {
        Fields::drop_null(self, path);
    }
    fn peek_array(&self, path: &[&str]) -> Option<&Vec<Value>> {
        self.peek(path).and_then(Value::as_array)
    }
}

/// Deepest nesting searched for `null`s to drop.
pub(crate) const MAX_DEPTH: usize = 32;

fn drop_nulls(map: &mut Map<String, Value>, depth: usize) {
    map.retain(|_, v| !v.is_null());
    if depth >= MAX_DEPTH {
        return;
    }
    for v in map.values_mut() {
        if let Value::Object(m) = v {
            let was_empty = m.is_empty();
            drop_nulls(m, depth + 1);
            if !was_empty && m.is_empty() {
                *v = Value::Null;
            }
        }
    }
    map.retain(|_, v| !v.is_null());
}

fn peek_in<'a>(map: &'a Map<String, Value>, path: &[&str]) -> Option<&'a Value> {
    let (last, parents) = path.split_last()?;
    let mut cur = map;
    for p in parents {
        cur = cur.get(*p)?.as_object()?;
    }
    cur.get(*last)
}

/// A read-only view of a record, for detection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View<'a>(pub(crate) &'a Map<String, Value>);

impl<'a> View<'a> {
    /// The value at `path`.
    pub(crate) fn peek(&self, path: &[&str]) -> Option<&'a Value> {
        peek_in(self.0, path)
    }

    /// The string at `path` (not a placeholder).
    pub(crate) fn peek_str(&self, path: &[&str]) -> Option<&'a str> {
        match self.peek(path)? {
            Value::String(s) if !is_placeholder(s) => Some(s.as_str()),
            _ => None,
        }
    }

    /// Whether the record has a (non-null) value at `path`.
    pub(crate) fn has(&self, path: &[&str]) -> bool {
        self.peek(path).is_some_and(|v| !v.is_null())
    }
}

/// An integer from a JSON number or a decimal/hex string.
pub(crate) fn as_int(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => parse_int(s),
        _ => None,
    }
}

/// An integer from decimal text or `0x` hex text.
pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let t = s.trim();
    match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok(),
        None => t.parse::<i64>().ok(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(v: Value) -> Fields {
        Fields::new(Record::new(v.as_object().cloned().unwrap()))
    }

    #[test]
    fn taken_fields_leave_and_the_rest_is_unmapped() {
        let mut f = fields(json!({
            "a": "x", "b": {"c": "7", "d": "-", "e": null}, "id.orig_h": 1, "empty": {}
        }));
        assert_eq!(f.str(&["a"]).as_deref(), Some("x"));
        assert_eq!(f.int(&["b", "c"]), Some(7));
        assert_eq!(f.str(&["b", "d"]), None);
        let u = f.into_unmapped().unwrap();
        assert_eq!(
            Value::Object(u),
            json!({"b.d": "-", "id\\.orig_h": 1, "empty": {}})
        );
    }

    #[test]
    fn emptied_objects_are_pruned() {
        let mut f = fields(json!({"o": {"p": "1"}}));
        assert_eq!(f.int(&["o", "p"]), Some(1));
        assert!(f.into_unmapped().is_none());
    }

    #[test]
    fn ints_accept_hex_and_strings() {
        assert_eq!(parse_int("0x3e7"), Some(999));
        assert_eq!(as_int(&json!(" 42")), Some(42));
        assert_eq!(as_int(&json!(12.0)), Some(12));
        assert_eq!(as_int(&json!("4x")), None);
    }
}
