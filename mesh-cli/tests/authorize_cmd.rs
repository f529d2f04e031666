#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
//! `mesh authorize` from flags and from JSON.

mod common;
use common::{mesh, Issuer};
use predicates::prelude::*;
use serde_json::json;

const NOW: i64 = 1_700_000_000;

fn setup() -> (tempfile::TempDir, Issuer) {
    let dir = tempfile::tempdir().unwrap();
    let idp = Issuer::new();
    let cfg = format!(
        r#"
[[issuers]]
issuer = "https://idp"
audiences = ["api"]
algorithms = ["EdDSA"]
jwks = '{}'

[[policies]]
name = "main.cedar"
text = '''
@id("staff-read")
permit(principal in Group::"staff", action == Action::"read", resource);
@id("approve-mfa")
@obligation("mfa")
permit(principal, action == Action::"approve", resource);
'''
"#,
        idp.jwks()
    );
    std::fs::write(dir.path().join("mesh.toml"), cfg).unwrap();
    (dir, idp)
}

#[test]
fn allow_deny_challenge_from_flags() {
    let (dir, idp) = setup();
    let d = dir.path();
    let tok = idp.token(json!({"iss": "https://idp", "aud": "api", "sub": "alice", "exp": NOW + 600, "groups": ["staff"]}));
    let base = |action: &str| {
        let mut c = mesh();
        c.current_dir(d).args([
            "authorize",
            "--config",
            "mesh.toml",
            "--token",
            &tok,
            "--action",
            action,
            "--resource",
            "Doc::\"q3\"",
            "--now",
            &NOW.to_string(),
        ]);
        c
    };
    base("Action::\"read\"")
        .assert()
        .success()
        .stdout(predicate::str::contains("ALLOW").and(predicate::str::contains("staff-read")));
    base("Action::\"delete\"")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("deny by default"));
    base("Action::\"approve\"")
        .assert()
        .code(1)
        .stdout(predicate::str::contains("CHALLENGE (mfa)"));
    let out = base("Action::\"read\"")
        .args(["--json", "--audit"])
        .assert()
        .success();
    let v: serde_json::Value = serde_json::from_slice(&out.get_output().stdout).unwrap();
    assert_eq!(v["decision"], "allow");
    assert_eq!(v["audit"]["class_uid"], 6003);
}

#[test]
fn request_from_json_and_principal_without_credential() {
    let (dir, idp) = setup();
    let d = dir.path();
    let expired = idp.token(json!({"iss": "https://idp", "aud": "api", "sub": "alice", "exp": NOW - 600, "groups": ["staff"]}));
    let req = json!({"token": expired, "action": "Action::\"read\"", "resource": "Doc::\"q3\""});
    std::fs::write(d.join("req.json"), req.to_string()).unwrap();
    mesh()
        .current_dir(d)
        .args([
            "authorize",
            "--config",
            "mesh.toml",
            "--request",
            "req.json",
            "--now",
            &NOW.to_string(),
        ])
        .assert()
        .code(1)
        .stdout(
            predicate::str::contains("credential_rejected")
                .and(predicate::str::contains("expired")),
        );
    mesh()
        .current_dir(d)
        .args([
            "authorize",
            "--config",
            "mesh.toml",
            "--principal",
            "User::\"x\"",
            "--action",
            "Action::\"approve\"",
            "--resource",
            "Doc::\"1\"",
        ])
        .assert()
        .code(1)
        .stdout(predicate::str::contains("CHALLENGE"));
    mesh()
        .current_dir(d)
        .args([
            "authorize",
            "--config",
            "mesh.toml",
            "--principal",
            "User::\"x\"",
            "--action",
            "read",
            "--resource",
            "Doc::\"1\"",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--action"));
}
