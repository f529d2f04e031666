#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh detect`.

mod common;
use common::mesh;
use serde_json::{json, Value};

const T0: i64 = 1_795_629_600_000;

fn logon(uid: &str, t: i64, user: &str, success: bool) -> Value {
    json!({
        "class_uid": 3002, "class_name": "Authentication", "category_uid": 3,
        "activity_id": 1, "type_uid": 300201, "severity_id": 1,
        "time": t,
        "status_id": if success { 1 } else { 2 },
        "metadata": {"uid": uid, "version": "1.8.0", "product": {"name": "Okta", "vendor_name": "Okta"}},
        "user": {"email_addr": user, "name": user},
        "src_endpoint": {"ip": "203.0.113.7"},
        "session": {"uid": "s-1"},
    })
}

fn burst() -> String {
    let mut s = String::new();
    for i in 0..6 {
        s.push_str(&logon(&format!("f{i}"), T0 + i * 1000, "alice@example.com", false).to_string());
        s.push('\n');
    }
    s.push_str(&logon("ok", T0 + 10_000, "alice@example.com", true).to_string());
    s.push('\n');
    s
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

const POLICY: &str = r#"{"rules": [
  {"id": "account-takeover",
   "match": {"detections": ["brute_force_success"]},
   "actions": [{"type": "revoke_subject"}, {"type": "deny_source_ip", "duration_ms": 3600000}]}
]}"#;

#[test]
fn brute_force_then_success_is_a_finding() {
    let out = mesh()
        .args(["--json", "detect"])
        .write_stdin(burst())
        .assert()
        .success()
        .get_output()
        .clone();
    let findings = json_lines(&out.stdout);
    assert_eq!(findings.len(), 1, "{findings:?}");
    assert_eq!(findings[0]["class_uid"], 2004);
    assert!(findings[0].to_string().contains("alice@example.com"));
    let err = json_lines(&out.stderr);
    let summary = err.iter().find_map(|e| e.get("summary")).unwrap();
    assert_eq!(summary["events"], 7);
    assert_eq!(summary["findings"], 1);
    assert_eq!(summary["late"], 0);
}

#[test]
fn response_policy_prints_revocation_and_openc2() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("policy.json");
    std::fs::write(&p, POLICY).unwrap();
    let input = dir.path().join("events.ndjson");
    std::fs::write(&input, burst()).unwrap();
    let out = mesh()
        .args(["--json", "detect", "--response"])
        .arg(&p)
        .arg(&input)
        .assert()
        .success()
        .get_output()
        .clone();
    let err = json_lines(&out.stderr);
    let kinds: Vec<String> = err
        .iter()
        .filter_map(|e| e.get("response"))
        .map(|r| r["action"]["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(kinds.contains(&"revoke_subject".to_owned()), "{err:?}");
    assert!(err.iter().filter_map(|e| e.get("summary")).count() == 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("openc2"));
}

#[test]
fn late_and_invalid_lines_are_counted() {
    let mut input = burst();
    input.push_str("not json\n");
    mesh()
        .args(["detect"])
        .write_stdin(input)
        .assert()
        .code(1)
        .stderr(predicates::str::contains("1 invalid"))
        .stderr(predicates::str::contains("1 findings"));
}
