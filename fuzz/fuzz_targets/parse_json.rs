#![no_main]
//! JSON record parser, NDJSON splitting, and the whole normalization path
//! with a declarative mapping: never panics; errors carry the input.

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_json, NdjsonLines};
use mesh_core::events::mapping::Mapping;
use mesh_core::events::{NormalizeOptions, Normalizer};
use mesh_core::Timestamp;

const MAPPING: &str = include_str!("../../mesh-core/tests/data/events/cloudtrail_mapping.json");

fuzz_target!(|data: &[u8]| {
    let _ = parse_json(data);
    for (_, line) in NdjsonLines::new(data) {
        let _ = parse_json(line);
    }
    let mut n = Normalizer::new(NormalizeOptions::default());
    if let Ok(m) = Mapping::from_json(MAPPING) {
        let _ = n.register(Box::new(m));
    }
    match n.normalize(data, None, Timestamp::from_unix_seconds(1_717_200_000)) {
        Ok(e) => {
            assert!(mesh_core::events::validate(&e).is_empty());
        }
        Err(e) => assert!(e.raw() == data || e.raw().is_empty()),
    }
});
