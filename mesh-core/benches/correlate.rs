//! Correlation and Sigma throughput.
//!
//! A mixed stream of OCSF events (logons, MFA pushes, API and file reads,
//! session uses, grants, audit changes) from 100 000 tracked actors through
//! the correlator with every built-in detection enabled, in the two inputs
//! hosts have, each against its floor in the same run:
//!
//! - `correlate/mixed_100k_actors_ndjson`: NDJSON lines, as the CLI
//!   (`mesh detect`), the C ABI and the Python module receive them, through
//!   `Correlator::observe_json`; floor `correlate/floor_ndjson_scan`: only
//!   scanning each line as JSON (`serde::de::IgnoredAny`), the least any
//!   reader of the text does; `correlate/ndjson_via_value` is the same lines
//!   parsed into a `Value` first, then `Correlator::observe`.
//! - `correlate/mixed_100k_actors`: parsed `serde_json::Value`s, as
//!   `Mesh::observe` takes them, through `Correlator::observe`; floor
//!   `correlate/floor_extract_only`: reading the values into signals
//!   without correlating.
//!
//! `sigma/process_creation_300_rules`: OCSF Process Activity events against
//! 300 synthetic rules in the shapes of the SigmaHQ Windows rule set (no
//! package ships the SigmaHQ rules); the floor is routing alone (an empty
//! rule set).
//!
//! Timings are CPU time of the benchmark thread, so that other processes on
//! a shared machine do not count.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing
)]

#[path = "support/correlate_stream.rs"]
mod correlate_stream;
#[path = "support/sigma_stream.rs"]
mod sigma_stream;

use std::hint::black_box;
use std::time::{Duration, Instant};

use correlate_stream::{stamp, stream, to_lines, warm_logon, T0};
use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use mesh_core::analytics::{Correlator, CorrelatorConfig, FieldMapping, SigmaRuleSet, Signal};
use serde_json::Value;
use sigma_stream::{process_events, synthetic_rules};

const ACTORS: u64 = 100_000;
const STREAM: usize = 200_000;

/// CPU time of this thread (so contention on a shared machine does not
/// count), from `/proc/thread-self/schedstat`; wall time where unavailable.
fn cpu_now() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn timed(f: impl FnOnce()) -> Duration {
    let (c0, w0) = (cpu_now(), Instant::now());
    f();
    match (c0, cpu_now()) {
        (Some(a), Some(b)) => b.saturating_sub(a),
        _ => w0.elapsed(),
    }
}

/// NDJSON lines whose `time` can be rewritten in place for each pass.
struct Lines {
    lines: Vec<String>,
    /// Byte offset of each line's 13-digit time.
    at: Vec<usize>,
}

impl Lines {
    fn new(events: &mut [Value]) -> Lines {
        stamp(events, T0);
        let lines = to_lines(events);
        let at = lines
            .iter()
            .map(|l| l.find("\"time\":").unwrap() + 7)
            .collect();
        Lines { lines, at }
    }

    /// Sets the times of one pass, ~1 ms apart from `base` (13 digits).
    fn stamp(&mut self, base: i64) -> i64 {
        for (i, (l, &at)) in self.lines.iter_mut().zip(&self.at).enumerate() {
            let t = (base + i as i64).to_string();
            assert_eq!(t.len(), 13);
            l.replace_range(at..at + 13, &t);
        }
        base + self.lines.len() as i64
    }
}

fn correlate(c: &mut Criterion) {
    let mut events = stream(STREAM, ACTORS);
    let mut lines = Lines::new(&mut events);
    let config = CorrelatorConfig {
        max_actors: 200_000,
        ..CorrelatorConfig::default()
    };
    let mut corr = Correlator::new(config);
    let mut out = Vec::new();
    let mut base = stamp(&mut events, T0);
    // Every actor logs on once, then the stream runs three times.
    for a in 0..ACTORS {
        corr.observe(&warm_logon(a, base), &mut out).unwrap();
    }
    base = stamp(&mut events, base + 1);
    for _ in 0..3 {
        for e in &events {
            corr.observe(e, &mut out).unwrap();
        }
        base = stamp(&mut events, base);
    }
    corr.flush(&mut out);
    let s = corr.stats();
    let bytes = corr.approx_state_bytes();
    eprintln!(
        "correlate: tracked actors {} sources {}; state {} bytes, {} bytes/actor incl. sources; findings so far {}",
        s.tracked_actors,
        s.tracked_sources,
        bytes,
        bytes / s.tracked_actors.max(1),
        s.findings
    );
    out.clear();

    let mut g = c.benchmark_group("correlate");
    g.throughput(Throughput::Elements(STREAM as u64));
    g.sample_size(10);
    // One pass of the stream per iteration is long: flat sampling keeps the
    // group under a minute.
    g.sampling_mode(SamplingMode::Flat);
    g.bench_function("mixed_100k_actors_ndjson", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                base = lines.stamp(base);
                total += timed(|| {
                    for l in &lines.lines {
                        black_box(corr.observe_json(l, &mut out).unwrap());
                    }
                });
                out.clear();
            }
            total
        })
    });
    g.bench_function("ndjson_via_value", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                base = lines.stamp(base);
                total += timed(|| {
                    for l in &lines.lines {
                        let v: Value = serde_json::from_str(l).unwrap();
                        black_box(corr.observe(&v, &mut out).unwrap());
                    }
                });
                out.clear();
            }
            total
        })
    });
    g.bench_function("floor_ndjson_scan", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    timed(|| {
                        for l in &lines.lines {
                            black_box(serde_json::from_str::<serde::de::IgnoredAny>(l).unwrap());
                        }
                    })
                })
                .sum()
        })
    });
    g.bench_function("mixed_100k_actors", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                base = stamp(&mut events, base);
                total += timed(|| {
                    for e in &events {
                        black_box(corr.observe(e, &mut out).unwrap());
                    }
                });
                out.clear();
            }
            total
        })
    });
    g.bench_function("floor_extract_only", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    timed(|| {
                        for e in &events {
                            black_box(Signal::from_event(e).unwrap());
                        }
                    })
                })
                .sum()
        })
    });
    g.finish();
    let s = corr.stats();
    eprintln!(
        "correlate: after bench tracked actors {}, evicted {}, expired {}, late {}",
        s.tracked_actors, s.evicted_actors, s.expired, s.late_events
    );
}

fn sigma(c: &mut Criterion) {
    let mut rules = SigmaRuleSet::new(FieldMapping::new());
    let n = rules.add_yaml(&synthetic_rules()).unwrap();
    let events = process_events();
    let matched: usize = events.iter().map(|e| rules.evaluate(e).len()).sum();
    eprintln!(
        "sigma: {n} rules loaded, {matched} matches over {} events",
        events.len()
    );
    let empty = SigmaRuleSet::new(FieldMapping::new());
    let mut g = c.benchmark_group("sigma");
    g.throughput(Throughput::Elements(events.len() as u64));
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);
    let mut out = Vec::new();
    for (name, set) in [
        ("process_creation_300_rules", &rules),
        ("floor_routing_only", &empty),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        timed(|| {
                            for e in &events {
                                out.clear();
                                black_box(set.evaluate_into(e, &mut out));
                            }
                        })
                    })
                    .sum()
            })
        });
    }
    g.finish();
}

criterion_group!(benches, correlate, sigma);
criterion_main!(benches);
