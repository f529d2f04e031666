//! Instruction-count probe for the identity hot paths: run under
//! `valgrind --tool=callgrind --toggle-collect='*probe_*'` and divide the
//! collected instructions by the iteration count (`ITERS`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../benches/support/revocation_fixture.rs"]
mod revocation_fixture;

use mesh_core::identity::{
    Algorithm, ApiKeySpec, ApiKeyStore, IssuerConfig, IssuerRegistry, KeySet, RevocationSet,
    TokenCache,
};
use mesh_core::{Identity, IdentityKind, Timestamp};
use revocation_fixture::{checked_identity, revocation_set, unrevoked_identity};
use std::hint::black_box;
use std::time::Duration;

const ITERS: usize = 10_000;

#[inline(never)]
fn probe_cache_hit(cache: &TokenCache, tokens: &[String], revs: &RevocationSet, now: Timestamp) {
    for i in 0..ITERS {
        let t = &tokens[i % tokens.len()];
        let r = cache.get_or_verify(black_box(t), now, revs, |_| Err::<Identity, ()>(()));
        black_box(r.unwrap());
    }
}

#[inline(never)]
fn probe_revocation_check(set: &RevocationSet, id: &Identity, now: Timestamp) {
    for _ in 0..ITERS {
        black_box(set.check(black_box(id), now));
    }
}

#[inline(never)]
fn probe_revocation_cycled(set: &RevocationSet, ids: &[Identity], now: Timestamp) {
    for i in 0..ITERS {
        black_box(set.check(black_box(&ids[i % ids.len()]), now));
    }
}

#[inline(never)]
fn probe_api_key_verify(store: &ApiKeyStore, keys: &[String], now: Timestamp) {
    for i in 0..ITERS {
        black_box(store.verify(black_box(&keys[i % keys.len()]), now).unwrap());
    }
}

#[inline(never)]
fn probe_api_key_record(store: &ApiKeyStore, keys: &[String], now: Timestamp) {
    for i in 0..ITERS {
        black_box(
            store
                .verify_record(black_box(&keys[i % keys.len()]), now)
                .unwrap(),
        );
    }
}

#[inline(never)]
fn probe_token_verify(reg: &IssuerRegistry, token: &str, now: Timestamp) {
    for _ in 0..ITERS {
        black_box(reg.verify(black_box(token), now).unwrap());
    }
}

#[inline(never)]
fn probe_token_floor(key: &ring::hmac::Key, input: &[u8], sig: &[u8]) {
    for _ in 0..ITERS {
        ring::hmac::verify(key, black_box(input), sig).unwrap();
    }
}

#[inline(never)]
fn probe_token_verify_alg(reg: &IssuerRegistry, token: &str, now: Timestamp) {
    for _ in 0..ALG_ITERS {
        black_box(reg.verify(black_box(token), now).unwrap());
    }
}

/// The raw ring verification of the same signature (the bench's floor).
#[inline(never)]
fn probe_token_floor_alg(key: &PublicKey, input: &[u8], sig: &[u8]) {
    for _ in 0..ALG_ITERS {
        assert!(key.verify(black_box(input), sig));
    }
}

/// A public key as the bench's floor holds it, verified with raw ring.
enum PublicKey {
    Rsa(Vec<u8>, Vec<u8>),
    Ec(Vec<u8>),
    Ed(Vec<u8>),
}

impl PublicKey {
    fn of(key: &common::TestKey) -> PublicKey {
        let d = |m: &str| {
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                key.jwk[m].as_str().unwrap(),
            )
            .unwrap()
        };
        match key.alg {
            Algorithm::RS256 => PublicKey::Rsa(d("n"), d("e")),
            Algorithm::ES256 => {
                let mut point = vec![4u8];
                point.extend(d("x"));
                point.extend(d("y"));
                PublicKey::Ec(point)
            }
            _ => PublicKey::Ed(d("x")),
        }
    }

    fn verify(&self, input: &[u8], sig: &[u8]) -> bool {
        use ring::signature as rsig;
        match self {
            PublicKey::Rsa(n, e) => rsig::RsaPublicKeyComponents { n, e }
                .verify(&rsig::RSA_PKCS1_2048_8192_SHA256, input, sig)
                .is_ok(),
            PublicKey::Ec(point) => {
                rsig::UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, sig)
                    .is_ok()
            }
            PublicKey::Ed(public) => rsig::UnparsedPublicKey::new(&rsig::ED25519, public)
                .verify(input, sig)
                .is_ok(),
        }
    }
}

/// Iterations of the slower public-key modes (`token-rs256`, ...): each
/// runs `probe_token_verify_alg` (mesh) and `probe_token_floor_alg` (raw
/// ring on the same signature); their difference is mesh's overhead.
const ALG_ITERS: usize = 200;

/// An HS256 token like the `token_verify` bench's (~800 bytes).
fn token_fixture(now_s: i64) -> (IssuerRegistry, String) {
    token_fixture_alg(now_s, Algorithm::HS256)
}

/// The same claims signed with `alg`.
fn token_fixture_alg(now_s: i64, alg: Algorithm) -> (IssuerRegistry, String) {
    let (reg, token, _) = token_fixture_key(now_s, alg);
    (reg, token)
}

/// [`token_fixture_alg`] and the signing key.
fn token_fixture_key(now_s: i64, alg: Algorithm) -> (IssuerRegistry, String, common::TestKey) {
    let iss = "https://hs.idp.example.com";
    let hs = common::TestKey::new(alg, "hs-2025-01");
    let mut reg = IssuerRegistry::new();
    let set = KeySet::from_jwks(common::jwks_doc(&[&hs]).as_bytes()).unwrap();
    reg.add(IssuerConfig::new(iss, set, &[alg]).audience("api://orders"))
        .unwrap();
    let claims = serde_json::json!({
        "iss": iss, "sub": "00u1a2b3c4d5e6f7g8h9", "aud": "api://orders",
        "exp": now_s + 900, "nbf": now_s - 5, "iat": now_s - 5,
        "jti": "b6f1d0e2-6a4c-4f7e-9d1b-2c3a4b5c6d7e", "sid": "s-7d9f0a1b2c3d",
        "email": "alice.engineer@example.com",
        "groups": ["engineering", "oncall-primary", "payments-readers"],
        "roles": ["orders.reader", "orders.writer"],
        "scope": "openid profile email orders.read orders.write",
        "amr": ["pwd", "mfa", "hwk"], "acr": "urn:example:acr:phishing-resistant",
        "auth_time": now_s - 60, "tenant": "7f3c2a", "department": "R&D"
    });
    let token = hs.sign(&claims);
    (reg, token, hs)
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let exp = Timestamp::from_unix_seconds(2_000_000_000);
    if what.is_empty() || what == "token" {
        let (reg, token) = token_fixture(now.unix_seconds());
        probe_token_verify(&reg, &token, now);
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig =
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, common::HMAC_SECRET);
        probe_token_floor(&key, input.as_bytes(), &sig);
    }
    for (mode, alg) in [
        ("token-rs256", Algorithm::RS256),
        ("token-es256", Algorithm::ES256),
        ("token-eddsa", Algorithm::EdDSA),
    ] {
        if what == mode {
            let (reg, token, key) = token_fixture_key(now.unix_seconds(), alg);
            probe_token_verify_alg(&reg, &token, now);
            let (input, sig) = token.rsplit_once('.').unwrap();
            let sig =
                base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig)
                    .unwrap();
            probe_token_floor_alg(&PublicKey::of(&key), input.as_bytes(), &sig);
        }
    }
    if what.is_empty() || what == "cache" {
        let cache = TokenCache::new(1_000, Duration::from_secs(600));
        let revs = RevocationSet::new();
        let tokens: Vec<String> = (0..1_000)
            .map(|i| format!("eyJhbGciOiJFUzI1NiJ9.{i:08}{}", "x".repeat(780)))
            .collect();
        for t in &tokens {
            let mut id = Identity::new("svc", "https://idp", IdentityKind::Service);
            id.set_expires_at(Some(now.saturating_add(Duration::from_secs(3600))));
            cache.insert(t, id, now);
        }
        probe_cache_hit(&cache, &tokens, &revs, now);
    }
    if what.is_empty() || what == "revocation" {
        let set = revocation_set(97_000, 1_000, exp);
        let ok = checked_identity().build();
        assert!(set.check(&ok, now).is_none());
        probe_revocation_check(&set, &ok, now);
    }
    if what == "revocation-1m" {
        // The bench's set: 1M entries, and 1,024 distinct unrevoked
        // identities in turn (their filter words are not in cache).
        let set = revocation_set(970_000, 10_000, exp);
        let ids: Vec<Identity> = (0..1024).map(unrevoked_identity).collect();
        for id in &ids {
            assert!(set.check(id, now).is_none());
        }
        probe_revocation_cycled(&set, &ids, now);
    }
    if what.is_empty() || what == "apikey" {
        let mut store = ApiKeyStore::new(&[42u8; 32]).unwrap();
        let mut keys = Vec::new();
        for i in 0..10_000u64 {
            let mut spec = ApiKeySpec::service(format!("svc-{i}"));
            spec.roles.push("reader".into());
            let mut secret = [0u8; 30];
            secret[..8].copy_from_slice(&i.to_le_bytes());
            let key = store.issue(secret, spec).unwrap();
            if i % 100 == 0 {
                keys.push(key.expose_secret().to_owned());
            }
        }
        probe_api_key_verify(&store, &keys, now);
        probe_api_key_record(&store, &keys, now);
    }
}
