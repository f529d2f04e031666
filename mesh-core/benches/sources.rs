//! Built-in source mappings against the floor of `serde_json` parse +
//! serialize of the same records, in one run: a ~1 KB CloudTrail
//! ConsoleLogin record, an Okta sign-on and a FortiGate key=value line, and
//! source detection without a hint.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

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

fn bench(c: &mut Criterion) {
    let mut n = Normalizer::new(NormalizeOptions::default());
    sources::register_builtin(&mut n).unwrap();
    let cases = [
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
    for (name, rel, id) in cases {
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

criterion_group!(benches, bench);
criterion_main!(benches);
