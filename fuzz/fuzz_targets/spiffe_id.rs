#![no_main]
//! SPIFFE ID parsing never panics, accepts only IDs within the limits, and
//! round-trips through Display.

use libfuzzer_sys::fuzz_target;
use mesh_core::identity::{SpiffeId, TrustDomain, MAX_SPIFFE_ID_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(id) = SpiffeId::parse(text) {
        assert!(text.len() <= MAX_SPIFFE_ID_LEN);
        assert_eq!(id.to_string(), text);
        assert!(!id.path().ends_with('/'));
        let td = TrustDomain::parse(id.trust_domain());
        assert!(td.is_ok());
    }
    let _ = TrustDomain::parse(text);
});
