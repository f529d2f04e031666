#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh token verify`.

mod common;
use common::{mesh, Issuer};
use predicates::prelude::*;
use serde_json::json;

const NOW: i64 = 1_700_000_000;

#[test]
fn valid_and_rejected_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let idp = Issuer::new();
    std::fs::write(d.join("jwks.json"), idp.jwks()).unwrap();
    let good = idp.token(
        json!({"iss": "https://idp", "aud": "api", "sub": "alice", "exp": NOW + 600, "iat": NOW}),
    );
    let args = |t: &str| {
        vec![
            "token".to_owned(),
            "verify".into(),
            t.to_owned(),
            "--issuer".into(),
            "https://idp".into(),
            "--jwks".into(),
            "jwks.json".into(),
            "--audience".into(),
            "api".into(),
            "--now".into(),
            NOW.to_string(),
        ]
    };
    mesh()
        .current_dir(d)
        .args(args(&good))
        .assert()
        .success()
        .stdout(predicate::str::contains("subject   alice"));
    let expired = idp.token(json!({"iss": "https://idp", "aud": "api", "sub": "alice", "exp": NOW - 600, "iat": NOW - 900}));
    mesh()
        .current_dir(d)
        .args(args(&expired))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("[expired]").and(predicate::str::contains("why:")));
    let other_aud =
        idp.token(json!({"iss": "https://idp", "aud": "web", "sub": "alice", "exp": NOW + 600}));
    let out = mesh()
        .current_dir(d)
        .arg("--json")
        .args(args(&other_aud))
        .assert()
        .code(1);
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["error"]["kind"], "bad_audience");
    let forged = Issuer::new()
        .token(json!({"iss": "https://idp", "aud": "api", "sub": "alice", "exp": NOW + 600}));
    mesh()
        .current_dir(d)
        .args(args(&forged))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("[bad_signature]"));
}

#[test]
fn config_errors_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("mesh.toml"),
        "[[issuers]]\nissuer = \"https://idp\"\njwks = '{\"keys\":[]}'\n",
    )
    .unwrap();
    mesh()
        .current_dir(d)
        .args(["token", "verify", "x.y.z", "--config", "mesh.toml"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("issuers[0].jwks"));
}
