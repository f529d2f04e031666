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

use mesh_core::events::{escape_key, sources, validate, NormalizeOptions, Normalizer};
use mesh_core::Timestamp;
use proptest::prelude::*;
use serde_json::{Map, Value};

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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

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
