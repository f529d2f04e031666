//! Reading the [`Fields`] of an OCSF event straight from its JSON text (one
//! NDJSON line), without building a [`serde_json::Value`].
//!
//! One pass over the text with `serde_json`'s parser: the fields the
//! detections read are kept (strings borrowed from the text unless they have
//! escapes), every other value is parsed and dropped. The text is accepted
//! or rejected exactly as `serde_json::from_str::<Value>` would (same
//! syntax, escapes, number ranges and nesting limit), and a key given twice
//! keeps its last value, as in a parsed object.
//!
//! Plain lines (the common case) are first tried by the faster hand-written
//! reader in `ocsf_scan`, which reads the same fields by the same rules and
//! leaves anything it is unsure of to this one.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::ocsf::{Coord, Fields, Location, Text, TimeField, UserFields};
use super::AnalyticsError;

/// The fields of one event given as JSON text: by the fast reader for
/// plain lines (`ocsf_scan`), else by the exact one here.
pub(crate) fn fields(text: &str) -> Result<Fields<'_>, AnalyticsError> {
    let mut f = Fields::default();
    fields_into(text, &mut f)?;
    Ok(f)
}

/// [`fields`] read into `f` (given as `Fields::default()`), so that the
/// large value is not moved on the way.
pub(crate) fn fields_into<'a>(text: &'a str, f: &mut Fields<'a>) -> Result<(), AnalyticsError> {
    if !super::ocsf_scan::read_into(text, f) {
        *f = exact_fields(text)?;
    }
    Ok(())
}

/// The fields of one event given as JSON text, by `serde_json`'s parser.
pub(crate) fn exact_fields(text: &str) -> Result<Fields<'_>, AnalyticsError> {
    let invalid = |e: serde_json::Error| AnalyticsError::InvalidEvent {
        pointer: String::new(),
        reason: format!("invalid JSON: {e}"),
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let Obj(fields) = Obj::<Fields<'_>>::deserialize(&mut de).map_err(invalid)?;
    de.end().map_err(invalid)?;
    Ok(fields)
}

/// Accepts every scalar visit with the visitor's "not what we want" value.
macro_rules! other_scalars {
    ($other:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($other)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($other)
        }
    };
}

/// Any JSON value, parsed and dropped.
struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Skip, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    other_scalars!(Skip);
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Skip, A::Error> {
        drain_seq(seq).map(|()| Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while map.next_entry::<Skip, Skip>()?.is_some() {}
        Ok(Skip)
    }
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<Skip>()?.is_some() {}
    Ok(())
}

/// An object key, borrowed unless it had escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Key<'de>, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

/// A leaf value: a string or a number, or anything else (dropped).
enum Scalar<'de> {
    Str(Text<'de>),
    U64(u64),
    I64(i64),
    F64(f64),
    Other,
}

impl<'de> Scalar<'de> {
    /// As `Value::as_u64`.
    fn as_u64(&self) -> Option<u64> {
        match *self {
            Scalar::U64(n) => Some(n),
            Scalar::I64(n) => u64::try_from(n).ok(),
            _ => None,
        }
    }

    fn as_u32(&self) -> Option<u32> {
        self.as_u64().and_then(|n| u32::try_from(n).ok())
    }

    /// As `Value::as_i64`.
    fn as_i64(&self) -> Option<i64> {
        match *self {
            Scalar::U64(n) => i64::try_from(n).ok(),
            Scalar::I64(n) => Some(n),
            _ => None,
        }
    }

    /// As `Value::as_f64`.
    fn as_f64(&self) -> Option<f64> {
        match *self {
            Scalar::U64(n) => Some(n as f64),
            Scalar::I64(n) => Some(n as f64),
            Scalar::F64(x) => Some(x),
            _ => None,
        }
    }

    fn into_str(self) -> Option<Text<'de>> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    fn coord(&self) -> Coord {
        self.as_f64().map_or(Coord::Other, Coord::Num)
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar<'de>, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }
    fn visit_i64<E>(self, n: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::I64(n))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::U64(n))
    }
    fn visit_f64<E>(self, x: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::F64(x))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(s)))
    }
    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Other)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
        drain_seq(seq).map(|()| Scalar::Other)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
        SkipVisitor.visit_map(map).map(|_| Scalar::Other)
    }
}

fn scalar<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Scalar<'de>, A::Error> {
    map.next_value::<Scalar<'de>>()
}

fn string<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Text<'de>>, A::Error> {
    scalar(map).map(Scalar::into_str)
}

/// The fields of one kind of JSON object that are kept.
trait Object<'de>: Default {
    /// Called when the value is an object (before its first entry).
    fn on_object(&mut self) {}
    /// Reads the value of `key` from `map` (or skips it).
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error>;
}

/// A JSON value read as object `T`: `T::default()` when it is not an object.
struct Obj<T>(T);

impl<'de, T: Object<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Obj<T>, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Object<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    other_scalars!(Obj(T::default()));
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
        drain_seq(seq).map(|()| Obj(T::default()))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Obj<T>, A::Error> {
        let mut t = T::default();
        t.on_object();
        while let Some(Key(k)) = map.next_key::<Key<'de>>()? {
            t.field(&k, &mut map)?;
        }
        Ok(Obj(t))
    }
}

impl<'de> Object<'de> for Fields<'de> {
    fn on_object(&mut self) {
        self.is_object = true;
    }
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "time" => {
                self.time = scalar(map)?
                    .as_i64()
                    .map_or(TimeField::Invalid, TimeField::Millis)
            }
            "class_uid" => self.class_uid = scalar(map)?.as_u32(),
            "activity_id" => self.activity_id = scalar(map)?.as_u32(),
            "status_id" => self.status_id = scalar(map)?.as_u32(),
            "metadata" => {
                let Obj(m) = map.next_value::<Obj<Metadata<'de>>>()?;
                (self.uid, self.event_code) = (m.uid, m.event_code);
            }
            "user" => self.user = Some(map.next_value::<Obj<UserFields<'de>>>()?.0),
            "actor" => {
                let Obj(a) = map.next_value::<Obj<Actor<'de>>>()?;
                (self.actor_user, self.actor_session_uid) = (a.user, a.session_uid);
            }
            "src_endpoint" => {
                let Obj(s) = map.next_value::<Obj<SrcEndpoint<'de>>>()?;
                (self.src_ip, self.asn) = (s.ip, s.asn);
                let l = s.location;
                (self.lat, self.long, self.coordinates) = (l.lat, l.long, l.coordinates);
                self.country = l.country;
            }
            "device" => {
                let Obj(d) = map.next_value::<Obj<Device<'de>>>()?;
                (self.device_uid, self.device_hostname) = (d.uid, d.hostname);
            }
            "session" => self.session_uid = map.next_value::<Obj<Uid<'de>>>()?.0 .0,
            "api" => self.operation = map.next_value::<Obj<Api<'de>>>()?.0 .0,
            "auth_factors" => self.push_factor = map.next_value::<AuthFactors>()?.0,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Metadata<'a> {
    uid: Option<Text<'a>>,
    event_code: Option<Text<'a>>,
}

impl<'de> Object<'de> for Metadata<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "uid" => self.uid = string(map)?,
            "event_code" => self.event_code = string(map)?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

impl<'de> Object<'de> for UserFields<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "email_addr" => self.email_addr = string(map)?,
            "uid" => self.uid = string(map)?,
            "name" => self.name = string(map)?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct Actor<'a> {
    user: Option<UserFields<'a>>,
    session_uid: Option<Text<'a>>,
}

impl<'de> Object<'de> for Actor<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "user" => self.user = Some(map.next_value::<Obj<UserFields<'de>>>()?.0),
            "session" => self.session_uid = map.next_value::<Obj<Uid<'de>>>()?.0 .0,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// An object's `uid` string.
#[derive(Default)]
struct Uid<'a>(Option<Text<'a>>);

impl<'de> Object<'de> for Uid<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == "uid" {
            self.0 = string(map)?;
        } else {
            map.next_value::<Skip>()?;
        }
        Ok(())
    }
}

/// An `api` object's `operation` string.
#[derive(Default)]
struct Api<'a>(Option<Text<'a>>);

impl<'de> Object<'de> for Api<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == "operation" {
            self.0 = string(map)?;
        } else {
            map.next_value::<Skip>()?;
        }
        Ok(())
    }
}

#[derive(Default)]
struct Device<'a> {
    uid: Option<Text<'a>>,
    hostname: Option<Text<'a>>,
}

impl<'de> Object<'de> for Device<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "uid" => self.uid = string(map)?,
            "hostname" => self.hostname = string(map)?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

#[derive(Default)]
struct SrcEndpoint<'a> {
    ip: Option<Text<'a>>,
    asn: Option<u32>,
    location: Location<'a>,
}

impl<'de> Object<'de> for SrcEndpoint<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "ip" => self.ip = string(map)?,
            "autonomous_system" => self.asn = map.next_value::<Obj<AsNumber>>()?.0 .0,
            "location" => self.location = map.next_value::<Obj<Location<'de>>>()?.0,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// An `autonomous_system` object's `number`.
#[derive(Default)]
struct AsNumber(Option<u32>);

impl<'de> Object<'de> for AsNumber {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        if key == "number" {
            self.0 = scalar(map)?.as_u32();
        } else {
            map.next_value::<Skip>()?;
        }
        Ok(())
    }
}

impl<'de> Object<'de> for Location<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "lat" => self.lat = scalar(map)?.coord(),
            "long" => self.long = scalar(map)?.coord(),
            "coordinates" => self.coordinates = map.next_value::<Pair>()?.0,
            "country" => self.country = string(map)?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}

/// An array of exactly two numbers.
struct Pair(Option<(f64, f64)>);

impl<'de> Deserialize<'de> for Pair {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pair, D::Error> {
        d.deserialize_any(PairVisitor)
    }
}

struct PairVisitor;

impl<'de> Visitor<'de> for PairVisitor {
    type Value = Pair;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    other_scalars!(Pair(None));
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Pair, A::Error> {
        let mut got: [Option<f64>; 2] = [None; 2];
        let mut n = 0usize;
        while let Some(x) = seq.next_element::<Scalar<'de>>()? {
            if let Some(slot) = got.get_mut(n) {
                *slot = x.as_f64();
            }
            n = n.saturating_add(1);
        }
        Ok(Pair(match (n, got) {
            (2, [Some(a), Some(b)]) => Some((a, b)),
            _ => None,
        }))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Pair, A::Error> {
        SkipVisitor.visit_map(map).map(|_| Pair(None))
    }
}

/// Whether an `auth_factors` array has a push notification among its first
/// entries.
struct AuthFactors(bool);

impl<'de> Deserialize<'de> for AuthFactors {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<AuthFactors, D::Error> {
        d.deserialize_any(AuthFactorsVisitor)
    }
}

struct AuthFactorsVisitor;

impl<'de> Visitor<'de> for AuthFactorsVisitor {
    type Value = AuthFactors;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    other_scalars!(AuthFactors(false));
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<AuthFactors, A::Error> {
        let mut push = false;
        let mut n = 0usize;
        while let Some(Obj(f)) = seq.next_element::<Obj<Factor<'de>>>()? {
            push |= n < super::ocsf::MAX_FACTORS && f.is_push();
            n = n.saturating_add(1);
        }
        Ok(AuthFactors(push))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<AuthFactors, A::Error> {
        SkipVisitor.visit_map(map).map(|_| AuthFactors(false))
    }
}

#[derive(Default)]
struct Factor<'a> {
    type_id: Option<u64>,
    type_name: Option<Text<'a>>,
}

impl Factor<'_> {
    fn is_push(&self) -> bool {
        self.type_id == Some(super::ocsf::FACTOR_PUSH)
            || self.type_name.as_deref() == Some(super::ocsf::PUSH_FACTOR_NAME)
    }
}

impl<'de> Object<'de> for Factor<'de> {
    fn field<A: MapAccess<'de>>(&mut self, key: &str, map: &mut A) -> Result<(), A::Error> {
        match key {
            "factor_type_id" => self.type_id = scalar(map)?.as_u64(),
            "factor_type" => self.type_name = string(map)?,
            _ => {
                map.next_value::<Skip>()?;
            }
        }
        Ok(())
    }
}
