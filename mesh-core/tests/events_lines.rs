//! Properties of the borrowed CEF and LEEF parses (`CefLine`, `LeefLine`):
//! no panics, agreement with `parse_cef`/`parse_leef` (same record, same
//! error), and borrowed fields that are slices of the input.
#![allow(clippy::unwrap_used, clippy::indexing_slicing, clippy::panic)]

use std::borrow::Cow;

use mesh_core::events::format::{parse_cef, parse_leef, CefLine, LeefLine};
use mesh_core::Timestamp;
use proptest::prelude::*;

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_717_200_000)
}

fn inside(data: &[u8], s: &str) -> bool {
    let start = data.as_ptr() as usize;
    let p = s.as_ptr() as usize;
    s.is_empty() || (p >= start && p + s.len() <= start + data.len())
}

/// Lines made of the pieces that matter to CEF and LEEF: markers, bars,
/// escapes, delimiters, keys (some repeated, some reserved), prefixes and
/// invalid UTF-8.
fn line() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(&b"CEF:0|"[..]),
        Just(&b"LEEF:2.0|"[..]),
        Just(&b"LEEF:1.0|"[..]),
        Just(&b"<13>Jun  1 00:00:00 h "[..]),
        Just(&b"junk "[..]),
        Just(&b"|"[..]),
        Just(&b"\\"[..]),
        Just(&b"\\|"[..]),
        Just(&b"\\="[..]),
        Just(&b"\\n"[..]),
        Just(&b"="[..]),
        Just(&b" "[..]),
        Just(&b"\t"[..]),
        Just(&b"^"[..]),
        Just(&b"x09|"[..]),
        Just(&b"a="[..]),
        Just(&b"b="[..]),
        Just(&b"name="[..]),
        Just(&b"syslog="[..]),
        Just(&b"prefix="[..]),
        Just(&b"delimiter="[..]),
        Just(&b"src=10.0.0.1"[..]),
        Just(&b"\xff\xfe"[..]),
        Just(&b"\r\n"[..]),
        Just(&b"v"[..]),
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

fn check_cef(data: &[u8]) -> Result<(), TestCaseError> {
    match (CefLine::parse(data, now()), parse_cef(data, now())) {
        (Ok(l), Ok(r)) => {
            for h in l.header() {
                if let Cow::Borrowed(h) = h {
                    prop_assert!(inside(data, h));
                }
            }
            for (k, v) in l.extension() {
                prop_assert!(inside(data, k));
                if let Cow::Borrowed(v) = v {
                    prop_assert!(inside(data, v));
                }
                prop_assert_eq!(l.get(k), Some(v.as_ref()));
                prop_assert_eq!(r.fields()[*k].as_str(), Some(v.as_ref()));
            }
            prop_assert_eq!(r.fields()["deviceVendor"].as_str(), Some(l.device_vendor()));
            prop_assert_eq!(l.into_record(), r);
        }
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        (a, b) => prop_assert!(false, "disagree: {a:?} / {b:?}"),
    }
    Ok(())
}

fn check_leef(data: &[u8]) -> Result<(), TestCaseError> {
    match (LeefLine::parse(data, now()), parse_leef(data, now())) {
        (Ok(l), Ok(r)) => {
            for (k, v) in l.attributes() {
                for s in [k, v] {
                    if let Cow::Borrowed(s) = s {
                        prop_assert!(inside(data, s));
                    }
                }
                prop_assert_eq!(r.fields()[k.as_ref()].as_str(), Some(v.as_ref()));
            }
            prop_assert_eq!(r.fields()["vendor"].as_str(), Some(l.vendor()));
            prop_assert_eq!(l.into_record(), r);
        }
        (Err(a), Err(b)) => prop_assert_eq!(a, b),
        (a, b) => prop_assert!(false, "disagree: {a:?} / {b:?}"),
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn borrowed_parses_agree_with_records(data in line()) {
        check_cef(&data)?;
        check_leef(&data)?;
        let mut cef = b"CEF:0|V|P|1|sig|n|3|".to_vec();
        cef.extend_from_slice(&data);
        check_cef(&cef)?;
        let mut leef = b"LEEF:2.0|V|P|1|E|^|".to_vec();
        leef.extend_from_slice(&data);
        check_leef(&leef)?;
    }

    #[test]
    fn borrowed_parses_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = CefLine::parse(&data, now());
        let _ = LeefLine::parse(&data, now());
    }

    /// Duplicates are found however many keys come before them (past the
    /// filter's and the scan's sizes too).
    #[test]
    fn duplicate_keys_found_at_any_count(n in 1usize..200, dup in 0usize..200) {
        let dup = dup % n;
        let keys: Vec<String> = (0..n).map(|i| format!("k{i}")).collect();
        let mut cef = String::from("CEF:0|V|P|1|sig|n|3|");
        let mut leef = String::from("LEEF:2.0|V|P|1|E|^|");
        for k in &keys {
            cef.push_str(&format!("{k}=v "));
            leef.push_str(&format!("{k}=v^"));
        }
        prop_assert_eq!(CefLine::parse(cef.as_bytes(), now()).unwrap().extension().len(), n);
        prop_assert_eq!(LeefLine::parse(leef.as_bytes(), now()).unwrap().attributes().len(), n);
        cef.push_str(&format!("{}=w", keys[dup]));
        leef.push_str(&format!("{}=w", keys[dup]));
        let e = CefLine::parse(cef.as_bytes(), now()).unwrap_err();
        prop_assert!(e.reason().starts_with("duplicate key"));
        let e = LeefLine::parse(leef.as_bytes(), now()).unwrap_err();
        prop_assert!(e.reason().starts_with("duplicate key"));
    }
}

#[test]
fn unescaped_fields_are_borrowed_and_escaped_ones_owned() {
    let l = CefLine::parse(
        br"<13>Jun  1 00:00:00 fw CEF:0|Sec\|Corp|P|1|100|scan|5|src=10.0.0.1 msg=a\=b c",
        now(),
    )
    .unwrap();
    assert!(matches!(l.header()[1], Cow::Owned(_)));
    assert_eq!(l.device_vendor(), "Sec|Corp");
    assert!(matches!(l.header()[2], Cow::Borrowed("P")));
    assert_eq!(l.extension()[0], ("src", Cow::Borrowed("10.0.0.1")));
    assert_eq!(l.get("msg"), Some("a=b c"));
    assert!(matches!(l.extension()[1].1, Cow::Owned(_)));
    assert_eq!(l.prefix(), b"<13>Jun  1 00:00:00 fw ");
    let r = l.into_record();
    assert_eq!(r.fields()["syslog"]["hostname"], "fw");
    // A key naming the prefix's field is a duplicate, as in the record.
    let e =
        CefLine::parse(b"<13>Jun  1 00:00:00 fw CEF:0|V|P|1|s|n|3|syslog=x", now()).unwrap_err();
    assert_eq!(e.reason(), "duplicate key `syslog`");
    assert!(CefLine::parse(b"<13>Jun  1 00:00:00 fw CEF:0|V|P|1|s|n|3|prefix=x", now()).is_ok());
    assert!(CefLine::parse(b"junk CEF:0|V|P|1|s|n|3|prefix=x", now()).is_err());
    assert!(CefLine::parse(b"CEF:0|V|P|1|s|n|3|prefix=x syslog=y", now()).is_ok());

    let l = LeefLine::parse(b"LEEF:2.0|V|P|1|E|^|src=1.1.1.1^usrName=joe", now()).unwrap();
    assert_eq!(l.delimiter(), Some("^"));
    assert_eq!(l.event_id(), "E");
    assert_eq!(l.get("usrName"), Some("joe"));
    assert!(matches!(l.attributes()[0].0, Cow::Borrowed("src")));
    assert!(LeefLine::parse(b"LEEF:2.0|V|P|1|E|^|delimiter=x", now()).is_err());
    assert!(LeefLine::parse(b"LEEF:2.0|V|P|1|E|delimiter=x", now()).is_ok());
}
