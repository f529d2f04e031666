#![no_main]
//! key=value parser: never panics.

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_kv, MAX_FIELDS};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_kv(data) {
        assert!(r.fields().len() <= MAX_FIELDS);
    }
});
