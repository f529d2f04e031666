#![no_main]
//! Actor-key canonicalization never panics, and is idempotent.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(key) = mesh_core::ActorKey::from_identifier(s) {
            let again = mesh_core::ActorKey::from_identifier(key.as_str());
            assert_eq!(again.ok().as_ref(), Some(&key));
        }
    }
});
