//! The OCSF 1.8.0 event model.
//!
//! [`Event`] holds the base event attributes and the union of the attributes
//! of the supported classes ([`Class`]); every attribute is optional in the
//! struct and omitted from JSON when unset (no `null`s). Which attributes a
//! class admits and requires is checked by [`crate::events::validate`].
//!
//! Ids are the source of truth: [`Event::finalize`] computes `category_uid`,
//! `type_uid` (= `class_uid`·100 + `activity_id`), `class_name`,
//! `category_name`, `activity_name`, `type_name`, the captions of the class's
//! enum attributes (`severity`, `status`, `action`, …), `metadata.version`
//! and `metadata.profiles` from the attributes in use. For an id of 99
//! (`Other`) a caption already set by the mapping (the source's own word) is
//! kept, as the schema asks.
//!
//! Objects are typed structs named after the schema (`network_endpoint` →
//! [`NetworkEndpoint`]); objects the model does not type are carried as JSON.
//!
//! # `unmapped`
//! `unmapped` is a flat JSON object: each key is the path of a source field
//! that no OCSF attribute took (object keys joined with `.`, a `.` or `\`
//! inside a key escaped as `\.` / `\\`), each value is the field's original
//! JSON value (scalar or array; empty objects are kept as `{}`; `null`
//! fields carry no value and are dropped).

mod assign;
mod generated;
mod tables;

pub(crate) use assign::Assign;
pub use generated::*;
pub use tables::ClassActivity;
pub(crate) use tables::{lookup, AttrSet};

use crate::{ActorKey, Timestamp};

/// The OCSF schema version mesh emits, written to `metadata.version`.
pub const OCSF_VERSION: &str = "1.8.0";

/// `severity_id` values (the same in every class).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The event/finding severity is unknown.
    Unknown = 0,
    /// Informational message; no action required.
    Informational = 1,
    /// The user decides if action is needed.
    Low = 2,
    /// Action is required but the situation is not serious at this time.
    Medium = 3,
    /// Action is required immediately.
    High = 4,
    /// Action is required immediately and the scope is broad.
    Critical = 5,
    /// An error occurred but it is too late to take remedial action.
    Fatal = 6,
    /// The severity is not mapped; `severity` holds the source's word.
    Other = 99,
}

/// `status_id` values (the same in every class that has a status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// The status is unknown.
    Unknown = 0,
    /// Success.
    Success = 1,
    /// Failure.
    Failure = 2,
    /// The status is not mapped; `status` holds the source's word.
    Other = 99,
}

impl Product {
    /// A product with a name and a vendor.
    pub fn named(vendor_name: &str, name: &str) -> Product {
        Product {
            vendor_name: Some(vendor_name.to_owned()),
            name: Some(name.to_owned()),
            ..Product::default()
        }
    }
}

impl Event {
    /// A new event of a class and activity, at `time`, reported by `product`,
    /// with severity `Informational`. Call [`Event::finalize`] once the
    /// mapping is done.
    pub fn new(activity: impl Into<ClassActivity>, time: Timestamp, product: Product) -> Event {
        let ca = activity.into();
        Event {
            class_uid: Some(ca.class.uid()),
            activity_id: Some(ca.activity_id),
            time: Some(time.unix_millis()),
            severity_id: Some(Severity::Informational as i64),
            metadata: Some(Box::new(Metadata {
                product: Some(Box::new(product)),
                version: Some(OCSF_VERSION.to_owned()),
                ..Metadata::default()
            })),
            ..Event::default()
        }
    }

    /// The class of the event, if `class_uid` is one mesh emits.
    pub fn class(&self) -> Option<Class> {
        self.class_uid.and_then(Class::from_uid)
    }

    /// Sets `severity_id` (its caption is filled by [`Event::finalize`]).
    pub fn set_severity(&mut self, severity: Severity) {
        self.severity_id = Some(severity as i64);
    }

    /// Sets `status_id` (its caption is filled by [`Event::finalize`]).
    pub fn set_status(&mut self, status: Status) {
        self.status_id = Some(status as i64);
    }

    /// The event's metadata, created if absent.
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        self.metadata.get_or_insert_with(Box::default)
    }

    /// Computes every attribute derived from the ids (see the module docs).
    /// Idempotent; leaves an unknown `class_uid` alone (validation reports it).
    pub fn finalize(&mut self) {
        let Some(class) = self.class() else { return };
        let info = class.info();
        self.category_uid = Some(info.category_uid);
        self.class_name = Some(info.caption.to_owned());
        self.category_name = Some(info.category_name.to_owned());
        if let Some(activity) = self.activity_id {
            self.type_uid = class
                .uid()
                .checked_mul(100)
                .and_then(|t| t.checked_add(activity));
            match lookup(info.activities, activity) {
                Some(caption) if activity != 99 || self.activity_name.is_none() => {
                    self.activity_name = Some(caption.to_owned());
                    self.type_name = Some(type_name(info.caption, caption));
                }
                Some(_) => self.type_name = Some(type_name(info.caption, "Other")),
                None => {}
            }
        }
        for table in info.enums {
            let Some(id) = self.enum_id(table.id) else {
                continue;
            };
            let Some(caption) = table.caption_of(id) else {
                continue;
            };
            if let Some(slot) = self.caption_slot(table.caption) {
                if id != 99 || slot.is_none() {
                    *slot = Some(caption.to_owned());
                }
            }
        }
        let present = self.presence();
        let meta = self.metadata.get_or_insert_with(Box::default);
        if meta.version.as_deref() != Some(OCSF_VERSION) {
            meta.version = Some(OCSF_VERSION.to_owned());
        }
        for (profile, attrs) in info.profiles {
            if !present.and(*attrs).is_empty() {
                let profiles = meta.profiles.get_or_insert_with(Vec::new);
                if !profiles.iter().any(|p| p == profile) {
                    profiles.push((*profile).to_owned());
                }
            }
        }
    }

    /// The canonical actor key of the event's principal: `actor.user`, else
    /// `user`; of that user the first usable of `email_addr`, `uid`, `name`
    /// (see [`ActorKey`] for the canonical forms).
    pub fn actor_key(&self) -> Option<ActorKey> {
        let actor_user = self.actor.as_ref().and_then(|a| a.user.as_deref());
        [actor_user, self.user.as_deref()]
            .into_iter()
            .flatten()
            .find_map(user_key)
    }
}

/// `type_name`: the class caption, `: `, the activity caption.
fn type_name(class: &str, activity: &str) -> String {
    let mut name = String::with_capacity(class.len() + 2 + activity.len());
    name.push_str(class);
    name.push_str(": ");
    name.push_str(activity);
    name
}

fn user_key(user: &User) -> Option<ActorKey> {
    [&user.email_addr, &user.uid, &user.name]
        .into_iter()
        .flatten()
        .find_map(|s| ActorKey::from_identifier(s).ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finalize_fills_ids_captions_and_profiles() {
        let mut e = Event::new(
            AuthenticationActivity::Logon,
            Timestamp::from_unix_millis(1_700_000_000_123),
            Product::named("AWS", "CloudTrail"),
        );
        e.set_status(Status::Failure);
        e.cloud = Some(Box::new(Cloud {
            provider: Some("AWS".into()),
            ..Cloud::default()
        }));
        e.finalize();
        let v = serde_json::to_value(&e).unwrap();
        assert_eq!(v["class_uid"], 3002);
        assert_eq!(v["category_uid"], 3);
        assert_eq!(v["type_uid"], 300201);
        assert_eq!(v["type_name"], "Authentication: Logon");
        assert_eq!(v["activity_name"], "Logon");
        assert_eq!(v["status"], "Failure");
        assert_eq!(v["severity"], "Informational");
        assert_eq!(v["time"], 1_700_000_000_123i64);
        assert_eq!(v["metadata"]["version"], "1.8.0");
        assert_eq!(v["metadata"]["profiles"], json!(["cloud"]));
        assert!(!v.to_string().contains("null"));
    }

    #[test]
    fn other_keeps_the_source_caption() {
        let mut e = Event::new(ApiActivity::Read, Timestamp::EPOCH, Product::default());
        e.severity_id = Some(99);
        e.severity = Some("Warning".into());
        e.finalize();
        assert_eq!(e.severity.as_deref(), Some("Warning"));
    }

    #[test]
    fn actor_key_prefers_email_and_canonicalizes() {
        let e = Event {
            actor: Some(Box::new(Actor {
                user: Some(Box::new(User {
                    uid: Some("arn:aws:sts::1:assumed-role/R/Alice@Example.com".into()),
                    ..User::default()
                })),
                ..Actor::default()
            })),
            ..Event::default()
        };
        assert_eq!(e.actor_key().unwrap().as_str(), "alice@example.com");
    }
}
