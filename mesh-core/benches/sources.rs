//! Built-in source mappings against the floor of `serde_json` parse +
//! serialize of the same records, in one run: a ~1 KB CloudTrail
//! ConsoleLogin record, an Okta sign-on and a FortiGate key=value line, and
//! source detection without a hint. A table of same-run ratios against the
//! floor follows the criterion groups (lines starting with `ratio |`).

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

#[path = "support/ratio.rs"]
mod ratio;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mesh_core::events::{sources, NormalizeOptions, Normalizer};
use mesh_core::Timestamp;
use std::hint::black_box;

const NOW: Timestamp = Timestamp::from_unix_millis(1_795_640_800_000);

fn sample(rel: &str) -> Vec<u8> {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sources")
        .join(rel);
    let mut b = std::fs::read(p).unwrap();
    while b.last() == Some(&b'\n') {
        b.pop();
    }
    b
}

const CASES: [(&str, &str, &str); 3] = [
    (
        "cloudtrail_console_login",
        "aws_cloudtrail/console_login_success_mfa.json",
        "aws.cloudtrail",
    ),
    (
        "okta_session_start",
        "okta/session_start_success.json",
        "okta.system_log",
    ),
    (
        "fortigate_traffic",
        "fortigate/traffic_forward_close.log",
        "fortinet.fortigate",
    ),
];

fn normalizer() -> Normalizer {
    let mut n = Normalizer::new(NormalizeOptions::default());
    sources::register_builtin(&mut n).unwrap();
    n
}

fn bench(c: &mut Criterion) {
    let n = normalizer();
    for (name, rel, id) in CASES {
        let raw = sample(rel);
        let mut g = c.benchmark_group(name);
        g.throughput(Throughput::Elements(1));
        if raw.first() == Some(&b'{') {
            g.bench_function("floor_serde_parse_serialize", |b| {
                b.iter(|| {
                    let v: serde_json::Value = serde_json::from_slice(black_box(&raw)).unwrap();
                    serde_json::to_vec(&v).unwrap()
                })
            });
        }
        g.bench_function("builtin_normalize_serialize", |b| {
            b.iter(|| {
                let e = n.normalize(black_box(&raw), Some(id), NOW).unwrap();
                serde_json::to_vec(&e).unwrap()
            })
        });
        g.bench_function("detect_normalize_serialize", |b| {
            b.iter(|| {
                let e = n.normalize(black_box(&raw), None, NOW).unwrap();
                serde_json::to_vec(&e).unwrap()
            })
        });
        g.finish();
    }
}

/// The same-run ratio table: each JSON source against `serde_json` parse +
/// serialize of the same record.
fn ratios(_c: &mut Criterion) {
    let n = normalizer();
    for (name, rel, id) in CASES {
        let raw = sample(rel);
        if raw.first() != Some(&b'{') {
            continue;
        }
        ratio::report(
            &ratio::Ratio {
                name,
                floor_name: "serde_json parse+serialize",
                target: "<= 1.5x",
            },
            || {
                let v: serde_json::Value = serde_json::from_slice(black_box(&raw)).unwrap();
                black_box(serde_json::to_vec(&v).unwrap());
            },
            || {
                let e = n.normalize(black_box(&raw), Some(id), NOW).unwrap();
                black_box(serde_json::to_vec(&e).unwrap());
            },
        );
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2));
    targets = bench, ratios
}
criterion_main!(benches);
