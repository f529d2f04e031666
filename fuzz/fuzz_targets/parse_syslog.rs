#![no_main]
//! Syslog parser (RFC 5424 and 3164): never panics; PRI parts are in range.

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::parse_syslog;
use mesh_core::Timestamp;

fuzz_target!(|data: &[u8]| {
    for now in [0, 1_717_200_000_000, i64::MAX / 2, i64::MIN / 2] {
        if let Ok(m) = parse_syslog(data, Timestamp::from_unix_millis(now)) {
            assert!(m.facility.is_none_or(|f| f <= 23));
            assert!(m.severity.is_none_or(|s| s <= 7));
            let _ = m.into_record();
        }
    }
});
