//! Fast paths between Python objects and Rust values.
//!
//! - [`JsonBuilder`] turns `serde_json::Value`s and serializable values
//!   (OCSF events) into Python objects. OCSF events share a small
//!   vocabulary of field names and many short values (captions, names), so
//!   it draws on [`Caches`] kept for the life of the module: interned key
//!   strings (struct field names found by the address of their text, other
//!   keys by content), short value strings by content, ints of small
//!   magnitude by value, and template dicts: a dict is a copy of its
//!   template (no growing of the hash table), which also holds the first
//!   values seen for its keys that are immutable and shared (short
//!   strings, small ints, bools, `None`), so only the values that differ
//!   from those are set. A map's template is found by its key sequence; a
//!   struct's by its shape (the fields it had last time, see [`Shape`]),
//!   followed field by field, so its keys are neither looked up nor
//!   hashed, and a field whose text is the template's value is that value.
//! - [`ArgCache`] remembers what a `str` argument was converted to, by
//!   object identity: the same token or entity-reference object passed on
//!   every call (a variable, a literal) is not re-encoded or re-parsed.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};
use pyo3::BoundObject;
use serde_json::Value as Json;

/// Longest text kept in a [`TextCache`] slot (longer text is made afresh).
const CACHED_TEXT: usize = 64;
/// Longest string value cached (keys, such as the dotted paths of
/// `unmapped`, may be up to [`CACHED_TEXT`] bytes).
const CACHED_VALUE: usize = 32;
/// Slots of a [`TextCache`] (a power of two).
const TEXT_SLOTS: usize = 1024;
/// Slots of the table of static keys (a power of two).
const STATIC_SLOTS: usize = 1024;
/// Slots of the table of template dicts (a power of two).
const TEMPLATE_SLOTS: usize = 256;
/// Slots of the table of struct shapes (a power of two).
const SHAPE_SLOTS: usize = 512;
/// Slots of the table of ints (a power of two).
const INT_SLOTS: usize = 256;
/// Ints cached are within `-INT_CACHED..INT_CACHED`: identifiers, enum
/// values, ports and counts, not timestamps (each new, they would only
/// evict each other).
const INT_CACHED: i64 = 1 << 31;

/// Multiplier of the word hash (the 64-bit golden ratio).
const MIX: u64 = 0x9E37_79B9_7F4A_7C15;

fn mix(h: u64, w: u64) -> u64 {
    (h.rotate_left(5) ^ w).wrapping_mul(MIX)
}

/// Texts of at most this many bytes are equal when their lengths and
/// [`ends`] are.
const BY_ENDS: usize = 16;

/// The two words a short text is compared and hashed by: its bytes when
/// it has fewer than 8, else its first and last 8 bytes (which cover all of
/// them up to [`BY_ENDS`] bytes).
fn ends(b: &[u8]) -> [u64; 2] {
    let n = b.len();
    if n < 8 {
        return [b.iter().fold(0u64, |w, &x| (w << 8) | u64::from(x)), 0];
    }
    [word(b, 0), word(b, n - 8)]
}

/// The 8 bytes of `b` at `at` (0 past its end).
fn word(b: &[u8], at: usize) -> u64 {
    b.get(at..at.saturating_add(8))
        .and_then(|s| s.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// A fast, non-cryptographic hash of a short text: its length, its
/// [`ends`] and, past [`BY_ENDS`] bytes, a word from its middle (the caches
/// are bounded and compare the whole text: a collision only costs a miss).
fn hash_text(b: &[u8], ends: [u64; 2]) -> u64 {
    let n = b.len();
    let h = mix(mix(n as u64, ends[0]), ends[1]);
    if n <= BY_ENDS {
        return h;
    }
    mix(h, word(b, n / 2 - 4))
}

/// Slots a cached value may occupy, from the one its hash names: a
/// value evicts another only when all of them are taken, so the few keys
/// and captions of an event do not keep evicting each other.
const WAYS: usize = 4;

/// The slots of hash `h` in a table of `slots` (a power of two) slots.
fn slots_of(h: u64, slots: usize) -> impl Iterator<Item = usize> {
    let first = (h >> 32) as usize;
    (0..WAYS).map(move |k| first.wrapping_add(k) & (slots - 1))
}

/// Where to put a new entry among the slots of `h`: the first free one,
/// else one chosen by other bits of the hash.
fn victim<T>(table: &[Option<T>], h: u64) -> usize {
    let slots = table.len().max(1);
    slots_of(h, slots)
        .find(|&i| matches!(table.get(i), Some(None)))
        .unwrap_or(((h >> 32) as usize).wrapping_add((h >> 8) as usize % WAYS) & (slots - 1))
}

/// A cached string: its text (at most [`CACHED_TEXT`] bytes) and object.
struct TextSlot {
    len: usize,
    ends: [u64; 2],
    text: [u8; CACHED_TEXT],
    obj: Py<PyString>,
}

/// Python strings of short texts seen before, direct-mapped by a hash of
/// their content; a colliding text replaces the slot's entry.
struct TextCache {
    slots: Vec<Option<TextSlot>>,
    /// Makes interned strings (dict keys) rather than plain ones.
    intern: bool,
    /// Longest text cached (at most [`CACHED_TEXT`]).
    max: usize,
}

impl TextCache {
    const fn new(intern: bool, max: usize) -> Self {
        TextCache {
            slots: Vec::new(),
            intern,
            max,
        }
    }

    fn make<'py>(&self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        if self.intern {
            PyString::intern(py, s)
        } else {
            PyString::new(py, s)
        }
    }

    fn get<'py>(&mut self, py: Python<'py>, s: &str) -> Bound<'py, PyString> {
        let b = s.as_bytes();
        if b.len() > self.max || b.len() > CACHED_TEXT || self.slots.is_empty() {
            return self.make(py, s);
        }
        let n = b.len();
        let ends = ends(b);
        let h = hash_text(b, ends);
        for i in slots_of(h, TEXT_SLOTS) {
            if let Some(Some(e)) = self.slots.get(i) {
                if e.len == n && e.ends == ends && (n <= BY_ENDS || e.text.get(..n) == Some(b)) {
                    return e.obj.bind(py).clone();
                }
            }
        }
        let i = victim(&self.slots, h);
        let obj = self.make(py, s);
        let mut text = [0u8; CACHED_TEXT];
        if let Some(d) = text.get_mut(..b.len()) {
            d.copy_from_slice(b);
        }
        if let Some(e) = self.slots.get_mut(i) {
            // The entry replaced is a string: freeing it runs no Python code.
            *e = Some(TextSlot {
                len: n,
                ends,
                text,
                obj: obj.clone().unbind(),
            });
        }
        obj
    }
}

/// A template dict: its keys and values (by object address, kept alive
/// by the dict) and the dict itself. Its values are those of the dict it
/// was made for where they are shared immutable objects (see
/// [`Entry::shared`]), `None` elsewhere; the template is never exposed,
/// so its values stay what `values` says.
struct Template {
    hash: u64,
    keys: Box<[usize]>,
    values: Box<[usize]>,
    dict: Py<PyDict>,
}

/// The fields a struct was serialized with (the fields of a struct vary
/// with the options present), and a template dict of them: a struct
/// serialized again with the same fields is a copy of the template, its
/// fields found by the address and length of their names and no key
/// looked up.
struct Shape {
    /// The struct's name (by address) and declared number of fields.
    name: usize,
    len: usize,
    /// The fields' names.
    fields: Box<[FieldId]>,
    /// The fields' keys (interned).
    keys: Box<[Py<PyString>]>,
    /// The template's value of each field (see [`Template`]).
    values: Box<[Py<PyAny>]>,
    /// The text of the template's value of each field that is a `str`.
    texts: Box<[Option<Box<str>>]>,
    dict: Py<PyDict>,
}

/// A struct field's name: the address and length of its text.
type FieldId = (usize, usize);

/// One entry of a dict being built.
struct Entry<'py> {
    /// The key; `None` for a struct's field while the struct follows a
    /// [`Shape`] (which has the key).
    key: Option<Bound<'py, PyString>>,
    /// A struct field's name (`(0, 0)` for a map's key).
    name: FieldId,
    value: Bound<'py, PyAny>,
    /// The value is an immutable object that is small or shared anyway (a
    /// cached string, an int, a float, a bool, `None`): a template may
    /// keep it.
    shared: bool,
}

impl<'py> Entry<'py> {
    fn key_ptr(&self) -> usize {
        self.key.as_ref().map_or(0, |k| k.as_ptr() as usize)
    }

    /// What a template built from this entry holds for it: the value when
    /// it is [`Entry::shared`], else `None` (set again in every copy).
    fn template_value(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        if self.shared {
            self.value.clone()
        } else {
            py.None().into_bound(py)
        }
    }

    fn key(&self) -> PyResult<&Bound<'py, PyString>> {
        self.key
            .as_ref()
            .ok_or_else(|| pyo3::exceptions::PyRuntimeError::new_err("dict entry without a key"))
    }
}

/// A Python object made by a builder, and whether it is an immutable
/// object a template may keep (see [`Entry::shared`]).
pub(crate) struct Made<'py> {
    obj: Bound<'py, PyAny>,
    shared: bool,
}

impl<'py> Made<'py> {
    fn shared(obj: Bound<'py, PyAny>) -> Self {
        Made { obj, shared: true }
    }

    fn owned(obj: Bound<'py, PyAny>) -> Self {
        Made { obj, shared: false }
    }
}

/// Interned keys, short strings and template dicts, kept for the life of
/// the module (bounded: a fixed number of slots each).
pub(crate) struct Caches {
    /// Struct field and variant names (`&'static str`), by the address
    /// and length of their text: no hashing of the text.
    statics: Vec<Option<(usize, usize, Py<PyString>)>>,
    /// Other dict keys, interned, by content.
    keys: TextCache,
    /// Short string values, by content.
    values: TextCache,
    /// Ints of small magnitude, by value.
    ints: Vec<Option<(i64, Py<PyAny>)>>,
    /// Template dicts by key sequence (for maps).
    templates: Vec<Option<Template>>,
    /// Struct shapes by struct name and declared number of fields.
    shapes: Vec<Option<Arc<Shape>>>,
}

impl Caches {
    const fn new() -> Self {
        Caches {
            statics: Vec::new(),
            keys: TextCache::new(true, CACHED_TEXT),
            values: TextCache::new(false, CACHED_VALUE),
            ints: Vec::new(),
            templates: Vec::new(),
            shapes: Vec::new(),
        }
    }

    fn prepare(&mut self) {
        if self.statics.is_empty() {
            self.statics = (0..STATIC_SLOTS).map(|_| None).collect();
            self.keys.slots = (0..TEXT_SLOTS).map(|_| None).collect();
            self.values.slots = (0..TEXT_SLOTS).map(|_| None).collect();
            self.ints = (0..INT_SLOTS).map(|_| None).collect();
            self.templates = (0..TEMPLATE_SLOTS).map(|_| None).collect();
            self.shapes = (0..SHAPE_SLOTS).map(|_| None).collect();
        }
    }

    /// The Python int of `v`: the cached object when `v` is small enough
    /// to be cached (one slot per value hash; a new value replaces the
    /// slot's int).
    fn int<'py>(&mut self, py: Python<'py>, v: i64) -> PyResult<Bound<'py, PyAny>> {
        if !(-INT_CACHED..INT_CACHED).contains(&v) || self.ints.is_empty() {
            return Ok(v.into_pyobject(py)?.into_any());
        }
        let i = ((v as u64).wrapping_mul(MIX) >> 56) as usize & (INT_SLOTS - 1);
        if let Some(Some((x, obj))) = self.ints.get(i) {
            if *x == v {
                return Ok(obj.bind(py).clone());
            }
        }
        let obj = v.into_pyobject(py)?.into_any();
        if let Some(e) = self.ints.get_mut(i) {
            // The entry replaced is an int: freeing it runs no Python code.
            *e = Some((v, obj.clone().unbind()));
        }
        Ok(obj)
    }

    fn static_key<'py>(&mut self, py: Python<'py>, k: &'static str) -> Bound<'py, PyString> {
        if self.statics.is_empty() {
            return PyString::intern(py, k);
        }
        let (addr, len) = (k.as_ptr() as usize, k.len());
        let h = mix(addr as u64, len as u64);
        for i in slots_of(h, STATIC_SLOTS) {
            if let Some(Some((a, l, s))) = self.statics.get(i) {
                if *a == addr && *l == len {
                    return s.bind(py).clone();
                }
            }
        }
        let i = victim(&self.statics, h);
        let s = PyString::intern(py, k);
        if let Some(e) = self.statics.get_mut(i) {
            *e = Some((addr, len, s.clone().unbind()));
        }
        s
    }
}

/// The caches shared by every call; a call that finds them in use (another
/// thread converting, or a re-entrant call from a finalizer) works with
/// caches of its own instead of waiting.
static SHARED: Mutex<Caches> = Mutex::new(Caches::new());

/// The caches a builder works with.
enum Held {
    Shared(MutexGuard<'static, Caches>),
    Own(Box<Caches>),
}

impl Held {
    fn get(&mut self) -> &mut Caches {
        match self {
            Held::Shared(g) => g,
            Held::Own(b) => b,
        }
    }
}

/// Converts JSON values and serializable values into Python objects,
/// drawing keys, short strings and large dicts from the module's caches.
pub(crate) struct JsonBuilder<'py> {
    py: Python<'py>,
    held: Held,
    /// Entries of the dicts being built (innermost last): each dict is
    /// made at its end, from its entries on top of this stack.
    entries: Vec<Entry<'py>>,
}

impl<'py> JsonBuilder<'py> {
    /// A builder using the module's caches; if they are in use, a builder
    /// without caches (nothing to allocate: every string is made afresh,
    /// every dict built by insertion).
    pub(crate) fn new(py: Python<'py>) -> Self {
        let mut held = match SHARED.try_lock() {
            Ok(g) => Held::Shared(g),
            Err(TryLockError::Poisoned(p)) => Held::Shared(p.into_inner()),
            Err(TryLockError::WouldBlock) => Held::Own(Box::new(Caches::new())),
        };
        if let Held::Shared(g) = &mut held {
            g.prepare();
        }
        JsonBuilder {
            py,
            held,
            entries: Vec::with_capacity(64),
        }
    }

    fn key(&mut self, k: &str) -> Bound<'py, PyString> {
        let py = self.py;
        self.held.get().keys.get(py, k)
    }

    fn text(&mut self, v: &str) -> Bound<'py, PyString> {
        let py = self.py;
        self.held.get().values.get(py, v)
    }

    fn static_key(&mut self, k: &'static str) -> Bound<'py, PyString> {
        let py = self.py;
        self.held.get().static_key(py, k)
    }

    /// The Python str of a value: shared (cached) when short.
    fn value_text(&mut self, v: &str) -> Made<'py> {
        let shared = v.len() <= CACHED_VALUE;
        Made {
            obj: self.text(v).into_any(),
            shared,
        }
    }

    fn int(&mut self, v: i64) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        self.held.get().int(py, v)
    }

    /// The dict of the entries above `start` on the stack (which it pops):
    /// a copy of the template of their key sequence, with the values that
    /// differ from the template's then set.
    fn dict_from(&mut self, start: usize) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let n = self.entries.len().saturating_sub(start);
        if n == 0 || self.held.get().templates.is_empty() {
            return self.dict_by_insertion(start);
        }
        let entries = self.entries.get(start..).unwrap_or_default();
        let hash = entries
            .iter()
            .fold(n as u64, |h, e| mix(h, e.key_ptr() as u64));
        let caches = self.held.get();
        let hit = slots_of(hash, TEMPLATE_SLOTS).find(|&i| match caches.templates.get(i) {
            Some(Some(t)) => {
                t.hash == hash
                    && t.keys.len() == n
                    && t.keys.iter().zip(entries).all(|(a, e)| *a == e.key_ptr())
            }
            _ => false,
        });
        let (d, slot) = match hit.and_then(|i| Some((i, caches.templates.get(i)?.as_ref()?))) {
            Some((i, t)) => (t.dict.bind(py).copy()?, i),
            None => {
                let t = PyDict::new(py);
                let mut values = Vec::with_capacity(n);
                for e in entries {
                    let v = e.template_value(py);
                    values.push(v.as_ptr() as usize);
                    t.set_item(e.key()?, v)?;
                }
                if t.len() != n {
                    // A key repeated (a map that serializes one twice):
                    // the template would not say which value it holds.
                    return self.dict_by_insertion(start);
                }
                let d = t.copy()?;
                let i = victim(&caches.templates, hash);
                if let Some(slot) = caches.templates.get_mut(i) {
                    // The entry replaced holds a dict of strings, numbers
                    // and `None`s: freeing it runs no Python code.
                    *slot = Some(Template {
                        hash,
                        keys: entries.iter().map(Entry::key_ptr).collect(),
                        values: values.into(),
                        dict: t.unbind(),
                    });
                }
                (d, i)
            }
        };
        let values = match self.held.get().templates.get(slot) {
            Some(Some(t)) => &t.values[..],
            _ => &[],
        };
        let entries = self.entries.get(start..).unwrap_or_default();
        for (i, e) in entries.iter().enumerate() {
            // Entries without a template value (none: the template was just
            // stored) are set.
            if values.get(i) != Some(&(e.value.as_ptr() as usize)) {
                d.set_item(e.key()?, &e.value)?;
            }
        }
        self.entries.truncate(start);
        Ok(d)
    }

    /// The dict of the entries above `start` (which it pops), made by
    /// inserting them into a new dict.
    fn dict_by_insertion(&mut self, start: usize) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(self.py);
        for e in self.entries.drain(start..) {
            d.set_item(e.key()?, &e.value)?;
        }
        Ok(d)
    }

    /// The shape learnt for struct `name` of `len` declared fields whose
    /// fields start with `prefix`, then `next` if given.
    fn find_shape(
        &mut self,
        name: usize,
        len: usize,
        prefix: &[FieldId],
        next: Option<FieldId>,
    ) -> Option<Arc<Shape>> {
        let caches = self.held.get();
        slots_of(mix(name as u64, len as u64), SHAPE_SLOTS).find_map(|i| {
            match caches.shapes.get(i) {
                Some(Some(s))
                    if s.name == name
                        && s.len == len
                        && (prefix.is_empty() || s.fields.starts_with(prefix))
                        && next.is_none_or(|x| s.fields.get(prefix.len()) == Some(&x)) =>
                {
                    Some(Arc::clone(s))
                }
                _ => None,
            }
        })
    }

    /// The dict of a struct's entries above `start` (which it pops), which
    /// have exactly the fields of `shape`: a copy of its template, with
    /// the values that differ then set.
    fn dict_from_shape(&mut self, start: usize, shape: &Shape) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let d = shape.dict.bind(py).copy()?;
        let entries = self.entries.get(start..).unwrap_or_default();
        let fields = shape.keys.iter().zip(shape.values.iter());
        for (e, (k, v)) in entries.iter().zip(fields) {
            if e.value.as_ptr() != v.as_ptr() {
                d.set_item(k.bind(py), &e.value)?;
            }
        }
        self.entries.truncate(start);
        Ok(d)
    }

    /// The dict of a struct's entries above `start` (which it pops, every
    /// one with its key), learning their shape for the next struct `name`
    /// of `len` declared fields.
    fn dict_learning_shape(
        &mut self,
        start: usize,
        name: usize,
        len: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        let py = self.py;
        let entries = self.entries.get(start..).unwrap_or_default();
        let n = entries.len();
        if n == 0 || self.held.get().shapes.is_empty() {
            return self.dict_from(start);
        }
        let t = PyDict::new(py);
        let (mut keys, mut values) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let mut texts = Vec::with_capacity(n);
        for e in entries {
            let v = e.template_value(py);
            let k = e.key()?;
            t.set_item(k, &v)?;
            keys.push(k.clone().unbind());
            texts.push(match v.cast::<PyString>() {
                Ok(s) => Some(s.to_cow()?.into()),
                Err(_) => None,
            });
            values.push(v.unbind());
        }
        if t.len() != n {
            // A field repeated: the template would not say which value
            // it holds.
            return self.dict_by_insertion(start);
        }
        let d = t.copy()?;
        let shape = Arc::new(Shape {
            name,
            len,
            fields: entries.iter().map(|e| e.name).collect(),
            keys: keys.into(),
            values: values.into(),
            texts: texts.into(),
            dict: t.unbind(),
        });
        let caches = self.held.get();
        let i = victim(&caches.shapes, mix(name as u64, len as u64));
        if let Some(slot) = caches.shapes.get_mut(i) {
            // The shape replaced holds strings, numbers and `None`s:
            // freeing it runs no Python code.
            *slot = Some(Arc::clone(&shape));
        }
        let entries = self.entries.get(start..).unwrap_or_default();
        for (e, v) in entries.iter().zip(shape.values.iter()) {
            if e.value.as_ptr() != v.as_ptr() {
                d.set_item(e.key()?, &e.value)?;
            }
        }
        self.entries.truncate(start);
        Ok(d)
    }

    /// The Python object of `v` (`dict`, `list`, `str`, `int`, `float`,
    /// `bool` or `None`).
    pub(crate) fn build(&mut self, v: &Json) -> PyResult<Bound<'py, PyAny>> {
        let start = self.entries.len();
        let r = self.build_in(v);
        // A failed conversion leaves no entries behind.
        self.entries.truncate(start);
        Ok(r?.obj)
    }

    fn build_in(&mut self, v: &Json) -> PyResult<Made<'py>> {
        let py = self.py;
        Ok(match v {
            Json::Null => Made::shared(py.None().into_bound(py)),
            Json::Bool(b) => Made::shared(PyBool::new(py, *b).to_owned().into_any()),
            Json::Number(n) => Made::shared(if let Some(i) = n.as_i64() {
                self.int(i)?
            } else if let Some(u) = n.as_u64() {
                u.into_pyobject(py)?.into_any()
            } else {
                n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
            }),
            Json::String(s) => self.value_text(s),
            Json::Array(a) => {
                let items = a
                    .iter()
                    .map(|x| Ok(self.build_in(x)?.obj))
                    .collect::<PyResult<Vec<_>>>()?;
                Made::owned(PyList::new(py, items)?.into_any())
            }
            Json::Object(m) => {
                let start = self.entries.len();
                for (k, x) in m {
                    let key = self.key(k);
                    let Made { obj, shared } = self.build_in(x)?;
                    self.entries.push(Entry {
                        key: Some(key),
                        name: (0, 0),
                        value: obj,
                        shared,
                    });
                }
                Made::owned(self.dict_from(start)?.into_any())
            }
        })
    }
}

/// Slots of each table of an [`ArgCache`] (direct-mapped by object address).
const SLOTS: usize = 64;

/// One cache entry: the argument object (kept alive) and its value.
type Slot<V> = Option<(Py<PyString>, V)>;

/// One direct-mapped table of an [`ArgCache`].
struct Table<V> {
    slots: Vec<Slot<V>>,
}

impl<V: Clone> Table<V> {
    fn new() -> Self {
        Table {
            slots: (0..SLOTS).map(|_| None).collect(),
        }
    }

    fn index(s: &Bound<'_, PyString>) -> usize {
        ((s.as_ptr() as usize) >> 4) % SLOTS
    }

    /// The value of exactly this object, if cached.
    fn get(&self, s: &Bound<'_, PyString>) -> Option<V> {
        match self.slots.get(Self::index(s)) {
            Some(Some((o, v))) if o.as_ptr() == s.as_ptr() => Some(v.clone()),
            _ => None,
        }
    }

    /// Caches `v` for `s`; returns the entry it replaces (to be dropped
    /// after the lock is released: dropping a reference may run Python code).
    fn put(&mut self, s: &Bound<'_, PyString>, v: V) -> Slot<V> {
        self.slots
            .get_mut(Self::index(s))
            .and_then(|e| e.replace((s.clone().unbind(), v)))
    }
}

/// The three tables of an [`ArgCache`], behind one lock.
struct Tables<A, B, C> {
    a: Table<A>,
    b: Table<B>,
    c: Table<C>,
}

/// Remembers, for recently seen `str` arguments, the values they converted
/// to: three kinds of argument (say token, action, resource), looked up
/// together under one lock. Entries hold a strong reference, so an address
/// seen again is the same (immutable) string; only exact `str` objects are
/// cached.
pub(crate) struct ArgCache<A, B, C> {
    tables: Mutex<Tables<A, B, C>>,
}

impl<A: Clone, B: Clone, C: Clone> ArgCache<A, B, C> {
    /// An empty cache.
    pub(crate) fn new() -> Self {
        ArgCache {
            tables: Mutex::new(Tables {
                a: Table::new(),
                b: Table::new(),
                c: Table::new(),
            }),
        }
    }

    /// The values of `(a, b, c)`: cached ones, else made from their text
    /// by `make_a`, `make_b`, `make_c` (and then cached when the argument
    /// is an exact `str`).
    pub(crate) fn get_or<E>(
        &self,
        (a, b, c): (
            &Bound<'_, PyString>,
            &Bound<'_, PyString>,
            &Bound<'_, PyString>,
        ),
        make_a: impl FnOnce(&str) -> Result<A, E>,
        make_b: impl FnOnce(&str) -> Result<B, E>,
        make_c: impl FnOnce(&str) -> Result<C, E>,
    ) -> Result<(A, B, C), E>
    where
        E: From<PyErr>,
    {
        let exact = |s: &Bound<'_, PyString>| s.is_exact_instance_of::<PyString>();
        let (ea, eb, ec) = (exact(a), exact(b), exact(c));
        let (ha, hb, hc) = {
            let t = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
            (
                ea.then(|| t.a.get(a)).flatten(),
                eb.then(|| t.b.get(b)).flatten(),
                ec.then(|| t.c.get(c)).flatten(),
            )
        };
        let (ha, hb, hc) = match (ha, hb, hc) {
            (Some(x), Some(y), Some(z)) => return Ok((x, y, z)),
            misses => misses,
        };
        let (va, na) = match ha {
            Some(v) => (v, false),
            None => (make_a(&a.to_cow()?)?, ea),
        };
        let (vb, nb) = match hb {
            Some(v) => (v, false),
            None => (make_b(&b.to_cow()?)?, eb),
        };
        let (vc, nc) = match hc {
            Some(v) => (v, false),
            None => (make_c(&c.to_cow()?)?, ec),
        };
        let old = {
            let mut t = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
            (
                na.then(|| t.a.put(a, va.clone())).flatten(),
                nb.then(|| t.b.put(b, vb.clone())).flatten(),
                nc.then(|| t.c.put(c, vc.clone())).flatten(),
            )
        };
        // Released after the lock: dropping a reference may run Python code.
        drop(old);
        Ok((va, vb, vc))
    }
}

/// Why a value could not be turned into Python objects.
#[derive(Debug)]
pub(crate) enum ToPyError {
    Py(PyErr),
    Custom(String),
}

impl std::fmt::Display for ToPyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToPyError::Py(e) => write!(f, "{e}"),
            ToPyError::Custom(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ToPyError {}

impl serde::ser::Error for ToPyError {
    fn custom<T: std::fmt::Display>(msg: T) -> Self {
        ToPyError::Custom(msg.to_string())
    }
}

impl From<PyErr> for ToPyError {
    fn from(e: PyErr) -> Self {
        ToPyError::Py(e)
    }
}

impl From<ToPyError> for PyErr {
    fn from(e: ToPyError) -> Self {
        match e {
            ToPyError::Py(e) => e,
            ToPyError::Custom(m) => pyo3::exceptions::PyValueError::new_err(m),
        }
    }
}

impl<'py> JsonBuilder<'py> {
    /// The Python objects of any serializable value, the same as
    /// `build(&serde_json::to_value(v)?)` without the intermediate tree.
    pub(crate) fn serialize<T: serde::Serialize + ?Sized>(
        &mut self,
        v: &T,
    ) -> PyResult<Bound<'py, PyAny>> {
        let start = self.entries.len();
        let r = v.serialize(ToPy {
            b: &mut *self,
            key: false,
            expect: None,
        });
        // A failed conversion leaves no entries behind.
        self.entries.truncate(start);
        Ok(r?.obj)
    }
}

/// A serde serializer producing Python objects with the JSON data model
/// of `serde_json::Value` (non-finite floats become `None`, enums are
/// externally tagged, bytes are lists of ints, map keys are strings).
struct ToPy<'a, 'py> {
    b: &'a mut JsonBuilder<'py>,
    /// Serializing a map key: strings are interned like struct field names.
    key: bool,
    /// A struct field's value in its shape's template, when a `str`: its
    /// text and object (a value of that text is that object, found
    /// without a cache lookup).
    expect: Option<(&'a str, &'a Py<PyAny>)>,
}

type Out<'py> = Result<Made<'py>, ToPyError>;

impl<'a, 'py> ToPy<'a, 'py> {
    /// A number (immutable: a template may keep it).
    fn obj<T>(&self, v: T) -> Out<'py>
    where
        T: IntoPyObject<'py>,
        PyErr: From<T::Error>,
    {
        Ok(Made::shared(
            v.into_pyobject(self.b.py)
                .map_err(PyErr::from)?
                .into_bound()
                .into_any(),
        ))
    }

    fn int(self, v: i64) -> Out<'py> {
        Ok(Made::shared(self.b.int(v)?))
    }

    fn tagged(self, variant: &'static str, v: Bound<'py, PyAny>) -> Out<'py> {
        let d = PyDict::new(self.b.py);
        d.set_item(self.b.static_key(variant), v)?;
        Ok(Made::owned(d.into_any()))
    }
}

/// Builds a list.
struct SeqOut<'a, 'py> {
    b: &'a mut JsonBuilder<'py>,
    items: Vec<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

/// Builds a dict from the entries it pushes on the builder's stack.
struct MapOut<'a, 'py> {
    b: &'a mut JsonBuilder<'py>,
    /// Where the dict's entries start on the stack.
    start: usize,
    key: Option<Bound<'py, PyString>>,
    variant: Option<&'static str>,
    /// A struct's name (by address) and declared number of fields.
    strukt: Option<(usize, usize)>,
    /// The shape the struct's fields have followed so far.
    shape: Option<Arc<Shape>>,
}

impl MapOut<'_, '_> {
    /// The struct's fields so far (`at` of them) stop following its shape
    /// (the next field is `next`, or there is none): they follow another
    /// shape learnt with the same fields so far and `next`, else they get
    /// their keys.
    fn leave_shape(&mut self, next: Option<FieldId>, at: usize) {
        let Some(cur) = self.shape.take() else {
            return;
        };
        let prefix = cur.fields.get(..at).unwrap_or_default();
        if let (Some(next), Some((name, len))) = (next, self.strukt) {
            if let Some(s) = self.b.find_shape(name, len, prefix, Some(next)) {
                self.shape = Some(s);
                return;
            }
        }
        let py = self.b.py;
        let entries = self.b.entries.get_mut(self.start..).unwrap_or_default();
        for (e, k) in entries.iter_mut().zip(cur.keys.iter()) {
            e.key = Some(k.bind(py).clone());
        }
    }
}

fn wrap<'py>(
    b: &mut JsonBuilder<'py>,
    variant: Option<&'static str>,
    v: Bound<'py, PyAny>,
) -> Out<'py> {
    match variant {
        Some(name) => ToPy {
            b,
            key: false,
            expect: None,
        }
        .tagged(name, v),
        None => Ok(Made::owned(v)),
    }
}

impl<'a, 'py> serde::ser::SerializeSeq for SeqOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        self.items.push(
            v.serialize(ToPy {
                b: self.b,
                key: false,
                expect: None,
            })?
            .obj,
        );
        Ok(())
    }
    fn end(self) -> Out<'py> {
        let list = PyList::new(self.b.py, self.items)?.into_any();
        wrap(self.b, self.variant, list)
    }
}

impl<'a, 'py> serde::ser::SerializeTuple for SeqOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeSeq::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeTupleStruct for SeqOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeSeq::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeTupleVariant for SeqOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeSeq::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeMap for MapOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_key<T: serde::Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ToPyError> {
        let k = k
            .serialize(ToPy {
                b: self.b,
                key: true,
                expect: None,
            })?
            .obj;
        // JSON object keys are strings: numbers and booleans are written
        // as their JSON text, as serde_json does.
        let k = match k.cast_into::<PyString>() {
            Ok(k) => k,
            Err(e) => {
                let k = e.into_inner();
                if k.is_instance_of::<PyBool>() {
                    PyString::new(self.b.py, if k.is_truthy()? { "true" } else { "false" })
                } else if k.is_instance_of::<pyo3::types::PyInt>() {
                    k.str()?
                } else {
                    return Err(ToPyError::Custom("key must be a string".into()));
                }
            }
        };
        self.key = Some(k);
        Ok(())
    }
    fn serialize_value<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| ToPyError::Custom("map value without a key".into()))?;
        let Made { obj, shared } = v.serialize(ToPy {
            b: self.b,
            key: false,
            expect: None,
        })?;
        self.b.entries.push(Entry {
            key: Some(k),
            name: (0, 0),
            value: obj,
            shared,
        });
        Ok(())
    }
    fn end(mut self) -> Out<'py> {
        let n = self.b.entries.len().saturating_sub(self.start);
        if let Some(shape) = self.shape.take() {
            if shape.fields.len() == n {
                let d = self.b.dict_from_shape(self.start, &shape)?;
                return wrap(self.b, self.variant, d.into_any());
            }
            self.shape = Some(shape);
            self.leave_shape(None, n);
        }
        let d = match self.strukt {
            Some((name, len)) => self.b.dict_learning_shape(self.start, name, len)?,
            None => self.b.dict_from(self.start)?,
        };
        wrap(self.b, self.variant, d.into_any())
    }
}

impl<'a, 'py> serde::ser::SerializeStruct for MapOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ToPyError> {
        let name = (key.as_ptr() as usize, key.len());
        let at = self.b.entries.len().saturating_sub(self.start);
        if let Some(shape) = &self.shape {
            if shape.fields.get(at) != Some(&name) {
                self.leave_shape(Some(name), at);
            }
        }
        // A field following the shape needs no key: the shape has it.
        let k = match self.shape {
            Some(_) => None,
            None => Some(self.b.static_key(key)),
        };
        let expect = match &self.shape {
            Some(shape) => shape.texts.get(at).and_then(|t| {
                let text = t.as_deref()?;
                Some((text, shape.values.get(at)?))
            }),
            None => None,
        };
        let Made { obj, shared } = v.serialize(ToPy {
            b: self.b,
            key: false,
            expect,
        })?;
        self.b.entries.push(Entry {
            key: k,
            name,
            value: obj,
            shared,
        });
        Ok(())
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeMap::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeStructVariant for MapOut<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ToPyError> {
        serde::ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeMap::end(self)
    }
}

impl<'a, 'py> serde::Serializer for ToPy<'a, 'py> {
    type Ok = Made<'py>;
    type Error = ToPyError;
    type SerializeSeq = SeqOut<'a, 'py>;
    type SerializeTuple = SeqOut<'a, 'py>;
    type SerializeTupleStruct = SeqOut<'a, 'py>;
    type SerializeTupleVariant = SeqOut<'a, 'py>;
    type SerializeMap = MapOut<'a, 'py>;
    type SerializeStruct = MapOut<'a, 'py>;
    type SerializeStructVariant = MapOut<'a, 'py>;

    fn serialize_bool(self, v: bool) -> Out<'py> {
        Ok(Made::shared(
            PyBool::new(self.b.py, v).to_owned().into_any(),
        ))
    }
    fn serialize_i8(self, v: i8) -> Out<'py> {
        self.int(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Out<'py> {
        self.int(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Out<'py> {
        self.int(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Out<'py> {
        self.int(v)
    }
    fn serialize_i128(self, v: i128) -> Out<'py> {
        self.obj(v)
    }
    fn serialize_u8(self, v: u8) -> Out<'py> {
        self.int(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Out<'py> {
        self.int(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Out<'py> {
        self.int(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Out<'py> {
        match i64::try_from(v) {
            Ok(v) => self.int(v),
            Err(_) => self.obj(v),
        }
    }
    fn serialize_u128(self, v: u128) -> Out<'py> {
        self.obj(v)
    }
    fn serialize_f32(self, v: f32) -> Out<'py> {
        self.serialize_f64(f64::from(v))
    }
    fn serialize_f64(self, v: f64) -> Out<'py> {
        if v.is_finite() {
            self.obj(v)
        } else {
            Ok(Made::shared(self.b.py.None().into_bound(self.b.py)))
        }
    }
    fn serialize_char(self, v: char) -> Out<'py> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Out<'py> {
        if self.key {
            return Ok(Made::shared(self.b.key(v).into_any()));
        }
        if let Some((text, obj)) = self.expect {
            if text == v {
                return Ok(Made::shared(obj.bind(self.b.py).clone()));
            }
        }
        Ok(self.b.value_text(v))
    }
    fn serialize_bytes(self, v: &[u8]) -> Out<'py> {
        let items = v
            .iter()
            .map(|x| Ok(self.obj(u64::from(*x))?.obj))
            .collect::<Result<Vec<_>, ToPyError>>()?;
        Ok(Made::owned(PyList::new(self.b.py, items)?.into_any()))
    }
    fn serialize_none(self) -> Out<'py> {
        Ok(Made::shared(self.b.py.None().into_bound(self.b.py)))
    }
    fn serialize_some<T: serde::Serialize + ?Sized>(self, v: &T) -> Out<'py> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Out<'py> {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _name: &'static str) -> Out<'py> {
        self.serialize_none()
    }
    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
    ) -> Out<'py> {
        Ok(Made::shared(self.b.static_key(variant).into_any()))
    }
    fn serialize_newtype_struct<T: serde::Serialize + ?Sized>(
        self,
        _name: &'static str,
        v: &T,
    ) -> Out<'py> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: serde::Serialize + ?Sized>(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        v: &T,
    ) -> Out<'py> {
        let inner = v.serialize(ToPy {
            b: &mut *self.b,
            key: false,
            expect: None,
        })?;
        self.tagged(variant, inner.obj)
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<SeqOut<'a, 'py>, ToPyError> {
        Ok(SeqOut {
            b: self.b,
            items: Vec::with_capacity(len.unwrap_or(0).min(4096)),
            variant: None,
        })
    }
    fn serialize_tuple(self, len: usize) -> Result<SeqOut<'a, 'py>, ToPyError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<SeqOut<'a, 'py>, ToPyError> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<SeqOut<'a, 'py>, ToPyError> {
        let mut s = self.serialize_seq(Some(len))?;
        s.variant = Some(variant);
        Ok(s)
    }
    fn serialize_map(self, _len: Option<usize>) -> Result<MapOut<'a, 'py>, ToPyError> {
        let start = self.b.entries.len();
        Ok(MapOut {
            b: self.b,
            start,
            key: None,
            variant: None,
            strukt: None,
            shape: None,
        })
    }
    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<MapOut<'a, 'py>, ToPyError> {
        let name = name.as_ptr() as usize;
        let shape = self.b.find_shape(name, len, &[], None);
        let mut m = self.serialize_map(Some(len))?;
        m.strukt = Some((name, len));
        m.shape = shape;
        Ok(m)
    }
    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _i: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<MapOut<'a, 'py>, ToPyError> {
        let mut m = self.serialize_map(Some(len))?;
        m.variant = Some(variant);
        Ok(m)
    }
}
