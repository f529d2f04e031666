#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh policy check|test|fmt`.

mod common;
use common::mesh;
use predicates::prelude::*;

const POLICY: &str = "@id(\"staff-read\")\npermit(principal in Group::\"staff\", action == Action::\"read\", resource);\n";

#[test]
fn check_reports_location_and_caret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("ok.cedar"), POLICY).unwrap();
    std::fs::write(
        d.join("bad.cedar"),
        "permit(\n  principal, acton, resource);\n",
    )
    .unwrap();
    mesh()
        .current_dir(d)
        .args(["policy", "check", "ok.cedar"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok: 1 file(s), 1 policies"));
    mesh()
        .current_dir(d)
        .args(["policy", "check", "ok.cedar", "bad.cedar"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("bad.cedar:2:").and(predicate::str::contains("^")));
    let out = mesh()
        .current_dir(d)
        .args(["--json", "policy", "check", "bad.cedar"])
        .assert()
        .code(1);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["diagnostics"][0]["line"], 2);
}

#[test]
fn test_runs_cases_with_ci_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("p.cedar"), POLICY).unwrap();
    std::fs::write(d.join("e.json"), r#"[{"uid":{"type":"User","id":"alice"},"attrs":{},"parents":[{"type":"Group","id":"staff"}]},{"uid":{"type":"Group","id":"staff"},"attrs":{},"parents":[]}]"#).unwrap();
    let case = |name: &str, who: &str, expect: &str| {
        format!(
            r#"{{"name":"{name}","principal":"User::\"{who}\"","action":"Action::\"read\"","resource":"Doc::\"1\"","expect":"{expect}"}}"#
        )
    };
    std::fs::write(
        d.join("good.json"),
        format!(
            "[{},{}]",
            case("staff reads", "alice", "allow"),
            case("others do not", "eve", "deny")
        ),
    )
    .unwrap();
    std::fs::write(
        d.join("bad.json"),
        format!("[{}]", case("eve reads", "eve", "allow")),
    )
    .unwrap();
    mesh()
        .current_dir(d)
        .args([
            "policy",
            "test",
            "good.json",
            "--policies",
            "p.cedar",
            "--entities",
            "e.json",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("2 passed, 0 failed"));
    mesh()
        .current_dir(d)
        .args([
            "policy",
            "test",
            "good.json",
            "bad.json",
            "--policies",
            "p.cedar",
            "--entities",
            "e.json",
        ])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("FAIL  bad.json :: eve reads")
                .and(predicate::str::contains("2 passed, 1 failed")),
        );
}

#[test]
fn fmt_check_rewrite_and_comments() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = d.join("p.cedar");
    std::fs::write(&p, POLICY).unwrap();
    // --check reports and writes nothing.
    mesh()
        .args(["policy", "fmt", "--check"])
        .arg(&p)
        .assert()
        .code(1)
        .stdout(predicate::str::contains("not formatted"));
    assert_eq!(std::fs::read_to_string(&p).unwrap(), POLICY);
    // Rewrite, then the file is stable.
    mesh().args(["policy", "fmt"]).arg(&p).assert().success();
    let formatted = std::fs::read_to_string(&p).unwrap();
    assert!(formatted.starts_with("@id(\"staff-read\")\npermit (\n"));
    mesh()
        .args(["policy", "fmt", "--check"])
        .arg(&p)
        .assert()
        .success();
    mesh()
        .args(["--json", "policy", "fmt"])
        .arg(&p)
        .assert()
        .success()
        .stdout(predicate::str::contains("\"status\":\"formatted\""));
    // Comments are never dropped silently.
    let c = d.join("c.cedar");
    let commented = format!("// who reads\n{POLICY}");
    std::fs::write(&c, &commented).unwrap();
    mesh()
        .args(["policy", "fmt"])
        .arg(&c)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("--drop-comments"));
    assert_eq!(std::fs::read_to_string(&c).unwrap(), commented);
    mesh()
        .args(["policy", "fmt", "--drop-comments"])
        .arg(&c)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&c).unwrap(), formatted);
    // A parse error is reported with its location.
    let b = d.join("b.cedar");
    std::fs::write(&b, "permit(principal, acton, resource);\n").unwrap();
    mesh()
        .args(["policy", "fmt"])
        .arg(&b)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("b.cedar:1:"));
}
