//! Losslessness of the built-in JSON sources, as properties over generated
//! records: fields a mapping does not know, added anywhere in a real record,
//! come out under `unmapped` with their path and value; fields removed from
//! a real record never make a mapping panic or emit an invalid event.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use mesh_core::events::mapping::Mapping;
use mesh_core::events::{escape_key, sources, validate, NormalizeOptions, Normalizer, Record};
use mesh_core::Timestamp;
use proptest::prelude::*;
use serde_json::{Map, Value};

const CLOUDTRAIL_MAPPING: &str = include_str!("data/events/cloudtrail_mapping.json");

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_640_800_000);

/// (sample, source id, objects of the record new fields may be added to).
const BASES: &[(&str, &str, &[&str])] = &[
    (
        "aws_cloudtrail/console_login_success_mfa.json",
        "aws.cloudtrail",
        &["", "userIdentity", "additionalEventData"],
    ),
    (
        "aws_cloudtrail/iam_create_user_assumed_role.json",
        "aws.cloudtrail",
        &["", "userIdentity", "userIdentity.sessionContext"],
    ),
    (
        "aws_cloudtrail/s3_get_object_data_event.json",
        "aws.cloudtrail",
        &["", "additionalEventData"],
    ),
    (
        "okta/session_start_success.json",
        "okta.system_log",
        &["", "actor", "client", "outcome"],
    ),
    (
        "okta/group_membership_add.json",
        "okta.system_log",
        &["", "actor", "client"],
    ),
    (
        "entra_id/signin_diagnostic_failure.json",
        "microsoft.entra_id",
        &["", "properties", "properties.status"],
    ),
    (
        "entra_id/audit_add_user.json",
        "microsoft.entra_id",
        &["", "initiatedBy", "initiatedBy.user"],
    ),
    (
        "gcp_audit/compute_instances_insert.json",
        "gcp.audit",
        &["", "protoPayload", "resource.labels"],
    ),
    (
        "windows_security/4624_logon_success.json",
        "microsoft.windows_security",
        &["", "EventData"],
    ),
    (
        "sysmon/1_process_create.json",
        "microsoft.sysmon",
        &["", "EventData"],
    ),
    ("zeek/conn_tcp_established.json", "zeek", &[""]),
    (
        "suricata/alert_trojan.json",
        "suricata.eve",
        &["", "alert", "http"],
    ),
];

fn base(path: &str) -> Map<String, Value> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sources")
        .join(path);
    serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap()
}

fn normalizer() -> Normalizer {
    let mut n = Normalizer::new(NormalizeOptions::default());
    sources::register_builtin(&mut n).unwrap();
    n
}

fn object_at<'a>(map: &'a mut Map<String, Value>, dotted: &str) -> &'a mut Map<String, Value> {
    if dotted.is_empty() {
        return map;
    }
    let mut cur = map;
    for seg in dotted.split('.') {
        cur = cur.get_mut(seg).and_then(Value::as_object_mut).unwrap();
    }
    cur
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        "[ -~]{0,24}".prop_map(Value::from),
        // Control characters and non-ASCII text (escaped on output).
        "[a-z\t\n\r\u{1}\u{1f}\u{7f}é😀\"\\\\]{0,12}".prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<bool>().prop_map(Value::from),
        // Binary fractions: they print and parse back exactly.
        (-1_000_000i32..1_000_000).prop_map(|n| Value::from(f64::from(n) / 8.0)),
    ]
}

fn extra_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => prop::collection::vec(scalar(), 0..4).prop_map(Value::Array),
        1 => prop::collection::btree_map("[a-z]{1,6}", scalar(), 1..3)
            .prop_map(|m| Value::Object(m.into_iter().collect())),
    ]
}

/// Expected `unmapped` entries of one added field (objects are flattened).
fn expected(prefix: String, value: &Value, out: &mut Vec<(String, Value)>) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in m {
                expected(format!("{prefix}.{}", escape_key(k)), v, out);
            }
        }
        v => out.push((prefix, v.clone())),
    }
}

/// Values real records carry where a mapping expects something else.
fn odd_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        Just(Value::from("-")),
        Just(Value::from("")),
        Just(Value::from(" n/a ")),
        Just(Value::from("Yes")),
        Just(Value::from("ConsoleLogin")),
        Just(Value::from("iam.amazonaws.com")),
        Just(serde_json::json!({})),
        Just(serde_json::json!({"k": null})),
        Just(serde_json::json!([{"ARN": "arn:aws:s3:::b", "type": "AWS::S3::Bucket"}])),
        scalar(),
        extra_value(),
    ]
}

/// Every path (dotted, unescaped segments) to a value of a record.
fn paths(map: &Map<String, Value>, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    for (k, v) in map {
        prefix.push(k.clone());
        out.push(prefix.clone());
        if let Value::Object(m) = v {
            paths(m, prefix, out);
        }
        prefix.pop();
    }
}

fn set_at(map: &mut Map<String, Value>, path: &[String], value: Value) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut cur = map;
    for p in parents {
        cur = cur.get_mut(p).and_then(Value::as_object_mut).unwrap();
    }
    cur.insert(last.clone(), value);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Sources that map straight from the bytes (`Source::normalize_raw`)
    /// give the same event, byte for byte (`unmapped` order included), as
    /// the general path (`normalize_record` of the parsed record), on real
    /// records with fields added, removed and replaced by odd values.
    #[test]
    fn one_pass_mapping_equals_the_general_path(
        which in 0..BASES.len(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), odd_value(), any::<bool>()), 0..6),
        extras in prop::collection::vec(("x[a-zA-Z0-9_.]{0,10}", extra_value(), any::<prop::sample::Index>()), 0..3),
    ) {
        let (path, id, parents) = BASES[which];
        let mut rec = base(path);
        for (key, value, at) in &extras {
            let obj = object_at(&mut rec, parents[at.index(parents.len())]);
            obj.insert(key.clone(), value.clone());
        }
        for (at, value, remove) in edits {
            let mut all = Vec::new();
            paths(&rec, &mut Vec::new(), &mut all);
            if all.is_empty() {
                break;
            }
            let target = all[at.index(all.len())].clone();
            if remove {
                let (last, parents) = target.split_last().unwrap();
                let mut cur = &mut rec;
                for p in parents {
                    cur = cur.get_mut(p).and_then(Value::as_object_mut).unwrap();
                }
                cur.shift_remove(last);
            } else {
                set_at(&mut rec, &target, value);
            }
        }
        let raw = serde_json::to_vec(&Value::Object(rec.clone())).unwrap();
        let mut n = normalizer();
        n.register(Box::new(Mapping::from_json(CLOUDTRAIL_MAPPING).unwrap())).unwrap();
        // The built-in source, and for CloudTrail records the example
        // declarative mapping too.
        let ids: &[&str] = if id == "aws.cloudtrail" {
            &["aws.cloudtrail", "example.aws.cloudtrail"]
        } else {
            &[id]
        };
        for id in ids {
            let one_pass = n.normalize(&raw, Some(id), NOW);
            let general = n.normalize_record(Record::new(rec.clone()), id, NOW);
            // Raw bytes straight to JSON: the same bytes again.
            let mut json = b"[".to_vec();
            let written = n.normalize_json(&raw, Some(id), NOW, &mut json);
            match (one_pass, general) {
                (Ok(a), Ok(b)) => {
                    let a = serde_json::to_string(&a).unwrap();
                    prop_assert_eq!(&a, &serde_json::to_string(&b).unwrap());
                    prop_assert!(written.is_ok());
                    prop_assert_eq!(String::from_utf8(json).unwrap(), format!("[{a}"));
                }
                (Err(e), Err(_)) => {
                    prop_assert_eq!(written, Err(e));
                    prop_assert_eq!(json, b"[".to_vec());
                }
                (a, b) => prop_assert!(false, "{} {}: one pass {:?}, general {:?}", path, id, a.is_ok(), b.is_ok()),
            }
        }
    }

    #[test]
    fn unknown_fields_come_out_unmapped(
        which in 0..BASES.len(),
        extras in prop::collection::vec(("x[a-zA-Z0-9_.]{0,10}", extra_value(), any::<prop::sample::Index>()), 1..6),
    ) {
        let (path, id, parents) = BASES[which];
        let mut rec = base(path);
        let mut want = Vec::new();
        for (key, value, at) in &extras {
            let parent = parents[at.index(parents.len())];
            let obj = object_at(&mut rec, parent);
            if obj.contains_key(key) {
                continue;
            }
            obj.insert(key.clone(), value.clone());
            let mut prefix = String::new();
            for seg in parent.split('.').filter(|s| !s.is_empty()) {
                prefix.push_str(&escape_key(seg));
                prefix.push('.');
            }
            prefix.push_str(&escape_key(key));
            expected(prefix, value, &mut want);
        }
        let raw = serde_json::to_vec(&Value::Object(rec)).unwrap();
        let event = normalizer().normalize(&raw, Some(id), NOW).unwrap();
        prop_assert!(validate(&event).is_empty());
        let unmapped = event.unmapped.clone().unwrap_or_default();
        for (k, v) in want {
            prop_assert_eq!(unmapped.get(&k), Some(&v), "{} missing from unmapped of {}", k, path);
        }
    }

    #[test]
    fn removed_fields_never_break_a_mapping(
        which in 0..BASES.len(),
        drops in prop::collection::vec(any::<prop::sample::Index>(), 0..8),
    ) {
        let (path, id, _) = BASES[which];
        let mut rec = base(path);
        for d in drops {
            if rec.is_empty() {
                break;
            }
            let key = rec.keys().nth(d.index(rec.len())).cloned().unwrap();
            rec.remove(&key);
        }
        let raw = serde_json::to_vec(&Value::Object(rec)).unwrap();
        let n = normalizer();
        if let Ok(event) = n.normalize(&raw, Some(id), NOW) {
            let problems = validate(&event);
            prop_assert!(problems.is_empty(), "{}: {:?}", path, problems);
        }
        // Detection never picks a wrong source with confidence it cannot back.
        if let Some(d) = n.detect(&raw, NOW) {
            prop_assert!(d.confidence >= 50);
        }
    }
}
