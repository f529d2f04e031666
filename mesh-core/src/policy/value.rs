//! Runtime values: Cedar's Bool, Long, String, entity references, sets,
//! records and the `ipaddr` / `decimal` extension types.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use super::ext::{Decimal, IpNet};

/// Hash of string parts, deterministic within a build (aHash with fixed keys).
///
/// Used only to speed up equality and index lookups: every hit is confirmed
/// by comparing the strings, so a collision costs time, never correctness.
pub(crate) fn fixed_hash(parts: &[&str]) -> u64 {
    use std::hash::BuildHasher;
    let mut h = FIXED_HASH.build_hasher();
    for p in parts {
        h.write(p.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// Fixed keys: the same name hashes alike in every store and every run
/// (the hashes are index keys, always confirmed by comparing the names).
const FIXED_HASH: ahash::RandomState = ahash::RandomState::with_seeds(
    0x243f_6a88_85a3_08d3,
    0x1319_8a2e_0370_7344,
    0xa409_3822_299f_31d0,
    0x082e_fa98_ec4e_6c89,
);

/// String equality tuned for the short names of entities and attributes:
/// same allocation first, then word compares (no libc call) for strings of
/// at most 16 bytes.
#[inline]
pub(crate) fn str_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if std::ptr::eq(a.as_ptr(), b.as_ptr()) {
        return true;
    }
    // Short strings (names, ids): compare the first and last words, which
    // overlap and so cover every byte, instead of byte by byte.
    if (8..=16).contains(&n) {
        return word8(a, 0) == word8(b, 0) && word8(a, n - 8) == word8(b, n - 8);
    }
    if (4..8).contains(&n) {
        return word4(a, 0) == word4(b, 0) && word4(a, n - 4) == word4(b, n - 4);
    }
    if n < 4 {
        return a.iter().zip(b).all(|(x, y)| x == y);
    }
    a == b
}

/// The 8 bytes of `s` at `at` as a word (0 if out of range).
#[inline(always)]
fn word8(s: &[u8], at: usize) -> u64 {
    s.get(at..at + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
        .map_or(0, u64::from_ne_bytes)
}

/// The 4 bytes of `s` at `at` as a word (0 if out of range).
#[inline(always)]
fn word4(s: &[u8], at: usize) -> u32 {
    s.get(at..at + 4)
        .and_then(|w| <[u8; 4]>::try_from(w).ok())
        .map_or(0, u32::from_ne_bytes)
}

/// An entity type name such as `User` or `Acme::Storage::Bucket`.
#[derive(Clone)]
pub struct EntityType {
    name: Arc<str>,
    hash: u64,
}

impl EntityType {
    /// An entity type from its (possibly namespaced) name; the name is not
    /// checked here (the parser and the JSON loader check it).
    pub fn new(name: &str) -> Self {
        EntityType {
            name: Arc::from(name),
            hash: fixed_hash(&["type", name]),
        }
    }

    /// The name, e.g. `Acme::User`.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    pub(crate) fn key(&self) -> u64 {
        self.hash
    }
}

impl PartialEq for EntityType {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && str_eq(&self.name, &other.name)
    }
}
impl Eq for EntityType {}
impl Hash for EntityType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
impl PartialOrd for EntityType {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for EntityType {
    fn cmp(&self, other: &Self) -> Ordering {
        self.name.cmp(&other.name)
    }
}
impl fmt::Debug for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}
impl fmt::Display for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

/// A reference to an entity: its type and id, e.g. `User::"alice"`.
///
/// Cheap to clone (shared strings) and to compare (a precomputed hash is
/// compared before the strings).
#[derive(Clone)]
pub struct EntityUid {
    ty: EntityType,
    id: Arc<str>,
    hash: u64,
}

impl EntityUid {
    /// An entity reference from a type and an id.
    pub fn new(ty: EntityType, id: &str) -> Self {
        let hash = fixed_hash(&["uid", ty.as_str(), id]);
        EntityUid {
            ty,
            id: Arc::from(id),
            hash,
        }
    }

    /// An entity reference from a type name and an id (names unchecked).
    pub fn from_parts(ty: &str, id: &str) -> Self {
        EntityUid::new(EntityType::new(ty), id)
    }

    /// Parses Cedar's textual form `Type::"id"` (namespaces allowed).
    pub fn parse(text: &str) -> Result<Self, super::PolicyError> {
        super::parser::parse_entity_uid(text)
    }

    /// The entity type.
    pub fn entity_type(&self) -> &EntityType {
        &self.ty
    }

    /// The id within the type.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The precomputed hash used as index key.
    pub(crate) fn key(&self) -> u64 {
        self.hash
    }
}

impl PartialEq for EntityUid {
    fn eq(&self, other: &Self) -> bool {
        self.hash == other.hash && str_eq(&self.id, &other.id) && self.ty == other.ty
    }
}
impl Eq for EntityUid {}
impl Hash for EntityUid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}
impl PartialOrd for EntityUid {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for EntityUid {
    fn cmp(&self, other: &Self) -> Ordering {
        self.ty.cmp(&other.ty).then_with(|| self.id.cmp(&other.id))
    }
}
impl fmt::Display for EntityUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}::\"{}\"", self.ty, escape(&self.id))
    }
}
impl fmt::Debug for EntityUid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Escapes a string the way Cedar writes string literals (without quotes).
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

/// A set of values: unordered, without duplicates (kept sorted internally,
/// so equality is structural and membership a binary search).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Set(Arc<[Value]>);

impl Set {
    /// A set from any values (sorted and de-duplicated).
    pub fn new(mut values: Vec<Value>) -> Self {
        values.sort();
        values.dedup();
        Set(Arc::from(values))
    }

    /// The elements, in mesh's canonical order.
    pub fn iter(&self) -> std::slice::Iter<'_, Value> {
        self.0.iter()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `v` is an element.
    pub fn contains(&self, v: &Value) -> bool {
        self.0.binary_search(v).is_ok()
    }
}

impl fmt::Debug for Set {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.0.iter()).finish()
    }
}

/// A record: attribute names to values (kept sorted by name).
///
/// The empty record holds no allocation (`None`), so that making and
/// cloning one, as every request without a context does, touches no
/// reference count shared between threads (an empty `Arc<[T]>` shares one
/// process-wide count). A present `Arc` is never empty, so the derived
/// comparisons and hash agree with the attributes'.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Record(Option<Arc<[Attr]>>);

/// One attribute of a [`Record`]: its name and value.
type Attr = (Arc<str>, Value);

impl Record {
    /// A record of `attrs`, sorted by name and without repeats (the
    /// caller's promise).
    fn of_sorted(attrs: Vec<(Arc<str>, Value)>) -> Self {
        Record((!attrs.is_empty()).then(|| Arc::from(attrs)))
    }

    /// The attribute pairs, sorted by name.
    #[inline]
    fn attrs(&self) -> &[(Arc<str>, Value)] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// A record (e.g. a request context) from JSON text in Cedar's value
    /// format, parsed without building a JSON document first. `None` when
    /// this fast path does not take the text (invalid JSON, duplicate keys,
    /// a value that is not a record, unusual shapes): then
    /// [`Value::from_json`] on the parsed document gives the result or a
    /// located error. When it returns a record, it is the one
    /// [`Value::from_json`] would give.
    pub fn from_json_str_fast(json: &str) -> Option<Record> {
        super::entity_json::stream_record(json)
    }

    /// A record from attribute pairs; a repeated name is an error (returned
    /// as that name).
    pub fn new(mut attrs: Vec<(Arc<str>, Value)>) -> Result<Self, Arc<str>> {
        attrs.sort_by(|a, b| a.0.cmp(&b.0));
        for w in attrs.windows(2) {
            if let [a, b] = w {
                if a.0 == b.0 {
                    return Err(a.0.clone());
                }
            }
        }
        Ok(Record::of_sorted(attrs))
    }

    /// A record from attribute pairs expected sorted by name and without
    /// repeats: one check instead of a sort (otherwise as [`Record::new`]).
    pub(crate) fn from_sorted(attrs: Vec<(Arc<str>, Value)>) -> Self {
        if attrs.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)) {
            return Record::of_sorted(attrs);
        }
        Record::new(attrs).unwrap_or_default()
    }

    /// This record plus `extra` fields, given sorted by name and absent
    /// from this record (the caller checks). One pass, no sort.
    pub(crate) fn merged(&self, extra: impl Iterator<Item = (Arc<str>, Value)>) -> Self {
        let mut out: Vec<(Arc<str>, Value)> = Vec::with_capacity(self.attrs().len() + 2);
        let mut mine = self.attrs().iter().peekable();
        for (k, v) in extra {
            while let Some(f) = mine.next_if(|(n, _)| **n < *k) {
                out.push(f.clone());
            }
            out.push((k, v));
        }
        out.extend(mine.cloned());
        debug_assert!(out.windows(2).all(|w| matches!(w, [a, b] if a.0 < b.0)));
        Record::of_sorted(out)
    }

    /// The value of attribute `name`.
    #[inline]
    pub fn get(&self, name: &str) -> Option<&Value> {
        let attrs = self.attrs();
        if attrs.len() <= 8 {
            // Small records (the usual case): a linear scan that compares
            // lengths first beats a binary search of string comparisons.
            return attrs.iter().find(|(k, _)| str_eq(k, name)).map(|(_, v)| v);
        }
        attrs
            .binary_search_by(|(k, _)| (**k).cmp(name))
            .ok()
            .and_then(|i| attrs.get(i))
            .map(|(_, v)| v)
    }

    /// The attributes, sorted by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.attrs().iter().map(|(k, v)| (&**k, v))
    }

    /// Number of attributes.
    pub fn len(&self) -> usize {
        self.attrs().len()
    }

    /// Whether the record has no attributes.
    pub fn is_empty(&self) -> bool {
        self.0.is_none()
    }
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

/// A Cedar value.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// `true` / `false`.
    Bool(bool),
    /// A 64-bit signed integer.
    Long(i64),
    /// A string.
    String(Arc<str>),
    /// An entity reference.
    Entity(EntityUid),
    /// A set.
    Set(Set),
    /// A record.
    Record(Record),
    /// An `ipaddr` extension value (address or range).
    Ip(IpNet),
    /// A `decimal` extension value.
    Decimal(Decimal),
}

impl Value {
    /// A string value.
    pub fn string(s: &str) -> Self {
        Value::String(Arc::from(s))
    }

    /// The Cedar type name of this value, as used in error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Bool(_) => "Bool",
            Value::Long(_) => "Long",
            Value::String(_) => "String",
            Value::Entity(_) => "Entity",
            Value::Set(_) => "Set",
            Value::Record(_) => "Record",
            Value::Ip(_) => "ipaddr",
            Value::Decimal(_) => "decimal",
        }
    }
}

impl fmt::Debug for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Bool(b) => write!(f, "{b}"),
            Value::Long(n) => write!(f, "{n}"),
            Value::String(s) => write!(f, "\"{}\"", escape(s)),
            Value::Entity(e) => write!(f, "{e}"),
            Value::Set(s) => fmt::Debug::fmt(s, f),
            Value::Record(r) => fmt::Debug::fmt(r, f),
            Value::Ip(ip) => write!(f, "ip(\"{ip}\")"),
            Value::Decimal(d) => write!(f, "decimal(\"{d}\")"),
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Value::Long(n)
    }
}
impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::string(s)
    }
}
impl From<EntityUid> for Value {
    fn from(e: EntityUid) -> Self {
        Value::Entity(e)
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

    #[test]
    fn empty_records_hold_no_allocation_and_compare_as_empty() {
        use std::hash::{BuildHasher, RandomState};
        let built = [
            Record::default(),
            Record::new(Vec::new()).unwrap(),
            Record::from_sorted(Vec::new()),
            Record::default().merged(std::iter::empty()),
        ];
        let hasher = RandomState::new();
        for r in &built {
            assert!(r.0.is_none(), "an empty record allocates nothing");
            assert!(r.is_empty() && r.iter().next().is_none());
            assert_eq!(r.len(), 0);
            assert_eq!(r.get("a"), None);
            assert_eq!(r, &Record::default());
            assert_eq!(hasher.hash_one(r), hasher.hash_one(Record::default()));
        }
        let one = Record::new(vec![(Arc::from("a"), Value::Long(1))]).unwrap();
        assert!(one.0.is_some() && !one.is_empty());
        assert_eq!(one.get("a"), Some(&Value::Long(1)));
        assert!(Record::default() < one, "the empty record sorts first");
        let grown = Record::default().merged(std::iter::once((Arc::from("a"), Value::Long(1))));
        assert_eq!(grown, one);
    }

    #[test]
    fn sets_are_unordered_and_deduplicated() {
        let a = Set::new(vec![Value::Long(2), Value::Long(1), Value::Long(2)]);
        let b = Set::new(vec![Value::Long(1), Value::Long(2)]);
        assert_eq!(a, b);
        assert!(a.contains(&Value::Long(1)));
        assert!(!a.contains(&Value::string("1")));
    }

    #[test]
    fn records_reject_duplicate_names() {
        let r = Record::new(vec![
            ("a".into(), Value::Long(1)),
            ("a".into(), Value::Long(2)),
        ]);
        assert_eq!(r.unwrap_err().as_ref(), "a");
    }

    #[test]
    fn uid_display_escapes() {
        let u = EntityUid::from_parts("A::B", "x\"y");
        assert_eq!(u.to_string(), "A::B::\"x\\\"y\"");
    }
}
