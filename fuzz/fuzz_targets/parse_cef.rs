#![no_main]
//! CEF parser: never panics; a parsed record never holds more fields than
//! allowed; the borrowed parse agrees with the record and borrows only from
//! the input.

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_cef, CefLine, MAX_FIELDS};
use mesh_core::Timestamp;

fn inside(data: &[u8], s: &str) -> bool {
    let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    let p = s.as_ptr() as usize;
    s.is_empty() || (p >= start && p + s.len() <= end)
}

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_unix_seconds(1_717_200_000);
    let line = CefLine::parse(data, now);
    match (&line, parse_cef(data, now)) {
        (Ok(l), Ok(r)) => {
            assert!(r.fields().len() <= MAX_FIELDS + 9);
            for (k, v) in l.extension() {
                assert!(inside(data, k));
                if let Cow::Borrowed(v) = v {
                    assert!(inside(data, v));
                }
                assert_eq!(
                    r.fields().get(*k).and_then(|x| x.as_str()),
                    Some(v.as_ref())
                );
            }
            assert_eq!(l.clone().into_record(), r);
        }
        (Err(a), Err(b)) => assert_eq!(a, &b),
        _ => panic!("CefLine::parse and parse_cef disagree"),
    }
});
