//! Shared test helpers: token signing (mesh-core itself never signs) and
//! the reference policy workload committed under `benches/data/`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use mesh_core::identity::{Algorithm, KeySet};
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RsaKeyPair};
use serde_json::{json, Value};

pub const RSA_PK8: &[u8] = include_bytes!("../data/rsa2048.pk8");
pub const P256_PK8: &[u8] = include_bytes!("../data/p256.pk8");
pub const P384_PK8: &[u8] = include_bytes!("../data/p384.pk8");
pub const HMAC_SECRET: &[u8] = b"mesh-test-hmac-secret-0123456789-abcdefghijklmnop";
pub const ED_SEED: [u8; 32] = [7; 32];

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

enum Signer {
    Hmac(ring::hmac::Key),
    Rsa(RsaKeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// A private key that signs test tokens, and its public JWK.
pub struct TestKey {
    pub alg: Algorithm,
    pub kid: String,
    signer: Signer,
    pub jwk: Value,
}

impl TestKey {
    pub fn new(alg: Algorithm, kid: &str) -> TestKey {
        let rng = SystemRandom::new();
        let (signer, mut jwk) = match alg {
            Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => {
                let h = match alg {
                    Algorithm::HS256 => ring::hmac::HMAC_SHA256,
                    Algorithm::HS384 => ring::hmac::HMAC_SHA384,
                    _ => ring::hmac::HMAC_SHA512,
                };
                (
                    Signer::Hmac(ring::hmac::Key::new(h, HMAC_SECRET)),
                    json!({"kty":"oct","k": b64(HMAC_SECRET)}),
                )
            }
            Algorithm::ES256 | Algorithm::ES384 => {
                let (a, pk8, crv, n) = if alg == Algorithm::ES256 {
                    (
                        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                        P256_PK8,
                        "P-256",
                        32,
                    )
                } else {
                    (
                        &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
                        P384_PK8,
                        "P-384",
                        48,
                    )
                };
                let kp = EcdsaKeyPair::from_pkcs8(a, pk8, &rng).unwrap();
                let p = kp.public_key().as_ref().to_vec();
                let jwk = json!({"kty":"EC","crv":crv,"x":b64(&p[1..1 + n]),"y":b64(&p[1 + n..])});
                (Signer::Ec(kp), jwk)
            }
            Algorithm::EdDSA => {
                let kp = Ed25519KeyPair::from_seed_unchecked(&ED_SEED).unwrap();
                let jwk = json!({"kty":"OKP","crv":"Ed25519","x":b64(kp.public_key().as_ref())});
                (Signer::Ed(kp), jwk)
            }
            _ => {
                let kp = RsaKeyPair::from_pkcs8(RSA_PK8).unwrap();
                let (n, e) = rsa_components(kp.public_key().as_ref());
                (Signer::Rsa(kp), json!({"kty":"RSA","n":b64(n),"e":b64(e)}))
            }
        };
        jwk["kid"] = json!(kid);
        jwk["alg"] = json!(alg.as_str());
        jwk["use"] = json!("sig");
        TestKey {
            alg,
            kid: kid.to_owned(),
            signer,
            jwk,
        }
    }

    /// Sign raw bytes with `alg` (which may differ from the key's own alg for
    /// confusion tests within a family).
    pub fn sign_bytes_with(&self, alg: Algorithm, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.signer {
            Signer::Hmac(k) => ring::hmac::sign(k, msg).as_ref().to_vec(),
            Signer::Rsa(kp) => {
                let enc: &dyn signature::RsaEncoding = match alg {
                    Algorithm::RS384 => &signature::RSA_PKCS1_SHA384,
                    Algorithm::RS512 => &signature::RSA_PKCS1_SHA512,
                    Algorithm::PS256 => &signature::RSA_PSS_SHA256,
                    Algorithm::PS384 => &signature::RSA_PSS_SHA384,
                    Algorithm::PS512 => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; kp.public().modulus_len()];
                kp.sign(enc, &rng, msg, &mut sig).unwrap();
                sig
            }
            Signer::Ec(kp) => kp.sign(&rng, msg).unwrap().as_ref().to_vec(),
            Signer::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
        }
    }

    /// A compact JWS of exactly these header and payload bytes.
    pub fn sign_raw(&self, header: &str, payload: &str) -> String {
        let input = format!("{}.{}", b64(header), b64(payload));
        let sig = self.sign_bytes_with(self.alg, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }

    /// The standard header of this key: `alg`, `kid`, `typ: JWT`.
    pub fn header(&self) -> Value {
        json!({"alg": self.alg.as_str(), "kid": self.kid, "typ": "JWT"})
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&self.header().to_string(), &claims.to_string())
    }

    pub fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        self.sign_raw(&header.to_string(), &claims.to_string())
    }
}

/// n and e of a PKCS#1 RSAPublicKey (enough DER for ring's output).
fn rsa_components(der: &[u8]) -> (Vec<u8>, Vec<u8>) {
    fn tlv(i: &[u8]) -> (&[u8], &[u8]) {
        let (len, hdr) = match i[1] {
            l @ 0..=0x7f => (l as usize, 2),
            0x81 => (i[2] as usize, 3),
            0x82 => (((i[2] as usize) << 8) | i[3] as usize, 4),
            _ => panic!("len"),
        };
        (&i[hdr..hdr + len], &i[hdr + len..])
    }
    let (seq, _) = tlv(der);
    let (n, rest) = tlv(seq);
    let (e, _) = tlv(rest);
    let strip = |b: &[u8]| {
        b.iter()
            .skip_while(|x| **x == 0)
            .copied()
            .collect::<Vec<u8>>()
    };
    (strip(n), strip(e))
}

/// A JWKS document of these keys' public JWKs.
pub fn jwks_doc(keys: &[&TestKey]) -> String {
    json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}).to_string()
}

pub fn key_set(keys: &[&TestKey]) -> KeySet {
    KeySet::from_jwks(jwks_doc(keys).as_bytes()).unwrap()
}

pub const NOW: i64 = 1_700_000_000;

/// Claims valid at [`NOW`] for issuer `iss` and audience `api`.
pub fn claims(iss: &str) -> Value {
    json!({
        "iss": iss, "sub": "user-1", "aud": "api",
        "iat": NOW - 60, "nbf": NOW - 60, "exp": NOW + 600,
        "jti": "tok-1", "sid": "sess-1", "email": "Alice@Example.com",
        "groups": ["eng", "oncall"], "roles": ["admin"], "scope": "read write",
        "amr": ["pwd", "mfa"], "acr": "urn:mfa", "auth_time": NOW - 120
    })
}

// ---- the reference policy workload ----

use mesh_core::policy::{Entities, IpNet, PolicySet, Record, Request, Value as PolicyValue};

pub struct Workload {
    pub policies: PolicySet,
    pub entities: Entities,
    pub requests: Vec<Request>,
}

pub fn data_dir(n: usize) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("benches/data")
        .join(format!("wl{n}"))
}

/// Converts `context.ip` from a String to an `ipaddr`, as the workload's
/// schema (`ip: ipaddr`) says.
pub fn apply_schema_ip(req: &mut Request) {
    let ctx = req.context().clone();
    let fields = ctx
        .iter()
        .map(|(k, v)| {
            let v = match (k, v) {
                ("ip", PolicyValue::String(s)) => {
                    IpNet::parse(s).map(PolicyValue::Ip).unwrap_or(v.clone())
                }
                _ => v.clone(),
            };
            (std::sync::Arc::from(k), v)
        })
        .collect();
    req.set_context(Record::new(fields).unwrap());
}

pub fn load(n: usize) -> Workload {
    let dir = data_dir(n);
    let src = std::fs::read_to_string(dir.join("policies.cedar")).unwrap();
    let policies = PolicySet::parse(&src, "policies.cedar").unwrap();
    let ents = std::fs::read_to_string(dir.join("entities.json")).unwrap();
    let entities = Entities::from_json_str(&ents).unwrap();
    let reqs = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    let requests = reqs
        .lines()
        .map(|l| {
            let mut r = Request::from_json(&serde_json::from_str(l).unwrap()).unwrap();
            apply_schema_ip(&mut r);
            r
        })
        .collect();
    Workload {
        policies,
        entities,
        requests,
    }
}
