#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh demo` tells the whole story and needs nothing but the binary.

mod common;
use common::mesh;
use predicates::prelude::*;

#[test]
fn demo_tells_the_story() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("demo.html");
    mesh()
        .arg("demo")
        .arg("--report")
        .arg(&report)
        .assert()
        .success()
        .stdout(
            predicate::str::contains("CHALLENGE (mfa)")
                .and(predicate::str::contains("[bad_signature]"))
                .and(predicate::str::contains("[digest_mismatch]"))
                .and(predicate::str::contains("[rollback]"))
                .and(predicate::str::contains("revision 2 is active"))
                .and(predicate::str::contains("DENY  [revoked]"))
                .and(predicate::str::contains("\"class_uid\":6003"))
                .and(predicate::str::contains(
                    "10 raw records normalized to OCSF (0 failed)",
                ))
                .and(predicate::str::contains(
                    "[brute_force_success] for bob@demo.example",
                ))
                .and(predicate::str::contains("response applied: revoke_subject"))
                .and(predicate::str::contains("HTML report of this run")),
        );
    let html = std::fs::read_to_string(&report).unwrap();
    assert!(html.contains("<html") && html.contains("mesh demo"));
}

#[test]
fn demo_json_is_one_document_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("demo.html");
    let out = mesh()
        .args(["demo", "--json", "--report"])
        .arg(&report)
        .assert()
        .success();
    let text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let decisions: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|v| v.get("decision").is_some())
        .collect();
    assert!(decisions
        .iter()
        .any(|d| d["decision"] == "challenge" && d["obligation"]["name"] == "mfa"));
    assert!(decisions.iter().any(|d| d["reason"] == "revoked"));
    assert!(decisions
        .iter()
        .any(|d| d["revision"] == 2 && d["decision"] == "deny"));
    // The last act: a finding revokes bob, whose next decision is denied.
    let finding = lines.iter().find_map(|v| v.get("finding")).unwrap();
    assert_eq!(finding["class_uid"], 2004);
    let response = lines.iter().find_map(|v| v.get("response")).unwrap();
    assert_eq!(response["action"]["type"], "revoke_subject");
    assert_eq!(response["action"]["actor"], "bob@demo.example");
    let bob: Vec<_> = decisions
        .iter()
        .filter(|d| d["who"] == "bob (before)" || d["who"] == "bob (after)")
        .collect();
    assert_eq!(bob.len(), 2);
    assert_eq!(bob[0]["decision"], "allow");
    assert_eq!(bob[1]["reason"], "revoked");
    assert!(lines.last().unwrap()["report"].is_string());
    assert!(report.exists());
}
