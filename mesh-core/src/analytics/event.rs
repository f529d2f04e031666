//! The correlator's own copy of an event: the [`Signal`] fields in one
//! value, with the actor's key and the event's texts held inline, so that
//! reading an event and holding it in the reorder buffer allocates nothing
//! for the common sizes.

use std::net::IpAddr;

use super::ocsf::{kept_str, parse_ip, Fields, Signal};
use super::state::CompactKey;
use super::AnalyticsError;
use crate::{ActorKey, Timestamp};

/// Bytes of text held inline; longer texts go to one heap buffer.
const INLINE_TEXT: usize = 64;

/// The texts of an event, in [`Texts`] order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Text {
    /// `metadata.uid`.
    Uid,
    /// `src_endpoint.location.country`, upper-cased.
    Country,
    /// `device.uid`, else `device.hostname`.
    Device,
    /// `session.uid`, else `actor.session.uid`.
    Session,
    /// `api.operation`.
    Operation,
    /// `metadata.event_code`.
    EventCode,
}

const TEXTS: usize = 6;

#[derive(Clone)]
enum Buf {
    Inline([u8; INLINE_TEXT]),
    Heap(Box<[u8]>),
}

/// An event's texts one after the other in one buffer; text `i` ends at
/// `ends[i]`, and is present when bit `i` of `present` is set.
#[derive(Clone)]
struct Texts {
    buf: Buf,
    ends: [u16; TEXTS],
    present: u8,
}

impl Texts {
    /// The texts, each at most 256 bytes (kept fields are bounded).
    fn new(parts: [Option<&str>; TEXTS], upper: Text) -> Texts {
        let total: usize = parts.iter().flatten().map(|s| s.len()).sum();
        let mut inline = [0u8; INLINE_TEXT];
        let mut heap = Vec::new();
        if total > INLINE_TEXT {
            heap.reserve_exact(total);
        }
        let mut ends = [0u16; TEXTS];
        let mut present = 0u8;
        let mut at = 0usize;
        for (i, (part, end)) in parts.iter().zip(ends.iter_mut()).enumerate() {
            if let Some(p) = part {
                present |= 1 << i;
                let bytes = p.as_bytes();
                if total > INLINE_TEXT {
                    heap.extend_from_slice(bytes);
                } else if let Some(dst) = inline.get_mut(at..at + bytes.len()) {
                    dst.copy_from_slice(bytes);
                }
                if i == upper as usize {
                    let dst = if total > INLINE_TEXT {
                        heap.get_mut(at..)
                    } else {
                        inline.get_mut(at..at + bytes.len())
                    };
                    dst.into_iter().for_each(<[u8]>::make_ascii_uppercase);
                }
                at += bytes.len();
            }
            // Every text is at most 256 bytes, so `at` ≤ 6 × 256.
            *end = u16::try_from(at).unwrap_or(u16::MAX);
        }
        let buf = if total > INLINE_TEXT {
            Buf::Heap(heap.into_boxed_slice())
        } else {
            Buf::Inline(inline)
        };
        Texts { buf, ends, present }
    }

    fn bytes(&self, t: Text) -> Option<&[u8]> {
        let i = t as usize;
        if self.present & (1 << i) == 0 {
            return None;
        }
        let start = i
            .checked_sub(1)
            .and_then(|j| self.ends.get(j))
            .map_or(0, |&e| usize::from(e));
        let end = usize::from(*self.ends.get(i)?);
        match &self.buf {
            Buf::Inline(b) => b.get(start..end),
            Buf::Heap(b) => b.get(start..end),
        }
    }

    /// Text `t`: the bytes of a `str` cut at character boundaries (upper-casing
    /// changes ASCII bytes only), so always valid.
    fn get(&self, t: Text) -> Option<&str> {
        self.bytes(t).and_then(|b| std::str::from_utf8(b).ok())
    }

    fn heap_bytes(&self) -> usize {
        match &self.buf {
            Buf::Inline(_) => 0,
            Buf::Heap(b) => b.len(),
        }
    }
}

/// What the built-in detections read from one event (the fields of a
/// [`Signal`]), owned compactly.
#[derive(Clone)]
pub(crate) struct Event {
    pub time: Timestamp,
    pub class_uid: u32,
    pub activity_id: u32,
    pub status_id: u32,
    pub push_factor: bool,
    pub asn: Option<u32>,
    pub src_ip: Option<IpAddr>,
    /// (latitude, longitude).
    pub geo: Option<(f64, f64)>,
    /// The canonical actor key's text.
    pub actor: Option<CompactKey>,
    texts: Texts,
}

impl Event {
    /// The event of these fields, by the same rules as
    /// [`Fields::into_signal`].
    pub fn from_fields(f: &Fields<'_>) -> Result<Event, AnalyticsError> {
        let time = f.time()?;
        let device =
            kept_str(f.device_uid.as_ref()).or_else(|| kept_str(f.device_hostname.as_ref()));
        let session =
            kept_str(f.session_uid.as_ref()).or_else(|| kept_str(f.actor_session_uid.as_ref()));
        let texts = Texts::new(
            [
                kept_str(f.uid.as_ref()),
                kept_str(f.country.as_ref()),
                device,
                session,
                kept_str(f.operation.as_ref()),
                kept_str(f.event_code.as_ref()),
            ],
            Text::Country,
        );
        Ok(Event {
            time,
            class_uid: f.class_uid.unwrap_or(0),
            activity_id: f.activity_id.unwrap_or(0),
            status_id: f.status_id.unwrap_or(0),
            push_factor: f.push_factor,
            asn: f.asn,
            src_ip: f.src_ip.as_deref().and_then(parse_ip),
            geo: f.geo(),
            actor: f.actor_text().map(|a| CompactKey::new(&a)),
            texts,
        })
    }

    /// The event of a signal.
    pub fn from_signal(s: &Signal) -> Event {
        let texts = Texts::new(
            [
                s.uid.as_deref(),
                s.country.as_deref(),
                s.device.as_deref(),
                s.session.as_deref(),
                s.operation.as_deref(),
                s.event_code.as_deref(),
            ],
            // Already upper-cased.
            Text::Country,
        );
        Event {
            time: s.time,
            class_uid: s.class_uid,
            activity_id: s.activity_id,
            status_id: s.status_id,
            push_factor: s.push_factor,
            asn: s.asn,
            src_ip: s.src_ip,
            geo: s.geo,
            actor: s.actor.as_ref().map(|a| CompactKey::new(a.as_str())),
            texts,
        }
    }

    /// Text `t`, when present.
    pub fn text(&self, t: Text) -> Option<&str> {
        self.texts.get(t)
    }

    /// The bytes of text `t`, when present.
    pub fn text_bytes(&self, t: Text) -> Option<&[u8]> {
        self.texts.bytes(t)
    }

    /// Text `t` as findings and state hold it.
    pub fn boxed(&self, t: Text) -> Option<Box<str>> {
        self.text(t).map(Box::from)
    }

    /// The event's uid as findings and state hold it.
    pub fn uid(&self) -> Option<Box<str>> {
        self.boxed(Text::Uid)
    }

    /// The actor's key as findings hold it.
    pub fn actor_key(&self) -> Option<ActorKey> {
        self.actor
            .as_ref()
            .and_then(CompactKey::as_str)
            .map(ActorKey::from_canonical)
    }

    /// The actor's key text.
    pub fn actor_str(&self) -> Option<&str> {
        self.actor.as_ref().and_then(CompactKey::as_str)
    }

    /// Whether this is a logon (Authentication, activity Logon).
    pub fn is_logon(&self) -> bool {
        self.class_uid == super::ocsf::class::AUTHENTICATION && self.activity_id == 1
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.texts.heap_bytes() + self.actor.as_ref().map_or(0, CompactKey::heap_bytes)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn same(e: &Event, s: &Signal) {
        assert_eq!(e.time, s.time);
        assert_eq!(
            (e.class_uid, e.activity_id, e.status_id, e.push_factor),
            (s.class_uid, s.activity_id, s.status_id, s.push_factor)
        );
        assert_eq!((e.asn, e.src_ip, e.geo), (s.asn, s.src_ip, s.geo));
        assert_eq!(e.actor_key(), s.actor);
        assert_eq!(e.uid(), s.uid);
        assert_eq!(e.boxed(Text::Country), s.country);
        assert_eq!(e.boxed(Text::Device), s.device);
        assert_eq!(e.boxed(Text::Session), s.session);
        assert_eq!(e.boxed(Text::Operation), s.operation);
        assert_eq!(e.boxed(Text::EventCode), s.event_code);
    }

    #[test]
    fn events_read_as_signals_do() {
        let long = "é".repeat(100);
        for v in [
            json!({"class_uid": 3002, "activity_id": 1, "status_id": 2, "time": 5,
                   "metadata": {"uid": "e1", "event_code": "4625"},
                   "user": {"email_addr": "Alice@Example.com"},
                   "src_endpoint": {"ip": "203.0.113.7", "location": {"coordinates": [2.35, 48.85], "country": "fr"},
                                    "autonomous_system": {"number": 64500}},
                   "auth_factors": [{"factor_type_id": 5}]}),
            json!({"class_uid": 6003, "activity_id": 2, "time": 7,
                   "actor": {"user": {"uid": "arn:aws:sts::1:assumed-role/R/bob@example.com"}, "session": {"uid": "s1"}},
                   "api": {"operation": "StopLogging"}, "device": {"hostname": long.clone()},
                   "metadata": {"uid": long.clone()}, "session": {"uid": ""}}),
            json!({"time": 1, "user": {"name": "  "}, "src_endpoint": {"location": {"country": "ßé"}}}),
        ] {
            let s = Signal::from_event(&v).unwrap();
            let f = Fields::from_value(&v);
            same(&Event::from_fields(&f).unwrap(), &s);
            same(&Event::from_signal(&s), &s);
        }
    }
}
