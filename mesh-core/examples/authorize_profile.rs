//! Instruction-count probe for `Mesh::authorize` on the 1,000-policy
//! reference workload: run under
//! `valgrind --tool=callgrind --toggle-collect='*probe_*'` and divide each
//! probe's instructions by its iteration count (printed).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use common::{jwks_doc, TestKey, NOW};
use mesh_core::identity::Algorithm;
use mesh_core::policy::{EntityUid, IdentityMapping, Record, Request};
use mesh_core::{Credential, Identity, Mesh, Timestamp};
use serde_json::json;
use std::hint::black_box;

const ITERS: usize = 2_000;

struct Setup {
    idp: TestKey,
    policies: String,
    entities: String,
    token: String,
    action: EntityUid,
    resource: EntityUid,
    context: Record,
}

fn setup() -> Setup {
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
    Setup {
        idp,
        policies,
        entities,
        token,
        action: req.action().clone(),
        resource: req.resource().clone(),
        context: req.context().clone(),
    }
}

fn mesh(s: &Setup, cache: usize) -> Mesh {
    let cfg = json!({
        "issuers": [{"issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
                     "jwks": jwks_doc(&[&s.idp])}],
        "policies": [{"name": "policies.cedar", "text": s.policies}],
        "entities": s.entities,
        "cache": {"capacity": cache, "max_ttl_seconds": 3600},
    });
    Mesh::from_json(&cfg.to_string()).unwrap()
}

#[inline(never)]
fn probe_authorize(m: &Mesh, s: &Setup, now: Timestamp) {
    for _ in 0..ITERS {
        black_box(m.authorize(
            Credential::Bearer(black_box(&s.token)),
            &s.action,
            &s.resource,
            s.context.clone(),
            now,
        ));
    }
}

#[inline(never)]
fn probe_verify(m: &Mesh, s: &Setup, now: Timestamp) {
    for _ in 0..ITERS {
        black_box(
            m.verify(Credential::Bearer(black_box(&s.token)), now)
                .unwrap(),
        );
    }
}

#[inline(never)]
fn probe_request_and_decide(m: &Mesh, s: &Setup, identity: &Identity, now: Timestamp) {
    let content = m.content();
    let pc = content.value();
    let mapping = IdentityMapping::default();
    for _ in 0..ITERS {
        let r = Request::from_identity(
            identity,
            &mapping,
            s.action.clone(),
            s.resource.clone(),
            s.context.clone(),
            &pc.entities,
            now,
        );
        black_box(pc.policies.decide(&r, &pc.entities).is_allowed());
    }
}

#[inline(never)]
fn probe_activate(m: &Mesh, bundle: &[u8]) {
    black_box(m.activate_bundle(bundle).unwrap());
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let s = setup();
    let now = Timestamp::from_unix_seconds(NOW);
    let uncached = mesh(&s, 0);
    let cached = mesh(&s, 1_000);
    let _ = &s.idp;
    println!("iterations per probe: {ITERS}");
    if what.is_empty() || what == "uncached" {
        probe_authorize(&uncached, &s, now);
        probe_verify(&uncached, &s, now);
        let identity = uncached.verify(Credential::Bearer(&s.token), now).unwrap();
        probe_request_and_decide(&uncached, &s, &identity, now);
    }
    if what == "bundle" {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = ring::signature::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let key = mesh_core::bundle::SigningKey::from_pkcs8(pkcs8.as_ref()).unwrap();
        let cfg = json!({
            "issuers": [{"issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
                         "jwks": jwks_doc(&[&s.idp])}],
            "policies": [{"name": "policies.cedar", "text": s.policies}],
            "entities": s.entities,
            "bundles": {"trusted_keys": [key.verifying_key().to_base64()]},
        });
        let m = Mesh::from_json(&cfg.to_string()).unwrap();
        let mut b = mesh_core::bundle::BundleBuilder::new(1, now)
            .part("policies/policies.cedar", s.policies.as_str())
            .unwrap()
            .part("entities/entities.json", s.entities.as_str())
            .unwrap()
            .build()
            .unwrap();
        b.sign(&key).unwrap();
        probe_activate(&m, &b.to_bytes());
        return;
    }
    if what.is_empty() || what == "cached" {
        probe_authorize(&cached, &s, now);
    }
}
