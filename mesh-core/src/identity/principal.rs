//! `Identity`: one type for human, service and device principals.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

use super::ActorKey;
use crate::Timestamp;

/// What kind of principal an identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityKind {
    /// A person.
    Human,
    /// A workload or service account (API key, SPIFFE ID, client credentials).
    Service,
    /// A device (laptop, phone, appliance).
    Device,
}

/// How and when the principal authenticated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthContext {
    /// When the principal last authenticated interactively (`auth_time`).
    pub auth_time: Option<Timestamp>,
    /// Authentication methods used (`amr`), e.g. `pwd`, `mfa`, `hwk`.
    pub methods: Vec<String>,
    /// Authentication context class reference (`acr`).
    pub acr: Option<String>,
}

impl AuthContext {
    /// Whether `method` (compared case-insensitively) was used.
    pub fn has_method(&self, method: &str) -> bool {
        self.methods.iter().any(|m| m.eq_ignore_ascii_case(method))
    }
}

/// Posture attributes of the device a request comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DevicePosture {
    /// The device's identifier.
    pub device_id: String,
    /// Posture facts, e.g. `disk_encrypted: true`, `os_version: "14.2"`.
    pub attributes: BTreeMap<String, Value>,
}

/// A verified principal: the input to every decision.
///
/// Built by the identity fabric from a verified credential (token, API key,
/// SPIFFE SVID, device record); hosts that verified identity themselves may
/// build one directly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Identity {
    /// The subject (`sub`), unique within its issuer.
    pub subject: String,
    /// Who vouched for the subject (`iss`, or `mesh:api-key`, `spiffe://td`).
    pub issuer: String,
    /// Human, service or device.
    pub kind: IdentityKind,
    /// Group memberships.
    pub groups: Vec<String>,
    /// Roles.
    pub roles: Vec<String>,
    /// Entitlements (scopes, permissions, including just-in-time grants).
    pub entitlements: Vec<String>,
    /// How and when the principal authenticated.
    pub auth: AuthContext,
    /// Device posture, when the request comes from a known device.
    pub device: Option<DevicePosture>,
    /// Token id (`jti`), when the credential has one.
    pub token_id: Option<String>,
    /// Session id (`sid`), when the credential has one.
    pub session_id: Option<String>,
    /// When the credential was issued (`iat`).
    pub issued_at: Option<Timestamp>,
    /// When the credential expires (`exp`).
    pub expires_at: Option<Timestamp>,
    /// The remaining claims, as verified.
    pub claims: Map<String, Value>,
}

impl AsRef<Identity> for Identity {
    fn as_ref(&self) -> &Identity {
        self
    }
}

impl Identity {
    /// A minimal identity with no groups, roles, claims or device.
    pub fn new(subject: impl Into<String>, issuer: impl Into<String>, kind: IdentityKind) -> Self {
        Identity {
            subject: subject.into(),
            issuer: issuer.into(),
            kind,
            groups: Vec::new(),
            roles: Vec::new(),
            entitlements: Vec::new(),
            auth: AuthContext::default(),
            device: None,
            token_id: None,
            session_id: None,
            issued_at: None,
            expires_at: None,
            claims: Map::new(),
        }
    }

    /// The canonical actor key of this principal.
    ///
    /// The first usable of: the `email` claim (unless `email_verified` is
    /// `false`), the `upn` claim, `preferred_username` when it is an e-mail
    /// address, and finally the subject. See [`ActorKey`] for the rules.
    pub fn actor_key(&self) -> ActorKey {
        let claim = |name: &str| self.claims.get(name).and_then(Value::as_str);
        let email_ok = self.claims.get("email_verified").and_then(Value::as_bool) != Some(false);
        let candidates = [
            claim("email").filter(|_| email_ok),
            claim("upn"),
            claim("preferred_username").filter(|p| p.contains('@')),
            Some(self.subject.as_str()),
        ];
        candidates
            .into_iter()
            .flatten()
            .find_map(|c| ActorKey::from_identifier(c).ok())
            .unwrap_or_else(|| ActorKey::fallback(&self.issuer, &self.subject))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn actor_key_prefers_verified_email() {
        let mut id = Identity::new("00u1", "https://idp", IdentityKind::Human);
        assert_eq!(id.actor_key().as_str(), "00u1");
        id.claims.insert("email".into(), json!("Alice@Example.com"));
        assert_eq!(id.actor_key().as_str(), "alice@example.com");
        id.claims.insert("email_verified".into(), json!(false));
        id.claims.insert("upn".into(), json!("ALICE@corp.example"));
        assert_eq!(id.actor_key().as_str(), "alice@corp.example");
    }

    #[test]
    fn empty_subject_still_has_a_stable_key() {
        let id = Identity::new("", "https://idp", IdentityKind::Service);
        let k = id.actor_key();
        assert!(k.as_str().starts_with("sha256:"));
        assert_eq!(k, id.actor_key());
    }
}
