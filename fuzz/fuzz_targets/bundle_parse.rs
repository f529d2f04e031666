#![no_main]
//! Bundle parsing and verification never panic, and whatever parses
//! re-serializes to the same bytes.

use libfuzzer_sys::fuzz_target;
use mesh_core::bundle::{Bundle, TrustedKeys};

fuzz_target!(|data: &[u8]| {
    if let Ok(bundle) = Bundle::parse(data) {
        assert_eq!(bundle.to_bytes(), data);
        let _ = bundle.check_digests();
        let _ = bundle.verify(&TrustedKeys::new());
    }
});
