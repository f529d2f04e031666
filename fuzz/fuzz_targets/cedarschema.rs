#![no_main]
//! The `.cedarschema` parser never panics, and every error points inside the input.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Err(e) = mesh_core::policy::Schema::from_cedarschema(s, "fuzz.cedarschema") {
            let lines = u32::try_from(s.lines().count().max(1)).unwrap_or(u32::MAX);
            assert!(e.diagnostic().line() >= 1 && e.diagnostic().line() <= lines.saturating_add(1));
            let _ = e.report();
        }
    }
});
