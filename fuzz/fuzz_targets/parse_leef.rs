#![no_main]
//! LEEF parser (1.0 and 2.0): never panics.

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_leef, MAX_FIELDS};
use mesh_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_leef(data, Timestamp::from_unix_seconds(1_717_200_000)) {
        assert!(r.fields().len() <= MAX_FIELDS + 8);
    }
});
