//! Project Wycheproof JWS/JWK vectors (`../shared/testdata/wycheproof/`):
//! every valid case verifies, every invalid case is rejected, with a short
//! list of explained exceptions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mesh_core::identity::{verify_jws, Algorithm, JwsOptions, KeySet};
use serde_json::Value;
use std::path::PathBuf;

/// Cases whose label mesh deliberately disagrees with, and why.
const EXCEPTIONS: &[(u64, &str)] = &[
    // RFC 7520 §4.2 signs with PS384, but the vector's key declares
    // `"alg":"PS256"`; mesh requires a JWK's `alg` to match the token's.
    (346, "key `alg` PS256 does not match token `alg` PS384"),
    (350, "key `alg` PS256 does not match token `alg` PS384"),
    // Byte-identical to the valid tc357 yet labelled invalid.
    (367, "identical to valid tc357; mislabelled"),
    (370, "identical to valid tc357; mislabelled"),
    // Contain an inserted character yet are labelled valid.
    (372, "inserted character; mislabelled as valid"),
    (373, "inserted character; mislabelled as valid"),
];

/// `../../shared/testdata/wycheproof` from the crate (the repository's
/// sibling `shared/`), also looked up from further ancestors so that a git
/// worktree nested one level deeper finds the same directory.
fn dir() -> Option<PathBuf> {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .skip(2)
        .map(|a| a.join("shared/testdata/wycheproof"))
        .find(|p| p.is_dir())
}

fn key_set(group: &Value) -> Result<KeySet, String> {
    let key = group
        .get("public")
        .or_else(|| group.get("private"))
        .unwrap();
    let doc = if key.get("keys").is_some() {
        key.clone()
    } else {
        serde_json::json!({ "keys": [key] })
    };
    KeySet::from_jwks(doc.to_string().as_bytes()).map_err(|e| e.to_string())
}

/// Why a case is outside the supported set, if it is.
fn skip_reason(group: &Value, jws: &str) -> Option<&'static str> {
    let key = group
        .get("public")
        .or_else(|| group.get("private"))
        .unwrap();
    let alg = key
        .get("alg")
        .or_else(|| key.get("keys").and_then(|k| k[0].get("alg")))
        .and_then(Value::as_str)
        .unwrap_or("");
    let header_alg = jws
        .split('.')
        .next()
        .and_then(|h| {
            base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, h).ok()
        })
        .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default();
    if alg == "ES512" || alg == "ES521" || header_alg == "ES512" {
        return Some("ES512 (P-521) is not a supported algorithm");
    }
    if jws.split('.').count() == 5
        || header_alg.starts_with("RSA-OAEP")
        || header_alg.starts_with('A')
    {
        return Some("JWE is out of scope");
    }
    None
}

fn run(file: &str) -> (usize, usize, Vec<String>) {
    let Some(dir) = dir() else {
        println!("skipping Wycheproof {file}: ../shared/testdata/wycheproof is absent");
        return (0, 0, Vec::new());
    };
    let data: Value = serde_json::from_slice(&std::fs::read(dir.join(file)).unwrap()).unwrap();
    let opts = JwsOptions::default();
    let (mut checked, mut skipped, mut failures) = (0, 0, Vec::new());
    for group in data["testGroups"].as_array().unwrap() {
        let keys = key_set(group);
        for t in group["tests"].as_array().unwrap() {
            let id = t["tcId"].as_u64().unwrap();
            let jws = match &t["jws"] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if let Some(reason) = skip_reason(group, &jws) {
                println!("skip tc{id}: {reason}");
                skipped += 1;
                continue;
            }
            let valid = t["result"] == "valid";
            let got = match &keys {
                Ok(keys) => {
                    verify_jws(&jws, keys, &Algorithm::ALL, &opts).map_err(|e| e.to_string())
                }
                Err(e) => Err(format!("key set refused: {e}")),
            };
            let agrees = got.is_ok() == valid;
            let excepted = EXCEPTIONS.iter().find(|(e, _)| *e == id);
            match (agrees, excepted) {
                (true, None) => checked += 1,
                (false, Some((_, why))) => {
                    println!("exception tc{id}: {why}");
                    skipped += 1;
                }
                (true, Some(_)) => failures.push(format!("tc{id}: listed as exception but agrees")),
                (false, None) => failures.push(format!(
                    "tc{id} ({}): expected {}, got {:?}",
                    t["comment"],
                    t["result"],
                    got.map(|_| ())
                )),
            }
        }
    }
    (checked, skipped, failures)
}

#[test]
fn wycheproof_json_web_signature() {
    let (checked, skipped, failures) = run("json_web_signature_test.json");
    println!("jws: {checked} agree, {skipped} skipped or excepted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    if dir().is_some() {
        assert!(checked > 350, "only {checked} cases checked");
    }
}

#[test]
fn wycheproof_json_web_key() {
    let (checked, skipped, failures) = run("json_web_key_test.json");
    println!("jwk: {checked} agree, {skipped} skipped or excepted");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
