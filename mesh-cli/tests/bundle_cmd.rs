#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh keys generate` and `mesh bundle build|sign|verify|inspect`.

mod common;
use common::mesh;
use predicates::prelude::*;

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    mesh()
        .current_dir(d)
        .args(["keys", "generate", "--out", "ci"])
        .assert()
        .success()
        .stdout(predicate::str::contains("ed25519:"));
    mesh()
        .current_dir(d)
        .args(["keys", "generate", "--out", "other"])
        .assert()
        .success();
    std::fs::create_dir(d.join("policies")).unwrap();
    std::fs::write(
        d.join("policies/a.cedar"),
        "permit(principal, action, resource);\n",
    )
    .unwrap();
    std::fs::write(d.join("entities.json"), "[]").unwrap();
    dir
}

fn build(d: &std::path::Path, rev: &str, out: &str) {
    mesh()
        .current_dir(d)
        .args([
            "bundle",
            "build",
            "--revision",
            rev,
            "--policies",
            "policies",
            "--entities",
            "entities.json",
            "--created-at",
            "1700000000",
            "--out",
            out,
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("unsigned"));
}

#[test]
fn build_sign_verify_inspect() {
    let dir = setup();
    let d = dir.path();
    build(d, "5", "b.bundle");
    mesh()
        .current_dir(d)
        .args(["bundle", "verify", "b.bundle", "--trust", "ci.pub"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("[unsigned]"));
    mesh()
        .current_dir(d)
        .args(["bundle", "sign", "b.bundle", "--key", "ci.key"])
        .assert()
        .success()
        .stdout(predicate::str::contains("revision 5"));
    mesh()
        .current_dir(d)
        .args([
            "bundle",
            "verify",
            "b.bundle",
            "--trust",
            "ci.pub",
            "--active-revision",
            "4",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("verified"));
    let out = mesh()
        .current_dir(d)
        .args(["--json", "bundle", "inspect", "b.bundle"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["revision"], 5);
    assert_eq!(v["parts"].as_array().unwrap().len(), 2);
    assert_eq!(v["parts"][1]["name"], "policies/a.cedar");
    assert_eq!(v["digests_ok"], true);
    // Reproducible: the same inputs give the same bytes.
    build(d, "5", "again.bundle");
    mesh()
        .current_dir(d)
        .args(["bundle", "sign", "again.bundle", "--key", "ci.key"])
        .assert()
        .success();
    assert_eq!(
        std::fs::read(d.join("b.bundle")).unwrap(),
        std::fs::read(d.join("again.bundle")).unwrap()
    );
}

#[test]
fn refusals_have_distinct_kinds() {
    let dir = setup();
    let d = dir.path();
    build(d, "5", "b.bundle");
    mesh()
        .current_dir(d)
        .args(["bundle", "sign", "b.bundle", "--key", "ci.key"])
        .assert()
        .success();
    let kind = |args: &[&str]| {
        let out = mesh()
            .current_dir(d)
            .arg("--json")
            .args(args)
            .assert()
            .code(1);
        let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
        v["error"]["kind"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        kind(&["bundle", "verify", "b.bundle", "--trust", "other.pub"]),
        "untrusted_key"
    );
    assert_eq!(
        kind(&[
            "bundle",
            "verify",
            "b.bundle",
            "--trust",
            "ci.pub",
            "--active-revision",
            "5"
        ]),
        "replay"
    );
    assert_eq!(
        kind(&[
            "bundle",
            "verify",
            "b.bundle",
            "--trust",
            "ci.pub",
            "--active-revision",
            "9"
        ]),
        "rollback"
    );
    let mut bytes = std::fs::read(d.join("b.bundle")).unwrap();
    let pos = bytes.windows(6).position(|w| w == b"permit").unwrap();
    bytes[pos] = b'f';
    std::fs::write(d.join("tampered.bundle"), &bytes).unwrap();
    assert_eq!(
        kind(&["bundle", "verify", "tampered.bundle", "--trust", "ci.pub"]),
        "digest_mismatch"
    );
    mesh()
        .current_dir(d)
        .args(["bundle", "inspect", "tampered.bundle"])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("MISMATCH"));
    bytes.push(0);
    std::fs::write(d.join("trailing.bundle"), &bytes).unwrap();
    assert_eq!(
        kind(&["bundle", "verify", "trailing.bundle", "--trust", "ci.pub"]),
        "trailing_data"
    );
}

#[test]
fn keys_are_not_overwritten() {
    let dir = setup();
    mesh()
        .current_dir(dir.path())
        .args(["keys", "generate", "--out", "ci"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--force"));
}

#[test]
fn help_documents_exit_codes() {
    mesh()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("Exit codes"));
    mesh()
        .args(["bundle", "verify", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("digest_mismatch"));
}
