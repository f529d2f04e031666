//! Published JWS examples: RFC 7515 Appendix A, RFC 7520 §4, RFC 8037 §A.4.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use mesh_core::identity::{
    verify_jws, Algorithm, IdentityErrorKind as K, IssuerConfig, IssuerRegistry, JwsOptions, KeySet,
};
use mesh_core::Timestamp;

// ---- RFC 7515 Appendix A (payload: iss "joe", exp 1300819380) -------------

const A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const A1_JWK: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;

const A2_TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw";
const A2_JWK: &str = r#"{"kty":"RSA","n":"ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ","e":"AQAB"}"#;

const A3_TOKEN: &str = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
const A3_JWK: &str = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;

/// Inside the RFC 7515 tokens' validity (they expire at 1300819380).
const A_NOW: i64 = 1_300_819_000;

fn jwks(jwk: &str) -> KeySet {
    KeySet::from_jwks(format!(r#"{{"keys":[{jwk}]}}"#).as_bytes()).unwrap()
}

fn joe_registry(jwk: &str, alg: Algorithm) -> IssuerRegistry {
    let mut reg = IssuerRegistry::new();
    // These examples carry no `aud` or `sub`.
    reg.add(IssuerConfig::new("joe", jwks(jwk), &[alg]).required_claims(["exp", "iss"]))
        .unwrap();
    reg
}

#[test]
fn rfc7515_a1_hs256() {
    let reg = joe_registry(A1_JWK, Algorithm::HS256);
    let v = reg
        .verify_token(A1_TOKEN, Timestamp::from_unix_seconds(A_NOW))
        .unwrap();
    assert_eq!(v.header.typ.as_deref(), Some("JWT"));
    assert_eq!(v.identity.issuer(), "joe");
    assert_eq!(
        v.identity.claims().get("http://example.com/is_root"),
        Some(&serde_json::Value::Bool(true))
    );
    assert_eq!(
        v.claims.exp,
        Some(Timestamp::from_unix_seconds(1_300_819_380))
    );
    // The same token is expired today.
    let e = reg
        .verify(A1_TOKEN, Timestamp::from_unix_seconds(1_700_000_000))
        .unwrap_err();
    assert_eq!(e.kind(), K::Expired);
}

#[test]
fn rfc7515_a2_rs256() {
    let reg = joe_registry(A2_JWK, Algorithm::RS256);
    let id = reg
        .verify(A2_TOKEN, Timestamp::from_unix_seconds(A_NOW))
        .unwrap();
    assert_eq!(id.issuer(), "joe");
}

#[test]
fn rfc7515_a3_es256() {
    let reg = joe_registry(A3_JWK, Algorithm::ES256);
    let id = reg
        .verify(A3_TOKEN, Timestamp::from_unix_seconds(A_NOW))
        .unwrap();
    assert_eq!(id.issuer(), "joe");
}

#[test]
fn rfc7515_keys_do_not_cross() {
    // A.1's token against A.2's key set (RS/HS confusion), and A.3's against A.2's.
    let reg = joe_registry(A2_JWK, Algorithm::RS256);
    let now = Timestamp::from_unix_seconds(A_NOW);
    assert_eq!(
        reg.verify(A1_TOKEN, now).unwrap_err().kind(),
        K::AlgNotAllowed
    );
    assert_eq!(
        reg.verify(A3_TOKEN, now).unwrap_err().kind(),
        K::AlgNotAllowed
    );
}

// ---- RFC 7520 §4 (payload: a sentence, not claims) ------------------------

const PAYLOAD: &str = "It\u{2019}s a dangerous business, Frodo, going out your door. You step onto the road, and if you don't keep your feet, there\u{2019}s no knowing where you might be swept off to.";

const BILBO_RSA: &str = r#"{"kty":"RSA","kid":"bilbo.baggins@hobbiton.example","use":"sig","n":"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw","e":"AQAB"}"#;
const BILBO_EC521: &str = r#"{"kty":"EC","kid":"bilbo.baggins@hobbiton.example","use":"sig","crv":"P-521","x":"AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt","y":"AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1"}"#;
const HOBBIT_HMAC: &str = r#"{"kty":"oct","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037","use":"sig","alg":"HS256","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}"#;

const PAYLOAD_B64: &str = "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";

fn rfc7520_rs256() -> String {
    format!("eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.{PAYLOAD_B64}.MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg")
}

fn rfc7520_ps384() -> String {
    format!("eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.{PAYLOAD_B64}.cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw")
}

fn rfc7520_es512() -> String {
    format!("eyJhbGciOiJFUzUxMiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9.{PAYLOAD_B64}.AE_R_YZCChjn4791jSQCrdPZCNYqHXCTZH0-JZGYNlaAjP2kqaluUIIUnC9qvbu9Plon7KRTzoNEuT4Va2cmL1eJAQy3mtPBu_u_sDDyYjnAMDxXPn7XrT0lw-kvAD890jl8e2puQens_IEKBpHABlsbEPX6sFY8OcGDqoRuBomu9xQ2")
}

fn rfc7520_hs256() -> String {
    format!("eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.{PAYLOAD_B64}.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0")
}

fn verify_7520(token: &str, jwk: &str, alg: Algorithm) -> Result<Vec<u8>, K> {
    verify_jws(token, &jwks(jwk), &[alg], &JwsOptions::default())
        .map(|v| v.payload)
        .map_err(|e| e.kind())
}

#[test]
fn rfc7520_4_1_rs256() {
    let p = verify_7520(&rfc7520_rs256(), BILBO_RSA, Algorithm::RS256).unwrap();
    assert_eq!(p, PAYLOAD.as_bytes());
}

#[test]
fn rfc7520_4_2_ps384() {
    let p = verify_7520(&rfc7520_ps384(), BILBO_RSA, Algorithm::PS384).unwrap();
    assert_eq!(p, PAYLOAD.as_bytes());
}

#[test]
fn rfc7520_4_3_es512_is_outside_the_supported_set() {
    // ES512 (P-521) is not implemented: rejected by name, before any key use.
    assert_eq!(
        verify_7520(&rfc7520_es512(), BILBO_EC521, Algorithm::ES256).unwrap_err(),
        K::UnsupportedAlg
    );
}

#[test]
fn rfc7520_4_4_hs256() {
    let p = verify_7520(&rfc7520_hs256(), HOBBIT_HMAC, Algorithm::HS256).unwrap();
    assert_eq!(p, PAYLOAD.as_bytes());
}

#[test]
fn rfc7520_algorithms_not_allowed_are_refused() {
    assert_eq!(
        verify_7520(&rfc7520_ps384(), BILBO_RSA, Algorithm::RS256).unwrap_err(),
        K::AlgNotAllowed
    );
}

// ---- RFC 8037 §A.4 Ed25519 --------------------------------------------------

const RFC8037_TOKEN: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
const RFC8037_JWK: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

#[test]
fn rfc8037_a4_ed25519() {
    let p = verify_7520(RFC8037_TOKEN, RFC8037_JWK, Algorithm::EdDSA).unwrap();
    assert_eq!(p, b"Example of Ed25519 signing");
    let mut bad = RFC8037_TOKEN.to_owned();
    bad.replace_range(25..26, "Y");
    assert!(verify_7520(&bad, RFC8037_JWK, Algorithm::EdDSA).is_err());
}
