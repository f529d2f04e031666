//! The built-in sources against their raw samples: every sample maps to its
//! expected OCSF output (`<sample>.ocsf.json`, plain JSON that CI also checks
//! against the OCSF 1.8.0 JSON Schema), passes semantic validation, names its
//! principal's actor key, and is detected as its own source without a hint.
//!
//! After a reviewed mapping change, rewrite the expected files with
//! `MESH_UPDATE_EXPECTED=1 cargo test -p mesh-core --test sources` (or
//! `INSTA_UPDATE=always` for the summary snapshot as well).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::fs;
use std::path::{Path, PathBuf};

use mesh_core::events::{sources, validate, NormalizeOptions, Normalizer};
use mesh_core::Timestamp;
use serde_json::{json, Value};

/// The host's "now" for every sample: 2026-11-25T21:06:40Z.
const NOW: Timestamp = Timestamp::from_unix_millis(1_795_640_800_000);

/// Sample directory → source id.
const DIRS: &[(&str, &str)] = &[
    ("aws_cloudtrail", "aws.cloudtrail"),
    ("okta", "okta.system_log"),
    ("entra_id", "microsoft.entra_id"),
    ("gcp_audit", "gcp.audit"),
    ("windows_security", "microsoft.windows_security"),
    ("sysmon", "microsoft.sysmon"),
    ("zeek", "zeek"),
    ("suricata", "suricata.eve"),
    ("linux_auth", "linux.auth"),
    ("panos", "paloalto.panos"),
    ("fortigate", "fortinet.fortigate"),
    ("cef", "cef"),
    ("leef", "leef"),
];

/// The id a sample is detected as: FortiGate logs inside a syslog header
/// have a source of their own (the record's format differs).
fn detected_id(dir: &str, path: &Path) -> &'static str {
    let id = DIRS
        .iter()
        .find(|(d, _)| *d == dir)
        .map_or("", |(_, id)| id);
    if dir == "fortigate" && fs::read(path).unwrap().first() == Some(&b'<') {
        return "fortinet.fortigate.syslog";
    }
    id
}

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sources")
}

fn samples(dir: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = fs::read_dir(data_dir().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            !name.ends_with(".ocsf.json") && (name.ends_with(".json") || name.ends_with(".log"))
        })
        .collect();
    out.sort();
    out
}

fn raw(path: &Path) -> Vec<u8> {
    let mut b = fs::read(path).unwrap();
    while b.last().is_some_and(|c| *c == b'\n' || *c == b'\r') {
        b.pop();
    }
    b
}

fn expected_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap().to_string_lossy();
    let stem = name.rsplit_once('.').map_or(name.as_ref(), |(s, _)| s);
    path.with_file_name(format!("{stem}.ocsf.json"))
}

fn normalizer() -> Normalizer {
    let mut n = Normalizer::new(NormalizeOptions::default());
    sources::register_builtin(&mut n).unwrap();
    n
}

fn updating() -> bool {
    std::env::var_os("MESH_UPDATE_EXPECTED").is_some()
        || std::env::var("INSTA_UPDATE").is_ok_and(|v| v == "always")
}

#[test]
fn every_sample_maps_to_its_expected_output() {
    let n = normalizer();
    let mut summary = Vec::new();
    let mut failures = Vec::new();
    for (dir, _) in DIRS {
        let files = samples(dir);
        assert!(files.len() >= 5, "{dir}: {} samples", files.len());
        for path in files {
            let rel = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            let id = detected_id(dir, &path);
            let event = match n.normalize(&raw(&path), Some(id), NOW) {
                Ok(e) => e,
                Err(e) => {
                    failures.push(format!("{rel}: {e}"));
                    continue;
                }
            };
            let mut json = Vec::new();
            match n.normalize_json(&raw(&path), Some(id), NOW, &mut json) {
                Ok(()) if json == serde_json::to_vec(&event).unwrap() => {}
                Ok(()) => failures.push(format!("{rel}: normalize_json differs from the event")),
                Err(e) => failures.push(format!("{rel}: normalize_json: {e}")),
            }
            let problems = validate(&event);
            if !problems.is_empty() {
                let list: Vec<String> = problems.iter().map(ToString::to_string).collect();
                failures.push(format!("{rel}: {}", list.join("; ")));
            }
            let got = serde_json::to_value(&event).unwrap();
            let exp_path = expected_path(&path);
            if updating() {
                let mut text = serde_json::to_string_pretty(&got).unwrap();
                text.push('\n');
                fs::write(&exp_path, text).unwrap();
            } else {
                let expected: Value = serde_json::from_str(
                    &fs::read_to_string(&exp_path)
                        .unwrap_or_else(|_| panic!("{rel}: no expected output")),
                )
                .unwrap();
                if expected != got {
                    failures.push(format!("{rel}: output differs from {}", exp_path.display()));
                }
            }
            summary.push(json!({
                "sample": rel,
                "class_uid": got["class_uid"],
                "activity_id": got["activity_id"],
                "type_name": got["type_name"],
                "actor_key": event.actor_key().map(|k| k.to_string()),
            }));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    insta::assert_json_snapshot!("sources_summary", summary);
}

#[test]
fn every_sample_is_detected_as_its_own_source() {
    let n = normalizer();
    let mut failures = Vec::new();
    for (dir, _) in DIRS {
        for path in samples(dir) {
            let rel = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            match n.detect(&raw(&path), NOW) {
                Some(d) if d.source == detected_id(dir, &path) => {
                    assert!(d.confidence >= 50 && d.confidence <= 100);
                }
                other => failures.push(format!("{rel}: detected {other:?}")),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn junk_is_not_detected() {
    let n = normalizer();
    for junk in [
        &b""[..],
        b"hello world",
        b"{}",
        b"[1,2,3]",
        b"{\"a\":1,\"b\":\"c\"}",
        b"{\"eventName\":\"x\"}",
        b"{\"event_type\":\"alert\"}",
        b"<13>Nov 25 18:02:11 host app: nothing to see",
        b"key=value other=thing",
        b"CEF:0|only|a|header",
        b"\xff\xfe\x00garbage",
    ] {
        assert_eq!(
            n.detect(junk, NOW),
            None,
            "{:?}",
            String::from_utf8_lossy(junk)
        );
    }
}

fn sample(rel: &str) -> Vec<u8> {
    raw(&data_dir().join(rel))
}

#[test]
fn one_person_is_one_actor_key_across_sources() {
    let n = normalizer();
    let alice = mesh_core::ActorKey::from_identifier("alice@example.com").unwrap();
    for (rel, id) in [
        (
            "aws_cloudtrail/s3_get_object_data_event.json",
            "aws.cloudtrail",
        ),
        ("okta/session_start_success.json", "okta.system_log"),
        ("entra_id/signin_graph_success.json", "microsoft.entra_id"),
        ("gcp_audit/compute_instances_insert.json", "gcp.audit"),
        ("leef/login_success_tab.log", "leef"),
    ] {
        let e = n.normalize(&sample(rel), Some(id), NOW).unwrap();
        assert_eq!(e.actor_key().as_ref(), Some(&alice), "{rel}");
    }
}

#[test]
fn a_record_without_a_time_is_an_error_carrying_its_bytes() {
    let n = normalizer();
    let line =
        b"CEF:0|Example|Sensor|1.0|100|Port scan detected|8|src=198.51.100.23 dst=192.0.2.10";
    let err = n.normalize(line, Some("cef"), NOW).unwrap_err();
    assert_eq!(err.kind().as_str(), "missing_attribute");
    assert_eq!(err.raw(), line);
}

#[test]
fn a_bare_panos_csv_export_maps_with_a_hint() {
    let n = normalizer();
    let line = sample("panos/traffic_drop_old_short.log");
    let csv = line.splitn(5, |b| *b == b' ').nth(4).unwrap();
    let e = n.normalize(csv, Some("paloalto.panos"), NOW).unwrap();
    assert_eq!(e.class_uid, Some(4001));
    assert_eq!(e.activity_id, Some(5));
    assert!(validate(&e).is_empty());
}

#[test]
fn records_of_another_source_are_rejected_not_misread() {
    let n = normalizer();
    for (rel, wrong) in [
        ("okta/session_start_success.json", "linux.auth"),
        ("zeek/conn_tcp_established.json", "microsoft.sysmon"),
        ("linux_auth/sudo_command.log", "paloalto.panos"),
        ("cef/ips_detection.log", "fortinet.fortigate"),
    ] {
        assert!(
            n.normalize(&sample(rel), Some(wrong), NOW).is_err(),
            "{rel} as {wrong}"
        );
    }
}

/// `normalize_json` writes what `serde_json` writes of the event, also with
/// `raw_data` kept and when flattening would give one key twice (an object
/// under the empty key at the top of the record).
#[test]
fn json_output_equals_the_event_serialized() {
    let base: serde_json::Map<String, Value> = serde_json::from_slice(&raw(&data_dir()
        .join("aws_cloudtrail")
        .join("console_login_success_mfa.json")))
    .unwrap();
    let mut twice = base.clone();
    twice.insert("zz".into(), json!(1));
    twice.insert("".into(), json!({"zz": 2, "x": {"y": "a\u{1}b"}}));
    let mut escaped = base.clone();
    escaped.insert(
        "a.b\\c".into(),
        json!({"k\"q": ["\t", 1.5, -3, {}], "e": {}, "n": null}),
    );
    for keep_raw_data in [false, true] {
        let mut n = Normalizer::new(NormalizeOptions {
            keep_raw_data,
            ..NormalizeOptions::default()
        });
        sources::register_builtin(&mut n).unwrap();
        for rec in [&base, &twice, &escaped] {
            let raw = serde_json::to_vec(rec).unwrap();
            let event = n.normalize(&raw, Some("aws.cloudtrail"), NOW).unwrap();
            let mut json = Vec::new();
            n.normalize_json(&raw, Some("aws.cloudtrail"), NOW, &mut json)
                .unwrap();
            assert_eq!(
                String::from_utf8(json).unwrap(),
                serde_json::to_string(&event).unwrap()
            );
        }
        let mut json = b"x".to_vec();
        let err = n
            .normalize_json(
                b"{\"eventVersion\":1}",
                Some("aws.cloudtrail"),
                NOW,
                &mut json,
            )
            .unwrap_err();
        assert_eq!(err.raw(), b"{\"eventVersion\":1}");
        assert_eq!(json, b"x");
    }
}
