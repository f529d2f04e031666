//! The authorization workload shared by the `mesh_authorize` bench and the
//! `authorize_profile` example: the 1,000-policy reference workload
//! (`benches/data/wl1000`), an ES256 token for its first request's
//! principal, and a bundle signing key the mesh trusts.
//! Included with `#[path]` next to `mod common` (tests/common).
#![allow(dead_code)]

use super::common::{self, jwks_doc, TestKey, NOW};
use mesh_core::bundle::{BundleBuilder, SigningKey};
use mesh_core::identity::Algorithm;
use mesh_core::policy::{EntityUid, Record, Request};
use mesh_core::{Mesh, Timestamp};
use serde_json::json;

pub struct Setup {
    pub idp: TestKey,
    pub bundle_key: SigningKey,
    pub policies: String,
    pub entities: String,
    pub token: String,
    pub action: EntityUid,
    pub resource: EntityUid,
    pub context: Record,
}

pub fn setup() -> Setup {
    let dir = common::data_dir(1000);
    let policies = std::fs::read_to_string(dir.join("policies.cedar")).unwrap();
    let entities = std::fs::read_to_string(dir.join("entities.json")).unwrap();
    let line = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(line.lines().next().unwrap()).unwrap();
    let mut req = Request::from_json(&first).unwrap();
    common::apply_schema_ip(&mut req);
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let sub = req.principal().id().to_owned();
    let token = idp.sign(&json!({
        "iss": "https://idp", "aud": "api", "sub": sub, "iat": NOW - 60, "exp": NOW + 3000,
        "groups": ["g0", "g1"], "roles": ["r0"], "amr": ["pwd", "mfa"],
    }));
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    Setup {
        idp,
        bundle_key: SigningKey::from_pkcs8(pkcs8.as_ref()).unwrap(),
        policies,
        entities,
        token,
        action: req.action().clone(),
        resource: req.resource().clone(),
        context: req.context().clone(),
    }
}

pub fn mesh(s: &Setup, cache: usize) -> Mesh {
    let cfg = json!({
        "issuers": [{"issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
                     "jwks": jwks_doc(&[&s.idp])}],
        "policies": [{"name": "policies.cedar", "text": s.policies}],
        "entities": s.entities,
        "bundles": {"trusted_keys": [s.bundle_key.verifying_key().to_base64()]},
        "cache": {"capacity": cache, "max_ttl_seconds": 3600},
    });
    Mesh::from_json(&cfg.to_string()).unwrap()
}

pub fn bundle(s: &Setup, rev: u64) -> Vec<u8> {
    let mut b = BundleBuilder::new(rev, Timestamp::from_unix_seconds(NOW))
        .part("policies/policies.cedar", s.policies.as_str())
        .unwrap()
        .part("entities/entities.json", s.entities.as_str())
        .unwrap()
        .build()
        .unwrap();
    b.sign(&s.bundle_key).unwrap();
    b.to_bytes()
}
