//! Events read straight from JSON text (the NDJSON fast path) give the same
//! signals, errors and findings as events parsed into values first.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod analytics_support;

use analytics_support::*;
use mesh_core::analytics::{Analytics, CorrelatorConfig, FieldMapping, SigmaRuleSet, Signal};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Both readings of `text`: equal signals, or both errors (equal errors when
/// the text is JSON).
fn same_reading(text: &str) -> Result<(), TestCaseError> {
    let fast = Signal::from_json(text);
    match serde_json::from_str::<Value>(text) {
        Ok(v) => prop_assert_eq!(fast, Signal::from_event(&v), "text: {}", text),
        Err(_) => prop_assert!(fast.is_err(), "accepted invalid JSON: {}", text),
    }
    Ok(())
}

#[test]
fn sample_events_read_the_same() {
    let events = [
        logon("l1", T0, "Alice@Example.com", "203.0.113.7", false),
        logon_at(
            "l2",
            T0,
            "bob@example.com",
            "2001:db8::1",
            48.85,
            2.35,
            "fr",
        ),
        push("p1", T0, "carol@example.com", true),
        api(
            "a1",
            T0,
            "arn:aws:sts::1:assumed-role/Admin/Dan@example.com",
            "StopLogging",
            3,
        ),
        session_use("s1", T0, "erin@example.com", "sess-1", "dev-1", 64500),
        grant("g1", T0, "admin@example.com", "frank@example.com"),
        file_read("f1", T0, "gina@example.com", "/share/a.docx"),
        log_cleared("c1", T0, "CORP\\Henry"),
        process("x1", T0, "C:\\a.exe", "a.exe /q", "C:\\b.exe"),
    ];
    for e in &events {
        let text = serde_json::to_string(e).unwrap();
        assert_eq!(
            Signal::from_json(&text).unwrap(),
            Signal::from_event(e).unwrap()
        );
        same_reading(&text).unwrap();
    }
}

#[test]
fn errors_match_the_value_path() {
    for text in [
        r#"{"class_uid": 3002}"#,
        r#"{"time": "x"}"#,
        "[1]",
        "7",
        "null",
    ] {
        let v: Value = serde_json::from_str(text).unwrap();
        assert_eq!(
            Signal::from_json(text).unwrap_err(),
            Signal::from_event(&v).unwrap_err()
        );
    }
    for text in [
        "",
        "{",
        r#"{"time": 1} x"#,
        r#"{"time": 1e999}"#,
        r#"{"a": "\ud800"}"#,
    ] {
        let e = Signal::from_json(text).unwrap_err();
        assert!(e.to_string().contains("invalid JSON"), "{e}");
    }
}

#[test]
fn duplicate_keys_keep_the_last_value() {
    let text = r#"{"time": 1, "user": {"name": "a@x"}, "class_uid": 3002, "user": {"uid": "b@x"}, "time": 2,
                   "src_endpoint": {"location": {"lat": 1, "long": 2}, "location": {"coordinates": [3, 4]}}}"#;
    let s = Signal::from_json(text).unwrap();
    assert_eq!(s.actor.unwrap().as_str(), "b@x");
    assert_eq!(s.time.unix_millis(), 2);
    assert_eq!(s.geo, Some((4.0, 3.0)));
    same_reading(text).unwrap();
}

#[test]
fn analytics_text_path_matches_with_and_without_sigma() {
    let rules = "title: t\nid: r1\nlogsource: {category: process_creation}\ndetection:\n  sel:\n    CommandLine|contains: evil\n  condition: sel\n";
    let mut events: Vec<Value> = (0..6)
        .map(|i| {
            logon(
                &format!("f{i}"),
                T0 + i * 1000,
                "ivan@example.com",
                "203.0.113.7",
                false,
            )
        })
        .collect();
    events.push(logon(
        "ok",
        T0 + 9000,
        "ivan@example.com",
        "203.0.113.7",
        true,
    ));
    events.push(process(
        "x",
        T0 + 9500,
        "C:\\a.exe",
        "a.exe evil",
        "C:\\b.exe",
    ));
    for with_sigma in [false, true] {
        let make = || {
            let mut a = Analytics::new(CorrelatorConfig::default());
            if with_sigma {
                let mut s = SigmaRuleSet::new(FieldMapping::new());
                s.add_yaml(rules).unwrap();
                a.set_sigma(s);
            }
            a
        };
        let (mut by_value, mut by_text) = (make(), make());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        for e in &events {
            by_value.observe(e, &mut a).unwrap();
            by_text
                .observe_json(&serde_json::to_string(e).unwrap(), &mut b)
                .unwrap();
        }
        by_value.flush(&mut a);
        by_text.flush(&mut b);
        assert_eq!(a, b);
        assert_eq!(a.len(), if with_sigma { 2 } else { 1 });
    }
    let mut a = Analytics::new(CorrelatorConfig::default());
    assert!(a.observe_json("{", &mut Vec::new()).is_err());
}

/// Values the detections' fields may hold, of every JSON type.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        (-200.0f64..200.0).prop_map(Value::from),
        prop_oneof![
            0u64..10,
            Just(5),
            3000u64..3010,
            6000u64..6010,
            Just(u64::from(u32::MAX) + 1)
        ]
        .prop_map(Value::from),
        prop_oneof![
            Just(String::new()),
            "[a-zA-Z0-9@.\\\\:/ -]{0,24}",
            "(mailto:)?[A-Za-z]{1,6}@[A-Za-z]{1,6}\\.com",
            Just("arn:aws:sts::1:assumed-role/R/Bob@Example.com".to_owned()),
            Just("Push Notification".to_owned()),
            Just("StopLogging".to_owned()),
            Just("203.0.113.7".to_owned()),
            Just("x".repeat(300)),
            "\\PC{0,8}",
        ]
        .prop_map(Value::from),
    ]
}

const KEYS: [&str; 30] = [
    "time",
    "class_uid",
    "activity_id",
    "status_id",
    "metadata",
    "uid",
    "event_code",
    "user",
    "email_addr",
    "name",
    "actor",
    "session",
    "src_endpoint",
    "ip",
    "location",
    "lat",
    "long",
    "coordinates",
    "country",
    "autonomous_system",
    "number",
    "device",
    "hostname",
    "api",
    "operation",
    "auth_factors",
    "factor_type_id",
    "factor_type",
    "other",
    "Time",
];

/// JSON trees shaped like OCSF events: objects keyed mostly by the fields
/// the detections read, at any depth, with values of any type.
fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            proptest::collection::vec((proptest::sample::select(&KEYS[..]), inner), 0..6).prop_map(
                |kv| { Value::Object(kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()) }
            ),
        ]
    })
}

/// A whole event: an object with an integer time (most of the time) and
/// any of the other fields.
fn event() -> impl Strategy<Value = Value> {
    (
        proptest::option::weighted(0.9, any::<i64>()),
        proptest::collection::vec((proptest::sample::select(&KEYS[..]), tree()), 0..10),
    )
        .prop_map(|(time, kv)| {
            let mut m: serde_json::Map<String, Value> =
                kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            if let Some(t) = time {
                m.insert("time".into(), json!(t));
            }
            Value::Object(m)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// The text path reads exactly what the value path reads.
    #[test]
    fn text_and_value_read_the_same(e in event()) {
        same_reading(&serde_json::to_string(&e).unwrap())?;
        same_reading(&serde_json::to_string_pretty(&e).unwrap())?;
    }

    /// Escaped keys and strings read the same (the text path unescapes them
    /// as a parser does).
    #[test]
    fn escaped_text_reads_the_same(e in event()) {
        let text = serde_json::to_string(&e).unwrap();
        let escaped: String = text
            .chars()
            .map(|c| if c.is_ascii_lowercase() && c > 'r' { format!("\\u{:04x}", c as u32) } else { c.to_string() })
            .collect();
        // Only letters inside strings may be escaped; elsewhere the text is
        // invalid for both readers alike.
        same_reading(&escaped)?;
    }

    /// Damaged text is rejected by both, or read the same by both.
    #[test]
    fn damaged_text_is_judged_the_same(e in event(), cut in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut text = serde_json::to_string(&e).unwrap().into_bytes();
        let i = cut.index(text.len());
        text[i] = byte;
        if let Ok(t) = std::str::from_utf8(&text) {
            same_reading(t)?;
        }
        let truncated = String::from_utf8_lossy(&text[..i]).into_owned();
        same_reading(&truncated)?;
    }

    /// Duplicate keys: the last one wins in both readings.
    #[test]
    fn duplicate_keys_read_the_same(a in event(), b in event()) {
        let (ta, tb) = (serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
        let (ia, ib) = (ta.strip_suffix('}').unwrap(), tb.strip_prefix('{').unwrap());
        let joined = if ia.len() > 1 && ib.len() > 1 { format!("{ia},{ib}") } else { format!("{ia}{ib}") };
        same_reading(&joined)?;
    }
}
