//! Any bytes given to token verification: never a panic, only a verdict, and
//! the fast path of `verify` answers exactly as the general path of
//! `verify_token`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_core::identity::{
    verify_jws, Algorithm, IssuerConfig, IssuerRegistry, JwsOptions, KeySet, VerifyingKey,
};
use mesh_core::Timestamp;
use std::sync::OnceLock;

fn registry() -> &'static (IssuerRegistry, KeySet) {
    static REG: OnceLock<(IssuerRegistry, KeySet)> = OnceLock::new();
    REG.get_or_init(|| {
        let mut reg = IssuerRegistry::new();
        if let Ok(k) = VerifyingKey::hmac(&[0x42; 32], Some("hs"), Some(Algorithm::HS256)) {
            let _ = reg.add(
                IssuerConfig::new(
                    "https://idp.example",
                    KeySet::single(k),
                    &[Algorithm::HS256],
                )
                .audience("api"),
            );
        }
        let mut ed = KeySet::new();
        if let Ok(k) = VerifyingKey::ed25519(&[9; 32], Some("ed")) {
            let _ = ed.push(k);
        }
        (reg, ed)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    let (reg, ed) = registry();
    let now = Timestamp::from_unix_seconds(1_700_000_000);
    let general = reg.verify_token(token, now).map(|v| v.identity);
    assert_eq!(reg.verify(token, now), general);
    let _ = verify_jws(token, ed, &Algorithm::ALL, &JwsOptions::default());
});
