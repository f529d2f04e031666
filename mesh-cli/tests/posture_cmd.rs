#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh posture`.

mod common;
use common::mesh;
use predicates::prelude::*;

#[test]
fn findings_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("rules.cedar"), "@id(\"bucket-not-public\")\n@severity(\"high\")\nforbid(principal, action, resource is Bucket) when { resource.public_read };\n").unwrap();
    std::fs::write(d.join("buckets.json"), r#"[{"kind":"Bucket","id":"logs","attributes":{"public_read":true}},{"kind":"Bucket","id":"ok","attributes":{"public_read":false}}]"#).unwrap();
    std::fs::write(
        d.join("good.json"),
        r#"{"kind":"Bucket","id":"ok","attributes":{"public_read":false}}"#,
    )
    .unwrap();
    mesh()
        .current_dir(d)
        .args(["posture", "--rules", "rules.cedar", "buckets.json"])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("bucket-not-public")
                .and(predicate::str::contains("when { resource.public_read }")),
        );
    mesh()
        .current_dir(d)
        .args(["posture", "--rules", "rules.cedar", "good.json"])
        .assert()
        .success()
        .stdout(predicate::str::contains("0 finding(s)"));
    let out = mesh()
        .current_dir(d)
        .args([
            "--json",
            "posture",
            "--rules",
            "rules.cedar",
            "buckets.json",
        ])
        .assert()
        .code(1);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["class_uid"], 2003);
    assert_eq!(v["compliance"]["control"], "bucket-not-public");
}
