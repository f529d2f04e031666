//! End to end through the identity stores: an API key authenticates a
//! service, a just-in-time grant adds an entitlement, the token cache serves
//! repeats, and revocations merged from another process cut access off;
//! workload and device identities are revocable the same way.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use mesh_core::identity::{
    ApiKeySpec, ApiKeyStore, CacheError, DeviceRecord, Grant, GrantSet, IdentityError,
    IdentityErrorKind, RevocationReason, RevocationSet, SpiffeId, TokenCache,
};
use mesh_core::{IdentityKind, Timestamp};
use std::sync::Arc;
use std::time::Duration;

fn t(s: i64) -> Timestamp {
    Timestamp::from_unix_seconds(s)
}

#[test]
fn api_key_grant_cache_and_revocation() {
    let mut store = ApiKeyStore::new(&[3u8; 32]).unwrap();
    let mut spec = ApiKeySpec::service("svc-reports");
    spec.entitlements.push("reports:read".into());
    let key = store.issue([9u8; 30], spec).unwrap();

    let mut grants = GrantSet::new();
    grants
        .insert(
            Grant::new(
                "CHG-7",
                "svc-reports",
                "reports:export",
                "quarterly close",
                "alice@example.com",
                t(0),
                t(3600),
            )
            .unwrap(),
        )
        .unwrap();

    let cache = TokenCache::new(100, Duration::from_secs(300));
    let local = RevocationSet::new();
    let verify = |k: &str| {
        let mut id = Arc::unwrap_or_clone(store.verify(k, t(10))?);
        grants.apply(&mut id, t(10));
        id.set_issued_at(Some(t(5)));
        Ok::<_, IdentityError>(id)
    };
    let id = cache
        .get_or_verify(key.expose_secret(), t(10), &local, verify)
        .unwrap();
    assert_eq!(id.kind(), IdentityKind::Service);
    assert_eq!(id.entitlements(), ["reports:read", "reports:export"]);

    // Another process revokes the key by id; the update arrives by merge.
    let mut remote = RevocationSet::new();
    remote.revoke_token(key.id(), t(7200)).unwrap();
    let mut merged = local.clone();
    merged.merge(&remote);
    let e = cache
        .get_or_verify(key.expose_secret(), t(11), &merged, verify)
        .unwrap_err();
    assert_eq!(e, CacheError::Revoked(RevocationReason::TokenId));

    // A typo never reaches the store's lookup.
    let mut typo = key.expose_secret().to_owned();
    let replacement = if &typo[30..31] == "a" { "b" } else { "a" };
    typo.replace_range(30..31, replacement);
    assert_eq!(
        store.verify(&typo, t(10)).unwrap_err().kind(),
        IdentityErrorKind::ApiKeyBadChecksum
    );
}

#[test]
fn workload_and_device_identities() {
    let spiffe = SpiffeId::try_from("spiffe://prod.example.org/ns/pay/sa/api").unwrap();
    let workload = spiffe.to_identity();
    assert_eq!(workload.issuer(), "spiffe://prod.example.org");
    assert_eq!(workload.actor_key().as_str(), spiffe.as_str());

    let mut laptop = DeviceRecord::new("LT-001", t(100));
    laptop.owner = Some("bob@example.com".into());
    laptop.compliant = true;
    let device = laptop.to_identity(t(160)).unwrap();
    assert_eq!(device.kind(), IdentityKind::Device);

    let mut revs = RevocationSet::new();
    revs.revoke_device("LT-001", Timestamp::MAX, t(10_000))
        .unwrap();
    assert_eq!(revs.check(&device, t(200)), Some(RevocationReason::Device));
    let json = revs.to_json();
    assert_eq!(RevocationSet::from_json(&json).unwrap(), revs);
}
