//! Reading OCSF 1.8.0 events (as JSON) into the compact [`Signal`] that the
//! built-in detections work on.

use serde_json::Value;
use std::net::IpAddr;

use super::AnalyticsError;
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
const FACTOR_PUSH: u64 = 5;
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

/// A string field by path, bounded in length.
pub(crate) fn path_str<'a>(v: &'a Value, dotted: &str) -> Option<&'a str> {
    path(v, dotted)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty() && s.len() <= MAX_FIELD_LEN)
}

fn path_u32(v: &Value, dotted: &str) -> Option<u32> {
    path(v, dotted)
        .and_then(Value::as_u64)
        .and_then(|n| u32::try_from(n).ok())
}

fn boxed(s: Option<&str>) -> Option<Box<str>> {
    s.map(Box::from)
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

const USER_FIELDS: [&str; 3] = ["email_addr", "uid", "name"];

fn key_from_user(v: &Value, prefix: &str) -> Option<ActorKey> {
    let user = path(v, prefix)?;
    USER_FIELDS.iter().find_map(|f| {
        user.get(f)
            .and_then(Value::as_str)
            .and_then(|s| ActorKey::from_identifier(s).ok())
    })
}

/// The subject of an OCSF event, following the module's actor lookup order.
pub fn actor_of(event: &Value) -> Option<ActorKey> {
    let class_uid = path_u32(event, "class_uid").unwrap_or(0);
    if is_identity_class(class_uid) {
        key_from_user(event, "user").or_else(|| key_from_user(event, "actor.user"))
    } else {
        key_from_user(event, "actor.user").or_else(|| key_from_user(event, "user"))
    }
}

/// The event time (`time`), required.
pub(crate) fn time_of(event: &Value) -> Result<Timestamp, AnalyticsError> {
    if !event.is_object() {
        return Err(AnalyticsError::InvalidEvent {
            pointer: String::new(),
            reason: "event is not a JSON object".into(),
        });
    }
    match event.get("time") {
        Some(t) => t.as_i64().map(Timestamp::from_unix_millis).ok_or_else(|| {
            AnalyticsError::InvalidEvent {
                pointer: "/time".into(),
                reason: "time is not an integer of milliseconds".into(),
            }
        }),
        None => Err(AnalyticsError::InvalidEvent {
            pointer: "/time".into(),
            reason: "time is missing".into(),
        }),
    }
}

fn coordinates(loc: &Value) -> Option<(f64, f64)> {
    let (lat, lon) = match (loc.get("lat"), loc.get("long")) {
        (Some(lat), Some(lon)) => (lat.as_f64()?, lon.as_f64()?),
        _ => {
            // GeoJSON order: [longitude, latitude].
            let c = loc.get("coordinates")?.as_array()?;
            match c.as_slice() {
                [lon, lat] => (lat.as_f64()?, lon.as_f64()?),
                _ => return None,
            }
        }
    };
    ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
}

fn has_push_factor(event: &Value) -> bool {
    event
        .get("auth_factors")
        .and_then(Value::as_array)
        .is_some_and(|fs| {
            fs.iter().take(16).any(|f| {
                f.get("factor_type_id").and_then(Value::as_u64) == Some(FACTOR_PUSH)
                    || f.get("factor_type").and_then(Value::as_str) == Some("Push Notification")
            })
        })
}

impl Signal {
    /// Reads the fields the detections need from an OCSF event.
    ///
    /// Errors only when the event is not an object or has no integer `time`;
    /// every other field is optional.
    pub fn from_event(event: &Value) -> Result<Signal, AnalyticsError> {
        let time = time_of(event)?;
        let class_uid = path_u32(event, "class_uid").unwrap_or(0);
        let src = event.get("src_endpoint");
        let loc = src.and_then(|s| s.get("location"));
        Ok(Signal {
            time,
            class_uid,
            activity_id: path_u32(event, "activity_id").unwrap_or(0),
            status_id: path_u32(event, "status_id").unwrap_or(0),
            uid: boxed(path_str(event, "metadata.uid")),
            actor: actor_of(event),
            src_ip: src
                .and_then(|s| s.get("ip"))
                .and_then(Value::as_str)
                .and_then(|s| s.parse().ok()),
            geo: loc.and_then(coordinates),
            country: loc
                .and_then(|l| path_str(l, "country"))
                .map(|c| c.to_ascii_uppercase().into_boxed_str()),
            asn: src.and_then(|s| path_u32(s, "autonomous_system.number")),
            device: boxed(
                path_str(event, "device.uid").or_else(|| path_str(event, "device.hostname")),
            ),
            session: boxed(
                path_str(event, "session.uid").or_else(|| path_str(event, "actor.session.uid")),
            ),
            operation: boxed(path_str(event, "api.operation")),
            event_code: boxed(path_str(event, "metadata.event_code")),
            push_factor: has_push_factor(event),
        })
    }

    /// Whether this is a logon (Authentication, activity Logon).
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
    fn time_is_required() {
        assert!(Signal::from_event(&json!({"class_uid": 3002})).is_err());
        assert!(Signal::from_event(&json!({"time": "x"})).is_err());
        assert!(Signal::from_event(&json!([1])).is_err());
    }
}
