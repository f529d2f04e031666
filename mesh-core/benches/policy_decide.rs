//! Policy decisions on the reference workload (shared/bench/gen_policy_workload.py).
//!
//! Reads the committed 100- and 1,000-policy workloads under `benches/data/`
//! and, when `python3` and the generator are available (set
//! `MESH_POLICY_WORKLOAD_GEN` to the script's path, or keep the repository
//! layout), generates the 10,000-policy workload into a temporary directory.
//! Reports parse+compile time, entity load time, criterion's mean decision
//! time, and per-decision p50/p99 measured one decision at a time.
//!
//! The comparison with cedar-policy on the same files lives in the
//! differential/benchmark crate; this bench is the floor for mesh alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use mesh_core::policy::{
    Decision, Determining, Entities, IpNet, PolicySet, Record, Request, Value,
};

struct Files {
    policies: String,
    entities: String,
    requests: String,
}

fn read(dir: &Path) -> Files {
    Files {
        policies: std::fs::read_to_string(dir.join("policies.cedar")).unwrap(),
        entities: std::fs::read_to_string(dir.join("entities.json")).unwrap(),
        requests: std::fs::read_to_string(dir.join("requests.jsonl")).unwrap(),
    }
}

fn workloads() -> Vec<(usize, Files)> {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/data");
    let mut out = vec![
        (100, read(&data.join("wl100"))),
        (1000, read(&data.join("wl1000"))),
    ];
    let gen = std::env::var("MESH_POLICY_WORKLOAD_GEN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../../shared/bench/gen_policy_workload.py")
        });
    let gen = if gen.exists() {
        gen
    } else {
        PathBuf::from("/work/shared/bench/gen_policy_workload.py")
    };
    if gen.exists() {
        let dir = std::env::temp_dir().join(format!("mesh-wl10k-{}", std::process::id()));
        let ok = std::process::Command::new("python3")
            .arg(&gen)
            .arg(&dir)
            .args(["--policies", "10000", "--requests", "2000"])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if ok {
            out.push((10000, read(&dir)));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    out
}

/// `context.ip` is typed `ipaddr` by the workload's schema.
fn requests(files: &Files) -> Vec<Request> {
    files
        .requests
        .lines()
        .map(|l| {
            let mut r = Request::from_json(&serde_json::from_str(l).unwrap()).unwrap();
            let fields = r
                .context()
                .iter()
                .map(|(k, v)| {
                    let v = match (k, v) {
                        ("ip", Value::String(s)) => {
                            IpNet::parse(s).map(Value::Ip).unwrap_or(v.clone())
                        }
                        _ => v.clone(),
                    };
                    (std::sync::Arc::from(k), v)
                })
                .collect();
            r.set_context(Record::new(fields).unwrap());
            r
        })
        .collect()
}

/// On-CPU time of this thread (Linux `schedstat`), which, unlike wall time,
/// does not count time spent waiting for a core on a loaded machine.
fn cpu_time() -> Option<Duration> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: u64 = s.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Mean on-CPU time of `f` over enough runs to last at least 300 ms.
fn cpu_mean(mut f: impl FnMut()) -> Option<Duration> {
    let start = cpu_time()?;
    let wall = Instant::now();
    let mut n = 0u32;
    while n < 3 || wall.elapsed() < Duration::from_millis(300) {
        f();
        n += 1;
    }
    Some((cpu_time()? - start) / n)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

type Row = (
    usize,
    Option<Duration>,
    Option<Duration>,
    Option<Duration>,
    Duration,
    Duration,
    Duration,
    Option<Duration>,
);

/// p50 of single timed decisions.
fn p50_of(set: &PolicySet, entities: &Entities, reqs: &[Request]) -> Duration {
    let mut d = Decision::new(set);
    let mut samples = Vec::with_capacity(reqs.len() * 10);
    for _ in 0..10 {
        for r in reqs {
            let t = Instant::now();
            set.decide_into(black_box(r), entities, &mut d);
            black_box(d.outcome());
            samples.push(t.elapsed());
        }
    }
    samples.sort_unstable();
    percentile(&samples, 0.5)
}

fn measure(files: &Files, set: &PolicySet, entities: &Entities, reqs: &[Request]) -> Row {
    let mut d = Decision::new(set);
    // Per-decision latency distribution, one timed decision at a time.
    let mut samples = Vec::with_capacity(reqs.len() * 10);
    for _ in 0..10 {
        for r in reqs {
            let t = Instant::now();
            set.decide_into(black_box(r), entities, &mut d);
            black_box(d.outcome());
            samples.push(t.elapsed());
        }
    }
    samples.sort_unstable();
    let decide_cpu = cpu_mean(|| {
        for r in reqs {
            set.decide_into(black_box(r), entities, &mut d);
            black_box(d.outcome());
        }
    })
    .map(|t| t / reqs.len() as u32);
    let compile_cpu = cpu_mean(|| {
        black_box(PolicySet::parse(&files.policies, "policies.cedar").unwrap());
    });
    let load_cpu = cpu_mean(|| {
        black_box(Entities::from_json_str(&files.entities).unwrap());
    });
    (
        set.len(),
        compile_cpu,
        load_cpu,
        decide_cpu,
        percentile(&samples, 0.5),
        percentile(&samples, 0.99),
        p50_of(
            &set.clone().with_determining(Determining::First),
            entities,
            reqs,
        ),
        cpu_mean(|| {
            black_box(serde_json::from_str::<serde_json::Value>(&files.entities).unwrap());
        }),
    )
}

fn bench(c: &mut Criterion) {
    let mut table = Vec::new();
    let table_only = std::env::var_os("MESH_BENCH_TABLE_ONLY").is_some();
    for (n, files) in workloads() {
        if table_only {
            let set = PolicySet::parse(&files.policies, "policies.cedar").unwrap();
            let entities = Entities::from_json_str(&files.entities).unwrap();
            let reqs = requests(&files);
            table.push(measure(&files, &set, &entities, &reqs));
            continue;
        }
        let mut g = c.benchmark_group(format!("policy/{n}"));
        g.bench_function("parse_compile", |b| {
            b.iter(|| PolicySet::parse(black_box(&files.policies), "policies.cedar").unwrap())
        });
        g.bench_function("entities_load", |b| {
            b.iter(|| Entities::from_json_str(black_box(&files.entities)).unwrap())
        });
        let set = PolicySet::parse(&files.policies, "policies.cedar").unwrap();
        let entities = Entities::from_json_str(&files.entities).unwrap();
        let reqs = requests(&files);
        let mut i = 0usize;
        let mut d = Decision::new(&set);
        g.bench_function("decide", |b| {
            b.iter(|| {
                i = (i + 1) % reqs.len();
                set.decide_into(black_box(&reqs[i]), &entities, &mut d);
                black_box(d.outcome());
            })
        });
        g.finish();

        table.push(measure(&files, &set, &entities, &reqs));
    }
    println!("\nparse+compile, entity load and decide mean: on-CPU time; p50/p99: wall time per decision");
    println!("| policies | parse+compile | entity load | decide mean | decide p50 | decide p99 | p50, Determining::First | entity JSON parse alone (floor) |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let show = |d: Option<Duration>| d.map_or_else(|| "n/a".to_string(), |d| format!("{d:.2?}"));
    for (len, compile, load, mean, p50, p99, first, floor) in table {
        println!(
            "| {len} | {} | {} | {} | {p50:.2?} | {p99:.2?} | {first:.2?} | {} |",
            show(compile),
            show(load),
            show(mean),
            show(floor)
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
