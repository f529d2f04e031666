//! Properties of token verification: claims round-trip through sign/verify,
//! and any single-byte change to a signed token is rejected.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{key_set, TestKey, NOW};
use mesh_core::identity::{Algorithm, IssuerConfig, IssuerRegistry};
use mesh_core::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const ISS: &str = "https://idp.example";

fn registry(keys: &[&TestKey]) -> IssuerRegistry {
    let mut reg = IssuerRegistry::new();
    let algs: Vec<Algorithm> = keys.iter().map(|k| k.alg).collect();
    reg.add(IssuerConfig::new(ISS, key_set(keys), &algs).audience("api"))
        .unwrap();
    reg
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(NOW)
}

fn name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9_]{0,11}".prop_filter("not a mapped claim", |n| {
        !mesh_core::identity::MAPPED_CLAIMS.contains(&n.as_str())
            && !["aud", "nbf"].contains(&n.as_str())
    })
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,16}".prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn custom_claims() -> impl Strategy<Value = Map<String, Value>> {
    let value = leaf().prop_recursive(2, 12, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(name(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    });
    prop::collection::btree_map(name(), value, 0..6).prop_map(|m| m.into_iter().collect())
}

fn strings() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[A-Za-z0-9:._-]{1,12}", 0..4)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn claims_round_trip(
        sub in "\\PC{1,24}",
        extra in custom_claims(),
        groups in strings(),
        roles in strings(),
        scopes in strings(),
        jti in "[a-z0-9-]{1,16}",
        lifetime in 1i64..3600,
    ) {
        let key = TestKey::new(Algorithm::EdDSA, "k");
        let reg = registry(&[&key]);
        let mut claims = json!({
            "iss": ISS, "sub": sub, "aud": ["api", "other"], "exp": NOW + lifetime,
            "iat": NOW, "jti": jti, "groups": groups, "roles": roles,
            "scope": scopes.join(" "),
        });
        for (k, v) in &extra {
            claims[k] = v.clone();
        }
        let v = reg.verify_token(&key.sign(&claims), now()).unwrap();
        prop_assert_eq!(v.identity.subject(), &sub);
        prop_assert_eq!(v.identity.issuer(), ISS);
        prop_assert_eq!(v.identity.groups().to_vec(), groups.clone());
        prop_assert_eq!(v.identity.roles().to_vec(), roles.clone());
        prop_assert_eq!(v.identity.entitlements().to_vec(), scopes.clone());
        prop_assert_eq!(v.identity.token_id(), Some(jti.as_str()));
        prop_assert_eq!(v.identity.expires_at(), Some(Timestamp::from_unix_seconds(NOW + lifetime)));
        prop_assert_eq!(v.claims.aud.clone(), vec!["api".to_owned(), "other".to_owned()]);
        for (k, val) in &extra {
            prop_assert_eq!(v.identity.claims().get(k), Some(val));
        }
    }

    #[test]
    fn any_single_byte_change_is_rejected(
        alg_i in 0usize..4,
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let alg = [Algorithm::HS256, Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA][alg_i];
        let key = TestKey::new(alg, "k");
        let reg = registry(&[&key]);
        let claims = json!({"iss": ISS, "sub": "u", "aud": "api", "exp": NOW + 60, "iat": NOW});
        let token = key.sign(&claims);
        prop_assert!(reg.verify(&token, now()).is_ok());
        let mut bytes = token.into_bytes();
        let i = pos.index(bytes.len());
        prop_assume!(bytes[i] != byte);
        bytes[i] = byte;
        // Invalid UTF-8 cannot even be presented as a token string.
        if let Ok(t) = String::from_utf8(bytes) {
            prop_assert!(reg.verify(&t, now()).is_err(), "accepted a modified token");
        }
    }

    #[test]
    fn arbitrary_input_never_panics(s in "\\PC{0,300}") {
        let key = TestKey::new(Algorithm::HS256, "k");
        let reg = registry(&[&key]);
        let _ = reg.verify(&s, now());
    }
}
