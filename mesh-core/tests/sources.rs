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
