#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh normalize`.

mod common;
use common::mesh;

const MIXED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/mixed.log");

fn json_lines(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8(bytes.to_vec())
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn mixed_log_from_stdin() {
    let input = std::fs::read(MIXED).unwrap();
    let out = mesh()
        .args(["--json", "normalize", "--now", "1795640000"])
        .write_stdin(input)
        .assert()
        .code(1)
        .get_output()
        .clone();
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 5);
    for e in &events {
        assert!(e["class_uid"].as_u64().is_some(), "{e}");
        assert!(e["time"].as_i64().is_some(), "{e}");
    }
    let errs = json_lines(&out.stderr);
    let failures: Vec<_> = errs.iter().filter(|e| e.get("kind").is_some()).collect();
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0]["line"], 5);
    assert!(failures[0]["message"].as_str().is_some());
    let summary = errs.iter().find_map(|e| e.get("summary")).unwrap();
    assert_eq!(summary["events"], 5);
    assert_eq!(summary["failed"], 1);
}

#[test]
fn file_argument_and_clean_input_exit_zero() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(MIXED).unwrap();
    let good: String = text
        .lines()
        .filter(|l| *l != "this line is not telemetry")
        .map(|l| format!("{l}\n"))
        .collect();
    let p = dir.path().join("good.log");
    std::fs::write(&p, good).unwrap();
    let out = mesh()
        .args(["normalize", "--now", "1795640000"])
        .arg(&p)
        .assert()
        .success()
        .get_output()
        .clone();
    assert_eq!(json_lines(&out.stdout).len(), 5);
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 failed"));
}

#[test]
fn unknown_source_is_usage_error() {
    mesh()
        .args(["normalize", "--source", "no-such-source"])
        .write_stdin("x\n")
        .assert()
        .code(2);
}
