//! Just-in-time grants: temporary, approved entitlements.
//!
//! A [`Grant`] gives one subject one extra entitlement (`scope`) for a
//! bounded time, with a reason and an approver who is never the subject. A
//! [`GrantSet`] holds grants and grant revocations and merges like a
//! [`super::RevocationSet`]: union, and for the same grant the later expiry
//! wins (ties broken by a fixed order on the other fields), so processes
//! converge whatever the order of updates. A revoked grant stays revoked.

use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use super::{ActorKey, Identity, IdentityError};
use crate::Timestamp;

const MAX_FIELD_LEN: usize = 1024;

/// A temporary entitlement for one subject.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    /// Unique id of the grant (e.g. the change or ticket id).
    pub id: String,
    /// Who receives the entitlement, as a canonical actor key.
    pub subject: String,
    /// The entitlement granted, e.g. `db:prod:write`.
    pub scope: String,
    /// Why it was granted.
    pub reason: String,
    /// Who approved it (canonical actor key; never the subject).
    pub approver: String,
    /// The grant applies from this instant on.
    pub not_before: Timestamp,
    /// The grant applies until strictly before this instant.
    pub expires_at: Timestamp,
}

fn invalid(field: &'static str, reason: &'static str) -> IdentityError {
    IdentityError::InvalidGrant { field, reason }
}

fn check_text(field: &'static str, value: &str) -> Result<(), IdentityError> {
    if value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > MAX_FIELD_LEN {
        return Err(invalid(field, "longer than 1024 bytes"));
    }
    Ok(())
}

impl Grant {
    /// A validated grant; `subject` and `approver` are canonicalized as
    /// [`ActorKey`]s and must differ ([`IdentityError::GrantSelfApproved`]).
    pub fn new(
        id: impl Into<String>,
        subject: &str,
        scope: impl Into<String>,
        reason: impl Into<String>,
        approver: &str,
        not_before: Timestamp,
        expires_at: Timestamp,
    ) -> Result<Grant, IdentityError> {
        let grant = Grant {
            id: id.into(),
            subject: canonical("subject", subject)?,
            scope: scope.into(),
            reason: reason.into(),
            approver: canonical("approver", approver)?,
            not_before,
            expires_at,
        };
        grant.validate()?;
        Ok(grant)
    }

    /// Checks every field: non-empty bounded text, canonical subject and
    /// approver, approver not the subject, `not_before < expires_at`.
    pub fn validate(&self) -> Result<(), IdentityError> {
        check_text("id", &self.id)?;
        check_text("scope", &self.scope)?;
        check_text("reason", &self.reason)?;
        for (field, value) in [("subject", &self.subject), ("approver", &self.approver)] {
            if &canonical(field, value)? != value {
                return Err(invalid(field, "not in canonical actor-key form"));
            }
        }
        if self.subject == self.approver {
            return Err(IdentityError::GrantSelfApproved {
                grant_id: self.id.clone(),
            });
        }
        if self.not_before >= self.expires_at {
            return Err(invalid("expires_at", "must be later than `not_before`"));
        }
        Ok(())
    }

    /// Whether the grant applies at `now`.
    pub fn is_active(&self, now: Timestamp) -> bool {
        self.not_before <= now && now < self.expires_at
    }

    /// The fixed total order used to pick a winner when two replicas hold
    /// different grants under the same id: later expiry first.
    fn rank_cmp(&self, other: &Grant) -> Ordering {
        (
            self.expires_at,
            self.not_before,
            &self.scope,
            &self.reason,
            &self.approver,
        )
            .cmp(&(
                other.expires_at,
                other.not_before,
                &other.scope,
                &other.reason,
                &other.approver,
            ))
    }
}

fn canonical(field: &'static str, value: &str) -> Result<String, IdentityError> {
    check_text(field, value)?;
    ActorKey::from_identifier(value)
        .map(String::from)
        .map_err(|_| invalid(field, "not a usable actor identifier"))
}

/// A mergeable set of grants and grant revocations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GrantSet {
    /// Grants by subject, then by grant id.
    #[serde(default)]
    grants: HashMap<String, BTreeMap<String, Grant>>,
    /// Revoked grant ids, each kept until the given instant.
    #[serde(default)]
    revoked: HashMap<String, Timestamp>,
}

impl GrantSet {
    /// An empty set.
    pub fn new() -> Self {
        GrantSet::default()
    }

    /// Adds a grant (validated again). A grant already held under the same
    /// subject and id is replaced only by a later-ranked one (see merge).
    pub fn insert(&mut self, grant: Grant) -> Result<(), IdentityError> {
        grant.validate()?;
        self.upsert(grant);
        Ok(())
    }

    fn upsert(&mut self, grant: Grant) {
        let by_id = self.grants.entry(grant.subject.clone()).or_default();
        match by_id.get_mut(&grant.id) {
            Some(held) => {
                if grant.rank_cmp(held) == Ordering::Greater {
                    *held = grant;
                }
            }
            None => {
                by_id.insert(grant.id.clone(), grant);
            }
        }
    }

    /// Revokes the grant(s) with id `grant_id`; the revocation is kept until
    /// `keep_until` (at least the grant's expiry).
    pub fn revoke(&mut self, grant_id: &str, keep_until: Timestamp) -> Result<(), IdentityError> {
        check_text("id", grant_id)?;
        let slot = self
            .revoked
            .entry(grant_id.to_owned())
            .or_insert(keep_until);
        *slot = (*slot).max(keep_until);
        Ok(())
    }

    /// The grants of `subject` (any identifier; canonicalized) active at
    /// `now` and not revoked.
    pub fn active_for<'a>(
        &'a self,
        subject: &str,
        now: Timestamp,
    ) -> impl Iterator<Item = &'a Grant> + 'a {
        let key = ActorKey::from_identifier(subject).ok();
        key.and_then(|k| self.grants.get(k.as_str()))
            .into_iter()
            .flat_map(|m| m.values())
            .filter(move |g| g.is_active(now) && !self.is_revoked(&g.id, now))
    }

    fn is_revoked(&self, grant_id: &str, now: Timestamp) -> bool {
        self.revoked.get(grant_id).is_some_and(|until| now < *until)
    }

    /// Adds the scopes of the grants active at `now` for `identity` (by its
    /// actor key, and by its subject) to its entitlements, without
    /// duplicates; returns how many were added.
    pub fn apply(&self, identity: &mut Identity, now: Timestamp) -> usize {
        let mut keys = vec![identity.actor_key()];
        if let Ok(k) = ActorKey::from_identifier(identity.subject()) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        let mut new: Vec<&str> = Vec::new();
        for key in &keys {
            for g in self.active_for(key.as_str(), now) {
                if !identity.entitlements().contains(&g.scope) && !new.contains(&g.scope.as_str()) {
                    new.push(&g.scope);
                }
            }
        }
        if !new.is_empty() {
            identity.modify(|b| b.entitlements.extend(new.iter().map(|s| (*s).to_owned())));
        }
        new.len()
    }

    /// Merges `other` into `self` (union; same grant: later-ranked wins;
    /// revocations: later keep-until wins).
    pub fn merge(&mut self, other: &GrantSet) {
        for by_id in other.grants.values() {
            for g in by_id.values() {
                self.upsert(g.clone());
            }
        }
        for (id, until) in &other.revoked {
            let slot = self.revoked.entry(id.clone()).or_insert(*until);
            *slot = (*slot).max(*until);
        }
    }

    /// Drops grants expired at `now` and revocations no longer needed;
    /// returns how many entries went.
    pub fn prune(&mut self, now: Timestamp) -> usize {
        let before = self.len() + self.revoked.len();
        for by_id in self.grants.values_mut() {
            by_id.retain(|_, g| now < g.expires_at);
        }
        self.grants.retain(|_, m| !m.is_empty());
        self.revoked.retain(|_, until| now < *until);
        before - (self.len() + self.revoked.len())
    }

    /// Number of grants held (expired and revoked ones included until pruned).
    pub fn len(&self) -> usize {
        self.grants.values().map(BTreeMap::len).sum()
    }

    /// Whether no grant is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exports the set as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Imports a set exported by [`GrantSet::to_json`], validating every grant.
    pub fn from_json(json: &str) -> Result<GrantSet, IdentityError> {
        let set: GrantSet =
            serde_json::from_str(json).map_err(|e| IdentityError::StateMalformed {
                what: "grant set",
                line: e.line(),
                column: e.column(),
                reason: e.to_string(),
            })?;
        for (subject, by_id) in &set.grants {
            for (id, g) in by_id {
                g.validate()?;
                if &g.subject != subject || &g.id != id {
                    return Err(invalid(
                        "subject",
                        "grant filed under another subject or id",
                    ));
                }
            }
        }
        for id in set.revoked.keys() {
            check_text("id", id)?;
        }
        Ok(set)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use crate::identity::{IdentityErrorKind, IdentityKind};
    use proptest::prelude::*;
    use serde_json::json;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix_seconds(s)
    }

    fn grant(id: &str, scope: &str, nbf: i64, exp: i64) -> Grant {
        Grant::new(
            id,
            "Alice@Example.com",
            scope,
            "INC-1",
            "bob@example.com",
            t(nbf),
            t(exp),
        )
        .unwrap()
    }

    #[test]
    fn self_approval_rejected() {
        let e = Grant::new("g", "alice@x.com", "s", "r", "ALICE@x.com", t(0), t(1)).unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::GrantSelfApproved);
        let e = Grant::new("g", "alice@x.com", "s", " ", "bob@x.com", t(0), t(1)).unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::InvalidGrant);
        assert!(Grant::new("g", "a", "s", "r", "b", t(5), t(5)).is_err());
    }

    #[test]
    fn active_window_and_apply() {
        let mut set = GrantSet::new();
        set.insert(grant("g1", "db:write", 100, 200)).unwrap();
        set.insert(grant("g2", "db:admin", 150, 300)).unwrap();
        assert_eq!(set.active_for("alice@example.com", t(99)).count(), 0);
        assert_eq!(set.active_for("ALICE@example.com", t(100)).count(), 1);
        assert_eq!(set.active_for("alice@example.com", t(160)).count(), 2);
        assert_eq!(set.active_for("alice@example.com", t(200)).count(), 1);

        let mut id = Identity::builder("00u1", "https://idp", IdentityKind::Human);
        id.claims.insert("email".into(), json!("alice@example.com"));
        id.entitlements.push("db:write".into());
        let mut id = id.build();
        assert_eq!(set.apply(&mut id, t(160)), 1);
        assert_eq!(id.entitlements(), ["db:write", "db:admin"]);
        assert_eq!(set.apply(&mut id, t(160)), 0);

        set.revoke("g2", t(300)).unwrap();
        assert_eq!(set.active_for("alice@example.com", t(160)).count(), 1);
        assert_eq!(set.prune(t(300)), 3);
        assert!(set.is_empty());
    }

    #[test]
    fn json_round_trip_validates() {
        let mut set = GrantSet::new();
        set.insert(grant("g1", "db:write", 100, 200)).unwrap();
        set.revoke("g0", t(50)).unwrap();
        assert_eq!(GrantSet::from_json(&set.to_json()).unwrap(), set);
        let tampered = set
            .to_json()
            .replace("bob@example.com", "alice@example.com");
        let e = GrantSet::from_json(&tampered).unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::GrantSelfApproved);
        let e = GrantSet::from_json("{\"grants\": [").unwrap_err();
        assert_eq!(e.kind(), IdentityErrorKind::StateMalformed);
    }

    fn arb_set() -> impl Strategy<Value = GrantSet> {
        let ops =
            proptest::collection::vec((any::<bool>(), "g[1-3]", "[a-b]", 0i64..4, 1i64..4), 0..10);
        ops.prop_map(|ops| {
            let mut s = GrantSet::new();
            for (revoke, id, scope, nbf, len) in ops {
                if revoke {
                    let _ = s.revoke(&id, t(nbf + len));
                } else {
                    let _ = s.insert(grant(&id, &scope, nbf, nbf + len));
                }
            }
            s
        })
    }

    fn merged(a: &GrantSet, b: &GrantSet) -> GrantSet {
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
    }
}
