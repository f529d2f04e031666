//! Reading OCSF 1.8.0 events (as JSON) into the compact [`Signal`] that the
//! built-in detections work on.

use serde_json::Value;
use std::borrow::Cow;
use std::net::{IpAddr, Ipv4Addr};

use super::AnalyticsError;
use crate::identity::canonical_text;
use crate::{ActorKey, Timestamp};

/// OCSF class ids the analytics layer reads.
pub(crate) mod class {
    pub const FILE_ACTIVITY: u32 = 1001;
    pub const EVENT_LOG_ACTIVITY: u32 = 1008;
    pub const ACCOUNT_CHANGE: u32 = 3001;
    pub const AUTHENTICATION: u32 = 3002;
    pub const AUTHORIZE_SESSION: u32 = 3003;
    pub const USER_ACCESS: u32 = 3005;
    pub const GROUP_MANAGEMENT: u32 = 3006;
    pub const API_ACTIVITY: u32 = 6003;
    pub const DATASTORE_ACTIVITY: u32 = 6005;
}

/// OCSF `status_id` values.
pub(crate) const STATUS_SUCCESS: u32 = 1;
pub(crate) const STATUS_FAILURE: u32 = 2;
/// OCSF `auth_factor.factor_type_id` of a push notification.
pub(crate) const FACTOR_PUSH: u64 = 5;
/// Longest string kept from an event field (device, session, operation…).
const MAX_FIELD_LEN: usize = 256;

/// What the built-in detections need from one OCSF event, read once.
#[derive(Debug, Clone, PartialEq)]
pub struct Signal {
    /// Event time (`time`, ms since the epoch).
    pub time: Timestamp,
    /// `class_uid`.
    pub class_uid: u32,
    /// `activity_id` (0 when absent).
    pub activity_id: u32,
    /// `status_id` (0 when absent).
    pub status_id: u32,
    /// `metadata.uid`, the event's own id.
    pub uid: Option<Box<str>>,
    /// The event's subject (see the module's actor lookup order).
    pub actor: Option<ActorKey>,
    /// `src_endpoint.ip`.
    pub src_ip: Option<IpAddr>,
    /// `src_endpoint.location` coordinates as (latitude, longitude) degrees.
    pub geo: Option<(f64, f64)>,
    /// `src_endpoint.location.country`, upper-cased.
    pub country: Option<Box<str>>,
    /// `src_endpoint.autonomous_system.number`.
    pub asn: Option<u32>,
    /// `device.uid`, else `device.hostname`.
    pub device: Option<Box<str>>,
    /// `session.uid`, else `actor.session.uid`.
    pub session: Option<Box<str>>,
    /// `api.operation`.
    pub operation: Option<Box<str>>,
    /// `metadata.event_code`.
    pub event_code: Option<Box<str>>,
    /// Whether an `auth_factors` entry is a push notification.
    pub push_factor: bool,
}

/// A field of a JSON object by dotted path (`src_endpoint.ip`).
pub(crate) fn path<'a>(v: &'a Value, dotted: &str) -> Option<&'a Value> {
    let mut cur = v;
    for seg in dotted.split('.') {
        cur = cur.as_object()?.get(seg)?;
    }
    Some(cur)
}

/// Whether a string field is kept: non-empty and at most [`MAX_FIELD_LEN`].
pub(crate) fn bounded(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_FIELD_LEN
}

fn is_identity_class(class_uid: u32) -> bool {
    matches!(
        class_uid,
        class::AUTHENTICATION
            | class::ACCOUNT_CHANGE
            | class::USER_ACCESS
            | class::GROUP_MANAGEMENT
    )
}

/// Text read from an event: borrowed from a [`Value`] or from the JSON text
/// (owned only when the text had escapes).
pub(crate) type Text<'a> = Cow<'a, str>;

/// The time field as found.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) enum TimeField {
    /// No `time`.
    #[default]
    Missing,
    /// An integer that fits an `i64`.
    Millis(i64),
    /// Anything else.
    Invalid,
}

/// The identifiers of an OCSF `user` object, in actor lookup order.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct UserFields<'a> {
    pub email_addr: Option<Text<'a>>,
    pub uid: Option<Text<'a>>,
    pub name: Option<Text<'a>>,
}

impl UserFields<'_> {
    /// The first identifier that canonicalizes to a key.
    /// The canonical text of the user's actor key (e-mail, else uid, else
    /// name: the first that is a valid identifier), borrowed when already
    /// canonical.
    fn key_text(&self) -> Option<Cow<'_, str>> {
        [&self.email_addr, &self.uid, &self.name]
            .into_iter()
            .flatten()
            .find_map(|s| canonical_text(s).ok())
    }
}

/// A number or something else, with `present` telling absent from `null`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) enum Coord {
    /// The field is absent.
    #[default]
    Absent,
    /// A number.
    Num(f64),
    /// Present, not a number.
    Other,
}

/// Every field of an OCSF event that [`Signal`] reads, found in one pass
/// over the event (a [`Value`] or its JSON text) before any rule is applied,
/// so both inputs share the rules in [`Fields::into_signal`].
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fields<'a> {
    /// Whether the event is a JSON object at all.
    pub is_object: bool,
    pub time: TimeField,
    pub class_uid: Option<u32>,
    pub activity_id: Option<u32>,
    pub status_id: Option<u32>,
    pub uid: Option<Text<'a>>,
    pub event_code: Option<Text<'a>>,
    /// `user`, when present (an object or not).
    pub user: Option<UserFields<'a>>,
    /// `actor.user`, when present.
    pub actor_user: Option<UserFields<'a>>,
    pub actor_session_uid: Option<Text<'a>>,
    pub src_ip: Option<Text<'a>>,
    pub lat: Coord,
    pub long: Coord,
    /// `src_endpoint.location.coordinates` when an array of exactly two
    /// numbers, `[longitude, latitude]`.
    pub coordinates: Option<(f64, f64)>,
    pub country: Option<Text<'a>>,
    pub asn: Option<u32>,
    pub device_uid: Option<Text<'a>>,
    pub device_hostname: Option<Text<'a>>,
    pub session_uid: Option<Text<'a>>,
    pub operation: Option<Text<'a>>,
    pub push_factor: bool,
}

/// An IP address as `IpAddr::from_str` reads it; dotted-quad IPv4 (the
/// common case) is read here in one pass, anything else by the standard
/// parser.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    ipv4(s.as_bytes())
        .map(|a| IpAddr::V4(Ipv4Addr::from(a)))
        .or_else(|| s.parse().ok())
}

/// Four decimal octets of one to three digits separated by dots, without
/// leading zeros, each at most 255 (the rules of `Ipv4Addr::from_str`), or
/// `None`.
fn ipv4(b: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut i = 0usize;
    for (k, octet) in out.iter_mut().enumerate() {
        if k > 0 {
            if b.get(i) != Some(&b'.') {
                return None;
            }
            i += 1;
        }
        let start = i;
        let mut n = 0u32;
        while let Some(&d @ b'0'..=b'9') = b.get(i) {
            if i - start == 3 {
                return None;
            }
            n = n * 10 + u32::from(d - b'0');
            i += 1;
        }
        let len = i - start;
        if len == 0 || (len > 1 && b.get(start) == Some(&b'0')) {
            return None;
        }
        *octet = u8::try_from(n).ok()?;
    }
    (i == b.len()).then_some(out)
}

/// A kept text field: present, non-empty and at most [`MAX_FIELD_LEN`].
pub(crate) fn kept_str<'t>(t: Option<&'t Text<'_>>) -> Option<&'t str> {
    t.map(|s| &**s).filter(|s| bounded(s))
}

fn kept(t: Option<&Text<'_>>) -> Option<Box<str>> {
    t.map(|s| &**s).filter(|s| bounded(s)).map(Box::from)
}

fn u32_of(v: &Value) -> Option<u32> {
    v.as_u64().and_then(|n| u32::try_from(n).ok())
}

fn str_of(v: &Value) -> Option<Text<'_>> {
    v.as_str().map(Cow::Borrowed)
}

fn coord_of(v: &Value) -> Coord {
    v.as_f64().map_or(Coord::Other, Coord::Num)
}

/// The entries of `v` when it is an object (none otherwise).
fn entries(v: &Value) -> impl Iterator<Item = (&str, &Value)> {
    v.as_object()
        .into_iter()
        .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
}

fn user_of(v: &Value) -> UserFields<'_> {
    let mut u = UserFields::default();
    for (k, v) in entries(v) {
        match k {
            "email_addr" => u.email_addr = str_of(v),
            "uid" => u.uid = str_of(v),
            "name" => u.name = str_of(v),
            _ => {}
        }
    }
    u
}

/// Whether an `auth_factors` entry is a push notification.
fn is_push(f: &Value) -> bool {
    f.get("factor_type_id").and_then(Value::as_u64) == Some(FACTOR_PUSH)
        || f.get("factor_type").and_then(Value::as_str) == Some(PUSH_FACTOR_NAME)
}

/// Name of the push factor type.
pub(crate) const PUSH_FACTOR_NAME: &str = "Push Notification";
/// Most `auth_factors` entries examined.
pub(crate) const MAX_FACTORS: usize = 16;

impl<'a> Fields<'a> {
    /// The fields of an event held as a [`Value`]: one pass over each object
    /// on the way, no lookup by key.
    pub(crate) fn from_value(event: &'a Value) -> Fields<'a> {
        let mut f = Fields {
            is_object: event.is_object(),
            ..Fields::default()
        };
        for (k, v) in entries(event) {
            match k {
                "time" => f.time = v.as_i64().map_or(TimeField::Invalid, TimeField::Millis),
                "class_uid" => f.class_uid = u32_of(v),
                "activity_id" => f.activity_id = u32_of(v),
                "status_id" => f.status_id = u32_of(v),
                "metadata" => {
                    (f.uid, f.event_code) = (None, None);
                    for (k, v) in entries(v) {
                        match k {
                            "uid" => f.uid = str_of(v),
                            "event_code" => f.event_code = str_of(v),
                            _ => {}
                        }
                    }
                }
                "user" => f.user = Some(user_of(v)),
                "actor" => {
                    (f.actor_user, f.actor_session_uid) = (None, None);
                    for (k, v) in entries(v) {
                        match k {
                            "user" => f.actor_user = Some(user_of(v)),
                            "session" => f.actor_session_uid = v.get("uid").and_then(str_of),
                            _ => {}
                        }
                    }
                }
                "src_endpoint" => f.src_endpoint_from_value(v),
                "device" => {
                    (f.device_uid, f.device_hostname) = (None, None);
                    for (k, v) in entries(v) {
                        match k {
                            "uid" => f.device_uid = str_of(v),
                            "hostname" => f.device_hostname = str_of(v),
                            _ => {}
                        }
                    }
                }
                "session" => f.session_uid = v.get("uid").and_then(str_of),
                "api" => f.operation = v.get("operation").and_then(str_of),
                "auth_factors" => {
                    f.push_factor = v
                        .as_array()
                        .is_some_and(|fs| fs.iter().take(MAX_FACTORS).any(is_push))
                }
                _ => {}
            }
        }
        f
    }

    fn src_endpoint_from_value(&mut self, src: &'a Value) {
        (self.src_ip, self.asn) = (None, None);
        (self.lat, self.long, self.coordinates) = (Coord::Absent, Coord::Absent, None);
        self.country = None;
        for (k, v) in entries(src) {
            match k {
                "ip" => self.src_ip = str_of(v),
                "autonomous_system" => self.asn = v.get("number").and_then(u32_of),
                "location" => {
                    (self.lat, self.long, self.coordinates) = (Coord::Absent, Coord::Absent, None);
                    self.country = None;
                    for (k, v) in entries(v) {
                        match k {
                            "lat" => self.lat = coord_of(v),
                            "long" => self.long = coord_of(v),
                            "coordinates" => {
                                self.coordinates = match v.as_array().map(Vec::as_slice) {
                                    Some([lon, lat]) => lon.as_f64().zip(lat.as_f64()),
                                    _ => None,
                                };
                            }
                            "country" => self.country = str_of(v),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// The event's subject, by the module's actor lookup order.
    pub(crate) fn actor(&self) -> Option<ActorKey> {
        self.actor_text().map(|t| ActorKey::from_canonical(&t))
    }

    /// [`Fields::actor`]'s text, borrowed when already canonical.
    pub(crate) fn actor_text(&self) -> Option<Cow<'_, str>> {
        let user = || self.user.as_ref().and_then(UserFields::key_text);
        let actor_user = || self.actor_user.as_ref().and_then(UserFields::key_text);
        if is_identity_class(self.class_uid.unwrap_or(0)) {
            user().or_else(actor_user)
        } else {
            actor_user().or_else(user)
        }
    }

    /// `src_endpoint.location` coordinates as (latitude, longitude), within
    /// range: `lat` and `long` when both are present, else GeoJSON
    /// `coordinates`.
    pub(crate) fn geo(&self) -> Option<(f64, f64)> {
        let (lat, lon) = match (self.lat, self.long) {
            (Coord::Num(lat), Coord::Num(lon)) => (lat, lon),
            (Coord::Absent, _) | (_, Coord::Absent) => {
                let (lon, lat) = self.coordinates?;
                (lat, lon)
            }
            _ => return None,
        };
        ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
    }

    /// The event time, required.
    pub(crate) fn time(&self) -> Result<Timestamp, AnalyticsError> {
        if !self.is_object {
            return Err(AnalyticsError::InvalidEvent {
                pointer: String::new(),
                reason: "event is not a JSON object".into(),
            });
        }
        match self.time {
            TimeField::Millis(t) => Ok(Timestamp::from_unix_millis(t)),
            TimeField::Invalid => Err(AnalyticsError::InvalidEvent {
                pointer: "/time".into(),
                reason: "time is not an integer of milliseconds".into(),
            }),
            TimeField::Missing => Err(AnalyticsError::InvalidEvent {
                pointer: "/time".into(),
                reason: "time is missing".into(),
            }),
        }
    }

    /// The [`Signal`] of these fields.
    pub(crate) fn into_signal(self) -> Result<Signal, AnalyticsError> {
        let time = self.time()?;
        Ok(Signal {
            time,
            class_uid: self.class_uid.unwrap_or(0),
            activity_id: self.activity_id.unwrap_or(0),
            status_id: self.status_id.unwrap_or(0),
            uid: kept(self.uid.as_ref()),
            actor: self.actor(),
            src_ip: self.src_ip.as_deref().and_then(parse_ip),
            geo: self.geo(),
            country: self
                .country
                .as_deref()
                .filter(|c| bounded(c))
                .map(|c| c.to_ascii_uppercase().into_boxed_str()),
            asn: self.asn,
            device: kept(self.device_uid.as_ref()).or_else(|| kept(self.device_hostname.as_ref())),
            session: kept(self.session_uid.as_ref())
                .or_else(|| kept(self.actor_session_uid.as_ref())),
            operation: kept(self.operation.as_ref()),
            event_code: kept(self.event_code.as_ref()),
            push_factor: self.push_factor,
        })
    }
}

/// The subject of an OCSF event, following the module's actor lookup order.
pub fn actor_of(event: &Value) -> Option<ActorKey> {
    Fields::from_value(event).actor()
}

impl Signal {
    /// Reads the fields the detections need from an OCSF event.
    ///
    /// Errors only when the event is not an object or has no integer `time`;
    /// every other field is optional.
    pub fn from_event(event: &Value) -> Result<Signal, AnalyticsError> {
        Fields::from_value(event).into_signal()
    }

    /// Reads the fields the detections need from an OCSF event given as
    /// JSON text (one NDJSON line), without building a [`Value`]: one pass
    /// over the text, unneeded fields skipped (still validated as JSON).
    ///
    /// Gives the same signal, or the same error, as parsing the text with
    /// `serde_json` and calling [`Signal::from_event`]; malformed JSON is an
    /// [`AnalyticsError::InvalidEvent`] with the line and column.
    pub fn from_json(text: &str) -> Result<Signal, AnalyticsError> {
        super::ocsf_text::fields(text)?.into_signal()
    }

    /// Whether this is a logon (Authentication, activity Logon).
    #[cfg(test)]
    pub(crate) fn is_logon(&self) -> bool {
        self.class_uid == class::AUTHENTICATION && self.activity_id == 1
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_authentication_fields() {
        let e = json!({
            "class_uid": 3002, "activity_id": 1, "status_id": 2, "time": 1_700_000_000_000i64,
            "metadata": {"uid": "e1", "version": "1.8.0", "product": {"name": "Okta"}},
            "user": {"email_addr": "Alice@Example.com", "uid": "00u1"},
            "src_endpoint": {"ip": "203.0.113.7", "location": {"coordinates": [2.35, 48.85], "country": "fr"},
                              "autonomous_system": {"number": 64500}},
            "auth_factors": [{"factor_type_id": 5}]
        });
        let s = Signal::from_event(&e).unwrap();
        assert_eq!(s.actor.as_ref().unwrap().as_str(), "alice@example.com");
        assert_eq!(s.geo, Some((48.85, 2.35)));
        assert_eq!(s.country.as_deref(), Some("FR"));
        assert_eq!(s.asn, Some(64500));
        assert!(s.push_factor && s.is_logon());
    }

    #[test]
    fn actor_order_depends_on_class() {
        let e = json!({"class_uid": 6003, "time": 1, "actor": {"user": {"uid": "arn:aws:sts::1:assumed-role/R/bob@example.com"}}, "user": {"name": "carol"}});
        assert_eq!(actor_of(&e).unwrap().as_str(), "bob@example.com");
        let e = json!({"class_uid": 3005, "time": 1, "actor": {"user": {"name": "admin"}}, "user": {"name": "carol"}});
        assert_eq!(actor_of(&e).unwrap().as_str(), "carol");
    }

    #[test]
    fn ip_addresses_read_as_the_standard_parser_does() {
        let mut cases: Vec<String> = [
            "10.1.0.0",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.1.1.1",
            "1.1.1",
            "1.1.1.1.",
            "1..1.1",
            "1.1.1.1 ",
            " 1.1.1.1",
            "1.1.1.0001",
            "1.1.1.00",
            "1.1.1.1000",
            "::1",
            "2001:db8::7",
            "::ffff:10.0.0.1",
            "",
            ".",
            "1.2.3.4a",
            "+1.2.3.4",
            "1.2.3.-4",
        ]
        .into_iter()
        .map(String::from)
        .collect();
        for a in [
            "0", "9", "00", "09", "10", "99", "100", "199", "249", "250", "255", "256", "300",
            "999", "1000",
        ] {
            cases.push(format!("{a}.1.{a}.2"));
            cases.push(format!("3.{a}.4.{a}"));
        }
        for c in cases {
            assert_eq!(parse_ip(&c), c.parse().ok(), "{c}");
        }
    }

    #[test]
    fn time_is_required() {
        assert!(Signal::from_event(&json!({"class_uid": 3002})).is_err());
        assert!(Signal::from_event(&json!({"time": "x"})).is_err());
        assert!(Signal::from_event(&json!([1])).is_err());
    }
}

/// The parts of an OCSF location object the readers collect before they
/// become a [`Fields`] entry: latitude, longitude, a `coordinates` pair,
/// and the country.
#[derive(Default)]
pub(super) struct Location<'a> {
    pub(super) lat: Coord,
    pub(super) long: Coord,
    pub(super) coordinates: Option<(f64, f64)>,
    pub(super) country: Option<Text<'a>>,
}
