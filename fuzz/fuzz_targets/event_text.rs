#![no_main]
//! Reading an OCSF event straight from its JSON text never panics, and gives
//! the same signal (or the same error) as parsing the text into a value and
//! reading that.

use libfuzzer_sys::fuzz_target;
use mesh_core::analytics::Signal;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let fast = Signal::from_json(s);
    match serde_json::from_str::<serde_json::Value>(s) {
        Ok(v) => assert_eq!(fast, Signal::from_event(&v)),
        Err(_) => assert!(fast.is_err()),
    }
});
