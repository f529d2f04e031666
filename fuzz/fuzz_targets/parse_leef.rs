#![no_main]
//! LEEF parser (1.0 and 2.0): never panics; the borrowed parse agrees with
//! the record and borrows only from the input.

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mesh_core::events::format::{parse_leef, LeefLine, MAX_FIELDS};
use mesh_core::Timestamp;

fn inside(data: &[u8], s: &str) -> bool {
    let (start, end) = (data.as_ptr() as usize, data.as_ptr() as usize + data.len());
    let p = s.as_ptr() as usize;
    s.is_empty() || (p >= start && p + s.len() <= end)
}

fuzz_target!(|data: &[u8]| {
    let now = Timestamp::from_unix_seconds(1_717_200_000);
    let line = LeefLine::parse(data, now);
    match (&line, parse_leef(data, now)) {
        (Ok(l), Ok(r)) => {
            assert!(r.fields().len() <= MAX_FIELDS + 8);
            for (k, v) in l.attributes() {
                for s in [k, v] {
                    if let Cow::Borrowed(s) = s {
                        assert!(inside(data, s));
                    }
                }
                assert_eq!(
                    r.fields().get(k.as_ref()).and_then(|x| x.as_str()),
                    Some(v.as_ref())
                );
            }
            assert_eq!(l.clone().into_record(), r);
        }
        (Err(a), Err(b)) => assert_eq!(a, &b),
        _ => panic!("LeefLine::parse and parse_leef disagree"),
    }
});
