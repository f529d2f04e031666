//! Every built-in source, named and detected, on arbitrary bytes: no panic,
//! and every event it emits passes semantic validation; a source that maps
//! straight from the bytes gives the same event as the general path, and
//! `normalize_json` writes the bytes `serde_json` writes of that event
//! (also with `raw_data` kept).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_json, Format};
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
        let mut out = Vec::new();
        let written = n.normalize_json(data, Some(id), now, &mut out);
        if let Ok(event) = n.normalize(data, Some(id), now) {
            assert!(validate(&event).is_empty());
            // Straight to JSON: the bytes `serde_json` writes of the event.
            assert!(written.is_ok());
            assert_eq!(serde_json::to_vec(&event).ok(), Some(out));
            let json = n.source(id).map(|s| s.format()) == Some(Format::Json);
            if let (true, Ok(record)) = (json, parse_json(data)) {
                if let Ok(general) = n.normalize_record(record, id, now) {
                    assert_eq!(
                        serde_json::to_string(&event).ok(),
                        serde_json::to_string(&general).ok()
                    );
                }
            }
        }
    }
    if let Ok(event) = n.normalize(data, None, now) {
        assert!(validate(&event).is_empty());
    }
    // With `raw_data` kept, the sources that write JSON straight from the
    // bytes write it too, as `serde_json` does.
    let mut keep = Normalizer::new(NormalizeOptions {
        keep_raw_data: true,
        ..NormalizeOptions::default()
    });
    if sources::register_builtin(&mut keep).is_err() {
        return;
    }
    for id in ["aws.cloudtrail"] {
        let mut out = Vec::new();
        let written = keep.normalize_json(data, Some(id), now, &mut out);
        if let Ok(event) = keep.normalize(data, Some(id), now) {
            assert!(written.is_ok());
            assert_eq!(serde_json::to_vec(&event).ok(), Some(out));
        }
    }
});
