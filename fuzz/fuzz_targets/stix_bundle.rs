#![no_main]
//! STIX bundle loading never panics, whether the input is a whole bundle or
//! only an indicator pattern; loaded indicators match events without panicking.

use libfuzzer_sys::fuzz_target;
use mesh_core::analytics::IntelSet;
use mesh_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let mut intel = IntelSet::new();
    let _ = intel.load_bundle(s);
    let bundle = serde_json::json!({"type": "bundle", "objects": [
        {"type": "indicator", "id": "indicator--f", "pattern": s, "pattern_type": "stix",
         "valid_from": "2024-01-01T00:00:00Z"}]});
    if intel.load_bundle_value(&bundle).is_ok() {
        let event =
            serde_json::json!({"time": 1, "src_endpoint": {"ip": "198.51.100.7", "hostname": s}});
        let _ = intel.match_event(&event, Timestamp::from_unix_millis(1_800_000_000_000));
    }
});
