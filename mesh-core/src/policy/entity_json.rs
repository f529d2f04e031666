//! Streaming fast path for Cedar's entity JSON: deserializes straight into
//! [`Entity`] values without building a JSON document first.
//!
//! It accepts a strict subset of what the document-based loader in
//! `entities.rs` accepts, with the same result; on anything else (errors,
//! duplicate keys, unusual shapes) it gives up and the caller re-reads the
//! document with the located-error loader.

use std::fmt;
use std::sync::Arc;

use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::entities::{valid_type_name, Entity, MAX_VALUE_DEPTH};
use super::ext::{Decimal, IpNet};
use super::value::{EntityType, EntityUid, Record, Set, Value};

/// Entities of a document, or `None` when the fast path does not apply.
pub(crate) fn stream_entities(json: &str) -> Option<Vec<Entity>> {
    let mut de = serde_json::Deserializer::from_str(json);
    let mut types = Types::default();
    let out = EntityList { types: &mut types }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(out)
}

/// A record (such as a request context) from a JSON object, or `None` when
/// the fast path does not apply; then [`Value::from_json`] on the parsed
/// document gives the same result or a located error.
pub(crate) fn stream_record(json: &str) -> Option<Record> {
    let mut de = serde_json::Deserializer::from_str(json);
    let mut types = Types::default();
    let out = RecordSeed {
        types: &mut types,
        depth: 0,
    }
    .deserialize(&mut de)
    .ok()?;
    de.end().ok()?;
    Some(out)
}

/// Entity types seen so far, so that each name is checked and allocated once.
#[derive(Default)]
struct Types {
    seen: Vec<EntityType>,
}

impl Types {
    fn get(&mut self, name: &str) -> Option<EntityType> {
        if let Some(t) = self.seen.iter().find(|t| t.as_str() == name) {
            return Some(t.clone());
        }
        if !valid_type_name(name) || self.seen.len() >= 64 {
            return None;
        }
        let t = EntityType::new(name);
        self.seen.push(t.clone());
        Some(t)
    }
}

/// A string, borrowed from the input when it has no escapes.
struct Str<'de>(std::borrow::Cow<'de, str>);

impl<'de> serde::Deserialize<'de> for Str<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<Er: serde::de::Error>(
                self,
                v: &'de str,
            ) -> Result<Self::Value, Er> {
                Ok(Str(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<Self::Value, Er> {
                Ok(Str(std::borrow::Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

struct EntityList<'a> {
    types: &'a mut Types,
}

impl<'de> DeserializeSeed<'de> for EntityList<'_> {
    type Value = Vec<Entity>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EntityList<'_> {
    type Value = Vec<Entity>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entities")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(e) = seq.next_element_seed(EntitySeed {
            types: &mut *self.types,
        })? {
            out.push(e);
        }
        Ok(out)
    }
}

struct EntitySeed<'a> {
    types: &'a mut Types,
}

impl<'de> DeserializeSeed<'de> for EntitySeed<'_> {
    type Value = Entity;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

fn fail<T, Er: serde::de::Error>() -> Result<T, Er> {
    Err(Er::custom("fast path does not apply"))
}

impl<'de> Visitor<'de> for EntitySeed<'_> {
    type Value = Entity;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entity object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut uid = None;
        let mut attrs = None;
        let mut parents: Option<Vec<EntityUid>> = None;
        let mut tags = false;
        while let Some(k) = map.next_key::<Str<'de>>()? {
            match k.0.as_ref() {
                "uid" if uid.is_none() => {
                    uid = Some(map.next_value_seed(UidSeed {
                        types: &mut *self.types,
                    })?);
                }
                "attrs" if attrs.is_none() => {
                    attrs = Some(map.next_value_seed(RecordSeed {
                        types: &mut *self.types,
                        depth: 1,
                    })?);
                }
                "parents" if parents.is_none() => {
                    parents = Some(map.next_value_seed(UidList {
                        types: &mut *self.types,
                    })?);
                }
                "tags" if !tags => {
                    tags = true;
                    map.next_value::<serde_json::Value>()?;
                }
                _ => return fail(),
            }
        }
        let Some(uid) = uid else { return fail() };
        Ok(Entity::new(
            uid,
            attrs.unwrap_or_default(),
            parents.unwrap_or_default(),
        ))
    }
}

struct UidList<'a> {
    types: &'a mut Types,
}

impl<'de> DeserializeSeed<'de> for UidList<'_> {
    type Value = Vec<EntityUid>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for UidList<'_> {
    type Value = Vec<EntityUid>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of entity references")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(u) = seq.next_element_seed(UidSeed {
            types: &mut *self.types,
        })? {
            out.push(u);
        }
        Ok(out)
    }
}

/// `{"type": T, "id": I}` or `{"__entity": {…}}`.
struct UidSeed<'a> {
    types: &'a mut Types,
}

impl<'de> DeserializeSeed<'de> for UidSeed<'_> {
    type Value = EntityUid;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UidSeed<'_> {
    type Value = EntityUid;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an entity reference")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        uid_body(self.types, map, None)
    }
}

/// The rest of an entity reference object whose first key may already have
/// been read.
fn uid_body<'de, A: MapAccess<'de>>(
    types: &mut Types,
    mut map: A,
    first: Option<Str<'de>>,
) -> Result<EntityUid, A::Error> {
    let mut ty: Option<Str<'de>> = None;
    let mut id: Option<Str<'de>> = None;
    let mut key = match first {
        Some(k) => Some(k),
        None => map.next_key::<Str<'de>>()?,
    };
    let mut n = 0;
    while let Some(k) = key {
        n += 1;
        match k.0.as_ref() {
            "__entity" if n == 1 => {
                let uid = map.next_value_seed(UidSeed { types })?;
                if map.next_key::<Str<'de>>()?.is_some() {
                    return fail();
                }
                return Ok(uid);
            }
            "type" if ty.is_none() => ty = Some(map.next_value()?),
            "id" if id.is_none() => id = Some(map.next_value()?),
            _ => return fail(),
        }
        key = map.next_key::<Str<'de>>()?;
    }
    let (Some(ty), Some(id)) = (ty, id) else {
        return fail();
    };
    let Some(t) = types.get(&ty.0) else {
        return fail();
    };
    Ok(EntityUid::new(t, &id.0))
}

struct RecordSeed<'a> {
    types: &'a mut Types,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Record;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Record;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        record_body(self.types, map, None, self.depth)
    }
}

fn record_body<'de, A: MapAccess<'de>>(
    types: &mut Types,
    mut map: A,
    first: Option<Str<'de>>,
    depth: usize,
) -> Result<Record, A::Error> {
    let mut attrs = Vec::with_capacity(map.size_hint().unwrap_or(0));
    let mut key = match first {
        Some(k) => Some(k),
        None => map.next_key::<Str<'de>>()?,
    };
    while let Some(k) = key {
        if matches!(k.0.as_ref(), "__entity" | "__extn") {
            return fail();
        }
        let v = map.next_value_seed(ValueSeed {
            types: &mut *types,
            depth: depth + 1,
        })?;
        attrs.push((Arc::from(k.0.as_ref()), v));
        key = map.next_key::<Str<'de>>()?;
    }
    Record::new(attrs).or_else(|_| fail())
}

struct ValueSeed<'a> {
    types: &'a mut Types,
    depth: usize,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_> {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        if self.depth > MAX_VALUE_DEPTH {
            return fail();
        }
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_> {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a Cedar value")
    }
    fn visit_bool<Er: serde::de::Error>(self, v: bool) -> Result<Value, Er> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<Er: serde::de::Error>(self, v: i64) -> Result<Value, Er> {
        Ok(Value::Long(v))
    }
    fn visit_u64<Er: serde::de::Error>(self, v: u64) -> Result<Value, Er> {
        i64::try_from(v).map(Value::Long).or_else(|_| fail())
    }
    fn visit_str<Er: serde::de::Error>(self, v: &str) -> Result<Value, Er> {
        Ok(Value::string(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut vals = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(v) = seq.next_element_seed(ValueSeed {
            types: &mut *self.types,
            depth: self.depth + 1,
        })? {
            vals.push(v);
        }
        Ok(Value::Set(Set::new(vals)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let Some(first) = map.next_key::<Str<'de>>()? else {
            return Ok(Value::Record(Record::default()));
        };
        match first.0.as_ref() {
            "__entity" => {
                let uid = map.next_value_seed(UidSeed { types: self.types })?;
                if map.next_key::<Str<'de>>()?.is_some() {
                    return fail();
                }
                Ok(Value::Entity(uid))
            }
            "__extn" => {
                let v = map.next_value_seed(ExtnSeed)?;
                if map.next_key::<Str<'de>>()?.is_some() {
                    return fail();
                }
                Ok(v)
            }
            _ => record_body(self.types, map, Some(first), self.depth).map(Value::Record),
        }
    }
}

/// `{"fn": "ip"|"ipaddr"|"decimal", "arg": …}`.
struct ExtnSeed;

impl<'de> DeserializeSeed<'de> for ExtnSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ExtnSeed {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an extension value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut func: Option<Str<'de>> = None;
        let mut arg: Option<Str<'de>> = None;
        while let Some(k) = map.next_key::<Str<'de>>()? {
            match k.0.as_ref() {
                "fn" if func.is_none() => func = Some(map.next_value()?),
                "arg" if arg.is_none() => arg = Some(map.next_value()?),
                _ => return fail(),
            }
        }
        let (Some(func), Some(arg)) = (func, arg) else {
            return fail();
        };
        let v = match func.0.as_ref() {
            "ip" | "ipaddr" => IpNet::parse(&arg.0).map(Value::Ip),
            "decimal" => Decimal::parse(&arg.0).map(Value::Decimal),
            _ => None,
        };
        v.map_or_else(fail, Ok)
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::super::entities::Entities;
    use super::*;

    fn same_as_document(json: &str) {
        let fast = Entities::from_json_str(json);
        let Ok(v) = serde_json::from_str(json) else {
            assert!(fast.is_err(), "{json}");
            return;
        };
        let doc = Entities::from_json_value(&v).map_err(|e| e.to_string());
        match (fast, doc) {
            (Ok(a), Ok(b)) => {
                assert_eq!(a.len(), b.len());
                for e in b.iter() {
                    assert_eq!(a.get(e.uid()), Some(e), "{json}");
                }
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b, "{json}"),
            (a, b) => panic!("{json}: fast {a:?}, document {b:?}"),
        }
    }

    #[test]
    fn record_fast_path_agrees_with_value_from_json() {
        for doc in [
            r#"{"device": {"managed": true, "os": "linux"}, "risk": 99, "mfa": false, "ip": {"__extn": {"fn": "ip", "arg": "10.1.2.3"}}}"#,
            r#"{"l": [1, [2], {"k": "v\"w"}], "e": {"__entity": {"type": "G", "id": "g"}}, "d": {"__extn": {"fn": "decimal", "arg": "1.5"}}}"#,
            r#"{}"#,
            r#"{"k": 1, "k": 2}"#,
            r#"{"__entity": {"type": "G", "id": "g"}}"#,
            r#"{"x": 1.5}"#,
            r#"{"x": {"__extn": {"fn": "ip", "arg": "nope"}}}"#,
            r#"[1]"#,
            r#"{"a": 1} x"#,
        ] {
            let fast = stream_record(doc);
            let slow = serde_json::from_str::<serde_json::Value>(doc)
                .ok()
                .and_then(|v| Value::from_json(&v).ok());
            if let Some(r) = fast {
                assert_eq!(Some(Value::Record(r)), slow, "{doc}");
            }
        }
        assert!(stream_record(r#"{"a": {"b": [1, 2]}}"#).is_some());
        assert!(stream_record(r#"{"k": 1, "k": 2}"#).is_none());
    }

    #[test]
    fn fast_path_agrees_with_the_document_loader() {
        let wl = include_str!("../../benches/data/wl100/entities.json");
        assert!(stream_entities(wl).is_some());
        same_as_document(wl);
        for doc in [
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"n": 1, "s": "x\"y", "l": [1, [2], {"k": true}], "e": {"__entity": {"type": "G", "id": "g"}}, "ip": {"__extn": {"fn": "ip", "arg": "10.0.0.0/8"}}, "d": {"__extn": {"fn": "decimal", "arg": "1.5"}}}, "parents": [{"__entity": {"type": "G", "id": "g"}}], "tags": {"t": null}}, {"uid": {"type": "G", "id": "g"}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"k\u0041": 1}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"k": 1, "k": 2}}]"#,
            r#"[{"uid": {"type": "U", "id": "a", "type": "V"}}]"#,
            r#"[{"uid": {"id": "a", "type": "U"}, "attrs": {"__entity": 1}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"x": {"a": 1, "__entity": {"type": "U", "id": "b"}}}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "ip", "arg": "1.2.3.4", "z": 1}}}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"x": {"__extn": {"fn": "ip", "arg": "nope"}}}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"x": 1.5}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"x": 18446744073709551615}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "attrs": {"x": null}}]"#,
            r#"[{"uid": {"type": "9U", "id": "a"}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "extra": 1}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}}, {"uid": {"type": "U", "id": "a"}}]"#,
            r#"[{"uid": {"type": "U", "id": "a"}, "parents": [{"type": "U", "id": "a"}]}]"#,
            r#"[{"attrs": {}}]"#,
            r#"{"uid": 1}"#,
            r#"[] x"#,
        ] {
            same_as_document(doc);
        }
        let deep = format!(
            r#"[{{"uid": {{"type": "U", "id": "a"}}, "attrs": {{"x": {}1{}}}}}]"#,
            "[".repeat(70),
            "]".repeat(70)
        );
        same_as_document(&deep);
    }
}
