//! Instruction-count probe for the identity hot paths: run under
//! `valgrind --tool=callgrind --toggle-collect='*probe_*'` and divide the
//! collected instructions by the iteration count (`ITERS`).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

use mesh_core::identity::{ApiKeySpec, ApiKeyStore, DevicePosture, RevocationSet, TokenCache};
use mesh_core::{Identity, IdentityKind, Timestamp};
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

fn main() {
    let what = std::env::args().nth(1).unwrap_or_default();
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let exp = Timestamp::from_unix_seconds(2_000_000_000);
    if what.is_empty() || what == "cache" {
        let cache = TokenCache::new(1_000, Duration::from_secs(600));
        let revs = RevocationSet::new();
        let tokens: Vec<String> = (0..1_000)
            .map(|i| format!("eyJhbGciOiJFUzI1NiJ9.{i:08}{}", "x".repeat(780)))
            .collect();
        for t in &tokens {
            let mut id = Identity::new("svc", "https://idp", IdentityKind::Service);
            id.expires_at = Some(now.saturating_add(Duration::from_secs(3600)));
            cache.insert(t, id, now);
        }
        probe_cache_hit(&cache, &tokens, &revs, now);
    }
    if what.is_empty() || what == "revocation" {
        let mut set = RevocationSet::new();
        for i in 0..97_000u64 {
            set.revoke_token(&format!("{i:08x}-5a1e-4c3b-9f0d-1b2c3d4e5f60"), exp)
                .unwrap();
        }
        for i in 0..1_000u64 {
            let before = Timestamp::from_unix_seconds(1_600_000_000);
            set.revoke_subject(&format!("user{i}@example.com"), before, exp)
                .unwrap();
            set.revoke_session(&format!("sid-{i}"), exp).unwrap();
            set.revoke_device(&format!("dev-{i}"), before, exp).unwrap();
        }
        let mut ok = Identity::new("00u9xyz", "https://idp.example.com", IdentityKind::Human);
        ok.token_id = Some("ffffffff-5a1e-4c3b-9f0d-1b2c3d4e5f60".into());
        ok.session_id = Some("sid-not-revoked".into());
        ok.issued_at = Some(Timestamp::from_unix_seconds(1_699_999_000));
        ok.device = Some(DevicePosture {
            device_id: "dev-ok".into(),
            ..DevicePosture::default()
        });
        ok.claims
            .insert("email".into(), serde_json::json!("Bob@Example.com"));
        assert!(set.check(&ok, now).is_none());
        probe_revocation_check(&set, &ok, now);
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
