//! Token verification: mesh vs. raw `ring` verification of the same signature
//! (the floor) vs. `jsonwebtoken::decode` (with a ring-backed provider
//! installed here, in the bench only), for HS256, RS256, ES256 and EdDSA on a
//! ~800-byte token with kid lookup and all claim checks; plus oversize
//! rejection at 16 KiB and 1 MiB. Prints a same-run table of the three
//! (mesh, jsonwebtoken, raw ring), mesh's overhead and the ratios.
//!
//! Mesh's overhead over ring is also measured in pairs: short batches of
//! mesh and of ring on the same token alternate within one loop (which of
//! the two goes first alternates too), and the table reports the median of
//! the per-pair differences with its spread (quartiles, and a 95% interval
//! of the median). A burst of load from elsewhere spoils a pair or two,
//! not the median, so the slow algorithms (whose ring verification alone
//! varies by more than the 1 µs target between runs) get a usable figure.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use base64::Engine;
use common::{jwks_doc, TestKey};
use criterion::{criterion_group, criterion_main, Criterion};
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner, JwtVerifier, KeyUtils};
use jsonwebtoken::{DecodingKey, EncodingKey, Validation};
use mesh_core::identity::{Algorithm, IssuerConfig, IssuerRegistry, KeySet};
use mesh_core::Timestamp;
use ring::signature::{self as rsig, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::json;
use std::hint::black_box;
use std::time::Instant;

// ---- a ring-backed jsonwebtoken provider (bench-only global state) --------

struct RingVerifier {
    alg: jsonwebtoken::Algorithm,
    key: DecodingKey,
}

impl signature::Verifier<Vec<u8>> for RingVerifier {
    fn verify(&self, msg: &[u8], sig: &Vec<u8>) -> Result<(), signature::Error> {
        use jsonwebtoken::Algorithm as A;
        let bytes = || {
            self.key
                .try_get_as_bytes()
                .map_err(|_| signature::Error::new())
        };
        let ok = match self.alg {
            A::HS256 => {
                let k = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, bytes()?);
                ring::hmac::verify(&k, msg, sig).is_ok()
            }
            A::RS256 => UnparsedPublicKey::new(&rsig::RSA_PKCS1_2048_8192_SHA256, bytes()?)
                .verify(msg, sig)
                .is_ok(),
            A::ES256 => UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_FIXED, bytes()?)
                .verify(msg, sig)
                .is_ok(),
            A::EdDSA => UnparsedPublicKey::new(&rsig::ED25519, bytes()?)
                .verify(msg, sig)
                .is_ok(),
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            Err(signature::Error::new())
        }
    }
}

impl JwtVerifier for RingVerifier {
    fn algorithm(&self) -> jsonwebtoken::Algorithm {
        self.alg
    }
}

fn new_verifier(
    alg: &jsonwebtoken::Algorithm,
    key: &DecodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtVerifier>> {
    Ok(Box::new(RingVerifier {
        alg: *alg,
        key: key.clone(),
    }))
}

fn new_signer(
    _: &jsonwebtoken::Algorithm,
    _: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    Err(jsonwebtoken::errors::ErrorKind::InvalidAlgorithm.into())
}

static RING_PROVIDER: CryptoProvider = CryptoProvider {
    signer_factory: new_signer,
    verifier_factory: new_verifier,
    key_utils: KeyUtils::new_unimplemented(),
};

/// The claims as a typical `jsonwebtoken` user would declare them.
#[derive(Deserialize)]
#[allow(dead_code)]
struct JwtClaims {
    iss: String,
    sub: String,
    aud: String,
    exp: u64,
    nbf: u64,
    iat: u64,
    jti: String,
    sid: String,
    email: String,
    groups: Vec<String>,
    roles: Vec<String>,
    scope: String,
    amr: Vec<String>,
    acr: String,
    auth_time: u64,
    tenant: String,
    department: String,
}

// ---- fixtures ----------------------------------------------------------------

const ISS_HS: &str = "https://hs.idp.example.com";
const ISS_PK: &str = "https://login.idp.example.com/tenant-7f3c2a/v2.0";

fn claims(iss: &str, now: i64) -> serde_json::Value {
    json!({
        "iss": iss, "sub": "00u1a2b3c4d5e6f7g8h9", "aud": "api://orders",
        "exp": now + 900, "nbf": now - 5, "iat": now - 5,
        "jti": "b6f1d0e2-6a4c-4f7e-9d1b-2c3a4b5c6d7e", "sid": "s-7d9f0a1b2c3d",
        "email": "alice.engineer@example.com",
        "groups": ["engineering", "oncall-primary", "payments-readers"],
        "roles": ["orders.reader", "orders.writer"],
        "scope": "openid profile email orders.read orders.write",
        "amr": ["pwd", "mfa", "hwk"], "acr": "urn:example:acr:phishing-resistant",
        "auth_time": now - 60, "tenant": "7f3c2a", "department": "R&D"
    })
}

struct Case {
    name: &'static str,
    token: String,
    floor: Box<dyn Fn() -> bool>,
    jwt_key: DecodingKey,
    jwt_alg: jsonwebtoken::Algorithm,
}

/// PKCS#1 `RSAPublicKey` DER of (n, e), as jsonwebtoken's DER keys expect.
fn rsa_public_key_der(n: &[u8], e: &[u8]) -> Vec<u8> {
    fn len(out: &mut Vec<u8>, l: usize) {
        if l < 0x80 {
            out.push(l as u8);
        } else if l < 0x100 {
            out.extend([0x81, l as u8]);
        } else {
            out.extend([0x82, (l >> 8) as u8, l as u8]);
        }
    }
    fn int(out: &mut Vec<u8>, v: &[u8]) {
        out.push(0x02);
        let pad = v[0] & 0x80 != 0;
        len(out, v.len() + usize::from(pad));
        if pad {
            out.push(0);
        }
        out.extend_from_slice(v);
    }
    let mut body = Vec::new();
    int(&mut body, n);
    int(&mut body, e);
    let mut der = vec![0x30];
    len(&mut der, body.len());
    der.extend(body);
    der
}

fn b64d(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

fn split(token: &str) -> (String, Vec<u8>) {
    let (input, sig) = token.rsplit_once('.').unwrap();
    (input.to_owned(), b64d(sig))
}

fn bench(c: &mut Criterion) {
    let _ = RING_PROVIDER.install_default();
    let now_s = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap();
    let now = Timestamp::from_unix_seconds(now_s);

    let hs = TestKey::new(Algorithm::HS256, "hs-2025-01");
    let rs = TestKey::new(Algorithm::RS256, "rs-2025-01");
    let es = TestKey::new(Algorithm::ES256, "es-2025-01");
    let ed = TestKey::new(Algorithm::EdDSA, "ed-2025-01");
    // A few more live keys so kid lookup has something to skip.
    let rs_old = {
        let mut k = TestKey::new(Algorithm::RS256, "rs-2024-07");
        k.jwk["kid"] = json!("rs-2024-07");
        k
    };
    let mut reg = IssuerRegistry::new();
    let hs_set = KeySet::from_jwks(jwks_doc(&[&hs]).as_bytes()).unwrap();
    let pk_set = KeySet::from_jwks(jwks_doc(&[&rs_old, &rs, &es, &ed]).as_bytes()).unwrap();
    reg.add(IssuerConfig::new(ISS_HS, hs_set, &[Algorithm::HS256]).audience("api://orders"))
        .unwrap();
    reg.add(
        IssuerConfig::new(
            ISS_PK,
            pk_set,
            &[Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA],
        )
        .audience("api://orders"),
    )
    .unwrap();

    let hs_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, common::HMAC_SECRET);
    let rs_n = b64d(rs.jwk["n"].as_str().unwrap());
    let rs_e = b64d(rs.jwk["e"].as_str().unwrap());
    let mut es_point = vec![4u8];
    es_point.extend(b64d(es.jwk["x"].as_str().unwrap()));
    es_point.extend(b64d(es.jwk["y"].as_str().unwrap()));
    let ed_pub = b64d(ed.jwk["x"].as_str().unwrap());

    let mut cases = Vec::new();
    {
        let token = hs.sign(&claims(ISS_HS, now_s));
        let (input, sig) = split(&token);
        cases.push(Case {
            name: "HS256",
            token,
            floor: Box::new(move || ring::hmac::verify(&hs_key, input.as_bytes(), &sig).is_ok()),
            jwt_key: DecodingKey::from_secret(common::HMAC_SECRET),
            jwt_alg: jsonwebtoken::Algorithm::HS256,
        });
    }
    {
        let token = rs.sign(&claims(ISS_PK, now_s));
        let (input, sig) = split(&token);
        let (n, e) = (rs_n.clone(), rs_e.clone());
        cases.push(Case {
            name: "RS256",
            token,
            floor: Box::new(move || {
                rsig::RsaPublicKeyComponents { n: &n, e: &e }
                    .verify(&rsig::RSA_PKCS1_2048_8192_SHA256, input.as_bytes(), &sig)
                    .is_ok()
            }),
            jwt_key: DecodingKey::from_rsa_der(&rsa_public_key_der(&rs_n, &rs_e)),
            jwt_alg: jsonwebtoken::Algorithm::RS256,
        });
    }
    {
        let token = es.sign(&claims(ISS_PK, now_s));
        let (input, sig) = split(&token);
        let point = es_point.clone();
        cases.push(Case {
            name: "ES256",
            token,
            floor: Box::new(move || {
                UnparsedPublicKey::new(&rsig::ECDSA_P256_SHA256_FIXED, &point)
                    .verify(input.as_bytes(), &sig)
                    .is_ok()
            }),
            jwt_key: DecodingKey::from_ec_components(
                es.jwk["x"].as_str().unwrap(),
                es.jwk["y"].as_str().unwrap(),
            )
            .unwrap(),
            jwt_alg: jsonwebtoken::Algorithm::ES256,
        });
    }
    {
        let token = ed.sign(&claims(ISS_PK, now_s));
        let (input, sig) = split(&token);
        let pk = ed_pub.clone();
        cases.push(Case {
            name: "EdDSA",
            token,
            floor: Box::new(move || {
                UnparsedPublicKey::new(&rsig::ED25519, &pk)
                    .verify(input.as_bytes(), &sig)
                    .is_ok()
            }),
            jwt_key: DecodingKey::from_ed_components(ed.jwk["x"].as_str().unwrap()).unwrap(),
            jwt_alg: jsonwebtoken::Algorithm::EdDSA,
        });
    }

    let mut rows = Vec::new();
    for case in &cases {
        let iss = if case.name == "HS256" { ISS_HS } else { ISS_PK };
        let mut validation = Validation::new(case.jwt_alg);
        validation.set_issuer(&[iss]);
        validation.set_audience(&["api://orders"]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        // Everything must verify before it is timed.
        assert!(reg.verify(&case.token, now).is_ok(), "{}", case.name);
        assert!((case.floor)(), "{}", case.name);
        jsonwebtoken::decode::<JwtClaims>(&case.token, &case.jwt_key, &validation)
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        println!("{} token: {} bytes", case.name, case.token.len());

        let mut g = c.benchmark_group(format!("verify/{}", case.name));
        g.bench_function("mesh", |b| {
            b.iter(|| reg.verify(black_box(&case.token), now).unwrap())
        });
        g.bench_function("ring_floor", |b| b.iter(|| assert!((case.floor)())));
        g.bench_function("jsonwebtoken", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<JwtClaims>(
                    black_box(&case.token),
                    &case.jwt_key,
                    &validation,
                )
                .unwrap()
            })
        });
        g.finish();
        let mut row = table_row(case, &reg, now, &validation);
        row.paired = paired_overhead(case, &reg, now);
        rows.push(row);
    }
    print_table(&rows);

    let mut g = c.benchmark_group("oversize");
    for (name, len) in [("16KiB", 16 * 1024), ("1MiB", 1 << 20)] {
        let big = format!("{}.", "A".repeat(len));
        assert!(reg.verify(&big, now).is_err());
        g.bench_function(name, |b| {
            b.iter(|| reg.verify(black_box(&big), now).unwrap_err())
        });
    }
    g.finish();
}

// ---- the same-run table -------------------------------------------------------

/// Nanoseconds per call of `f`: the best of several short rounds, so that
/// the three contenders of a row are measured side by side in one run.
fn best_ns(rounds: &mut [(u128, u32); 3], which: usize, iters: u32, mut f: impl FnMut()) {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    let ns = t.elapsed().as_nanos();
    let (best, n) = &mut rounds[which];
    if *n == 0 || ns * u128::from(*n) < *best * u128::from(iters) {
        *best = ns;
        *n = iters;
    }
}

struct Row {
    name: &'static str,
    mesh: f64,
    jwt: f64,
    ring: f64,
    paired: Paired,
}

/// Mesh minus ring in µs per token over alternating pairs of batches.
#[derive(Default)]
struct Paired {
    median: f64,
    /// First and third quartiles of the per-pair differences.
    quartiles: (f64, f64),
    /// A 95% confidence interval of the median (order statistics).
    median_ci: (f64, f64),
    pairs: usize,
    batch: u32,
}

/// Pairs of batches per algorithm (odd: the median is one pair's).
const PAIRS: usize = 601;

/// Mesh's overhead over raw ring on the same token: `PAIRS` pairs of
/// batches of about 0.4 ms each (under half a second per algorithm), mesh
/// and ring alternating, and which one goes first alternating from pair
/// to pair so that a slow drift of the machine's speed cancels out.
fn paired_overhead(case: &Case, reg: &IssuerRegistry, now: Timestamp) -> Paired {
    let probe = Instant::now();
    for _ in 0..10 {
        assert!((case.floor)());
    }
    let once = (probe.elapsed().as_nanos() / 10).max(100);
    let batch = u32::try_from((400_000 / once).clamp(4, 4_000)).unwrap();
    let mesh = || {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(reg.verify(black_box(&case.token), now).unwrap());
        }
        t.elapsed().as_nanos() as f64
    };
    let ring = || {
        let t = Instant::now();
        for _ in 0..batch {
            assert!((case.floor)());
        }
        t.elapsed().as_nanos() as f64
    };
    let mut diffs: Vec<f64> = (0..PAIRS)
        .map(|p| {
            let (m, r) = if p % 2 == 0 {
                let m = mesh();
                (m, ring())
            } else {
                let r = ring();
                (mesh(), r)
            };
            (m - r) / f64::from(batch) / 1000.0
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    let n = diffs.len();
    let at = |q: f64| diffs[((n - 1) as f64 * q).round() as usize];
    // The median's 95% interval: the order statistics n/2 ± 1.96·√n/2.
    let half = (1.96 * (n as f64).sqrt() / 2.0).ceil() as usize;
    Paired {
        median: diffs[n / 2],
        quartiles: (at(0.25), at(0.75)),
        median_ci: (
            diffs[(n / 2).saturating_sub(half)],
            diffs[(n / 2 + half).min(n - 1)],
        ),
        pairs: n,
        batch,
    }
}

fn table_row(case: &Case, reg: &IssuerRegistry, now: Timestamp, validation: &Validation) -> Row {
    // About 40 ms per contender: a few thousand HMAC or a few hundred
    // public-key verifications per round, rounds interleaved.
    let probe = Instant::now();
    assert!((case.floor)());
    let once = probe.elapsed().as_nanos().max(200);
    let iters = u32::try_from((8_000_000 / once).clamp(20, 20_000)).unwrap();
    let mut rounds = [(0u128, 0u32); 3];
    for _ in 0..5 {
        best_ns(&mut rounds, 0, iters, || {
            black_box(reg.verify(black_box(&case.token), now).unwrap());
        });
        best_ns(&mut rounds, 1, iters, || {
            black_box(
                jsonwebtoken::decode::<JwtClaims>(
                    black_box(&case.token),
                    &case.jwt_key,
                    validation,
                )
                .unwrap(),
            );
        });
        best_ns(&mut rounds, 2, iters, || assert!((case.floor)()));
    }
    let per = |i: usize| rounds[i].0 as f64 / f64::from(rounds[i].1) / 1000.0;
    Row {
        name: case.name,
        mesh: per(0),
        jwt: per(1),
        ring: per(2),
        paired: Paired::default(),
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!(
        "same-run table (µs per token, best of 5 interleaved rounds; mesh − ring is the \
         difference of two best times, noisy when ring takes tens of µs: the overhead \
         target is judged on the paired table below)"
    );
    println!(
        "| alg | mesh | jsonwebtoken | raw ring | mesh − ring | mesh/ring | jsonwebtoken/ring |"
    );
    println!("|---|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
            r.name,
            r.mesh,
            r.jwt,
            r.ring,
            r.mesh - r.ring,
            r.mesh / r.ring,
            r.jwt / r.ring
        );
    }
    println!();
    println!(
        "mesh overhead over ring, paired (µs per token: median of the differences \
         of alternating batches, mesh minus ring, on the same token; target ≤ 1)"
    );
    println!(
        "| alg | overhead (median) | 95% interval of the median | quartiles | pairs × batch |"
    );
    println!("|---|---|---|---|---|");
    for r in rows {
        let p = &r.paired;
        println!(
            "| {} | {:.2} | {:.2} – {:.2} | {:.2} – {:.2} | {} × {} |",
            r.name,
            p.median,
            p.median_ci.0,
            p.median_ci.1,
            p.quartiles.0,
            p.quartiles.1,
            p.pairs,
            p.batch
        );
    }
    println!();
}

criterion_group! {
    name = benches;
    // Short criterion rounds keep the whole bench under a minute; flags
    // given after `--` still override them.
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
