//! Every built-in source, named and detected, on arbitrary bytes: no panic,
//! and every event it emits passes semantic validation.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_core::events::{sources, validate, NormalizeOptions, Normalizer};
use mesh_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    let mut n = Normalizer::new(NormalizeOptions::default());
    if sources::register_builtin(&mut n).is_err() {
        return;
    }
    let now = Timestamp::from_unix_millis(1_795_640_800_000);
    let _ = n.detect(data, now);
    for id in sources::builtin_source_ids() {
        if let Ok(event) = n.normalize(data, Some(id), now) {
            assert!(validate(&event).is_empty());
        }
    }
    if let Ok(event) = n.normalize(data, None, now) {
        assert!(validate(&event).is_empty());
    }
});
