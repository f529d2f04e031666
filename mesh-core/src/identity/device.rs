//! Devices as identities, and device posture attached to people.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

use super::{ActorKey, DevicePosture, Identity, IdentityError, IdentityKind};
use crate::Timestamp;

/// The issuer of identities built from device records.
pub const DEVICE_ISSUER: &str = "mesh:device";

const MAX_FIELD_LEN: usize = 1024;
const MAX_EXTRA: usize = 64;

/// What a device inventory (MDM, EDR) knows about one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceRecord {
    /// The device's identifier, unique within the inventory.
    pub device_id: String,
    /// The person or account the device is assigned to, if any.
    #[serde(default)]
    pub owner: Option<String>,
    /// Whether the system disk is encrypted.
    #[serde(default)]
    pub disk_encrypted: bool,
    /// Operating system name, e.g. `macos`.
    #[serde(default)]
    pub os_name: Option<String>,
    /// Operating system version, e.g. `14.2.1`.
    #[serde(default)]
    pub os_version: Option<String>,
    /// Whether the device is managed (enrolled in MDM).
    #[serde(default)]
    pub managed: bool,
    /// Whether the inventory judges the device compliant with its policy.
    #[serde(default)]
    pub compliant: bool,
    /// When the inventory last heard from the device.
    pub last_seen: Timestamp,
    /// Further posture facts (firewall, EDR running, …).
    #[serde(default)]
    pub extra: BTreeMap<String, Value>,
}

impl DeviceRecord {
    /// A record for `device_id` last seen at `last_seen`, with every posture
    /// flag false (deny by default until the inventory says otherwise).
    pub fn new(device_id: impl Into<String>, last_seen: Timestamp) -> Self {
        DeviceRecord {
            device_id: device_id.into(),
            owner: None,
            disk_encrypted: false,
            os_name: None,
            os_version: None,
            managed: false,
            compliant: false,
            last_seen,
            extra: BTreeMap::new(),
        }
    }

    /// Checks bounds: a non-empty id, fields of at most 1024 bytes, at most
    /// 64 extra facts, and extra facts that do not shadow the named ones.
    pub fn validate(&self) -> Result<(), IdentityError> {
        let bad = |field, reason| Err(IdentityError::InvalidDevice { field, reason });
        if self.device_id.is_empty() {
            return bad("device_id", "must not be empty");
        }
        let fields = [
            ("device_id", Some(&self.device_id)),
            ("owner", self.owner.as_ref()),
            ("os_name", self.os_name.as_ref()),
            ("os_version", self.os_version.as_ref()),
        ];
        for (field, value) in fields {
            if value.is_some_and(|v| v.len() > MAX_FIELD_LEN) {
                return bad(field, "longer than 1024 bytes");
            }
        }
        if self.extra.len() > MAX_EXTRA {
            return bad("extra", "more than 64 entries");
        }
        if self
            .extra
            .keys()
            .any(|k| RESERVED.contains(&k.as_str()) || k.len() > MAX_FIELD_LEN)
        {
            return bad(
                "extra",
                "an entry shadows a named posture attribute or is too long",
            );
        }
        Ok(())
    }

    /// The device's posture as attached to identities: the named flags,
    /// `os_name`/`os_version` when known, `last_seen` (ms since the epoch),
    /// `posture_age_ms` at `now`, and the extra facts.
    pub fn posture(&self, now: Timestamp) -> DevicePosture {
        let mut attributes = self.extra.clone();
        attributes.insert("disk_encrypted".into(), Value::Bool(self.disk_encrypted));
        attributes.insert("managed".into(), Value::Bool(self.managed));
        attributes.insert("compliant".into(), Value::Bool(self.compliant));
        if let Some(v) = &self.os_name {
            attributes.insert("os_name".into(), Value::String(v.clone()));
        }
        if let Some(v) = &self.os_version {
            attributes.insert("os_version".into(), Value::String(v.clone()));
        }
        attributes.insert(
            "last_seen".into(),
            Value::from(self.last_seen.unix_millis()),
        );
        let age = u64::try_from(now.duration_since(self.last_seen).as_millis()).unwrap_or(u64::MAX);
        attributes.insert("posture_age_ms".into(), Value::from(age));
        DevicePosture {
            device_id: self.device_id.clone(),
            attributes,
        }
    }

    /// The device as a principal of its own: kind [`IdentityKind::Device`],
    /// subject = device id, issuer [`DEVICE_ISSUER`], posture attached, and
    /// the `owner` claim when known.
    pub fn to_identity(&self, now: Timestamp) -> Result<Identity, IdentityError> {
        self.validate()?;
        let mut id = Identity::builder(self.device_id.clone(), DEVICE_ISSUER, IdentityKind::Device);
        id.device = Some(self.posture(now));
        if let Some(owner) = &self.owner {
            id.claims
                .insert("owner".into(), Value::String(owner.clone()));
        }
        Ok(id.build())
    }

    /// Attaches this device's posture to `identity` (typically a person
    /// signing in from the device).
    ///
    /// When the record has an owner, it must resolve to the same
    /// [`ActorKey`] as the identity, otherwise
    /// [`IdentityError::DeviceOwnerMismatch`]: a device's posture never
    /// vouches for someone else. Unowned (shared) devices attach to anyone.
    pub fn attach_to(&self, identity: &mut Identity, now: Timestamp) -> Result<(), IdentityError> {
        self.validate()?;
        if let Some(owner) = &self.owner {
            let owner_key = ActorKey::from_identifier(owner).ok();
            if owner_key.as_ref() != Some(&identity.actor_key()) && owner != identity.subject() {
                return Err(IdentityError::DeviceOwnerMismatch {
                    device_id: self.device_id.clone(),
                });
            }
        }
        identity.set_device(Some(self.posture(now)));
        Ok(())
    }
}

const RESERVED: [&str; 8] = [
    "disk_encrypted",
    "managed",
    "compliant",
    "os_name",
    "os_version",
    "last_seen",
    "posture_age_ms",
    "device_id",
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::IdentityErrorKind;
    use serde_json::json;

    fn laptop() -> DeviceRecord {
        let mut d = DeviceRecord::new("dev-42", Timestamp::from_unix_seconds(1000));
        d.owner = Some("Alice@Example.com".into());
        d.disk_encrypted = true;
        d.managed = true;
        d.os_name = Some("macos".into());
        d.os_version = Some("14.2.1".into());
        d.extra.insert("firewall".into(), json!(true));
        d
    }

    #[test]
    fn device_identity_carries_posture() {
        let now = Timestamp::from_unix_seconds(1060);
        let id = laptop().to_identity(now).unwrap();
        assert_eq!(id.kind(), IdentityKind::Device);
        assert_eq!(id.subject(), "dev-42");
        let p = id.device().unwrap();
        assert_eq!(p.device_id, "dev-42");
        assert_eq!(p.attributes["disk_encrypted"], json!(true));
        assert_eq!(p.attributes["compliant"], json!(false));
        assert_eq!(p.attributes["os_version"], json!("14.2.1"));
        assert_eq!(p.attributes["posture_age_ms"], json!(60_000));
        assert_eq!(p.attributes["firewall"], json!(true));
        assert_eq!(id.claims()["owner"], json!("Alice@Example.com"));
    }

    #[test]
    fn attaches_only_to_owner() {
        let now = Timestamp::from_unix_seconds(1000);
        let mut alice = Identity::builder("00u1", "https://idp", IdentityKind::Human);
        alice
            .claims
            .insert("email".into(), json!("alice@example.com"));
        let mut alice = alice.build();
        laptop().attach_to(&mut alice, now).unwrap();
        assert_eq!(alice.device().unwrap().device_id, "dev-42");

        let mut bob = Identity::builder("00u2", "https://idp", IdentityKind::Human);
        bob.claims.insert("email".into(), json!("bob@example.com"));
        let mut bob = bob.build();
        let e = laptop().attach_to(&mut bob, now).unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::DeviceOwnerMismatch);
        assert!(bob.device().is_none());

        let mut shared = laptop();
        shared.owner = None;
        shared.attach_to(&mut bob, now).unwrap();
    }

    #[test]
    fn validation_bounds() {
        let mut d = laptop();
        d.device_id.clear();
        assert_eq!(
            d.to_identity(Timestamp::EPOCH).unwrap_err().kind(),
            IdentityErrorKind::InvalidDevice
        );
        let mut d = laptop();
        d.extra.insert("compliant".into(), json!(true));
        assert!(d.validate().is_err());
        let json = serde_json::to_string(&laptop()).unwrap();
        assert_eq!(
            serde_json::from_str::<DeviceRecord>(&json).unwrap(),
            laptop()
        );
    }
}
