#![no_main]
//! Loading entity JSON never panics.

use libfuzzer_sys::fuzz_target;
use mesh_core::policy::Entities;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = Entities::from_json_str(s);
    }
});
