#![no_main]
//! Parsing and compiling policy text never panics; diagnostics always render.

use libfuzzer_sys::fuzz_target;
use mesh_core::policy::{parse_policies, PolicySet};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match parse_policies(s, "fuzz.cedar") {
            Ok(policies) => {
                if let Err(e) = PolicySet::from_policies(policies) {
                    let _ = e.diagnostic().map(|d| d.render());
                }
            }
            Err(e) => {
                let _ = e.diagnostic().map(|d| d.render());
            }
        }
    }
});
