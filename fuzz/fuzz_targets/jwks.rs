//! Any bytes given to the JWKS parser: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_core::identity::{Algorithm, KeySet};

fuzz_target!(|data: &[u8]| {
    if let Ok(set) = KeySet::from_jwks(data) {
        for k in set.keys() {
            let _ = k.verify(Algorithm::RS256, b"x", b"y");
        }
    }
});
