#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh demo` tells the whole story and needs nothing but the binary.

mod common;
use common::mesh;
use predicates::prelude::*;

#[test]
fn demo_tells_the_story() {
    mesh().arg("demo").assert().success().stdout(
        predicate::str::contains("CHALLENGE (mfa)")
            .and(predicate::str::contains("[bad_signature]"))
            .and(predicate::str::contains("[digest_mismatch]"))
            .and(predicate::str::contains("[rollback]"))
            .and(predicate::str::contains("revision 2 is active"))
            .and(predicate::str::contains("DENY  [revoked]"))
            .and(predicate::str::contains("\"class_uid\":6003")),
    );
}

#[test]
fn demo_json_is_one_document_per_line() {
    let out = mesh().args(["demo", "--json"]).assert().success();
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
}
