//! Events written as JSON straight into a byte buffer.
//!
//! The output is byte for byte what `serde_json::to_vec` gives (compact
//! form, the same string escapes, the same number forms); the writer is
//! faster because a string with nothing to escape, the usual case, is
//! copied whole after an 8-bytes-at-a-time scan instead of byte by byte.
//! Anything the writer does not handle itself (non-string map keys, enum
//! variants with data, 128-bit integers, byte strings, and floats, whose
//! digits `serde_json` writes) is written by `serde_json`, so the two never
//! differ.
//!
//! The one-pass sources also hand the writer the fields no mapping took,
//! which it writes as the event's `unmapped` object at that attribute's
//! place in the output, without building a map first.

use std::fmt;

use serde::ser::{self, Serialize};

use super::ocsf::Event;
use super::EventError;

/// The writer met something it leaves to `serde_json`.
#[derive(Debug)]
pub(crate) struct Unsupported;

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value left to serde_json")
    }
}

impl std::error::Error for Unsupported {}

impl ser::Error for Unsupported {
    fn custom<T: fmt::Display>(_msg: T) -> Self {
        Unsupported
    }
}

/// Writes the fields of `unmapped` into an object being written: each
/// entry `"key":value`, separated by commas; returns how many it wrote.
pub(crate) type Splice<'s> = &'s mut dyn FnMut(&mut Vec<u8>) -> usize;

impl Event {
    /// Appends the event as compact JSON to `out`: the same bytes as
    /// `serde_json::to_vec(&event)`, written faster. On error `out` is left
    /// as it was.
    pub fn write_json(&self, out: &mut Vec<u8>) -> Result<(), serde_json::Error> {
        write_json(self, out)
    }
}

/// The error of an event that cannot be written as JSON (not reached: an
/// event has only string keys).
pub(crate) fn unwritable(e: serde_json::Error) -> EventError {
    EventError::invalid("event", format!("cannot be written as JSON: {e}"))
}

/// Appends `value` as compact JSON (as `serde_json` writes it) to `out`;
/// on error `out` is left as it was.
pub(crate) fn write_json<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
) -> Result<(), serde_json::Error> {
    write_spliced(value, out, None)
}

/// [`write_json`] of an event whose `unmapped` object is written by
/// `splice` (the event's own `unmapped` must be unset): the object goes
/// before the first top-level attribute that sorts after `unmapped` (the
/// model's attributes are declared, and so written, in name order), and is
/// left out when `splice` writes no entry.
pub(crate) fn write_event_spliced(
    event: &Event,
    out: &mut Vec<u8>,
    splice: Splice<'_>,
) -> Result<(), serde_json::Error> {
    write_spliced(event, out, Some(splice))
}

fn write_spliced<T: Serialize + ?Sized>(
    value: &T,
    out: &mut Vec<u8>,
    splice: Option<Splice<'_>>,
) -> Result<(), serde_json::Error> {
    let start = out.len();
    let spliced = splice.is_some();
    if value
        .serialize(Writer {
            out: &mut *out,
            splice,
        })
        .is_ok()
    {
        return Ok(());
    }
    out.truncate(start);
    if spliced {
        // Only plain events are spliced, and the writer handles every
        // part of them: not reached.
        return Err(ser::Error::custom("event not written"));
    }
    let r = serde_json::to_writer(&mut *out, value);
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// Appends `s` as a JSON string, escaped as `serde_json` escapes it.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    if needs_escape(bytes) {
        write_escaped(out, bytes);
    } else {
        out.extend_from_slice(bytes);
    }
    out.push(b'"');
}

/// A JSON object written field by field into a buffer, for mappings that
/// write their event without building it: each key is given already
/// quoted, escaped and followed by its colon (`b"\"name\":"`, see
/// [`key!`](crate::events::write::key)), so a key costs one copy.
pub(crate) struct ObjectWriter<'o> {
    out: &'o mut Vec<u8>,
    first: bool,
}

/// A key for [`ObjectWriter`]: `key!("name")` is `b"\"name\":"`. Only
/// for names with nothing JSON escapes.
macro_rules! key {
    ($name:literal) => {
        concat!("\"", $name, "\":").as_bytes()
    };
}
pub(crate) use key;

impl<'o> ObjectWriter<'o> {
    /// Opens an object (`{`) at the end of `out`.
    pub(crate) fn open(out: &'o mut Vec<u8>) -> ObjectWriter<'o> {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    /// Writes a key (and the comma before it): the buffer is then ready
    /// for its value.
    pub(crate) fn key(&mut self, key: &[u8]) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        self.out.extend_from_slice(key);
        self.out
    }

    /// A string field.
    pub(crate) fn str(&mut self, key: &[u8], value: &str) {
        write_str(self.key(key), value);
    }

    /// A string field, if there is a value.
    pub(crate) fn opt_str(&mut self, key: &[u8], value: Option<&str>) {
        if let Some(v) = value {
            self.str(key, v);
        }
    }

    /// An integer field.
    pub(crate) fn int(&mut self, key: &[u8], value: i64) {
        write_i64(self.key(key), value);
    }

    /// A boolean field.
    pub(crate) fn bool(&mut self, key: &[u8], value: bool) {
        let v: &[u8] = if value { b"true" } else { b"false" };
        self.key(key).extend_from_slice(v);
    }

    /// A field whose value `write` writes, unless it writes nothing (then
    /// the key goes too); `None` from `write` is passed on.
    pub(crate) fn optional(
        &mut self,
        key: &[u8],
        write: impl FnOnce(&mut Vec<u8>) -> Option<bool>,
    ) -> Option<()> {
        let mark = self.out.len();
        let first = self.first;
        if !write(self.key(key))? {
            self.out.truncate(mark);
            self.first = first;
        }
        Some(())
    }

    /// Closes the object (`}`).
    pub(crate) fn close(self) {
        self.out.push(b'}');
    }
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// Of eight bytes (`None` for a slice of another length), a mask with the
/// high bit set in the first byte JSON escapes and possibly in later ones:
/// its lowest set bit (`trailing_zeros() / 8`) is the index of the first
/// such byte; 0 when there is none.
pub(crate) fn special_bytes(chunk: &[u8]) -> Option<u64> {
    let word = <[u8; 8]>::try_from(chunk).ok()?;
    let x = u64::from_le_bytes(word);
    Some(
        less_mask(x, 0x20)
            | less_mask(x ^ (ONES * u64::from(b'"')), 1)
            | less_mask(x ^ (ONES * u64::from(b'\\')), 1),
    )
}

/// Whether `bytes` holds `a` or `b` (both non-zero), eight bytes at a time.
pub(crate) fn contains_either(bytes: &[u8], a: u8, b: u8) -> bool {
    let (wa, wb) = (ONES * u64::from(a), ONES * u64::from(b));
    let hits = |x: u64| less_mask(x ^ wa, 1) | less_mask(x ^ wb, 1);
    let mut chunks = bytes.chunks_exact(8);
    let mut found = 0u64;
    for chunk in &mut chunks {
        if let Ok(word) = <[u8; 8]>::try_from(chunk) {
            found |= hits(u64::from_le_bytes(word));
        }
    }
    // The last bytes, padded with zeros (neither `a` nor `b`) to one word.
    let rest = chunks.remainder();
    let mut last = [0u8; 8];
    if let Some(head) = last.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    found |= hits(u64::from_le_bytes(last));
    found != 0
}

/// High bits of the bytes of `x` below `n` (`n` ≤ 128); exact up to the
/// first such byte, which the lowest set bit gives.
fn less_mask(x: u64, n: u8) -> u64 {
    x.wrapping_sub(ONES.wrapping_mul(u64::from(n))) & !x & HIGHS
}

fn escaped(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Whether a string holds a byte JSON escapes (`"`, `\`, a control
/// character), eight bytes at a time.
fn needs_escape(bytes: &[u8]) -> bool {
    let mut chunks = bytes.chunks_exact(8);
    let mut hits = 0u64;
    for chunk in &mut chunks {
        hits |= special_bytes(chunk).unwrap_or(0);
    }
    // The last bytes, padded with a plain byte to one word.
    let rest = chunks.remainder();
    let mut last = [b'a'; 8];
    if let Some(head) = last.get_mut(..rest.len()) {
        head.copy_from_slice(rest);
    }
    hits |= special_bytes(&last).unwrap_or(0);
    hits != 0
}

fn hex(n: u8) -> u8 {
    if n < 10 {
        b'0' + n
    } else {
        b'a' + n - 10
    }
}

fn write_escaped(out: &mut Vec<u8>, bytes: &[u8]) {
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !escaped(b) {
            continue;
        }
        out.extend_from_slice(bytes.get(start..i).unwrap_or_default());
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0C => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            _ => out.extend_from_slice(&[b'\\', b'u', b'0', b'0', hex(b >> 4), hex(b & 0xF)]),
        }
        start = i + 1;
    }
    out.extend_from_slice(bytes.get(start..).unwrap_or_default());
}

fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        if let Some(d) = buf.get_mut(i) {
            // `v % 10` is a digit.
            *d = b'0' + (v % 10) as u8;
        }
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(buf.get(i..).unwrap_or_default());
}

fn write_i64(out: &mut Vec<u8>, v: i64) {
    if v < 0 {
        out.push(b'-');
    }
    write_u64(out, v.unsigned_abs());
}

/// The serializer: compact JSON into `out`.
struct Writer<'a, 's> {
    out: &'a mut Vec<u8>,
    /// The `unmapped` writer of the top-level event.
    splice: Option<Splice<'s>>,
}

/// An object or array being written.
struct Compound<'a, 's> {
    out: &'a mut Vec<u8>,
    first: bool,
    close: u8,
    splice: Option<Splice<'s>>,
}

impl<'a, 's> Compound<'a, 's> {
    fn open(out: &'a mut Vec<u8>, open: u8, close: u8, splice: Option<Splice<'s>>) -> Self {
        out.push(open);
        Compound {
            out,
            first: true,
            close,
            splice,
        }
    }

    fn comma(&mut self) {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
    }

    fn value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        value.serialize(Writer {
            out: &mut *self.out,
            splice: None,
        })
    }

    /// Writes the spliced `unmapped` object, if any entry.
    fn splice(&mut self) {
        let Some(splice) = self.splice.take() else {
            return;
        };
        let mark = self.out.len();
        if !self.first {
            self.out.push(b',');
        }
        self.out.extend_from_slice(b"\"unmapped\":{");
        if splice(self.out) == 0 {
            self.out.truncate(mark);
        } else {
            self.out.push(b'}');
            self.first = false;
        }
    }

    fn field<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) -> Result<(), Unsupported> {
        if self.splice.is_some() && key > "unmapped" {
            self.splice();
        }
        self.comma();
        write_str(self.out, key);
        self.out.push(b':');
        self.value(value)
    }

    fn finish(mut self) {
        self.splice();
        self.out.push(self.close);
    }
}

impl<'a, 's> ser::Serializer for Writer<'a, 's> {
    type Ok = ();
    type Error = Unsupported;
    type SerializeSeq = Compound<'a, 's>;
    type SerializeTuple = Compound<'a, 's>;
    type SerializeTupleStruct = Compound<'a, 's>;
    type SerializeTupleVariant = ser::Impossible<(), Unsupported>;
    type SerializeMap = Compound<'a, 's>;
    type SerializeStruct = Compound<'a, 's>;
    type SerializeStructVariant = ser::Impossible<(), Unsupported>;

    fn serialize_bool(self, v: bool) -> Result<(), Unsupported> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Unsupported> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), Unsupported> {
        write_i64(self.out, v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), Unsupported> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Unsupported> {
        write_u64(self.out, v);
        Ok(())
    }

    fn serialize_f32(self, v: f32) -> Result<(), Unsupported> {
        serde_json::to_writer(self.out, &v).map_err(|_| Unsupported)
    }

    fn serialize_f64(self, v: f64) -> Result<(), Unsupported> {
        serde_json::to_writer(self.out, &v).map_err(|_| Unsupported)
    }

    fn serialize_char(self, v: char) -> Result<(), Unsupported> {
        write_str(self.out, v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }

    fn serialize_str(self, v: &str) -> Result<(), Unsupported> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_none(self) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Unsupported> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Unsupported> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Unsupported> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<(), Unsupported> {
        Err(Unsupported)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Compound<'a, 's>, Unsupported> {
        Ok(Compound::open(self.out, b'[', b']', None))
    }

    fn serialize_tuple(self, len: usize) -> Result<Compound<'a, 's>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _name: &'static str,
        len: usize,
    ) -> Result<Compound<'a, 's>, Unsupported> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeTupleVariant, Unsupported> {
        Err(Unsupported)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Compound<'a, 's>, Unsupported> {
        Ok(Compound::open(self.out, b'{', b'}', None))
    }

    fn serialize_struct(
        self,
        _name: &'static str,
        _len: usize,
    ) -> Result<Compound<'a, 's>, Unsupported> {
        Ok(Compound::open(self.out, b'{', b'}', self.splice))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<Self::SerializeStructVariant, Unsupported> {
        Err(Unsupported)
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.comma();
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Unsupported> {
        self.comma();
        let at = self.out.len();
        self.value(key)?;
        // Only string keys are written here (`serde_json` quotes numbers
        // and refuses other keys).
        if self.out.get(at) != Some(&b'"') {
            return Err(Unsupported);
        }
        self.out.push(b':');
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Unsupported> {
        self.value(value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish();
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Unsupported;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Unsupported> {
        self.field(key, value)
    }

    fn end(self) -> Result<(), Unsupported> {
        self.finish();
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn same(v: &Value) {
        let mut out = b"x".to_vec();
        write_json(v, &mut out).unwrap();
        let mut expected = b"x".to_vec();
        expected.extend(serde_json::to_vec(v).unwrap());
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&expected)
        );
    }

    #[test]
    fn writes_what_serde_json_writes() {
        same(&json!(null));
        same(
            &json!({"a": [1, -2, 3.5, 1e300, -0.0, u64::MAX, i64::MIN, true, false, null],
            "": {}, "e": [], "s": "plain text of more than eight bytes",
            "esc": "q\"b\\s/\u{0}\u{1f}\u{7f}\n\r\t\u{8}\u{c}é😀", "k\"ey": {"x": {"y": "z"}}}),
        );
        for i in 0u8..=0x7F {
            let c = char::from(i);
            same(&json!(format!("{c}")));
            same(&json!(format!("abcdefg{c}hijklmnop{c}")));
        }
    }

    #[test]
    fn finds_either_byte() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..=text.len() {
            let t = &text.as_bytes()[..n];
            assert!(!contains_either(t, b'.', b'\\'));
            for i in 0..n {
                for c in [b'.', b'\\'] {
                    let mut v = t.to_vec();
                    v[i] = c;
                    assert!(contains_either(&v, b'.', b'\\'), "{n} {i}");
                }
            }
        }
        assert!(!contains_either("é😀-/".as_bytes(), b'.', b'\\'));
    }

    #[test]
    fn other_keys_are_left_to_serde_json() {
        let mut m = std::collections::BTreeMap::new();
        m.insert(7u32, "seven");
        let mut out = Vec::new();
        write_json(&m, &mut out).unwrap();
        assert_eq!(out, serde_json::to_vec(&m).unwrap());
    }
}
