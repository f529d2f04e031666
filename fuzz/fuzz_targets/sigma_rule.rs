#![no_main]
//! Sigma rule loading never panics; a loaded rule set evaluates any event
//! without panicking.

use libfuzzer_sys::fuzz_target;
use mesh_core::analytics::{FieldMapping, SigmaRuleSet};

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let mut rules = SigmaRuleSet::new(FieldMapping::new());
        if rules.add_yaml(s).is_ok() {
            let event = serde_json::json!({
                "class_uid": 1007, "time": 1,
                "process": {"file": {"path": s}, "cmd_line": s},
                "actor": {"process": {"file": {"path": s}}}
            });
            let _ = rules.evaluate(&event);
        }
    }
});
