#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh report`.

mod common;
use common::mesh;
use predicates::prelude::*;

const DATA: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../mesh-core/tests/data/report"
);

#[test]
fn writes_report_and_summary() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("r.html");
    let sum = dir.path().join("s.json");
    mesh()
        .args(["report", "--events", &format!("{DATA}/events.ndjson")])
        .args(["--decisions", &format!("{DATA}/decisions.jsonl")])
        .args(["--now", "1700003600", "--silence-threshold", "900"])
        .arg("--out")
        .arg(&out)
        .arg("--summary-out")
        .arg(&sum)
        .assert()
        .success()
        .stdout(predicate::str::contains("r.html"));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<h2>Coverage</h2>"));
    assert!(html.contains("GAP — silent"));
    assert!(html.contains("Revision <b>12</b>"));
    assert!(!html.contains("<script>"));
    // re-render from the saved summary alone
    let out2 = dir.path().join("r2.html");
    mesh()
        .args(["report", "--now", "1700003600", "--summary"])
        .arg(&sum)
        .arg("--out")
        .arg(&out2)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out2).unwrap(), html);
}

#[test]
fn bad_decision_line_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("d.jsonl"), "{not json\n").unwrap();
    mesh()
        .current_dir(dir.path())
        .args(["report", "--decisions", "d.jsonl", "--now", "0"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("d.jsonl:1"));
}
