//! End-to-end normalization: declarative mapping, batch, streaming,
//! detection, errors, and the losslessness property.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;

use mesh_core::events::mapping::Mapping;
use mesh_core::events::{validate, EventErrorKind, NormalizeOptions, Normalizer};
use mesh_core::Timestamp;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const MAPPING: &str = include_str!("data/events/cloudtrail_mapping.json");
const LOGIN: &str = include_str!("data/events/cloudtrail_console_login.json");

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(1_717_300_000)
}

fn normalizer() -> Normalizer {
    let mut n = Normalizer::new(NormalizeOptions::default());
    n.register(Box::new(Mapping::from_json(MAPPING).unwrap()))
        .unwrap();
    n
}

/// Compares with the expected output under tests/data/events/expected/,
/// rewriting it when `MESH_UPDATE_EXPECTED=1`.
fn expect(name: &str, v: &Value) {
    let path = format!(
        "{}/tests/data/events/expected/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = serde_json::to_string_pretty(v).unwrap() + "\n";
    if std::env::var("MESH_UPDATE_EXPECTED").as_deref() == Ok("1") {
        std::fs::create_dir_all(std::path::Path::new(&path).parent().unwrap()).unwrap();
        std::fs::write(&path, &text).unwrap();
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        text, want,
        "output differs from {path} (MESH_UPDATE_EXPECTED=1 rewrites it)"
    );
}

#[test]
fn console_login_maps_to_authentication() {
    let n = normalizer();
    let e = n
        .normalize(
            LOGIN.trim().as_bytes(),
            Some("example.aws.cloudtrail"),
            now(),
        )
        .unwrap();
    assert_eq!(validate(&e), vec![]);
    assert_eq!(
        e.actor_key().unwrap().as_str(),
        "arn:aws:iam::123456789012:user/alice"
    );
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["class_uid"], 3002);
    assert_eq!(v["type_uid"], 300201);
    assert_eq!(v["time"], 1_717_245_296_000i64);
    assert_eq!(v["status"], "Success");
    assert_eq!(v["is_mfa"], true);
    assert_eq!(v["user"]["name"], "alice");
    assert_eq!(v["metadata"]["product"]["name"], "CloudTrail");
    assert_eq!(v["metadata"]["profiles"], json!(["cloud"]));
    let unmapped: BTreeMap<_, _> = v["unmapped"]
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect();
    let keys: Vec<&str> = unmapped.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        [
            "additionalEventData.LoginTo",
            "additionalEventData.MobileVersion",
            "eventCategory",
            "eventType",
            "eventVersion",
            "managementEvent",
            "readOnly",
            "tlsDetails.cipherSuite",
            "tlsDetails.tlsVersion",
            "userIdentity.principalId",
        ]
    );
    assert!(!v.to_string().contains("null"));
    expect("cloudtrail_console_login", &v);
}

#[test]
fn other_calls_map_to_api_activity_with_actor_key() {
    let n = normalizer();
    let rec = json!({
        "eventVersion": "1.09", "eventTime": "2024-06-01T00:00:00.5Z", "eventSource": "s3.amazonaws.com",
        "eventName": "GetObject", "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.9",
        "readOnly": true, "errorCode": "AccessDenied", "errorMessage": "Access Denied", "requestID": "R1",
        "userIdentity": {"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/Bob@Example.com",
                         "sessionContext": {"sessionIssuer": {"userName": "Admin"}}},
        "eventID": "e1", "recipientAccountId": "123456789012"
    });
    let raw = rec.to_string();
    // No hint: detection picks the source.
    assert_eq!(n.detect(raw.as_bytes(), now()).unwrap().confidence, 90);
    let e = n.normalize(raw.as_bytes(), None, now()).unwrap();
    assert_eq!(validate(&e), vec![]);
    assert_eq!(e.class_uid, Some(6003));
    assert_eq!(e.activity_id, Some(2));
    assert_eq!(e.status.as_deref(), Some("Failure"));
    assert_eq!(e.actor_key().unwrap().as_str(), "bob@example.com");
    let v = serde_json::to_value(&e).unwrap();
    assert_eq!(v["actor"]["user"]["name"], "Admin");
    assert_eq!(v["time"], 1_717_200_000_500i64);
    expect("cloudtrail_get_object", &v);
}

#[test]
fn errors_carry_bytes_and_never_stop_a_batch() {
    let n = normalizer();
    let no_time = json!({"eventVersion": "1", "eventSource": "iam.amazonaws.com", "eventName": "ConsoleLogin",
                         "userIdentity": {"userName": "x"}})
    .to_string();
    let bad_time = LOGIN.replace("2024-06-01T12:34:56Z", "yesterday");
    let batch: Vec<&[u8]> = vec![
        LOGIN.trim().as_bytes(),
        b"{not json",
        no_time.as_bytes(),
        bad_time.as_bytes(),
        b"{\"hello\": 1}",
    ];
    let out = n.normalize_batch(batch.iter().copied(), None, now());
    assert_eq!(out.len(), 5);
    assert!(out[0].is_ok());
    let kinds: Vec<_> = out[1..]
        .iter()
        .map(|r| r.as_ref().unwrap_err().kind())
        .collect();
    assert_eq!(
        kinds,
        [
            EventErrorKind::Unrecognized,
            EventErrorKind::MissingAttribute,
            EventErrorKind::InvalidValue,
            EventErrorKind::Unrecognized
        ]
    );
    for (r, raw) in out.iter().zip(&batch).skip(1) {
        assert_eq!(r.as_ref().unwrap_err().raw(), *raw);
    }
    let e = n
        .normalize(b"{not json", Some("example.aws.cloudtrail"), now())
        .unwrap_err();
    assert_eq!(e.kind(), EventErrorKind::Parse);
    assert_eq!(e.raw(), b"{not json");
    assert_eq!(
        out[2].as_ref().unwrap_err().to_string(),
        "required attribute `time` has no value in the record"
    );
    assert!(out[3]
        .as_ref()
        .unwrap_err()
        .to_string()
        .starts_with("field `eventTime`"));
}

#[test]
fn streams_ndjson_to_ndjson() {
    let n = normalizer();
    let input = format!("{}\n\nnot json\r\n{}\n", LOGIN.trim(), LOGIN.trim());
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let stats = n
        .normalize_stream(input.as_bytes(), &mut out, None, now(), |line, e| {
            errors.push((line, e))
        })
        .unwrap();
    assert_eq!((stats.lines, stats.events, stats.errors), (3, 2, 1));
    assert_eq!(errors[0].0, 3);
    assert_eq!(errors[0].1.raw(), b"not json");
    let lines: Vec<Value> = out
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["type_uid"], 300201);
    let lazy: Vec<_> = n
        .normalize_lines(input.as_bytes(), None, now())
        .map(|(l, r)| (l, r.is_ok()))
        .collect();
    assert_eq!(lazy, [(1, true), (3, false), (4, true)]);
    for source in [None, Some("example.aws.cloudtrail")] {
        let mut batch = Vec::new();
        let mut failed = Vec::new();
        let written =
            n.normalize_lines_json(input.as_bytes(), source, now(), &mut batch, |l, e| {
                failed.push((l, e.raw().to_vec()))
            });
        assert_eq!(written, 2);
        assert_eq!(failed, [(3, b"not json".to_vec())]);
        let expected: Vec<u8> = n
            .normalize_lines(input.as_bytes(), source, now())
            .filter_map(|(_, r)| r.ok())
            .flat_map(|e| {
                let mut line = serde_json::to_vec(&e).unwrap();
                line.push(b'\n');
                line
            })
            .collect();
        assert_eq!(batch, expected, "{source:?}");
    }
}

#[test]
fn raw_data_is_optional() {
    let mut n = Normalizer::new(NormalizeOptions {
        keep_raw_data: true,
        ..NormalizeOptions::default()
    });
    n.register(Box::new(Mapping::from_json(MAPPING).unwrap()))
        .unwrap();
    let e = n.normalize(LOGIN.trim().as_bytes(), None, now()).unwrap();
    assert_eq!(e.raw_data.as_deref(), Some(LOGIN.trim()));
    assert!(n
        .register(Box::new(Mapping::from_json(MAPPING).unwrap()))
        .is_err());
}

fn mapping_error(patch: impl FnOnce(&mut Value)) -> String {
    let mut v: Value = serde_json::from_str(MAPPING).unwrap();
    patch(&mut v);
    match Mapping::from_value(&v) {
        Err(e) => e.to_string(),
        Ok(_) => String::from("compiled"),
    }
}

#[test]
fn mapping_errors_name_the_place() {
    assert_eq!(
        mapping_error(|v| v["rules"][0]["fields"]["query.hostname"] = json!("x")),
        "invalid mapping at `/rules/0/fields/query.hostname`: `query` is not an attribute of class `authentication`"
    );
    assert_eq!(
        mapping_error(|v| v["fields"]["type_uid"] = json!("x")),
        "invalid mapping at `/fields/type_uid`: `type_uid` is derived from the ids and cannot be mapped"
    );
    assert_eq!(
        mapping_error(|v| v["rules"][0]["fields"]["user.nmae"] = json!("x")),
        "invalid mapping at `/rules/0/fields/user.nmae`: `user.nmae` is not an OCSF attribute path"
    );
    assert_eq!(
        mapping_error(|v| v["rules"][0]["activity"] = json!(42)),
        "invalid mapping at `/rules/0/activity`: activity `42` is not defined for class `authentication`"
    );
    assert_eq!(
        mapping_error(|v| v["rules"][1]["when"] = json!({"path": "a", "like": "b"})),
        "invalid mapping at `/rules/1/when/like`: unknown operator `like`"
    );
    assert_eq!(
        mapping_error(|v| v["fields"]["time"]["formt"] = json!("x")),
        "invalid mapping at `/fields/time/formt`: unknown key `formt`"
    );
    assert_eq!(
        mapping_error(|v| v["format"] = json!("xml")),
        "invalid mapping at `/format`: unknown format `xml`"
    );
}

#[test]
fn class_required_attributes_are_enforced() {
    // A mapping for Authentication that never sets `user` cannot emit an event.
    let m = json!({
        "source": "t", "format": "kv", "product": {"name": "T"},
        "rules": [{"class": 3002, "activity": 1, "fields": {"time": {"from": "ts", "format": "epoch_s"}, "service.name": "svc"}}]
    });
    let mut n = Normalizer::default();
    n.register(Box::new(Mapping::from_value(&m).unwrap()))
        .unwrap();
    let e = n
        .normalize(b"ts=1700000000 svc=ssh", Some("t"), now())
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "required attribute `user` has no value in the record"
    );
    assert_eq!(e.raw(), b"ts=1700000000 svc=ssh");
}

fn leaves(prefix: &str, v: &Value, out: &mut Vec<(String, Value)>) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                let k = mesh_core::events::escape_key(k);
                let p = if prefix.is_empty() {
                    k
                } else {
                    format!("{prefix}.{k}")
                };
                leaves(&p, v, out);
            }
        }
        Value::Null => {}
        v => out.push((prefix.to_owned(), v.clone())),
    }
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[a-zA-Z0-9 ._:/@-]{1,12}".prop_map(Value::String),
        any::<i32>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map("[a-zA-Z.]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Source fields whose value the mapping converts (timestamp, enum map).
const CONVERTED: [&str; 3] = [
    "eventTime",
    "responseElements.ConsoleLogin",
    "additionalEventData.MFAUsed",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Every source leaf is either in `unmapped` under its path with its
    /// value, or was consumed by a mapping target whose value is in the
    /// output.
    #[test]
    fn normalization_is_lossless(
        extra in prop::collection::btree_map("[a-zA-Z.]{1,8}", json_value(), 0..6),
        user in prop::option::of("[a-z]{1,8}"),
        region in prop::option::of(scalar()),
    ) {
        let mut rec = Map::new();
        rec.insert("eventVersion".into(), json!("1.08"));
        rec.insert("eventSource".into(), json!("signin.amazonaws.com"));
        rec.insert("eventName".into(), json!("ConsoleLogin"));
        rec.insert("eventTime".into(), json!("2024-06-01T12:34:56Z"));
        rec.insert("userIdentity".into(), json!({"arn": "arn:aws:iam::1:user/u"}));
        if let Some(u) = &user { rec["userIdentity"]["userName"] = json!(u); }
        if let Some(r) = &region { rec.insert("awsRegion".into(), r.clone()); }
        for (k, v) in extra { rec.entry(k).or_insert(v); }
        let raw = Value::Object(rec.clone()).to_string();
        let n = normalizer();
        let e = n.normalize(raw.as_bytes(), Some("example.aws.cloudtrail"), now()).unwrap();
        let out = serde_json::to_value(&e).unwrap();
        let unmapped = out.get("unmapped").and_then(Value::as_object).cloned().unwrap_or_default();
        let text = out.to_string();
        let mut all = Vec::new();
        leaves("", &Value::Object(rec), &mut all);
        for (path, value) in all {
            match unmapped.get(&path) {
                Some(v) => prop_assert_eq!(v, &value, "path {}", path),
                None if CONVERTED.contains(&path.as_str()) => {
                    prop_assert!(out.get("time").is_some() && out.get("status_id").is_some());
                }
                None => {
                    let needle = match &value { Value::String(s) => s.clone(), v => v.to_string() };
                    prop_assert!(text.contains(&needle), "{} = {} lost", path, value);
                }
            }
        }
    }
}
