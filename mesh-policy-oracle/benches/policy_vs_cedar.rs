//! mesh vs cedar-policy on the reference authorization workload, same files,
//! same run.
//!
//! For N = 100, 1,000 and 10,000 policies, `gen_policy_workload.py` writes
//! policies, schema, entities and requests; both engines load those files and
//! this reports parse+validate+compile time, entity load time and the p50/p99
//! of individually timed decisions.
//!
//! The script is looked up at `MESH_POLICY_WORKLOAD_SCRIPT`, else at
//! `../shared/bench/` (and `../../shared/bench/`) relative to the repository
//! root; without it (or without `python3`) the benchmark says so and skips.
//! Cedar is slow at large N, so it decides a time-bounded sample of the
//! requests (the table says how many). A last phase decides the requests of
//! all sizes in turns and reports each size's p50 against the smallest's,
//! so that the scaling ratio does not depend on when load hit the host.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mesh_core::policy::{parse_policies, validate, PolicySet, Request, Schema};
use mesh_policy_oracle::{mesh_ids, CedarEngine, MeshEngine};

const SIZES: [usize; 3] = [100, 1_000, 10_000];
const MESH_ROUNDS: usize = 5;
/// Time budget for Cedar's decisions per size.
const CEDAR_BUDGET: Duration = Duration::from_secs(6);

fn script() -> Result<PathBuf, String> {
    if let Ok(p) = std::env::var("MESH_POLICY_WORKLOAD_SCRIPT") {
        return Ok(PathBuf::from(p));
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let candidates = [
        root.join("../shared/bench/gen_policy_workload.py"),
        root.join("../../shared/bench/gen_policy_workload.py"),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            format!(
                "workload generator not found (looked at {}; set MESH_POLICY_WORKLOAD_SCRIPT)",
                candidates
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        })
}

struct Files {
    policies: String,
    schema: String,
    entities: String,
    requests: Vec<serde_json::Value>,
}

fn generate(script: &Path, n: usize) -> Result<Files, String> {
    let out = std::env::temp_dir().join(format!("mesh-policy-bench-{}-wl{n}", std::process::id()));
    let status = Command::new("python3")
        .arg(script)
        .arg(&out)
        .arg("--policies")
        .arg(n.to_string())
        .status()
        .map_err(|e| format!("cannot run python3: {e}"))?;
    if !status.success() {
        return Err(format!("{} failed: {status}", script.display()));
    }
    let read = |f: &str| std::fs::read_to_string(out.join(f)).map_err(|e| format!("{f}: {e}"));
    let files = Files {
        policies: read("policies.cedar")?,
        schema: read("schema.cedarschema")?,
        entities: read("entities.json")?,
        requests: read("requests.jsonl")?
            .lines()
            .map(|l| serde_json::from_str(l).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?,
    };
    let _ = std::fs::remove_dir_all(&out);
    Ok(files)
}

fn median_time<T>(reps: usize, mut f: impl FnMut() -> T) -> Duration {
    let mut times: Vec<Duration> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            let out = black_box(f());
            let took = t.elapsed();
            // Freeing the result is not part of loading it.
            drop(out);
            took
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn fmt(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns < 10_000 {
        format!("{:.2} µs", ns as f64 / 1e3)
    } else if ns < 10_000_000 {
        format!("{:.1} µs", ns as f64 / 1e3)
    } else {
        format!("{:.1} ms", ns as f64 / 1e6)
    }
}

fn ratio(cedar: Duration, mesh: Duration) -> String {
    let m = mesh.as_nanos().max(1) as f64;
    format!("{:.0}x", cedar.as_nanos() as f64 / m)
}

struct Row {
    n: usize,
    metric: &'static str,
    mesh: Duration,
    cedar: Duration,
}

/// A size's mesh engine and requests, kept for the scaling phase.
type Kept = (usize, MeshEngine, Vec<Request>);

fn run(n: usize, files: &Files, rows: &mut Vec<Row>, notes: &mut Vec<String>) -> Kept {
    let reps = if n >= 10_000 { 3 } else { 5 };
    // Load.
    let mesh_compile = median_time(reps, || {
        MeshEngine::compile(&files.policies, Some(&files.schema)).unwrap()
    });
    let cedar_compile = median_time(reps, || {
        CedarEngine::compile(&files.policies, Some(&files.schema)).unwrap()
    });
    let mesh_ents = median_time(reps, || MeshEngine::load_entities(&files.entities).unwrap());
    let cedar_ents = median_time(reps, || {
        CedarEngine::load_entities(&files.entities).unwrap()
    });
    rows.push(Row {
        n,
        metric: "parse+validate+compile",
        mesh: mesh_compile,
        cedar: cedar_compile,
    });
    rows.push(Row {
        n,
        metric: "entity load (1,350)",
        mesh: mesh_ents,
        cedar: cedar_ents,
    });
    // Where mesh's load time goes.
    let schema = Schema::from_cedarschema(&files.schema, "schema.cedarschema").unwrap();
    let parsed = parse_policies(&files.policies, "policies.cedar").unwrap();
    let t_schema = median_time(reps, || {
        Schema::from_cedarschema(&files.schema, "s").unwrap()
    });
    let t_parse = median_time(reps, || {
        parse_policies(&files.policies, "policies.cedar").unwrap()
    });
    let t_validate = median_time(reps, || validate(&schema, &parsed, &files.policies));
    let t_compile = median_time(reps, || PolicySet::from_policies(parsed.clone()).unwrap());
    notes.push(format!(
        "N={n}: mesh load breakdown: schema {}, parse {}, validate {}, compile {}",
        fmt(t_schema),
        fmt(t_parse),
        fmt(t_validate),
        fmt(t_compile)
    ));

    let mesh = MeshEngine::new(&files.policies, Some(&files.schema), &files.entities).unwrap();
    let cedar = CedarEngine::new(
        &files.policies,
        Some(&files.schema),
        &files.entities,
        mesh_ids(&mesh.policies),
    )
    .unwrap();
    let mesh_reqs: Vec<_> = files
        .requests
        .iter()
        .map(|r| mesh.request(r).unwrap())
        .collect();
    let cedar_reqs: Vec<_> = files
        .requests
        .iter()
        .map(|r| cedar.request(r).unwrap())
        .collect();

    // mesh: every request, several rounds, each decision timed alone.
    let mut times = Vec::with_capacity(mesh_reqs.len() * MESH_ROUNDS);
    for _ in 0..MESH_ROUNDS {
        for r in &mesh_reqs {
            let t = Instant::now();
            let d = mesh.policies.decide(r, &mesh.entities);
            black_box(d.outcome());
            times.push(t.elapsed());
        }
    }
    times.sort();
    let (m50, m99) = (percentile(&times, 0.5), percentile(&times, 0.99));

    // cedar: a time-bounded sample (spread over all requests).
    let probe = median_time(5, || cedar.decide_raw(&cedar_reqs[0]));
    let want = (CEDAR_BUDGET.as_nanos() / probe.as_nanos().max(1)) as usize;
    let count = want.clamp(200, cedar_reqs.len());
    let step = (cedar_reqs.len() / count).max(1);
    let mut ctimes = Vec::with_capacity(count);
    let mut mismatches = 0usize;
    for (i, r) in cedar_reqs.iter().enumerate().step_by(step).take(count) {
        let t = Instant::now();
        let resp = cedar.decide_raw(r);
        ctimes.push(t.elapsed());
        black_box(&resp);
        if cedar.decide(r) != mesh.decide(&mesh_reqs[i]) {
            mismatches += 1;
        }
    }
    ctimes.sort();
    let (c50, c99) = (percentile(&ctimes, 0.5), percentile(&ctimes, 0.99));
    rows.push(Row {
        n,
        metric: "decision p50",
        mesh: m50,
        cedar: c50,
    });
    rows.push(Row {
        n,
        metric: "decision p99",
        mesh: m99,
        cedar: c99,
    });
    notes.push(format!(
        "N={n}: mesh timed {} decisions ({} requests x {MESH_ROUNDS} rounds); cedar timed {} requests; decisions differing: {mismatches}",
        times.len(),
        mesh_reqs.len(),
        ctimes.len()
    ));
    (n, mesh, mesh_reqs)
}

/// Rounds of the scaling phase.
const SCALING_ROUNDS: usize = 11;

/// Scaling: every size decides all its requests (each timed alone) in
/// turn, round after round, so that a burst of load on the host falls on
/// every size alike. Prints each size's p50 and p99 over all rounds, and
/// the median over rounds of its p50 over the smallest size's p50 in the
/// same round.
fn scaling(kept: &[Kept]) {
    let mut all: Vec<Vec<Duration>> = kept.iter().map(|_| Vec::new()).collect();
    let mut ratios: Vec<Vec<f64>> = kept.iter().map(|_| Vec::new()).collect();
    for _ in 0..SCALING_ROUNDS {
        let mut p50s = Vec::new();
        for ((_, mesh, reqs), all) in kept.iter().zip(&mut all) {
            let mut t: Vec<Duration> = Vec::with_capacity(reqs.len());
            for r in reqs {
                let t0 = Instant::now();
                let d = mesh.policies.decide(r, &mesh.entities);
                black_box(d.outcome());
                t.push(t0.elapsed());
            }
            all.extend_from_slice(&t);
            t.sort();
            p50s.push(percentile(&t, 0.5).as_nanos() as f64);
        }
        let base = p50s.first().copied().unwrap_or(1.0).max(1.0);
        for (r, p) in ratios.iter_mut().zip(&p50s) {
            r.push(p / base);
        }
    }
    println!();
    println!(
        "scaling (each size decides all its requests in turn, {SCALING_ROUNDS} rounds; target: p50 at 10,000 within 2x of p50 at 100)"
    );
    for (((n, _, _), t), r) in kept.iter().zip(&mut all).zip(&mut ratios) {
        t.sort();
        r.sort_by(f64::total_cmp);
        println!(
            "| {n} | p50 {} | p99 {} | p50 / p50 at {}: median of rounds {:.2} (min {:.2}, max {:.2}) |",
            fmt(percentile(t, 0.5)),
            fmt(percentile(t, 0.99)),
            kept[0].0,
            r[r.len() / 2],
            r[0],
            r[r.len() - 1]
        );
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: there,
    // only check that the benchmark builds and starts.
    if !std::env::args().any(|a| a == "--bench") {
        println!("policy_vs_cedar: run with `cargo bench -p mesh-policy-oracle` to measure");
        return;
    }
    let script = match script() {
        Ok(s) => s,
        Err(why) => {
            println!("policy_vs_cedar: benchmark skipped: {why}");
            return;
        }
    };
    let mut rows = Vec::new();
    let mut notes = Vec::new();
    let mut kept = Vec::new();
    for n in SIZES {
        let files = match generate(&script, n) {
            Ok(f) => f,
            Err(why) => {
                println!("policy_vs_cedar: benchmark skipped: {why}");
                return;
            }
        };
        kept.push(run(n, &files, &mut rows, &mut notes));
    }
    println!();
    println!("| policies | metric | mesh | cedar | cedar/mesh |");
    println!("|---:|---|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} |",
            r.n,
            r.metric,
            fmt(r.mesh),
            fmt(r.cedar),
            ratio(r.cedar, r.mesh)
        );
    }
    println!();
    for n in notes {
        println!("{n}");
    }
    scaling(&kept);
}
