//! Revocations that spread between processes and converge.
//!
//! A [`RevocationSet`] holds four maps: token ids (`jti`), subjects (every
//! credential issued before a time), session ids (`sid`) and devices. Each
//! entry carries its own expiry, after which it no longer matters (the
//! credentials it covered have expired too) and [`RevocationSet::prune`]
//! drops it.
//!
//! Sets form a state-based CRDT: [`RevocationSet::merge`] takes the union of
//! the keys and, for a key present on both sides, the later `before` and the
//! later expiry. Merge is commutative, associative and idempotent, so every
//! process that has seen the same updates holds the same set, whatever the
//! order and however often updates were delivered. There is no un-revoke:
//! entries only go away by expiring.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

use super::{ActorKey, Identity, IdentityError, IdentityKind};
use crate::Timestamp;

/// Longest key (token id, subject, session id, device id) accepted, in bytes.
pub const MAX_REVOCATION_KEY_LEN: usize = 1024;
/// Longest e-mail/UPN claim lower-cased for lookup without allocating.
const MAX_FOLD_LEN: usize = 320;

/// Why an identity is revoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationReason {
    /// Its token id (`jti`, or an API key's public id) is revoked.
    TokenId,
    /// Its subject is revoked for credentials issued before a time.
    Subject,
    /// Its session (`sid`) is revoked.
    Session,
    /// The device it comes from is revoked.
    Device,
}

impl RevocationReason {
    /// The reason's stable snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RevocationReason::TokenId => "token_id",
            RevocationReason::Subject => "subject",
            RevocationReason::Session => "session",
            RevocationReason::Device => "device",
        }
    }
}

/// One revocation: what it covers and until when it must be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RevocationEntry {
    /// Credentials issued strictly before this instant are revoked
    /// ([`Timestamp::MAX`]: all of them). Credentials without an issue time
    /// are always covered (fail closed).
    pub before: Timestamp,
    /// When the entry stops mattering and may be pruned: set it to at least
    /// the longest lifetime of the credentials it must cover.
    pub expires_at: Timestamp,
}

impl RevocationEntry {
    fn join(&mut self, other: RevocationEntry) {
        self.before = self.before.max(other.before);
        self.expires_at = self.expires_at.max(other.expires_at);
    }

    fn covers(&self, issued_at: Option<Timestamp>, now: Timestamp) -> bool {
        now < self.expires_at && issued_at.is_none_or(|iat| iat < self.before)
    }
}

/// A mergeable set of revocations (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationSet {
    /// Revoked token ids (`jti`).
    #[serde(default)]
    tokens: HashMap<String, RevocationEntry>,
    /// Revoked subjects, by canonical actor key.
    #[serde(default)]
    subjects: HashMap<String, RevocationEntry>,
    /// Revoked session ids (`sid`).
    #[serde(default)]
    sessions: HashMap<String, RevocationEntry>,
    /// Revoked device ids.
    #[serde(default)]
    devices: HashMap<String, RevocationEntry>,
}

fn check_key(field: &'static str, key: &str) -> Result<(), IdentityError> {
    if key.is_empty() {
        return Err(IdentityError::InvalidRevocation {
            field,
            reason: "must not be empty",
        });
    }
    if key.len() > MAX_REVOCATION_KEY_LEN {
        return Err(IdentityError::InvalidRevocation {
            field,
            reason: "longer than 1024 bytes",
        });
    }
    Ok(())
}

fn upsert(map: &mut HashMap<String, RevocationEntry>, key: &str, entry: RevocationEntry) {
    match map.get_mut(key) {
        Some(e) => e.join(entry),
        None => {
            map.insert(key.to_owned(), entry);
        }
    }
}

impl RevocationSet {
    /// An empty set.
    pub fn new() -> Self {
        RevocationSet::default()
    }

    /// Revokes the token with id `jti`, keeping the entry until `expires_at`
    /// (the token's own `exp` is enough). Token ids are matched across
    /// issuers: a `jti` reused by another issuer is revoked too.
    pub fn revoke_token(&mut self, jti: &str, expires_at: Timestamp) -> Result<(), IdentityError> {
        check_key("jti", jti)?;
        let entry = RevocationEntry {
            before: Timestamp::MAX,
            expires_at,
        };
        upsert(&mut self.tokens, jti, entry);
        Ok(())
    }

    /// Revokes every credential of `subject` issued before `before`, keeping
    /// the entry until `expires_at` (at least `before` plus the longest token
    /// lifetime). `subject` is canonicalized as an [`ActorKey`]; it matches
    /// an identity's `subject`, or its `email`/`upn` claim (case-insensitive
    /// for e-mail addresses).
    pub fn revoke_subject(
        &mut self,
        subject: &str,
        before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        check_key("subject", subject)?;
        let key = ActorKey::from_identifier(subject)?;
        upsert(
            &mut self.subjects,
            key.as_str(),
            RevocationEntry { before, expires_at },
        );
        Ok(())
    }

    /// Revokes every credential of session `sid` until `expires_at`.
    pub fn revoke_session(
        &mut self,
        sid: &str,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        check_key("session_id", sid)?;
        let entry = RevocationEntry {
            before: Timestamp::MAX,
            expires_at,
        };
        upsert(&mut self.sessions, sid, entry);
        Ok(())
    }

    /// Revokes credentials issued before `before` that come from device
    /// `device_id` (or are that device), keeping the entry until `expires_at`.
    pub fn revoke_device(
        &mut self,
        device_id: &str,
        before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<(), IdentityError> {
        check_key("device_id", device_id)?;
        upsert(
            &mut self.devices,
            device_id,
            RevocationEntry { before, expires_at },
        );
        Ok(())
    }

    /// Whether `identity` is revoked at `now`, and why.
    ///
    /// Looks up the token id, session id, device id and subject (the subject
    /// itself and its `email`/`upn` claims) in hash maps; allocates nothing.
    pub fn check(&self, identity: &Identity, now: Timestamp) -> Option<RevocationReason> {
        let iat = identity.issued_at;
        if !self.tokens.is_empty() {
            if let Some(e) = identity
                .token_id
                .as_deref()
                .and_then(|j| self.tokens.get(j))
            {
                if e.covers(iat, now) {
                    return Some(RevocationReason::TokenId);
                }
            }
        }
        if !self.sessions.is_empty() {
            if let Some(e) = identity
                .session_id
                .as_deref()
                .and_then(|s| self.sessions.get(s))
            {
                if e.covers(iat, now) {
                    return Some(RevocationReason::Session);
                }
            }
        }
        if !self.devices.is_empty() {
            let from_posture = identity.device.as_ref().map(|d| d.device_id.as_str());
            let own = (identity.kind == IdentityKind::Device).then_some(identity.subject.as_str());
            for id in [from_posture, own].into_iter().flatten() {
                if self.devices.get(id).is_some_and(|e| e.covers(iat, now)) {
                    return Some(RevocationReason::Device);
                }
            }
        }
        if !self.subjects.is_empty() {
            let claim = |name: &str| identity.claims.get(name).and_then(Value::as_str);
            let names = [
                Some(identity.subject.as_str()),
                claim("email"),
                claim("upn"),
            ];
            for name in names.into_iter().flatten() {
                if self.subject_hit(name, iat, now) {
                    return Some(RevocationReason::Subject);
                }
            }
        }
        None
    }

    fn subject_hit(&self, name: &str, iat: Option<Timestamp>, now: Timestamp) -> bool {
        let hit = |k: &str| self.subjects.get(k).is_some_and(|e| e.covers(iat, now));
        if hit(name) {
            return true;
        }
        // E-mail addresses are stored lower-cased: fold on the stack.
        let email_like = name.contains('@') && !name.contains(['/', '\\']);
        if email_like && name.bytes().any(|b| b.is_ascii_uppercase()) && name.len() <= MAX_FOLD_LEN
        {
            let mut buf = [0u8; MAX_FOLD_LEN];
            if let Some(dst) = buf.get_mut(..name.len()) {
                dst.copy_from_slice(name.as_bytes());
                dst.make_ascii_lowercase();
                if let Ok(folded) = std::str::from_utf8(dst) {
                    return hit(folded);
                }
            }
        }
        false
    }

    /// Merges `other` into `self`: union of keys, and for a shared key the
    /// later `before` and the later expiry.
    pub fn merge(&mut self, other: &RevocationSet) {
        for (mine, theirs) in [
            (&mut self.tokens, &other.tokens),
            (&mut self.subjects, &other.subjects),
            (&mut self.sessions, &other.sessions),
            (&mut self.devices, &other.devices),
        ] {
            for (k, e) in theirs {
                upsert(mine, k, *e);
            }
        }
    }

    /// Drops entries that expired at or before `now`; returns how many.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let before = self.len();
        for map in [
            &mut self.tokens,
            &mut self.subjects,
            &mut self.sessions,
            &mut self.devices,
        ] {
            map.retain(|_, e| now < e.expires_at);
        }
        before - self.len()
    }

    /// Number of entries held.
    pub fn len(&self) -> usize {
        self.tokens.len() + self.subjects.len() + self.sessions.len() + self.devices.len()
    }

    /// Whether the set holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reserves room for `additional` more token revocations.
    pub fn reserve_tokens(&mut self, additional: usize) {
        self.tokens.reserve(additional);
    }

    /// Exports the set as JSON: `{"tokens": {jti: {"before", "expires_at"}},
    /// "subjects": …, "sessions": …, "devices": …}`, times in ms.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Imports a set exported by [`RevocationSet::to_json`], checking every
    /// key (non-empty, at most 1024 bytes; subjects canonical).
    pub fn from_json(json: &str) -> Result<RevocationSet, IdentityError> {
        let set: RevocationSet =
            serde_json::from_str(json).map_err(|e| IdentityError::StateMalformed {
                what: "revocation set",
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        let maps = [
            ("jti", &set.tokens),
            ("subject", &set.subjects),
            ("session_id", &set.sessions),
            ("device_id", &set.devices),
        ];
        for (field, map) in maps {
            for k in map.keys() {
                check_key(field, k)?;
            }
        }
        for k in set.subjects.keys() {
            if ActorKey::from_identifier(k)?.as_str() != k {
                return Err(IdentityError::InvalidRevocation {
                    field: "subject",
                    reason: "not in canonical actor-key form",
                });
            }
        }
        Ok(set)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::{DevicePosture, IdentityErrorKind};
    use proptest::prelude::*;
    use serde_json::json;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn token(sub: &str, jti: &str, iat: i64) -> Identity {
        let mut id = Identity::new(sub, "https://idp", IdentityKind::Human);
        id.token_id = Some(jti.into());
        id.issued_at = Some(t(iat));
        id
    }

    #[test]
    fn by_token_id_until_expiry() {
        let mut set = RevocationSet::new();
        set.revoke_token("j1", t(200)).unwrap();
        assert_eq!(
            set.check(&token("a", "j1", 50), t(100)),
            Some(RevocationReason::TokenId)
        );
        assert_eq!(set.check(&token("a", "j2", 50), t(100)), None);
        assert_eq!(set.check(&token("a", "j1", 50), t(200)), None);
    }

    #[test]
    fn by_subject_before_time() {
        let mut set = RevocationSet::new();
        set.revoke_subject("Alice@Example.com", t(100), t(1000))
            .unwrap();
        let old = token("alice@example.com", "j", 99);
        let new = token("alice@example.com", "j", 100);
        assert_eq!(set.check(&old, t(150)), Some(RevocationReason::Subject));
        assert_eq!(set.check(&new, t(150)), None);
        // No issue time: fail closed.
        let mut undated = token("alice@example.com", "j", 0);
        undated.issued_at = None;
        assert_eq!(set.check(&undated, t(150)), Some(RevocationReason::Subject));
        // Matched through the email claim, case-insensitively.
        let mut via_claim = token("00u1", "j", 50);
        via_claim
            .claims
            .insert("email".into(), json!("ALICE@example.COM"));
        assert_eq!(
            set.check(&via_claim, t(150)),
            Some(RevocationReason::Subject)
        );
        // Opaque ids keep their case.
        set.revoke_subject("00uAbC", Timestamp::MAX, t(1000))
            .unwrap();
        assert_eq!(set.check(&token("00uabc", "j", 1), t(150)), None);
        assert_eq!(
            set.check(&token("00uAbC", "j", 1), t(150)),
            Some(RevocationReason::Subject)
        );
    }

    #[test]
    fn by_session_and_device() {
        let mut set = RevocationSet::new();
        set.revoke_session("s1", t(500)).unwrap();
        set.revoke_device("dev-1", t(300), t(500)).unwrap();
        let mut id = token("bob", "j", 100);
        id.session_id = Some("s1".into());
        assert_eq!(set.check(&id, t(150)), Some(RevocationReason::Session));
        id.session_id = Some("s2".into());
        assert_eq!(set.check(&id, t(150)), None);
        id.device = Some(DevicePosture {
            device_id: "dev-1".into(),
            ..DevicePosture::default()
        });
        assert_eq!(set.check(&id, t(150)), Some(RevocationReason::Device));
        let mut dev = Identity::new("dev-1", "mesh:device", IdentityKind::Device);
        dev.issued_at = Some(t(301));
        assert_eq!(set.check(&dev, t(350)), None);
        dev.issued_at = Some(t(299));
        assert_eq!(set.check(&dev, t(350)), Some(RevocationReason::Device));
    }

    #[test]
    fn prune_and_json_round_trip() {
        let mut set = RevocationSet::new();
        set.revoke_token("j1", t(100)).unwrap();
        set.revoke_token("j2", t(300)).unwrap();
        set.revoke_subject("alice@example.com", t(50), t(300))
            .unwrap();
        let json = set.to_json();
        let back = RevocationSet::from_json(&json).unwrap();
        assert_eq!(back, set);
        assert_eq!(set.prune(t(100)), 1);
        assert_eq!(set.len(), 2);
        let e = RevocationSet::from_json("{\"tokens\": {\"\": {\"before\":0,\"expires_at\":1}}}")
            .unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::InvalidRevocation);
        let e = RevocationSet::from_json("{\"tokens\": 3}").unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::StateMalformed);
        assert!(e.to_string().contains("line 1"));
        let e = RevocationSet::from_json(
            "{\"subjects\": {\"Alice@X.com\": {\"before\":0,\"expires_at\":1}}}",
        )
        .unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::InvalidRevocation);
    }

    #[test]
    fn rejects_bad_keys() {
        let mut set = RevocationSet::new();
        assert!(set.revoke_token("", t(1)).is_err());
        assert!(set.revoke_session(&"x".repeat(1025), t(1)).is_err());
        assert!(set.revoke_subject("  ", t(1), t(1)).is_err());
    }

    #[test]
    fn merge_takes_latest() {
        let mut a = RevocationSet::new();
        a.revoke_subject("bob", t(10), t(100)).unwrap();
        let mut b = RevocationSet::new();
        b.revoke_subject("bob", t(20), t(50)).unwrap();
        b.revoke_token("j", t(70)).unwrap();
        a.merge(&b);
        assert_eq!(
            a.subjects["bob"],
            RevocationEntry {
                before: t(20),
                expires_at: t(100)
            }
        );
        assert!(a.tokens.contains_key("j"));
    }

    fn arb_set() -> impl Strategy<Value = RevocationSet> {
        let entry = (0i64..5, 0i64..5);
        let ops = proptest::collection::vec((0u8..4, "[a-c]{1,2}", entry), 0..12);
        ops.prop_map(|ops| {
            let mut s = RevocationSet::new();
            for (kind, key, (before, exp)) in ops {
                let (before, exp) = (t(before), t(exp));
                let _ = match kind {
                    0 => s.revoke_token(&key, exp),
                    1 => s.revoke_subject(&key, before, exp),
                    2 => s.revoke_session(&key, exp),
                    _ => s.revoke_device(&key, before, exp),
                };
            }
            s
        })
    }

    fn merged(a: &RevocationSet, b: &RevocationSet) -> RevocationSet {
        let mut m = a.clone();
        m.merge(b);
        m
    }

    proptest! {
        #[test]
        fn merge_is_commutative(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(merged(&a, &b), merged(&b, &a));
        }

        #[test]
        fn merge_is_associative(a in arb_set(), b in arb_set(), c in arb_set()) {
            prop_assert_eq!(merged(&merged(&a, &b), &c), merged(&a, &merged(&b, &c)));
        }

        #[test]
        fn merge_is_idempotent(a in arb_set(), b in arb_set()) {
            prop_assert_eq!(merged(&a, &a), a.clone());
            let ab = merged(&a, &b);
            prop_assert_eq!(merged(&ab, &b), ab);
        }

        #[test]
        fn json_round_trip(a in arb_set()) {
            prop_assert_eq!(RevocationSet::from_json(&a.to_json()).unwrap(), a);
        }
    }
}
