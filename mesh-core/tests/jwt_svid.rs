//! JWT-SVID verification on top of the token verifier: signed tokens that
//! follow the JWT-SVID profile pass; tokens that break it fail.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::{key_set, TestKey, NOW};
use mesh_core::identity::{
    verify_jwt_svid, Algorithm, IdentityErrorKind, IdentityKind, IssuerConfig, IssuerRegistry,
    JwtSvidProfile, TrustDomain,
};
use mesh_core::Timestamp;
use serde_json::json;

const ISS: &str = "https://spire.example.org";

fn setup(key: &TestKey, alg: Algorithm) -> (IssuerRegistry, JwtSvidProfile) {
    let mut reg = IssuerRegistry::new();
    reg.add(IssuerConfig::new(ISS, key_set(&[key]), &[alg]).audience("payments"))
        .unwrap();
    let profile = JwtSvidProfile::new(TrustDomain::parse("example.org").unwrap(), "payments");
    (reg, profile)
}

fn svid_claims(sub: &str) -> serde_json::Value {
    json!({"iss": ISS, "sub": sub, "aud": ["payments"], "exp": NOW + 300, "iat": NOW - 10})
}

#[test]
fn valid_jwt_svid_verifies() {
    let key = TestKey::new(Algorithm::ES256, "k1");
    let (reg, profile) = setup(&key, Algorithm::ES256);
    let token = key.sign(&svid_claims("spiffe://example.org/ns/web/sa/frontend"));
    let (id, identity) =
        verify_jwt_svid(&reg, &profile, &token, Timestamp::from_unix_seconds(NOW)).unwrap();
    assert_eq!(id.path(), "/ns/web/sa/frontend");
    assert_eq!(identity.kind(), IdentityKind::Service);
    assert_eq!(identity.subject(), id.as_str());
}

#[test]
fn profile_violations_rejected() {
    let now = Timestamp::from_unix_seconds(NOW);
    let key = TestKey::new(Algorithm::ES256, "k1");
    let (reg, profile) = setup(&key, Algorithm::ES256);
    let other_td = key.sign(&svid_claims("spiffe://evil.org/ns/web"));
    let e = verify_jwt_svid(&reg, &profile, &other_td, now).unwrap_err();
    assert_eq!(e.kind(), IdentityErrorKind::SvidTrustDomainMismatch);
    let not_spiffe = key.sign(&svid_claims("user-1"));
    let e = verify_jwt_svid(&reg, &profile, &not_spiffe, now).unwrap_err();
    assert_eq!(e.kind(), IdentityErrorKind::SvidProfile);
    let bad_path = key.sign(&svid_claims("spiffe://example.org/a/../b"));
    assert!(verify_jwt_svid(&reg, &profile, &bad_path, now).is_err());

    // An HMAC-signed token fails the profile even if the issuer allowed it.
    let hs = TestKey::new(Algorithm::HS256, "h1");
    let (reg, profile) = setup(&hs, Algorithm::HS256);
    let token = hs.sign(&svid_claims("spiffe://example.org/x"));
    let e = verify_jwt_svid(&reg, &profile, &token, now).unwrap_err();
    assert_eq!(e.kind(), IdentityErrorKind::SvidProfile);
    assert!(e.to_string().contains("`alg`"));
}
