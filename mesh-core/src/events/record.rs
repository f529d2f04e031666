//! The parsed record every format produces and every mapping reads.

use serde_json::{Map, Value};

/// A parsed record: a JSON object of source fields, whatever the wire format.
///
/// * JSON/NDJSON: the object as parsed.
/// * CEF: header fields `cefVersion`, `deviceVendor`, `deviceProduct`,
///   `deviceVersion`, `deviceEventClassId`, `name`, `severity`, and every
///   extension key as a string field.
/// * LEEF: `leefVersion`, `vendor`, `product`, `version`, `eventId` (and in 2.0
///   `delimiter`), and every attribute as a string field.
/// * syslog: `facility`, `severity` (numbers), `timestamp` (epoch ms, when the
///   header has one), `hostname`, `app_name`, `procid`, `msgid`,
///   `structured_data` (`{sd-id: {param: value}}`), `message`, and for RFC 5424
///   `version`.
/// * key=value: every pair as a string field.
///
/// Paths are dotted (`userIdentity.arn`); a `.` or `\` inside a key is written
/// `\.` or `\\`. Mappings *take* the fields they use (removing them), so
/// whatever is left is, by construction, what goes to OCSF `unmapped`.
/// A `null` field means "no value": it is never mapped and not kept.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Record {
    fields: Map<String, Value>,
}

impl Record {
    /// A record of these fields.
    pub fn new(fields: Map<String, Value>) -> Record {
        Record { fields }
    }

    /// The fields.
    pub fn fields(&self) -> &Map<String, Value> {
        &self.fields
    }

    /// The fields, mutably.
    pub fn fields_mut(&mut self) -> &mut Map<String, Value> {
        &mut self.fields
    }

    /// The fields, consumed.
    pub fn into_fields(self) -> Map<String, Value> {
        self.fields
    }

    /// The value at a dotted path, if present.
    pub fn get(&self, path: &str) -> Option<&Value> {
        if path.contains('\\') {
            let segs = split_path(path);
            return get_in(&self.fields, segs.iter().map(String::as_str));
        }
        get_in(&self.fields, path.split('.'))
    }

    /// The string value at a dotted path (strings only, no coercion).
    pub fn get_str(&self, path: &str) -> Option<&str> {
        self.get(path).and_then(Value::as_str)
    }

    /// Removes and returns the value at a dotted path. Objects left empty by
    /// the removal are removed too. A `null` is removed and returned as `None`.
    pub fn take(&mut self, path: &str) -> Option<Value> {
        let v = if path.contains('\\') {
            take_in(&mut self.fields, &split_path(path))
        } else {
            take_split(&mut self.fields, path)
        };
        v.filter(|v| !v.is_null())
    }

    /// Removes the value at a path of pre-split segments (see [`split_path`]).
    pub fn take_segments<S: AsRef<str>>(&mut self, segs: &[S]) -> Option<Value> {
        take_in(&mut self.fields, segs).filter(|v| !v.is_null())
    }

    /// Removes the value at a path of pre-split segments if `accept` holds
    /// for it, walking the path once; `null` is never accepted.
    pub(crate) fn take_segments_if<S: AsRef<str>>(
        &mut self,
        segs: &[S],
        accept: impl FnOnce(&Value) -> bool,
    ) -> Option<Value> {
        at_leaf(&mut self.fields, segs, |map, last| {
            let v = map.get(last)?;
            if v.is_null() || !accept(v) {
                return None;
            }
            map.remove(last)
        })
    }

    /// The value at a path of pre-split segments (see [`split_path`]).
    pub fn get_segments<S: AsRef<str>>(&self, segs: &[S]) -> Option<&Value> {
        get_in(&self.fields, segs.iter().map(AsRef::as_ref))
    }

    /// Removes the value at a dotted path and returns it as a string:
    /// numbers and booleans are written out; empty strings, objects and
    /// arrays are put back and give `None`.
    pub fn take_str(&mut self, path: &str) -> Option<String> {
        let v = self.take(path)?;
        match v {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                self.put_back(path, other);
                None
            }
        }
    }

    /// Removes the value at a dotted path and returns it as an integer,
    /// accepting numbers written as strings; anything else is put back.
    pub fn take_i64(&mut self, path: &str) -> Option<i64> {
        let v = self.take(path)?;
        let n = match &v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        };
        if n.is_none() {
            self.put_back(path, v);
        }
        n
    }

    /// Inserts a value at a dotted path, creating objects on the way; an
    /// existing non-object on the way is left alone and the value dropped
    /// into `unmapped` under its full path instead.
    pub fn put_back(&mut self, path: &str, value: Value) {
        let segs = split_path(path);
        let Some((last, parents)) = segs.split_last() else {
            return;
        };
        let mut map = &mut self.fields;
        for seg in parents {
            let entry = map
                .entry(seg.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            match entry {
                Value::Object(m) => map = m,
                _ => {
                    self.fields.insert(escape_key(path), value);
                    return;
                }
            }
        }
        map.insert(last.clone(), value);
    }

    /// The remaining fields flattened into the documented `unmapped` shape:
    /// path (keys joined by `.`, with `.` and `\` in keys escaped) → value.
    pub fn into_unmapped(self) -> Map<String, Value> {
        let flat = self.fields.iter().all(|(k, v)| match v {
            Value::Null => false,
            Value::Object(m) => m.is_empty() && !k.contains(['.', '\\']),
            _ => !k.contains(['.', '\\']),
        });
        if flat {
            // Already in the `unmapped` shape.
            return self.fields;
        }
        let mut out = Map::with_capacity(self.fields.len() + 8);
        let mut prefix = String::new();
        flatten(&mut prefix, self.fields, &mut out);
        out
    }
}

impl From<Map<String, Value>> for Record {
    fn from(fields: Map<String, Value>) -> Self {
        Record { fields }
    }
}

/// Splits a dotted path into keys, honouring `\.` and `\\` escapes.
pub fn split_path(path: &str) -> Vec<String> {
    let mut segs = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '.' => segs.push(std::mem::take(&mut cur)),
            c => cur.push(c),
        }
    }
    segs.push(cur);
    segs
}

/// Escapes a key for use as one path segment.
pub fn escape_key(key: &str) -> String {
    if !key.contains(['.', '\\']) {
        return key.to_owned();
    }
    let mut s = String::with_capacity(key.len() + 2);
    for c in key.chars() {
        if c == '.' || c == '\\' {
            s.push('\\');
        }
        s.push(c);
    }
    s
}

fn get_in<'a, 'b>(
    mut map: &'a Map<String, Value>,
    segs: impl Iterator<Item = &'b str>,
) -> Option<&'a Value> {
    let mut segs = segs.peekable();
    while let Some(seg) = segs.next() {
        let v = map.get(seg)?;
        if segs.peek().is_none() {
            return Some(v);
        }
        map = v.as_object()?;
    }
    None
}

/// Runs `f` on the map holding the last segment of `segs`, walking the path
/// once; when `f` gives a result, objects that its removal left empty are
/// pruned on the way back up (as [`Record::take`] does).
pub(crate) fn at_leaf<S: AsRef<str>, T>(
    map: &mut Map<String, Value>,
    segs: &[S],
    f: impl FnOnce(&mut Map<String, Value>, &str) -> Option<T>,
) -> Option<T> {
    match segs {
        [] => None,
        [last] => f(map, last.as_ref()),
        [head, rest @ ..] => {
            let child = map.get_mut(head.as_ref())?.as_object_mut()?;
            let out = at_leaf(child, rest, f);
            if out.is_some() && child.is_empty() {
                map.remove(head.as_ref());
            }
            out
        }
    }
}

fn take_split(map: &mut Map<String, Value>, path: &str) -> Option<Value> {
    match path.split_once('.') {
        None => map.remove(path),
        Some((head, rest)) => {
            let child = map.get_mut(head)?.as_object_mut()?;
            let v = take_split(child, rest);
            if v.is_some() && child.is_empty() {
                map.remove(head);
            }
            v
        }
    }
}

fn take_in<S: AsRef<str>>(map: &mut Map<String, Value>, segs: &[S]) -> Option<Value> {
    match segs {
        [] => None,
        [last] => map.remove(last.as_ref()),
        [head, rest @ ..] => {
            let child = map.get_mut(head.as_ref())?.as_object_mut()?;
            let v = take_in(child, rest);
            if v.is_some() && child.is_empty() {
                map.remove(head.as_ref());
            }
            v
        }
    }
}

fn flatten(prefix: &mut String, map: Map<String, Value>, out: &mut Map<String, Value>) {
    for (k, v) in map {
        match v {
            Value::Null => {}
            Value::Object(m) if !m.is_empty() => {
                let len = prefix.len();
                push_segment(prefix, &k);
                flatten(prefix, m, out);
                prefix.truncate(len);
            }
            v if prefix.is_empty() && !k.contains(['.', '\\']) => {
                out.insert(k, v);
            }
            v => {
                let mut key = String::with_capacity(prefix.len() + k.len() + 1);
                key.push_str(prefix);
                push_segment(&mut key, &k);
                out.insert(key, v);
            }
        }
    }
}

fn push_segment(path: &mut String, key: &str) {
    if !path.is_empty() {
        path.push('.');
    }
    if key.contains(['.', '\\']) {
        path.push_str(&escape_key(key));
    } else {
        path.push_str(key);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> Record {
        match v {
            Value::Object(m) => Record::new(m),
            _ => Record::default(),
        }
    }

    #[test]
    fn take_prunes_emptied_parents_and_keeps_empty_originals() {
        let mut r = rec(json!({"a": {"b": 1}, "c": {}, "d": {"e": 2, "f": 3}, "x.y": 4}));
        assert_eq!(r.take("a.b"), Some(json!(1)));
        assert_eq!(r.take("d.e"), Some(json!(2)));
        assert_eq!(r.take("missing.path"), None);
        let u = r.into_unmapped();
        assert_eq!(
            u,
            json!({"c": {}, "d.f": 3, "x\\.y": 4})
                .as_object()
                .cloned()
                .unwrap()
        );
    }

    #[test]
    fn escaped_paths_and_coercions() {
        let mut r = rec(json!({"x.y": {"z": "5"}, "n": 7, "o": {"p": 1}}));
        assert_eq!(r.get_str("x\\.y.z"), Some("5"));
        assert_eq!(r.take_i64("x\\.y.z"), Some(5));
        assert_eq!(r.take_str("n").as_deref(), Some("7"));
        assert_eq!(r.take_str("o"), None);
        assert_eq!(r.get("o.p"), Some(&json!(1)));
        assert_eq!(split_path("a\\.b.c\\\\"), vec!["a.b", "c\\"]);
    }
}
