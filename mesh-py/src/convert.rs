//! Fast paths between Python objects and Rust values.
//!
//! - [`JsonBuilder`] turns `serde_json::Value`s into Python objects with
//!   interned keys: OCSF events share a small vocabulary of field names, so
//!   each key string is created once per batch and its hash is computed once.
//! - [`ArgCache`] remembers what a `str` argument was converted to, by
//!   object identity: the same token or entity-reference object passed on
//!   every call (a variable, a literal) is not re-encoded or re-parsed.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyList, PyString};
use pyo3::BoundObject;
use serde_json::Value as Json;

/// Keys longer than this are not interned (they are rarely repeated).
const MAX_INTERNED_KEY: usize = 64;
/// Most distinct keys interned by one builder.
const MAX_INTERNED: usize = 4096;

/// Slots of the table of static keys (a power of two).
const STATIC_SLOTS: usize = 1024;

/// Interned keys of `&'static str` field names (serde struct fields and
/// variant names), found by address: no hashing of the text. Open
/// addressing, filled at most half.
struct StaticKeys<'py> {
    slots: Vec<Option<(usize, usize, Bound<'py, PyString>)>>,
    used: usize,
}

impl<'py> StaticKeys<'py> {
    fn new() -> Self {
        StaticKeys {
            slots: (0..STATIC_SLOTS).map(|_| None).collect(),
            used: 0,
        }
    }

    fn get(&mut self, py: Python<'py>, k: &'static str) -> Bound<'py, PyString> {
        let (addr, len) = (k.as_ptr() as usize, k.len());
        let h = (addr as u64 ^ len as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut i = (h >> 54) as usize % STATIC_SLOTS;
        loop {
            match self.slots.get(i) {
                Some(Some((a, l, s))) if *a == addr && *l == len => return s.clone(),
                Some(Some(_)) => i = (i + 1) % STATIC_SLOTS,
                _ => break,
            }
        }
        let s = PyString::intern(py, k);
        if self.used < STATIC_SLOTS / 2 {
            if let Some(slot) = self.slots.get_mut(i) {
                *slot = Some((addr, len, s.clone()));
                self.used += 1;
            }
        }
        s
    }
}

/// Converts JSON values into Python objects, interning object keys.
pub(crate) struct JsonBuilder<'py> {
    py: Python<'py>,
    keys: HashMap<Box<str>, Bound<'py, PyString>>,
    statics: Option<StaticKeys<'py>>,
}

impl<'py> JsonBuilder<'py> {
    /// A builder with an empty key table.
    pub(crate) fn new(py: Python<'py>) -> Self {
        JsonBuilder {
            py,
            keys: HashMap::new(),
            statics: None,
        }
    }

    fn key(&mut self, k: &str) -> Bound<'py, PyString> {
        if k.len() > MAX_INTERNED_KEY {
            return PyString::new(self.py, k);
        }
        if let Some(s) = self.keys.get(k) {
            return s.clone();
        }
        let s = PyString::intern(self.py, k);
        if self.keys.len() < MAX_INTERNED {
            self.keys.insert(k.into(), s.clone());
        }
        s
    }

    fn static_key(&mut self, k: &'static str) -> Bound<'py, PyString> {
        let py = self.py;
        self.statics.get_or_insert_with(StaticKeys::new).get(py, k)
    }

    /// The Python object of `v` (`dict`, `list`, `str`, `int`, `float`,
    /// `bool` or `None`).
    pub(crate) fn build(&mut self, v: &Json) -> PyResult<Bound<'py, PyAny>> {
        let py = self.py;
        Ok(match v {
            Json::Null => py.None().into_bound(py),
            Json::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    i.into_pyobject(py)?.into_any()
                } else if let Some(u) = n.as_u64() {
                    u.into_pyobject(py)?.into_any()
                } else {
                    n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any()
                }
            }
            Json::String(s) => PyString::new(py, s).into_any(),
            Json::Array(a) => {
                let items = a
                    .iter()
                    .map(|x| self.build(x))
                    .collect::<PyResult<Vec<_>>>()?;
                PyList::new(py, items)?.into_any()
            }
            Json::Object(m) => {
                let d = PyDict::new(py);
                for (k, x) in m {
                    let key = self.key(k);
                    d.set_item(key, self.build(x)?)?;
                }
                d.into_any()
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
        Ok(v.serialize(ToPy {
            b: self,
            key: false,
        })?)
    }
}

/// A serde serializer producing Python objects with the JSON data model
/// of `serde_json::Value` (non-finite floats become `None`, enums are
/// externally tagged, bytes are lists of ints, map keys are strings).
struct ToPy<'a, 'py> {
    b: &'a mut JsonBuilder<'py>,
    /// Serializing a map key: strings are interned like struct field names.
    key: bool,
}

type Out<'py> = Result<Bound<'py, PyAny>, ToPyError>;

impl<'a, 'py> ToPy<'a, 'py> {
    fn obj<T>(&self, v: T) -> Out<'py>
    where
        T: IntoPyObject<'py>,
        PyErr: From<T::Error>,
    {
        Ok(v.into_pyobject(self.b.py)
            .map_err(PyErr::from)?
            .into_bound()
            .into_any())
    }

    fn tagged(self, variant: &'static str, v: Bound<'py, PyAny>) -> Out<'py> {
        let d = PyDict::new(self.b.py);
        d.set_item(self.b.static_key(variant), v)?;
        Ok(d.into_any())
    }
}

/// Builds a list.
struct SeqOut<'a, 'py> {
    b: &'a mut JsonBuilder<'py>,
    items: Vec<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

/// Builds a dict.
struct MapOut<'a, 'py> {
    b: &'a mut JsonBuilder<'py>,
    dict: Bound<'py, PyDict>,
    key: Option<Bound<'py, PyAny>>,
    variant: Option<&'static str>,
}

fn wrap<'py>(
    b: &mut JsonBuilder<'py>,
    variant: Option<&'static str>,
    v: Bound<'py, PyAny>,
) -> Out<'py> {
    match variant {
        Some(name) => ToPy { b, key: false }.tagged(name, v),
        None => Ok(v),
    }
}

impl<'a, 'py> serde::ser::SerializeSeq for SeqOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        self.items.push(v.serialize(ToPy {
            b: self.b,
            key: false,
        })?);
        Ok(())
    }
    fn end(self) -> Out<'py> {
        let list = PyList::new(self.b.py, self.items)?.into_any();
        wrap(self.b, self.variant, list)
    }
}

impl<'a, 'py> serde::ser::SerializeTuple for SeqOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    fn serialize_element<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeSeq::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeTupleStruct for SeqOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeSeq::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeTupleVariant for SeqOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        serde::ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeSeq::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeMap for MapOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    fn serialize_key<T: serde::Serialize + ?Sized>(&mut self, k: &T) -> Result<(), ToPyError> {
        let k = k.serialize(ToPy {
            b: self.b,
            key: true,
        })?;
        // JSON object keys are strings: numbers and booleans are written
        // as their JSON text, as serde_json does.
        let k = if k.is_instance_of::<PyString>() {
            k
        } else if k.is_instance_of::<PyBool>() {
            PyString::new(self.b.py, if k.is_truthy()? { "true" } else { "false" }).into_any()
        } else if k.is_instance_of::<pyo3::types::PyInt>() {
            k.str()?.into_any()
        } else {
            return Err(ToPyError::Custom("key must be a string".into()));
        };
        self.key = Some(k);
        Ok(())
    }
    fn serialize_value<T: serde::Serialize + ?Sized>(&mut self, v: &T) -> Result<(), ToPyError> {
        let k = self
            .key
            .take()
            .ok_or_else(|| ToPyError::Custom("map value without a key".into()))?;
        let v = v.serialize(ToPy {
            b: self.b,
            key: false,
        })?;
        self.dict.set_item(k, v)?;
        Ok(())
    }
    fn end(self) -> Out<'py> {
        wrap(self.b, self.variant, self.dict.into_any())
    }
}

impl<'a, 'py> serde::ser::SerializeStruct for MapOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    fn serialize_field<T: serde::Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), ToPyError> {
        let k = self.b.static_key(key);
        let v = v.serialize(ToPy {
            b: self.b,
            key: false,
        })?;
        self.dict.set_item(k, v)?;
        Ok(())
    }
    fn end(self) -> Out<'py> {
        serde::ser::SerializeMap::end(self)
    }
}

impl<'a, 'py> serde::ser::SerializeStructVariant for MapOut<'a, 'py> {
    type Ok = Bound<'py, PyAny>;
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
    type Ok = Bound<'py, PyAny>;
    type Error = ToPyError;
    type SerializeSeq = SeqOut<'a, 'py>;
    type SerializeTuple = SeqOut<'a, 'py>;
    type SerializeTupleStruct = SeqOut<'a, 'py>;
    type SerializeTupleVariant = SeqOut<'a, 'py>;
    type SerializeMap = MapOut<'a, 'py>;
    type SerializeStruct = MapOut<'a, 'py>;
    type SerializeStructVariant = MapOut<'a, 'py>;

    fn serialize_bool(self, v: bool) -> Out<'py> {
        Ok(PyBool::new(self.b.py, v).to_owned().into_any())
    }
    fn serialize_i8(self, v: i8) -> Out<'py> {
        self.obj(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Out<'py> {
        self.obj(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Out<'py> {
        self.obj(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Out<'py> {
        self.obj(v)
    }
    fn serialize_i128(self, v: i128) -> Out<'py> {
        self.obj(v)
    }
    fn serialize_u8(self, v: u8) -> Out<'py> {
        self.obj(u64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Out<'py> {
        self.obj(u64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Out<'py> {
        self.obj(u64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Out<'py> {
        self.obj(v)
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
            Ok(self.b.py.None().into_bound(self.b.py))
        }
    }
    fn serialize_char(self, v: char) -> Out<'py> {
        let mut buf = [0u8; 4];
        self.serialize_str(v.encode_utf8(&mut buf))
    }
    fn serialize_str(self, v: &str) -> Out<'py> {
        if self.key {
            return Ok(self.b.key(v).into_any());
        }
        Ok(PyString::new(self.b.py, v).into_any())
    }
    fn serialize_bytes(self, v: &[u8]) -> Out<'py> {
        let items = v
            .iter()
            .map(|x| self.obj(u64::from(*x)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(PyList::new(self.b.py, items)?.into_any())
    }
    fn serialize_none(self) -> Out<'py> {
        Ok(self.b.py.None().into_bound(self.b.py))
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
        Ok(self.b.static_key(variant).into_any())
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
        })?;
        self.tagged(variant, inner)
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
        let dict = PyDict::new(self.b.py);
        Ok(MapOut {
            b: self.b,
            dict,
            key: None,
            variant: None,
        })
    }
    fn serialize_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<MapOut<'a, 'py>, ToPyError> {
        self.serialize_map(Some(len))
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
