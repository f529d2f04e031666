//! Attack cases against token verification: each asserts its specific error kind.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{b64, claims, jwks_doc, key_set, TestKey, NOW};
use mesh_core::identity::{
    Algorithm, IdentityErrorKind as K, IssuerConfig, IssuerRegistry, JwsOptions, KeySet,
    VerifyingKey,
};
use mesh_core::{IdentityKind, Timestamp};
use serde_json::{json, Value};
use std::time::Duration;

const A: &str = "https://a.example";
const B: &str = "https://b.example";
const C: &str = "https://c.example";
const B_SECRET: &[u8] = b"issuer-b-secret-which-is-long-enough-0123456789";

struct Fx {
    reg: IssuerRegistry,
    hs: TestKey,
    rs: TestKey,
    ps: TestKey,
    es: TestKey,
    es384: TestKey,
    ed: TestKey,
}

fn fx_with(options: JwsOptions) -> Fx {
    let hs = TestKey::new(Algorithm::HS256, "hs");
    let rs = TestKey::new(Algorithm::RS256, "rs");
    let ps = TestKey::new(Algorithm::PS256, "ps");
    let es = TestKey::new(Algorithm::ES256, "es");
    let es384 = TestKey::new(Algorithm::ES384, "es384");
    let ed = TestKey::new(Algorithm::EdDSA, "ed");
    // Issuer A signs with shared secrets; issuer C with public keys.
    let mut hs_doc: Value = serde_json::from_str(&jwks_doc(&[&hs])).unwrap();
    hs_doc["keys"]
        .as_array_mut()
        .unwrap()
        .push(json!({"kty":"oct","kid":"short","alg":"HS256","k": b64([1u8; 16])}));
    let hs_set = KeySet::from_jwks(hs_doc.to_string().as_bytes()).unwrap();
    let mut doc: Value = serde_json::from_str(&jwks_doc(&[&rs, &ps, &es, &es384, &ed])).unwrap();
    let keys = doc["keys"].as_array_mut().unwrap();
    // Keys that must never verify: weak, encryption-only, no `verify` op.
    let mut small_n = vec![0xc5u8; 128];
    small_n[127] = 0x01;
    keys.push(json!({"kty":"RSA","kid":"rsa1024","alg":"RS256","n": b64(&small_n),"e":"AQAB"}));
    let mut enc = rs.jwk.clone();
    enc["kid"] = json!("enc");
    enc["use"] = json!("enc");
    keys.push(enc);
    let mut ops = rs.jwk.clone();
    ops["kid"] = json!("signonly");
    ops.as_object_mut().unwrap().remove("use");
    ops["key_ops"] = json!(["sign"]);
    keys.push(ops);
    let set = KeySet::from_jwks(doc.to_string().as_bytes()).unwrap();
    let mut reg = IssuerRegistry::with_options(options);
    reg.add(IssuerConfig::new(A, hs_set, &[Algorithm::HS256]).audience("api"))
        .unwrap();
    // C allows every algorithm, so key-level checks are what stop confusion.
    reg.add(IssuerConfig::new(C, set, &Algorithm::ALL).audience("api"))
        .unwrap();
    let b_key = VerifyingKey::hmac(B_SECRET, Some("b1"), Some(Algorithm::HS256)).unwrap();
    reg.add(
        IssuerConfig::new(B, KeySet::single(b_key), &[Algorithm::HS256])
            .audience("api")
            .typ("at+jwt")
            .kind(IdentityKind::Service),
    )
    .unwrap();
    Fx {
        reg,
        hs,
        rs,
        ps,
        es,
        es384,
        ed,
    }
}

fn fx() -> Fx {
    fx_with(JwsOptions::default())
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(NOW)
}

#[track_caller]
fn reject(f: &Fx, token: &str, kind: K) {
    match f.reg.verify(token, now()) {
        Ok(id) => panic!("accepted, expected {kind}: {id:?}"),
        Err(e) => {
            assert_eq!(e.kind(), kind, "wrong kind for error: {e}");
            let msg = e.to_string();
            assert!(!msg.ends_with('.'));
        }
    }
}

fn hs_raw(header: &str, payload: &str) -> String {
    fx().hs.sign_raw(header, payload)
}

fn a_claims() -> Value {
    claims(A)
}

fn c_claims() -> Value {
    claims(C)
}

fn claims_for(k: &TestKey) -> Value {
    if k.alg == Algorithm::HS256 {
        a_claims()
    } else {
        c_claims()
    }
}

fn hdr(alg: &str, kid: &str) -> Value {
    json!({"alg": alg, "kid": kid, "typ": "JWT"})
}

fn with(mut v: Value, k: &str, x: Value) -> Value {
    v[k] = x;
    v
}

fn without(mut v: Value, k: &str) -> Value {
    v.as_object_mut().unwrap().remove(k);
    v
}

fn tamper_sig(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap();
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    bytes[0] ^= 1;
    format!("{input}.{}", b64(bytes))
}

// ---- sanity: every algorithm verifies -------------------------------------

#[test]
fn every_algorithm_verifies_and_maps_identity() {
    let f = fx();
    for k in [&f.hs, &f.rs, &f.ps, &f.es, &f.es384, &f.ed] {
        let t = k.sign(&claims_for(k));
        let v = f
            .reg
            .verify_token(&t, now())
            .unwrap_or_else(|e| panic!("{}: {e}", k.alg));
        assert_eq!(v.header.alg, k.alg);
        assert_eq!(v.identity.subject(), "user-1");
        assert_eq!(v.identity.issuer(), claims_for(k)["iss"]);
        assert_eq!(v.identity.actor_key().as_str(), "alice@example.com");
        assert!(v.identity.auth().has_method("mfa"));
        assert_eq!(v.identity.entitlements(), ["read", "write"]);
        assert_eq!(v.claims.aud, ["api"]);
    }
}

// ---- alg -------------------------------------------------------------------

#[test]
fn alg_none_unsigned() {
    let t = format!(
        "{}.{}.",
        b64(r#"{"alg":"none"}"#),
        b64(a_claims().to_string())
    );
    reject(&fx(), &t, K::AlgNone);
}

#[test]
fn alg_none_mixed_case_with_signature() {
    let t = format!(
        "{}.{}.c2ln",
        b64(r#"{"alg":"nOnE"}"#),
        b64(a_claims().to_string())
    );
    reject(&fx(), &t, K::AlgNone);
}

#[test]
fn alg_none_signed_by_hmac() {
    let t = hs_raw(r#"{"alg":"none","kid":"hs"}"#, &a_claims().to_string());
    reject(&fx(), &t, K::AlgNone);
}

#[test]
fn alg_unsupported_es512() {
    let t = hs_raw(r#"{"alg":"ES512","kid":"hs"}"#, &a_claims().to_string());
    reject(&fx(), &t, K::UnsupportedAlg);
}

#[test]
fn alg_lowercase_is_not_an_alias() {
    let t = hs_raw(r#"{"alg":"hs256","kid":"hs"}"#, &a_claims().to_string());
    reject(&fx(), &t, K::UnsupportedAlg);
}

#[test]
fn alg_missing() {
    let t = hs_raw(r#"{"kid":"hs"}"#, &a_claims().to_string());
    reject(&fx(), &t, K::Malformed);
}

#[test]
fn rs_hs_confusion_hmac_with_rsa_public_key() {
    let f = fx();
    // Classic confusion: HMAC the token with the RSA public key as secret.
    let n = f.rs.jwk["n"].as_str().unwrap();
    let secret = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#);
    let input = format!(
        "{}.{}",
        b64(hdr("HS256", "rs").to_string()),
        b64(c_claims().to_string())
    );
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret.as_bytes());
    let sig = ring::hmac::sign(&key, input.as_bytes());
    reject(
        &f,
        &format!("{input}.{}", b64(sig.as_ref())),
        K::AlgNotAllowed,
    );
}

#[test]
fn hs_alg_with_ec_key() {
    let f = fx();
    let t = f.hs.sign_with_header(&hdr("HS256", "es"), &c_claims());
    reject(&f, &t, K::AlgNotAllowed);
}

#[test]
fn es384_claimed_for_p256_key() {
    let f = fx();
    let t = f.es.sign_with_header(&hdr("ES384", "es"), &c_claims());
    reject(&f, &t, K::AlgNotAllowed);
}

#[test]
fn eddsa_claimed_for_ec_key() {
    let f = fx();
    let t = f.ed.sign_with_header(&hdr("EdDSA", "es"), &c_claims());
    reject(&f, &t, K::AlgNotAllowed);
}

#[test]
fn jwk_alg_must_match_token_alg() {
    let f = fx();
    // Key `rs` is pinned to RS256; a PS256 signature with the same RSA key.
    let input = format!(
        "{}.{}",
        b64(hdr("PS256", "rs").to_string()),
        b64(c_claims().to_string())
    );
    let sig = f.rs.sign_bytes_with(Algorithm::PS256, input.as_bytes());
    reject(&f, &format!("{input}.{}", b64(sig)), K::AlgNotAllowed);
}

#[test]
fn issuer_does_not_allow_alg() {
    let f = fx();
    let t = f.rs.sign(&claims(B));
    reject(&f, &t, K::AlgNotAllowed);
}

// ---- kid -------------------------------------------------------------------

#[test]
fn unknown_kid() {
    let f = fx();
    let t = f.hs.sign_with_header(&hdr("HS256", "nope"), &a_claims());
    reject(&f, &t, K::UnknownKid);
}

#[test]
fn missing_kid_with_ambiguous_keys() {
    let rs = TestKey::new(Algorithm::RS256, "r1");
    let mut rs2 = TestKey::new(Algorithm::RS256, "r2");
    rs2.jwk["kid"] = json!("r2");
    let mut reg = IssuerRegistry::new();
    reg.add(IssuerConfig::new(A, key_set(&[&rs, &rs2]), &[Algorithm::RS256]).audience("api"))
        .unwrap();
    let t = rs.sign_with_header(&json!({"alg":"RS256"}), &a_claims());
    assert_eq!(reg.verify(&t, now()).unwrap_err().kind(), K::UnknownKid);
}

#[test]
fn kid_not_a_string() {
    let t = hs_raw(r#"{"alg":"HS256","kid":7}"#, &a_claims().to_string());
    reject(&fx(), &t, K::Malformed);
}

#[test]
fn other_issuers_key_never_validates() {
    let f = fx();
    // Signed with B's secret, claims issuer A, names B's kid.
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, B_SECRET);
    let input = format!(
        "{}.{}",
        b64(hdr("HS256", "b1").to_string()),
        b64(a_claims().to_string())
    );
    let sig = ring::hmac::sign(&key, input.as_bytes());
    reject(&f, &format!("{input}.{}", b64(sig.as_ref())), K::UnknownKid);
    // Same, but naming A's kid: the signature does not verify under A's key.
    let input = format!(
        "{}.{}",
        b64(hdr("HS256", "hs").to_string()),
        b64(a_claims().to_string())
    );
    let sig = ring::hmac::sign(&key, input.as_bytes());
    reject(
        &f,
        &format!("{input}.{}", b64(sig.as_ref())),
        K::BadSignature,
    );
}

// ---- forbidden headers, crit, b64 -------------------------------------------

#[test]
fn jku_header() {
    let f = fx();
    let h = with(
        hdr("HS256", "hs"),
        "jku",
        json!("https://evil.example/jwks"),
    );
    reject(
        &f,
        &f.hs.sign_with_header(&h, &a_claims()),
        K::ForbiddenHeader,
    );
}

#[test]
fn x5u_header() {
    let f = fx();
    let h = with(
        hdr("HS256", "hs"),
        "x5u",
        json!("https://evil.example/cert"),
    );
    reject(
        &f,
        &f.hs.sign_with_header(&h, &a_claims()),
        K::ForbiddenHeader,
    );
}

#[test]
fn embedded_jwk_header() {
    let f = fx();
    let h = with(hdr("ES256", "es"), "jwk", f.es.jwk.clone());
    reject(
        &f,
        &f.es.sign_with_header(&h, &c_claims()),
        K::ForbiddenHeader,
    );
}

#[test]
fn x5c_header() {
    let f = fx();
    let h = with(hdr("RS256", "rs"), "x5c", json!(["MIIB"]));
    reject(
        &f,
        &f.rs.sign_with_header(&h, &c_claims()),
        K::ForbiddenHeader,
    );
}

#[test]
fn key_headers_tolerated_only_when_configured() {
    let f = fx_with(JwsOptions {
        ignore_key_headers: true,
        ..JwsOptions::default()
    });
    let h = with(
        hdr("HS256", "hs"),
        "jku",
        json!("https://evil.example/jwks"),
    );
    assert!(f
        .reg
        .verify(&f.hs.sign_with_header(&h, &a_claims()), now())
        .is_ok());
}

#[test]
fn unknown_crit_entry() {
    let f = fx();
    let h = with(
        with(hdr("HS256", "hs"), "crit", json!(["http://x/ext"])),
        "http://x/ext",
        json!(1),
    );
    reject(&f, &f.hs.sign_with_header(&h, &a_claims()), K::UnknownCrit);
}

#[test]
fn crit_naming_registered_header() {
    let f = fx();
    let h = with(hdr("HS256", "hs"), "crit", json!(["alg"]));
    reject(&f, &f.hs.sign_with_header(&h, &a_claims()), K::UnknownCrit);
}

#[test]
fn crit_empty_or_not_array() {
    let f = fx();
    let h = with(hdr("HS256", "hs"), "crit", json!([]));
    reject(&f, &f.hs.sign_with_header(&h, &a_claims()), K::UnknownCrit);
    let h = with(hdr("HS256", "hs"), "crit", json!("exp"));
    reject(&f, &f.hs.sign_with_header(&h, &a_claims()), K::UnknownCrit);
}

#[test]
fn b64_false() {
    let f = fx();
    let h = with(
        with(hdr("HS256", "hs"), "b64", json!(false)),
        "crit",
        json!(["b64"]),
    );
    reject(&f, &f.hs.sign_with_header(&h, &a_claims()), K::B64False);
}

// ---- encoding and structure -------------------------------------------------

#[test]
fn base64_padding() {
    let f = fx();
    let t = f.hs.sign(&a_claims());
    let (h, rest) = t.split_once('.').unwrap();
    let padded = format!(
        "{h}{}.{rest}",
        "=".repeat((4 - h.len() % 4) % 4 + 4 * usize::from(h.len() % 4 == 0))
    );
    reject(&f, &padded, K::Malformed);
}

#[test]
fn base64_whitespace() {
    let f = fx();
    let t = f.hs.sign(&a_claims());
    let (h, rest) = t.split_once('.').unwrap();
    reject(&f, &format!("{h}.\n{rest}"), K::Malformed);
    reject(&f, &format!("{t} "), K::Malformed);
}

#[test]
fn base64_standard_alphabet() {
    let f = fx();
    let t = f.hs.sign(&a_claims());
    reject(&f, &format!("{}+", &t[..t.len() - 1]), K::Malformed);
}

#[test]
fn base64_noncanonical_trailing_bits() {
    let f = fx();
    let t = f.hs.sign(&a_claims());
    // A 32-byte HMAC encodes to 43 chars whose last one carries 2 padding bits.
    let last = t.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let idx = alphabet.find(last).unwrap();
    let bumped = alphabet.chars().nth(idx | 1).unwrap();
    assert_ne!(bumped, last);
    reject(&f, &format!("{}{bumped}", &t[..t.len() - 1]), K::Malformed);
}

#[test]
fn extra_segment() {
    let f = fx();
    let t = f.hs.sign(&a_claims());
    reject(&f, &format!("{t}.c2ln"), K::Malformed);
    reject(&f, &format!("{t}."), K::Malformed);
}

#[test]
fn missing_segment() {
    let f = fx();
    let t = f.hs.sign(&a_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    reject(&f, input, K::Malformed);
    reject(&f, "", K::Malformed);
}

#[test]
fn json_serialization_is_not_compact() {
    let f = fx();
    let t = json!({"payload":"e30","signatures":[{"protected":"e30","signature":"c2ln"}]});
    reject(&f, &t.to_string(), K::Malformed);
}

#[test]
fn header_not_json() {
    reject(
        &fx(),
        &hs_raw("alg=HS256", &a_claims().to_string()),
        K::Malformed,
    );
}

#[test]
fn header_not_object() {
    reject(
        &fx(),
        &hs_raw(r#"["HS256"]"#, &a_claims().to_string()),
        K::Malformed,
    );
}

#[test]
fn payload_not_object() {
    reject(
        &fx(),
        &hs_raw(r#"{"alg":"HS256","kid":"hs"}"#, r#"["sub"]"#),
        K::Malformed,
    );
}

#[test]
fn payload_empty() {
    let f = fx();
    let input = format!("{}.", b64(r#"{"alg":"HS256","kid":"hs"}"#));
    let sig = f.hs.sign_bytes_with(Algorithm::HS256, input.as_bytes());
    reject(&f, &format!("{input}.{}", b64(sig)), K::Malformed);
}

#[test]
fn payload_trailing_garbage() {
    let p = format!("{} x", a_claims());
    reject(
        &fx(),
        &hs_raw(r#"{"alg":"HS256","kid":"hs"}"#, &p),
        K::Malformed,
    );
}

#[test]
fn duplicate_header_member() {
    let t = hs_raw(
        r#"{"alg":"HS256","kid":"hs","alg":"none"}"#,
        &a_claims().to_string(),
    );
    reject(&fx(), &t, K::DuplicateKey);
}

#[test]
fn duplicate_registered_claim() {
    let p =
        r#"{"iss":"https://a.example","sub":"user-1","sub":"admin","aud":"api","exp":1700000600}"#;
    reject(
        &fx(),
        &hs_raw(r#"{"alg":"HS256","kid":"hs"}"#, p),
        K::DuplicateKey,
    );
}

#[test]
fn duplicate_custom_claim_nested() {
    let p = r#"{"iss":"https://a.example","sub":"u","aud":"api","exp":1700000600,"realm":{"roles":["a"],"roles":["admin"]}}"#;
    reject(
        &fx(),
        &hs_raw(r#"{"alg":"HS256","kid":"hs"}"#, p),
        K::DuplicateKey,
    );
}

#[test]
fn duplicate_claim_via_escape() {
    let p =
        r#"{"iss":"https://a.example","sub":"u","\u0073ub":"admin","aud":"api","exp":1700000600}"#;
    reject(
        &fx(),
        &hs_raw(r#"{"alg":"HS256","kid":"hs"}"#, p),
        K::DuplicateKey,
    );
}

#[test]
fn nesting_too_deep() {
    let f = fx();
    let mut deep = json!(1);
    for _ in 0..20 {
        deep = json!([deep]);
    }
    reject(&f, &f.hs.sign(&with(a_claims(), "x", deep)), K::TooDeep);
}

// ---- sizes -----------------------------------------------------------------

#[test]
fn token_over_8_kib() {
    let f = fx();
    let t =
        f.hs.sign(&with(a_claims(), "pad", json!("x".repeat(8 * 1024))));
    reject(&f, &t, K::TooLarge);
}

#[test]
fn huge_garbage_rejected_by_size_first() {
    let f = fx();
    // Not even base64: size is checked before anything is decoded.
    reject(&f, &"!".repeat(1 << 20), K::TooLarge);
}

#[test]
fn header_over_limit() {
    let f = fx();
    let h = with(hdr("HS256", "hs"), "pad", json!("x".repeat(2000)));
    reject(&f, &f.hs.sign_with_header(&h, &a_claims()), K::TooLarge);
}

#[test]
fn configurable_token_limit() {
    let f = fx_with(JwsOptions {
        max_token_len: 256,
        ..JwsOptions::default()
    });
    reject(&f, &f.hs.sign(&a_claims()), K::TooLarge);
}

// ---- keys ------------------------------------------------------------------

#[test]
fn hmac_key_shorter_than_hash() {
    let f = fx();
    let t = f.hs.sign_with_header(&hdr("HS256", "short"), &a_claims());
    reject(&f, &t, K::WeakKey);
}

#[test]
fn rsa_key_under_2048_bits() {
    let f = fx();
    let t = f.rs.sign_with_header(&hdr("RS256", "rsa1024"), &c_claims());
    reject(&f, &t, K::WeakKey);
}

#[test]
fn key_for_encryption_only() {
    let f = fx();
    let t = f.rs.sign_with_header(&hdr("RS256", "enc"), &c_claims());
    reject(&f, &t, K::InvalidKey);
}

#[test]
fn key_ops_without_verify() {
    let f = fx();
    let t =
        f.rs.sign_with_header(&hdr("RS256", "signonly"), &c_claims());
    reject(&f, &t, K::InvalidKey);
}

// ---- signatures ------------------------------------------------------------

#[test]
fn modified_signature_each_alg() {
    let f = fx();
    for k in [&f.hs, &f.rs, &f.ps, &f.es, &f.es384, &f.ed] {
        reject(&f, &tamper_sig(&k.sign(&claims_for(k))), K::BadSignature);
    }
}

#[test]
fn modified_payload() {
    let f = fx();
    let t = f.rs.sign(&c_claims());
    let parts: Vec<&str> = t.split('.').collect();
    let evil = b64(with(c_claims(), "roles", json!(["root"])).to_string());
    reject(
        &f,
        &format!("{}.{evil}.{}", parts[0], parts[2]),
        K::BadSignature,
    );
}

#[test]
fn ecdsa_der_signature() {
    let f = fx();
    let t = f.es.sign(&c_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    let (r, s) = raw.split_at(32);
    let int = |x: &[u8]| {
        let x: Vec<u8> = x.iter().copied().skip_while(|b| *b == 0).collect();
        let mut v = vec![0x02];
        if x[0] & 0x80 != 0 {
            v.push(x.len() as u8 + 1);
            v.push(0);
        } else {
            v.push(x.len() as u8);
        }
        v.extend(x);
        v
    };
    let mut body = int(r);
    body.extend(int(s));
    let mut der = vec![0x30, body.len() as u8];
    der.extend(body);
    reject(&f, &format!("{input}.{}", b64(der)), K::BadSignature);
}

#[test]
fn ecdsa_psychic_zero_signature() {
    let f = fx();
    let t = f.es.sign(&c_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    reject(&f, &format!("{input}.{}", b64([0u8; 64])), K::BadSignature);
    let t = f.es384.sign(&c_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    reject(&f, &format!("{input}.{}", b64([0u8; 96])), K::BadSignature);
}

#[test]
fn ecdsa_r_s_equal_curve_order() {
    let f = fx();
    let n = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
    let t = f.es.sign(&c_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    let mut sig = n.clone();
    sig.extend(&n);
    reject(&f, &format!("{input}.{}", b64(sig)), K::BadSignature);
}

#[test]
fn eddsa_truncated_signature() {
    let f = fx();
    let t = f.ed.sign(&c_claims());
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    reject(&f, &format!("{input}.{}", b64(&raw[..63])), K::BadSignature);
}

#[test]
fn empty_signature() {
    let f = fx();
    let t = f.rs.sign(&c_claims());
    let (input, _) = t.rsplit_once('.').unwrap();
    reject(&f, &format!("{input}."), K::Malformed);
}

// ---- claims ----------------------------------------------------------------

#[test]
fn expired() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "exp", json!(NOW - 61))),
        K::Expired,
    );
}

#[test]
fn expired_within_leeway_is_accepted() {
    let f = fx();
    assert!(f
        .reg
        .verify(&f.hs.sign(&with(a_claims(), "exp", json!(NOW - 59))), now())
        .is_ok());
}

#[test]
fn not_yet_valid() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "nbf", json!(NOW + 120))),
        K::NotYetValid,
    );
}

#[test]
fn issued_in_future() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "iat", json!(NOW + 120))),
        K::IssuedInFuture,
    );
}

#[test]
fn lifetime_too_long() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "exp", json!(NOW + 48 * 3600))),
        K::LifetimeTooLong,
    );
}

#[test]
fn unknown_issuer() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&claims("https://evil.example")),
        K::UnknownIssuer,
    );
}

#[test]
fn issuer_not_a_string() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "iss", json!([A]))),
        K::InvalidClaim,
    );
}

#[test]
fn issuer_missing() {
    let f = fx();
    reject(&f, &f.hs.sign(&without(a_claims(), "iss")), K::MissingClaim);
}

#[test]
fn wrong_audience() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "aud", json!(["other", "x"]))),
        K::BadAudience,
    );
}

#[test]
fn audience_array_with_number() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "aud", json!(["api", 1]))),
        K::InvalidClaim,
    );
}

#[test]
fn audience_missing() {
    let f = fx();
    reject(&f, &f.hs.sign(&without(a_claims(), "aud")), K::MissingClaim);
}

#[test]
fn subject_missing() {
    let f = fx();
    reject(&f, &f.hs.sign(&without(a_claims(), "sub")), K::MissingClaim);
}

#[test]
fn subject_not_a_string() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "sub", json!(42))),
        K::InvalidClaim,
    );
}

#[test]
fn exp_missing() {
    let f = fx();
    reject(&f, &f.hs.sign(&without(a_claims(), "exp")), K::MissingClaim);
}

#[test]
fn exp_not_numeric() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "exp", json!("1700000600"))),
        K::InvalidClaim,
    );
}

#[test]
fn exp_absurdly_large() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "exp", json!(1e300))),
        K::InvalidClaim,
    );
}

#[test]
fn nbf_boolean() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "nbf", json!(true))),
        K::InvalidClaim,
    );
}

#[test]
fn groups_wrong_type() {
    let f = fx();
    reject(
        &f,
        &f.hs.sign(&with(a_claims(), "groups", json!({"a":1}))),
        K::InvalidClaim,
    );
}

#[test]
fn required_custom_claim() {
    let hs = TestKey::new(Algorithm::HS256, "hs");
    let mut reg = IssuerRegistry::new();
    reg.add(
        IssuerConfig::new(A, key_set(&[&hs]), &[Algorithm::HS256])
            .audience("api")
            .required_claims(["exp", "iss", "aud", "sub", "tenant"]),
    )
    .unwrap();
    let e = reg.verify(&hs.sign(&a_claims()), now()).unwrap_err();
    assert_eq!(e.kind(), K::MissingClaim);
    assert!(e.to_string().contains("`tenant`"));
    assert!(reg
        .verify(&hs.sign(&with(a_claims(), "tenant", json!("t1"))), now())
        .is_ok());
}

// ---- typ -------------------------------------------------------------------

fn b_token(h: &Value) -> String {
    let input = format!("{}.{}", b64(h.to_string()), b64(claims(B).to_string()));
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, B_SECRET);
    format!(
        "{input}.{}",
        b64(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    )
}

#[test]
fn typ_required_and_matched() {
    let f = fx();
    let ok = b_token(&json!({"alg":"HS256","kid":"b1","typ":"application/at+jwt"}));
    let id = f.reg.verify(&ok, now()).unwrap();
    assert_eq!(id.kind(), IdentityKind::Service);
    reject(
        &f,
        &b_token(&json!({"alg":"HS256","kid":"b1","typ":"JWT"})),
        K::BadTyp,
    );
    reject(&f, &b_token(&json!({"alg":"HS256","kid":"b1"})), K::BadTyp);
}

#[test]
fn key_rotation_with_set_keys() {
    let mut f = fx();
    let new = TestKey::new(Algorithm::EdDSA, "ed-2025");
    let t = new.sign(&c_claims());
    assert_eq!(f.reg.verify(&t, now()).unwrap_err().kind(), K::UnknownKid);
    // Two keys live at once: the old `rs` and the new `ed-2025`.
    f.reg.set_keys(C, key_set(&[&f.rs, &new])).unwrap();
    assert!(f.reg.verify(&t, now()).is_ok());
    assert!(f.reg.verify(&f.rs.sign(&c_claims()), now()).is_ok());
    let gone = f.reg.verify(&f.es.sign(&c_claims()), now()).unwrap_err();
    assert_eq!(gone.kind(), K::UnknownKid);
}

#[test]
fn mixed_secret_and_public_key_set_refused() {
    let f = fx();
    let doc = jwks_doc(&[&f.hs, &f.rs]);
    let e = KeySet::from_jwks(doc.as_bytes()).unwrap_err();
    assert_eq!(e.kind(), K::InvalidKey);
}

#[test]
fn duplicate_kid_in_jwks_is_ambiguous() {
    let f = fx();
    let mut twin = TestKey::new(Algorithm::ES256, "rs");
    twin.jwk["kid"] = json!("rs");
    let set = key_set(&[&f.rs, &twin]);
    let mut reg = IssuerRegistry::new();
    reg.add(IssuerConfig::new(C, set, &Algorithm::ALL).audience("api"))
        .unwrap();
    let e = reg.verify(&f.rs.sign(&c_claims()), now()).unwrap_err();
    assert_eq!(e.kind(), K::InvalidKey);
}

#[test]
fn leeway_and_lifetime_are_per_issuer() {
    let hs = TestKey::new(Algorithm::HS256, "hs");
    let mut reg = IssuerRegistry::new();
    reg.add(
        IssuerConfig::new(A, key_set(&[&hs]), &[Algorithm::HS256])
            .audience("api")
            .leeway(Duration::ZERO)
            .max_lifetime(Some(Duration::from_secs(300))),
    )
    .unwrap();
    let e = reg
        .verify(&hs.sign(&with(a_claims(), "exp", json!(NOW))), now())
        .unwrap_err();
    assert_eq!(e.kind(), K::Expired);
    let e = reg.verify(&hs.sign(&a_claims()), now()).unwrap_err();
    assert_eq!(e.kind(), K::LifetimeTooLong);
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

// ---- PEM/DER keys and JWKS refresh ------------------------------------------

#[test]
fn pem_and_der_public_keys_verify() {
    let f = fx();
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/rsa2048.pub.pem"
    ))
    .unwrap();
    let rsa = VerifyingKey::from_pem(&pem, Some("rs"), Some(Algorithm::RS256)).unwrap();
    let der = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/p256.spki.der"
    ))
    .unwrap();
    let ec = VerifyingKey::from_der(&der, Some("es"), None).unwrap();
    let mut set = KeySet::new();
    set.push(rsa).unwrap();
    set.push(ec).unwrap();
    let mut reg = IssuerRegistry::new();
    reg.add(IssuerConfig::new(C, set, &[Algorithm::RS256, Algorithm::ES256]).audience("api"))
        .unwrap();
    assert!(reg.verify(&f.rs.sign(&c_claims()), now()).is_ok());
    assert!(reg.verify(&f.es.sign(&c_claims()), now()).is_ok());
    // The PEM key is pinned to RS256: a PS256 signature by the same key is refused.
    let input = format!(
        "{}.{}",
        b64(hdr("PS256", "rs").to_string()),
        b64(c_claims().to_string())
    );
    let sig = f.rs.sign_bytes_with(Algorithm::PS256, input.as_bytes());
    let e = reg
        .verify(&format!("{input}.{}", b64(sig)), now())
        .unwrap_err();
    assert_eq!(e.kind(), K::AlgNotAllowed);
    // Garbage and truncated DER are refused with `invalid_key`.
    assert_eq!(
        VerifyingKey::from_der(&der[..40], None, None)
            .unwrap_err()
            .kind(),
        K::InvalidKey
    );
    assert_eq!(
        VerifyingKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\n!!\n-----END PUBLIC KEY-----",
            None,
            None
        )
        .unwrap_err()
        .kind(),
        K::InvalidKey
    );
}

#[test]
fn forged_kids_cannot_force_a_refetch_storm() {
    use mesh_core::identity::{JwksRefresh, RefreshPolicy};
    let mut f = fx();
    let mut refresh = JwksRefresh::new(RefreshPolicy::default());
    let t0 = NOW * 1000;
    let doc_v1 = jwks_doc(&[&f.rs]);
    f.reg
        .set_keys(
            C,
            refresh
                .on_fetched(Timestamp::from_unix_millis(t0), doc_v1.as_bytes())
                .unwrap(),
        )
        .unwrap();
    let mut fetches = 0;
    for i in 0..1000 {
        let forged =
            f.rs.sign_with_header(&hdr("RS256", &format!("forged-{i}")), &c_claims());
        let e = f.reg.verify(&forged, now()).unwrap_err();
        assert_eq!(e.kind(), K::UnknownKid);
        if refresh.on_unknown_kid(Timestamp::from_unix_millis(t0 + i)) {
            fetches += 1;
        }
    }
    assert_eq!(fetches, 1);
    // A failed refresh keeps the last good keys.
    assert!(refresh
        .on_fetched(Timestamp::from_unix_millis(t0 + 5000), b"<html>")
        .is_err());
    assert!(f.reg.verify(&f.rs.sign(&c_claims()), now()).is_ok());
}
