//! The entity store: Cedar's entity JSON, with ancestors precomputed.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Arc;

use serde_json::Value as Json;

use super::ext::{Decimal, IpNet};
use super::value::{EntityUid, Record, Set, Value};
use super::PolicyError;

/// Largest entity document accepted, in bytes.
pub const MAX_ENTITIES_JSON_LEN: usize = 64 * 1024 * 1024;
/// Deepest nesting of values accepted in JSON input.
pub const MAX_VALUE_DEPTH: usize = 64;

/// A hasher for keys that carry a precomputed 64-bit hash.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

pub(crate) type KeyMap<K, V> = HashMap<K, V, BuildHasherDefault<KeyHasher>>;

/// An entity: its uid, attributes, direct parents and (once in an
/// [`Entities`] store) all its ancestors.
#[derive(Clone, Debug, PartialEq)]
pub struct Entity {
    uid: EntityUid,
    attrs: Record,
    parents: Vec<EntityUid>,
    /// Transitive ancestors, sorted by hash key for binary search.
    ancestors: Vec<EntityUid>,
}

impl Entity {
    /// An entity with the given attributes and direct parents; its
    /// ancestors are its parents until it is added to a store.
    pub fn new(uid: EntityUid, attrs: Record, parents: Vec<EntityUid>) -> Self {
        let mut ancestors = parents.clone();
        sort_keys(&mut ancestors);
        Entity {
            uid,
            attrs,
            parents,
            ancestors,
        }
    }

    /// The entity's uid.
    pub fn uid(&self) -> &EntityUid {
        &self.uid
    }

    /// The attributes.
    pub fn attrs(&self) -> &Record {
        &self.attrs
    }

    /// The direct parents, as given.
    pub fn parents(&self) -> &[EntityUid] {
        &self.parents
    }

    /// All ancestors (transitive), in no particular order.
    pub fn ancestors(&self) -> &[EntityUid] {
        &self.ancestors
    }

    /// Whether `other` is an ancestor (not counting the entity itself).
    pub fn is_descendant_of(&self, other: &EntityUid) -> bool {
        let k = other.key();
        let i = self.ancestors.partition_point(|a| a.key() < k);
        self.ancestors
            .get(i..)
            .unwrap_or(&[])
            .iter()
            .take_while(|a| a.key() == k)
            .any(|a| a == other)
    }

    /// Replaces the ancestors with `parents` plus the ancestors, in
    /// `store`, of each parent (used for principals built per request).
    pub fn resolve_ancestors(&mut self, store: &Entities) {
        let mut all = self.parents.clone();
        for p in &self.parents {
            if let Some(e) = store.get(p) {
                all.extend(e.ancestors.iter().cloned());
            }
        }
        all.retain(|a| a != &self.uid);
        sort_keys(&mut all);
        self.ancestors = all;
    }
}

fn sort_keys(v: &mut Vec<EntityUid>) {
    v.sort_by(|a, b| a.key().cmp(&b.key()).then_with(|| a.cmp(b)));
    v.dedup();
}

/// A set of entities with precomputed ancestors (the transitive closure of
/// the parent relation). Cycles are rejected, as Cedar does.
#[derive(Clone, Debug, Default)]
pub struct Entities {
    map: KeyMap<EntityUid, Entity>,
}

impl Entities {
    /// An empty store.
    pub fn new() -> Self {
        Entities::default()
    }

    /// A store from entities: rejects duplicate uids and parent cycles, and
    /// computes every entity's ancestors. Parents absent from the store are
    /// allowed (they are ancestors without attributes or parents).
    pub fn from_entities(entities: Vec<Entity>) -> Result<Self, PolicyError> {
        let mut index: KeyMap<EntityUid, usize> = KeyMap::default();
        for (i, e) in entities.iter().enumerate() {
            if index.insert(e.uid.clone(), i).is_some() {
                return Err(PolicyError::Entities {
                    pointer: format!("/{i}/uid"),
                    message: format!("duplicate entity `{}`", e.uid),
                });
            }
        }
        let n = entities.len();
        let parent_idx: Vec<Vec<usize>> = entities
            .iter()
            .map(|e| {
                e.parents
                    .iter()
                    .filter_map(|p| index.get(p).copied())
                    .collect()
            })
            .collect();
        // Iterative DFS post-order with cycle detection.
        let mut state = vec![0u8; n];
        let mut order = Vec::with_capacity(n);
        for root in 0..n {
            if state.get(root).copied() != Some(0) {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
            if let Some(s) = state.get_mut(root) {
                *s = 1;
            }
            while let Some(top) = stack.last_mut() {
                let (node, next) = *top;
                let ps = parent_idx.get(node).map_or(&[][..], Vec::as_slice);
                if let Some(&p) = ps.get(next) {
                    top.1 += 1;
                    match state.get(p).copied() {
                        Some(0) => {
                            if let Some(s) = state.get_mut(p) {
                                *s = 1;
                            }
                            stack.push((p, 0));
                        }
                        Some(1) => {
                            let uid = entities
                                .get(p)
                                .map(|e| e.uid.to_string())
                                .unwrap_or_default();
                            return Err(PolicyError::Entities {
                                pointer: format!("/{p}/parents"),
                                message: format!("the parent relation has a cycle through `{uid}`"),
                            });
                        }
                        _ => {}
                    }
                } else {
                    if let Some(s) = state.get_mut(node) {
                        *s = 2;
                    }
                    order.push(node);
                    stack.pop();
                }
            }
        }
        let mut ancestors: Vec<Vec<EntityUid>> = vec![Vec::new(); n];
        for &i in &order {
            let mut all: Vec<EntityUid> = entities
                .get(i)
                .map(|e| e.parents.clone())
                .unwrap_or_default();
            for &p in parent_idx.get(i).map_or(&[][..], Vec::as_slice) {
                if let Some(a) = ancestors.get(p) {
                    all.extend(a.iter().cloned());
                }
            }
            sort_keys(&mut all);
            if let Some(slot) = ancestors.get_mut(i) {
                *slot = all;
            }
        }
        let mut map = KeyMap::default();
        map.reserve(n);
        for (mut e, anc) in entities.into_iter().zip(ancestors) {
            e.ancestors = anc;
            map.insert(e.uid.clone(), e);
        }
        Ok(Entities { map })
    }

    /// Parses Cedar's entity JSON: an array of
    /// `{"uid": {"type": "User", "id": "alice"}, "attrs": {…}, "parents": […]}`.
    /// Attribute values use Cedar's escapes `{"__entity": {…}}` and
    /// `{"__extn": {"fn": "ip", "arg": "10.0.0.1"}}`; `tags` is accepted and
    /// ignored.
    pub fn from_json_str(json: &str) -> Result<Self, PolicyError> {
        if json.len() > MAX_ENTITIES_JSON_LEN {
            return Err(PolicyError::Entities {
                pointer: String::new(),
                message: format!(
                    "document is {} bytes, more than the limit of {MAX_ENTITIES_JSON_LEN}",
                    json.len()
                ),
            });
        }
        // Fast path: stream straight into entities; anything it does not
        // take is re-read below for a located error (or the same result).
        if let Some(list) = super::entity_json::stream_entities(json) {
            return Self::from_entities(list);
        }
        let v: Json = serde_json::from_str(json).map_err(|e| PolicyError::Entities {
            pointer: String::new(),
            message: format!("invalid JSON at {}:{}: {}", e.line(), e.column(), e),
        })?;
        Self::from_json_value(&v)
    }

    /// The entities of several documents (each an array, as
    /// [`Entities::from_json_str`] takes) as one store, or `None` when one of
    /// them is not plain enough for the streaming reader: the caller then
    /// reads them through [`Entities::from_json_value`] for a located error
    /// (or the same result).
    pub(crate) fn stream_documents(docs: &[&str]) -> Option<Result<Self, PolicyError>> {
        let mut all = Vec::new();
        for doc in docs {
            all.extend(super::entity_json::stream_entities(doc)?);
        }
        Some(Self::from_entities(all))
    }

    /// Like [`Entities::from_json_str`], from a parsed JSON value.
    pub fn from_json_value(json: &Json) -> Result<Self, PolicyError> {
        let Json::Array(items) = json else {
            return Err(ent_err("", "expected an array of entities"));
        };
        let mut out = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            out.push(entity_from_json(item, &Ptr::Index(&Ptr::Root(""), i))?);
        }
        Self::from_entities(out)
    }

    /// The entity with this uid.
    pub fn get(&self, uid: &EntityUid) -> Option<&Entity> {
        self.map.get(uid)
    }

    /// Number of entities.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// All entities, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &Entity> {
        self.map.values()
    }
}

/// A JSON pointer built lazily: rendered only when an error is reported.
#[derive(Clone, Copy)]
pub(crate) enum Ptr<'a> {
    /// The document root, with a prefix (e.g. `/context`).
    Root(&'a str),
    /// A member of an object.
    Key(&'a Ptr<'a>, &'a str),
    /// An element of an array.
    Index(&'a Ptr<'a>, usize),
}

impl Ptr<'_> {
    pub(crate) fn render(&self) -> String {
        match self {
            Ptr::Root(p) => (*p).to_string(),
            Ptr::Key(parent, k) => format!(
                "{}/{}",
                parent.render(),
                k.replace('~', "~0").replace('/', "~1")
            ),
            Ptr::Index(parent, i) => format!("{}/{i}", parent.render()),
        }
    }
}

fn ent_err(pointer: &str, message: impl Into<String>) -> PolicyError {
    PolicyError::Entities {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

fn entity_from_json(v: &Json, ptr: &Ptr<'_>) -> Result<Entity, PolicyError> {
    let Json::Object(obj) = v else {
        return Err(ent_err(&ptr.render(), "expected an entity object"));
    };
    for k in obj.keys() {
        if !matches!(k.as_str(), "uid" | "attrs" | "parents" | "tags") {
            return Err(ent_err(&ptr.render(), format!("unknown field `{k}`")));
        }
    }
    let uid = uid_from_json(
        obj.get("uid")
            .ok_or_else(|| ent_err(&ptr.render(), "missing `uid`"))?,
        &Ptr::Key(ptr, "uid"),
    )?;
    let attrs_ptr = Ptr::Key(ptr, "attrs");
    let attrs = match obj.get("attrs") {
        None => Record::default(),
        Some(Json::Object(m)) => record_from_json(m, &attrs_ptr, 1, ent_err_s)?,
        Some(_) => return Err(ent_err(&attrs_ptr.render(), "expected an object")),
    };
    let parents_ptr = Ptr::Key(ptr, "parents");
    let parents = match obj.get("parents") {
        None => Vec::new(),
        Some(Json::Array(ps)) => ps
            .iter()
            .enumerate()
            .map(|(i, p)| uid_from_json(p, &Ptr::Index(&parents_ptr, i)))
            .collect::<Result<Vec<_>, _>>()?,
        Some(_) => return Err(ent_err(&parents_ptr.render(), "expected an array")),
    };
    Ok(Entity::new(uid, attrs, parents))
}

fn ent_err_s(pointer: &str, message: String) -> PolicyError {
    ent_err(pointer, message)
}

/// An entity uid from `{"type": T, "id": I}` or `{"__entity": {…}}`.
pub(crate) fn uid_from_json(v: &Json, ptr: &Ptr<'_>) -> Result<EntityUid, PolicyError> {
    let Json::Object(o) = v else {
        return Err(ent_err(
            &ptr.render(),
            "expected an entity reference `{\"type\": …, \"id\": …}`",
        ));
    };
    if let Some(inner) = o.get("__entity") {
        if o.len() != 1 {
            return Err(ent_err(&ptr.render(), "`__entity` must be the only field"));
        }
        return uid_from_json(inner, &Ptr::Key(ptr, "__entity"));
    }
    if o.len() != 2 {
        return Err(ent_err(
            &ptr.render(),
            "an entity reference has exactly the fields `type` and `id`",
        ));
    }
    let ty = o.get("type").and_then(Json::as_str);
    let id = o.get("id").and_then(Json::as_str);
    match (ty, id) {
        (Some(t), Some(i)) => {
            if !valid_type_name(t) {
                return Err(ent_err(
                    &Ptr::Key(ptr, "type").render(),
                    format!("invalid entity type name `{t}`"),
                ));
            }
            Ok(EntityUid::from_parts(t, i))
        }
        _ => Err(ent_err(&ptr.render(), "`type` and `id` must be strings")),
    }
}

/// Whether `t` is `Ident(::Ident)*`.
pub(crate) fn valid_type_name(t: &str) -> bool {
    !t.is_empty()
        && t.split("::").all(|part| {
            let mut cs = part.chars();
            cs.next()
                .is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
                && cs.all(|c| c == '_' || c.is_ascii_alphanumeric())
        })
}

type ErrFn = fn(&str, String) -> PolicyError;

fn record_from_json(
    m: &serde_json::Map<String, Json>,
    ptr: &Ptr<'_>,
    depth: usize,
    err: ErrFn,
) -> Result<Record, PolicyError> {
    let mut attrs = Vec::with_capacity(m.len());
    for (k, v) in m {
        attrs.push((
            Arc::from(k.as_str()),
            value_from_json_at(v, &Ptr::Key(ptr, k), depth + 1, err)?,
        ));
    }
    Record::new(attrs).map_err(|k| err(&ptr.render(), format!("duplicate attribute `{k}`")))
}

/// Converts a JSON value to a [`Value`] (Cedar's JSON value format).
pub(crate) fn value_from_json_at(
    v: &Json,
    ptr: &Ptr<'_>,
    depth: usize,
    err: ErrFn,
) -> Result<Value, PolicyError> {
    if depth > MAX_VALUE_DEPTH {
        return Err(err(
            &ptr.render(),
            format!("value nested deeper than {MAX_VALUE_DEPTH} levels"),
        ));
    }
    Ok(match v {
        Json::Null => return Err(err(&ptr.render(), "`null` is not a Cedar value".into())),
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Value::Long(i),
            None => {
                return Err(err(
                    &ptr.render(),
                    format!("`{n}` is not a 64-bit integer (Long)"),
                ))
            }
        },
        Json::String(s) => Value::string(s),
        Json::Array(items) => {
            let mut vals = Vec::with_capacity(items.len());
            for (i, it) in items.iter().enumerate() {
                vals.push(value_from_json_at(it, &Ptr::Index(ptr, i), depth + 1, err)?);
            }
            Value::Set(Set::new(vals))
        }
        Json::Object(o) => {
            if let Some(inner) = o.get("__entity") {
                if o.len() != 1 {
                    return Err(err(
                        &ptr.render(),
                        "`__entity` must be the only field".into(),
                    ));
                }
                return uid_from_json(inner, &Ptr::Key(ptr, "__entity"))
                    .map(Value::Entity)
                    .map_err(|e| match e {
                        PolicyError::Entities { pointer, message } => err(&pointer, message),
                        other => other,
                    });
            }
            if let Some(inner) = o.get("__extn") {
                if o.len() != 1 {
                    return Err(err(&ptr.render(), "`__extn` must be the only field".into()));
                }
                return extn_from_json(inner, &Ptr::Key(ptr, "__extn"), err);
            }
            Value::Record(record_from_json(o, ptr, depth, err)?)
        }
    })
}

fn extn_from_json(v: &Json, ptr: &Ptr<'_>, err: ErrFn) -> Result<Value, PolicyError> {
    let ptr = &ptr.render();
    let f = v.get("fn").and_then(Json::as_str);
    let arg = v.get("arg").and_then(Json::as_str);
    match (f, arg) {
        (Some("ip" | "ipaddr"), Some(a)) => IpNet::parse(a)
            .map(Value::Ip)
            .ok_or_else(|| err(ptr, format!("`{a}` is not an IP address or range"))),
        (Some("decimal"), Some(a)) => Decimal::parse(a)
            .map(Value::Decimal)
            .ok_or_else(|| err(ptr, format!("`{a}` is not a decimal"))),
        (Some(other), Some(_)) => Err(err(
            ptr,
            format!("extension function `{other}` is not supported"),
        )),
        _ => Err(err(ptr, "expected `{\"fn\": …, \"arg\": …}`".into())),
    }
}

impl Value {
    /// Converts JSON in Cedar's value format: Long integers, strings, Bools,
    /// arrays as sets, objects as records, `{"__entity": {…}}` and
    /// `{"__extn": {"fn": "ip"|"decimal", "arg": …}}`. Without a schema a
    /// JSON string stays a String (Cedar does the same).
    pub fn from_json(json: &Json) -> Result<Value, PolicyError> {
        value_from_json_at(json, &Ptr::Root(""), 0, |p, m| PolicyError::Request {
            field: p.to_string(),
            message: m,
        })
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
    use super::*;
    use serde_json::json;

    fn uid(t: &str, i: &str) -> EntityUid {
        EntityUid::from_parts(t, i)
    }

    #[test]
    fn ancestors_are_transitive() {
        let e = Entities::from_json_value(&json!([
            {"uid": {"type": "User", "id": "a"}, "attrs": {"n": 1, "o": {"__entity": {"type": "User", "id": "b"}}}, "parents": [{"type": "Group", "id": "g"}]},
            {"uid": {"type": "Group", "id": "g"}, "attrs": {}, "parents": [{"__entity": {"type": "Role", "id": "r"}}]},
            {"uid": {"type": "Role", "id": "r"}, "attrs": {"ip": {"__extn": {"fn": "ip", "arg": "10.0.0.1"}}}, "parents": [{"type": "Top", "id": "t"}]}
        ]))
        .unwrap();
        let a = e.get(&uid("User", "a")).unwrap();
        assert!(a.is_descendant_of(&uid("Group", "g")));
        assert!(a.is_descendant_of(&uid("Role", "r")));
        assert!(a.is_descendant_of(&uid("Top", "t")));
        assert!(!a.is_descendant_of(&uid("User", "a")));
        assert_eq!(a.attrs().get("o"), Some(&Value::Entity(uid("User", "b"))));
        let r = e.get(&uid("Role", "r")).unwrap();
        assert!(matches!(r.attrs().get("ip"), Some(Value::Ip(_))));
    }

    #[test]
    fn cycles_and_duplicates_rejected() {
        let err = Entities::from_json_value(&json!([
            {"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "b"}]},
            {"uid": {"type": "G", "id": "b"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]}
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
        let err = Entities::from_json_value(&json!([
            {"uid": {"type": "G", "id": "a"}, "attrs": {}, "parents": [{"type": "G", "id": "a"}]}
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("cycle"), "{err}");
        let err = Entities::from_json_value(&json!([
            {"uid": {"type": "G", "id": "a"}},
            {"uid": {"type": "G", "id": "a"}}
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("/1/uid"), "{err}");
    }

    #[test]
    fn bad_values_located() {
        let err = Entities::from_json_value(&json!([
            {"uid": {"type": "G", "id": "a"}, "attrs": {"x": [1, 1.5]}}
        ]))
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "invalid entities at `/0/attrs/x/1`: `1.5` is not a 64-bit integer (Long)"
        );
        assert!(Entities::from_json_str("{").is_err());
        let err =
            Entities::from_json_value(&json!([{"uid": {"type": "9x", "id": "a"}}])).unwrap_err();
        assert!(err.to_string().contains("`9x`"));
    }
}
