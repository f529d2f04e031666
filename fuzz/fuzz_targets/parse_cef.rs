#![no_main]
//! CEF parser: never panics; a parsed record never holds more fields than allowed.

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_cef, MAX_FIELDS};
use mesh_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_cef(data, Timestamp::from_unix_seconds(1_717_200_000)) {
        assert!(r.fields().len() <= MAX_FIELDS + 9);
    }
});
