#![no_main]
//! API-key parsing and verification never panic, and a key that parses
//! re-encodes to the same text.

use libfuzzer_sys::fuzz_target;
use mesh_core::identity::{ApiKey, ApiKeySpec, ApiKeyStore};
use mesh_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(key) = ApiKey::parse(text) {
        assert_eq!(key.expose_secret(), text);
        assert!(!format!("{key:?}").contains(text));
    }
    if let Ok(mut store) = ApiKeyStore::new(&[7u8; 32]) {
        let _ = store.issue([1u8; 30], ApiKeySpec::service("svc"));
        let _ = store.verify(text, Timestamp::EPOCH);
        let _ = store.import_json(text);
    }
});
