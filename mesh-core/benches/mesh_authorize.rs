//! `Mesh::authorize` against its floors, on the 1,000-policy reference
//! workload (`benches/data/wl1000`, from `shared/bench/gen_policy_workload.py`):
//!
//! - `floor/ring_es256_verify`: raw ring ES256 verification of the token;
//! - `floor/policy_decide`: the policy decision alone (request prebuilt);
//! - `floor/request_and_decide`: building the request from the identity + decision;
//! - `floor/prepared_request_and_decide`: the same from a `PreparedPrincipal`
//!   (what a cached `authorize` does after the cache lookup);
//! - `mesh/authorize_es256_uncached`: the whole call, verifying every time
//!   (target: ≤ 1.1 × (verify + decide));
//! - `mesh/authorize_cached`: the whole call with a cached token (target ≤ 3 µs);
//! - `bundle/verify_activate_1000`: parse + verify + compile + swap of a
//!   1,000-policy bundle (target ≤ 20 ms);
//! - then p50/p99 decision latency of cached `authorize`, steady and while
//!   another thread activates a new bundle every 10 ms, at least 100 times
//!   (target: p99 under swaps ≤ 2 × steady p99; the ratio is printed).
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

#[path = "support/authorize_setup.rs"]
mod authorize_setup;
#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/ratio.rs"]
mod ratio;

use authorize_setup::{bundle, mesh, setup, Setup};
use common::NOW;
use criterion::{criterion_group, BatchSize, Criterion};
use mesh_core::policy::{IdentityMapping, PreparedPrincipal, Request};
use mesh_core::{Credential, Mesh, Timestamp};
use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(NOW)
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let uncached = mesh(&s, 0);
    let cached = mesh(&s, 10_000);

    // Floors.
    let parts: Vec<&str> = s.token.split('.').collect();
    let signing_input = format!("{}.{}", parts[0], parts[1]);
    let sig = base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, parts[2])
        .unwrap();
    let jwk = &s.idp.jwk;
    let b64 = |f: &str| {
        base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwk[f].as_str().unwrap(),
        )
        .unwrap()
    };
    let mut point = vec![4u8];
    point.extend(b64("x"));
    point.extend(b64("y"));
    let key =
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, point);
    let ring_verify = || {
        key.verify(black_box(signing_input.as_bytes()), black_box(&sig))
            .unwrap()
    };
    c.bench_function("floor/ring_es256_verify", |b| b.iter(ring_verify));
    let identity = uncached
        .verify(Credential::Bearer(&s.token), now())
        .unwrap();
    let content = cached.content();
    let pc = content.value();
    let mapping = IdentityMapping::default();
    let request = Request::from_identity(
        &identity,
        &mapping,
        s.action.clone(),
        s.resource.clone(),
        s.context.clone(),
        &pc.entities,
        now(),
    );
    c.bench_function("floor/policy_decide", |b| {
        b.iter(|| {
            black_box(
                pc.policies
                    .decide(black_box(&request), &pc.entities)
                    .is_allowed(),
            )
        })
    });
    let request_and_decide = || {
        let r = Request::from_identity(
            &identity,
            &mapping,
            s.action.clone(),
            s.resource.clone(),
            s.context.clone(),
            &pc.entities,
            now(),
        );
        black_box(pc.policies.decide(&r, &pc.entities).is_allowed())
    };
    c.bench_function("floor/request_and_decide", |b| b.iter(request_and_decide));
    let prepared = PreparedPrincipal::new(&identity, &mapping);
    let resolved = prepared.resolve(&pc.entities);
    c.bench_function("floor/prepared_request_and_decide", |b| {
        b.iter(|| {
            let r = prepared.request(
                resolved.clone(),
                s.action.clone(),
                s.resource.clone(),
                s.context.clone(),
                now(),
            );
            black_box(pc.policies.decide(&r, &pc.entities).is_allowed())
        })
    });
    let authorize_uncached = || {
        black_box(uncached.authorize(
            Credential::Bearer(black_box(&s.token)),
            &s.action,
            &s.resource,
            s.context.clone(),
            now(),
        ))
    };
    // Same-run ratio, floor and candidate in alternating batches: the floor
    // is ring's verification plus building the request and deciding.
    ratio::report(
        &ratio::Ratio {
            name: "authorize_es256_uncached",
            floor_name: "ring_es256 + request_and_decide",
            target: "<= 1.1x",
        },
        || {
            ring_verify();
            request_and_decide();
        },
        || {
            authorize_uncached();
        },
    );
    drop(content);

    c.bench_function("mesh/authorize_es256_uncached", |b| {
        b.iter(authorize_uncached)
    });
    c.bench_function("mesh/authorize_cached", |b| {
        b.iter(|| {
            black_box(cached.authorize(
                Credential::Bearer(black_box(&s.token)),
                &s.action,
                &s.resource,
                s.context.clone(),
                now(),
            ))
        })
    });

    let b1 = bundle(&s, 1);
    c.bench_function("bundle/verify_activate_1000", |b| {
        b.iter_batched(
            || mesh(&s, 0),
            |m| {
                m.activate_bundle(black_box(&b1)).unwrap();
                m
            },
            BatchSize::PerIteration,
        )
    });
}

fn percentiles(mut v: Vec<u64>) -> (u64, u64) {
    v.sort_unstable();
    let at = |q: f64| v[((v.len() as f64 - 1.0) * q) as usize];
    (at(0.5), at(0.99))
}

fn sample(m: &Mesh, s: &Setup, mut more: impl FnMut() -> bool) -> Vec<u64> {
    let mut out = Vec::with_capacity(1 << 20);
    while more() {
        let t = Instant::now();
        black_box(m.authorize(
            Credential::Bearer(&s.token),
            &s.action,
            &s.resource,
            s.context.clone(),
            now(),
        ));
        out.push(t.elapsed().as_nanos() as u64);
    }
    out
}

fn for_time(dur: Duration) -> impl FnMut() -> bool {
    let end = Instant::now() + dur;
    move || Instant::now() < end
}

/// Steady decision latency, then the same while another thread activates
/// a new 1,000-policy bundle every 10 ms (`MESH_SWAPS`, default 120, at
/// least 100 for a meaningful p99); prints both and the p99 ratio.
fn latency_under_swaps() {
    let s = setup();
    let m = Arc::new(mesh(&s, 10_000));
    let swaps: u64 = std::env::var("MESH_SWAPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    let bundles: Vec<Vec<u8>> = (1..=swaps).map(|r| bundle(&s, r)).collect();
    sample(&m, &s, for_time(Duration::from_millis(200)));
    let t0 = Instant::now();
    let (p50, p99) = percentiles(sample(&m, &s, for_time(Duration::from_millis(1500))));
    let steady_time = t0.elapsed();
    let done = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (m, done) = (m.clone(), done.clone());
        std::thread::spawn(move || {
            let mut n = 0u64;
            for b in &bundles {
                m.activate_bundle(b).unwrap();
                n += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            done.store(true, Ordering::Release);
            n
        })
    };
    let t1 = Instant::now();
    let (q50, q99) = percentiles(sample(&m, &s, || !done.load(Ordering::Acquire)));
    let swap_time = t1.elapsed();
    let swaps = swapper.join().unwrap();
    println!(
        "latency/steady          p50 {p50} ns  p99 {p99} ns  ({:.1} s)",
        steady_time.as_secs_f64()
    );
    println!(
        "latency/swapping_10ms   p50 {q50} ns  p99 {q99} ns  ({swaps} swaps in {:.1} s)",
        swap_time.as_secs_f64()
    );
    println!(
        "latency/ratio           p50 {:.2}  p99 {:.2}  (target: p99 ratio <= 2)",
        q50 as f64 / p50 as f64,
        q99 as f64 / p99 as f64
    );
}

criterion_group!(authorize, benches);

fn main() {
    authorize();
    latency_under_swaps();
    Criterion::default().configure_from_args().final_summary();
}
