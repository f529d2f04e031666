//! The cost of the C ABI on the hot path: `mesh_authorize` (called through
//! its `extern "C"` symbol, as a C host does) against `Mesh::authorize` on
//! the same mesh and cached token, 1,000-policy reference workload
//! (`mesh-core/benches/data/wl1000`). Target (issue 6): ≤ 100 ns per call
//! over Rust, and 2 threads on one shared `mesh_t` give ≥ 1.8× the
//! throughput of one.
//!
//! - `rust/authorize_cached` vs `c/mesh_authorize`: no context, the same
//!   decision on both sides; the C side adds the boundary (argument checks,
//!   handle lookup, entity-reference parsing, decision handle,
//!   `mesh_decision_effect`, `mesh_decision_free`) and saves what reusing
//!   its decision slot saves (`Mesh::authorize_into` overwrites the freed
//!   decision: its lists keep their allocations and unchanged evaluation
//!   errors are kept, where `Mesh::authorize` builds a new decision that
//!   the caller drops). The boundary alone is the C path's instructions in
//!   libmesh's own code plus `strnlen` (under callgrind), and in time the
//!   alternating batches against `Mesh::authorize_into` reusing one
//!   decision (printed as "the boundary alone");
//! - `rust/authorize_cached_ctx` vs `c/mesh_authorize_ctx`: the workload's
//!   request context, a `Record` clone in Rust and the same JSON text on
//!   every call through C (served from libmesh's per-thread context cache
//!   after the first call);
//! - `c/mesh_authorize_ctx_varying`: a different context text on every call
//!   (the request id changes), so the JSON is parsed each time;
//! - then scaling: two threads, spawned once, sharing one `mesh_t` (and one
//!   `Mesh` in Rust) are released by a barrier for each run of a fixed
//!   number of decisions, on one thread then on both; C, Rust and a floor
//!   of independent work take turns within each of 9 rounds, and each
//!   path's 2-over-1 throughput ratio is printed as the median of the
//!   rounds with its min and max.
//!
//! Differences and ratios are printed from measurements taken in the same
//! run; the no-context difference is also measured in alternating batches
//! of Rust and C calls (best batch of each), which holds up better on a
//! loaded machine (`MESH_SCALING_DECISIONS` sets the decisions per thread
//! and run, 50,000 by default). For instruction counts, `MESH_FFI_PATH=c`
//! or `rust` (and optionally `MESH_FFI_CALLS`, `MESH_FFI_CONTEXT=1` or
//! `=varying`) runs one path only, under `valgrind --tool=callgrind`;
//! (C total - Rust total) / calls, with two call counts to take the setup
//! out, is the per-call overhead (`MESH_FFI_PATH=rust_into`: Rust reusing
//! one decision through `authorize_into`, for the boundary alone).
//! `MESH_FFI_THREADS=2` runs that path on
//! two threads (each with its own request parts, as in the scaling lines,
//! both alive from the first call to the last): under `valgrind
//! --tool=lackey --trace-mem=yes --trace-sched=yes` it shows which cache
//! lines both threads write.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

#[path = "../../mesh-core/tests/common/mod.rs"]
mod common;

use std::ffi::{c_char, CString};
use std::hint::black_box;
use std::time::{Duration, Instant};

use common::{jwks_doc, TestKey, NOW};
use criterion::Criterion;
use mesh::{
    mesh_authorize, mesh_decision, mesh_decision_effect, mesh_decision_free, mesh_effect,
    mesh_free, mesh_new, mesh_result, mesh_t,
};
use mesh_core::identity::Algorithm;
use mesh_core::policy::{EntityUid, Record, Request};
use mesh_core::{AccessDecision, Credential, Mesh, Timestamp};
use serde_json::json;

type AuthorizeFn = unsafe extern "C" fn(
    *const mesh_t,
    *const c_char,
    *const c_char,
    *const c_char,
    *const c_char,
    i64,
    *mut *const mesh_decision,
) -> mesh_result;

struct Setup {
    config: String,
    token_str: String,
    token: CString,
    action: EntityUid,
    resource: EntityUid,
    context: Record,
    action_c: CString,
    resource_c: CString,
    context_c: CString,
}

fn setup() -> Setup {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../mesh-core/benches/data/wl1000");
    let policies = std::fs::read_to_string(dir.join("policies.cedar")).unwrap();
    let entities = std::fs::read_to_string(dir.join("entities.json")).unwrap();
    let lines = std::fs::read_to_string(dir.join("requests.jsonl")).unwrap();
    let first: serde_json::Value = serde_json::from_str(lines.lines().next().unwrap()).unwrap();
    let mut req = Request::from_json(&first).unwrap();
    common::apply_schema_ip(&mut req);
    let idp = TestKey::new(Algorithm::ES256, "k1");
    let token = idp.sign(&json!({
        "iss": "https://idp", "aud": "api", "sub": req.principal().id(),
        "iat": NOW - 60, "exp": NOW + 3000,
        "groups": ["g0", "g1"], "roles": ["r0"], "amr": ["pwd", "mfa"],
    }));
    let config = json!({
        "issuers": [{"issuer": "https://idp", "audiences": ["api"], "algorithms": ["ES256"],
                     "jwks": jwks_doc(&[&idp])}],
        "policies": [{"name": "policies.cedar", "text": policies}],
        "entities": entities,
        "cache": {"capacity": 10_000, "max_ttl_seconds": 3600},
    })
    .to_string();
    // The same context as JSON, with the schema's ipaddr as an extension value.
    let mut ctx = first["context"].clone();
    if let Some(ip) = ctx.get("ip").cloned() {
        ctx["ip"] = json!({"__extn": {"fn": "ip", "arg": ip}});
    }
    Setup {
        config,
        token: CString::new(token.clone()).unwrap(),
        token_str: token,
        action_c: CString::new(req.action().to_string()).unwrap(),
        resource_c: CString::new(req.resource().to_string()).unwrap(),
        context_c: CString::new(ctx.to_string()).unwrap(),
        action: req.action().clone(),
        resource: req.resource().clone(),
        context: req.context().clone(),
    }
}

fn now() -> Timestamp {
    Timestamp::from_unix_seconds(NOW)
}

const NOW_MS: i64 = NOW * 1000;

fn rust_call(m: &Mesh, s: &Setup, ctx: bool) -> bool {
    rust_call_with(m, s, &s.action, &s.resource, ctx.then_some(&s.context))
}

fn rust_call_with(
    m: &Mesh,
    s: &Setup,
    action: &EntityUid,
    resource: &EntityUid,
    context: Option<&Record>,
) -> bool {
    m.authorize(
        Credential::Bearer(black_box(s.token_str.as_str())),
        action,
        resource,
        context.cloned().unwrap_or_default(),
        now(),
    )
    .is_allowed()
}

/// One Rust-side call writing into a decision kept between calls (the
/// first call makes it), as the C side writes into its decision slot.
fn rust_into_call(m: &Mesh, s: &Setup, ctx: bool, reused: &mut Option<AccessDecision>) -> bool {
    let token = Credential::Bearer(black_box(s.token_str.as_str()));
    let context = if ctx {
        s.context.clone()
    } else {
        Record::default()
    };
    match reused {
        Some(d) => {
            m.authorize_into(token, &s.action, &s.resource, context, now(), d);
            d.is_allowed()
        }
        None => reused
            .insert(m.authorize(token, &s.action, &s.resource, context, now()))
            .is_allowed(),
    }
}

/// A thread's own action, resource and context, parsed from the same text
/// (as a host parses each request): the Rust scaling line then measures the
/// mesh's sharing between threads, not reference counts of the bench's
/// request values shared by both threads (the C path parses its arguments
/// per thread too).
struct Parts {
    action: EntityUid,
    resource: EntityUid,
    context: Record,
}

fn parts(s: &Setup) -> Parts {
    let uid = |u: &EntityUid| EntityUid::from_parts(u.entity_type().as_str(), u.id());
    let text = s.context_c.to_str().unwrap();
    let context =
        Record::from_json_str_fast(text).unwrap_or_else(
            || match mesh_core::policy::Value::from_json(&serde_json::from_str(text).unwrap()) {
                Ok(mesh_core::policy::Value::Record(r)) => r,
                other => panic!("context: {other:?}"),
            },
        );
    Parts {
        action: uid(&s.action),
        resource: uid(&s.resource),
        context,
    }
}

thread_local! {
    static PARTS: std::cell::OnceCell<Parts> = const { std::cell::OnceCell::new() };
}

/// One Rust-side call with the calling thread's own request parts (the
/// Rust side of the scaling lines).
fn rust_parts_call(m: &Mesh, s: &Setup) -> bool {
    PARTS.with(|p| {
        let p = p.get_or_init(|| parts(s));
        rust_call_with(m, s, &p.action, &p.resource, Some(&p.context))
    })
}

/// One C-side hot call: authorize, read the effect, free the decision.
fn c_call(f: AuthorizeFn, m: *const mesh_t, s: &Setup, ctx: bool) -> bool {
    let context = if ctx {
        s.context_c.as_ptr()
    } else {
        std::ptr::null()
    };
    c_call_with(f, m, s, context)
}

fn c_call_with(f: AuthorizeFn, m: *const mesh_t, s: &Setup, context: *const c_char) -> bool {
    let mut d: *const mesh_decision = std::ptr::null();
    // SAFETY: valid NUL-terminated strings and a writable out-parameter.
    let rc = unsafe {
        f(
            m,
            s.token.as_ptr(),
            s.action_c.as_ptr(),
            s.resource_c.as_ptr(),
            context,
            NOW_MS,
            &mut d,
        )
    };
    let allowed =
        rc == mesh_result::MESH_OK && mesh_decision_effect(d) == mesh_effect::MESH_EFFECT_ALLOW;
    mesh_decision_free(d);
    allowed
}

/// The workload's context with a `request_id` attribute: a new text per id.
fn varying_context(s: &Setup, id: u64) -> CString {
    let text = s.context_c.to_string_lossy();
    let body = text.strip_suffix('}').unwrap_or(&text);
    CString::new(format!("{body}, \"request_id\": {id}}}")).unwrap_or_default()
}

fn mean_ns(c: &mut Criterion, name: &str, mut f: impl FnMut() -> bool) -> f64 {
    let mut total = Duration::ZERO;
    let mut iters = 0u64;
    c.bench_function(name, |b| {
        b.iter_custom(|n| {
            let t = Instant::now();
            for _ in 0..n {
                black_box(f());
            }
            let e = t.elapsed();
            total += e;
            iters += n;
            e
        })
    });
    total.as_nanos() as f64 / iters.max(1) as f64
}

/// Nanoseconds per call of `a` and of `b`, timed in alternating batches
/// (so a change of machine load hits both alike); each side's best batch
/// (the least disturbed) is kept.
fn interleaved(
    rounds: usize,
    batch: usize,
    mut a: impl FnMut() -> bool,
    mut b: impl FnMut() -> bool,
) -> (f64, f64) {
    let time = |f: &mut dyn FnMut() -> bool| {
        let t = Instant::now();
        for _ in 0..batch {
            black_box(f());
        }
        t.elapsed().as_nanos() as f64 / batch as f64
    };
    let (mut best_a, mut best_b) = (f64::MAX, f64::MAX);
    for _ in 0..rounds {
        best_a = best_a.min(time(&mut a));
        best_b = best_b.min(time(&mut b));
    }
    (best_a, best_b)
}

/// What one worker of [`Workers`] is told to run: the call, how many
/// times, and on how many workers.
struct Job<'a> {
    call: &'a (dyn Fn() -> bool + Sync),
    calls: usize,
    /// The workers that run: `first` and the `threads - 1` after it.
    first: usize,
    threads: usize,
}

/// Two threads spawned once and kept for every scaling round: each round
/// releases them by a barrier, so no round pays for (or is skewed by)
/// starting threads, and the same two threads (with their thread-local
/// caches) serve every round of every path.
struct Workers<'a> {
    job: std::sync::Mutex<Option<Job<'a>>>,
    start: std::sync::Barrier,
    done: std::sync::Barrier,
    /// Each worker's start and end of its part of the current job.
    spans: [std::sync::Mutex<Option<(Instant, Instant)>>; 2],
}

impl<'a> Workers<'a> {
    fn new() -> Self {
        Workers {
            job: std::sync::Mutex::new(None),
            start: std::sync::Barrier::new(3),
            done: std::sync::Barrier::new(3),
            spans: [std::sync::Mutex::new(None), std::sync::Mutex::new(None)],
        }
    }

    /// Worker `index`'s loop: wait for a job, run its share, report; a
    /// `None` job ends it.
    fn serve(&self, index: usize) {
        loop {
            self.start.wait();
            let (call, calls, active) = match &*self.job.lock().unwrap() {
                Some(j) => (j.call, j.calls, (index + 2 - j.first) % 2 < j.threads),
                None => return,
            };
            if active {
                let t = Instant::now();
                for _ in 0..calls {
                    black_box(call());
                }
                *self.spans[index].lock().unwrap() = Some((t, Instant::now()));
            }
            self.done.wait();
        }
    }

    /// Seconds from the first worker's start to the last one's end for
    /// `threads` workers from `first` on making `calls` calls each.
    fn run(
        &self,
        first: usize,
        threads: usize,
        calls: usize,
        call: &'a (dyn Fn() -> bool + Sync),
    ) -> f64 {
        *self.job.lock().unwrap() = Some(Job {
            call,
            calls,
            first,
            threads,
        });
        for s in &self.spans {
            *s.lock().unwrap() = None;
        }
        self.start.wait();
        self.done.wait();
        let spans: Vec<(Instant, Instant)> = self
            .spans
            .iter()
            .filter_map(|s| *s.lock().unwrap())
            .collect();
        let first = spans.iter().map(|s| s.0).min().unwrap();
        let last = spans.iter().map(|s| s.1).max().unwrap();
        (last - first).as_secs_f64()
    }

    fn stop(&self) {
        *self.job.lock().unwrap() = None;
        self.start.wait();
    }
}

/// Scaling rounds: each round times every path on one worker, then on two
/// (the same two threads throughout, see [`Workers`]); the paths take
/// turns within a round, so a burst of load from elsewhere on the machine
/// falls on all of them alike. The median ratio is the figure; min and
/// max show the spread.
const SCALING_ROUNDS: usize = 9;

/// 2-thread over 1-thread throughput ratio of each path, per round.
fn scaling(paths: &[(&str, &(dyn Fn() -> bool + Sync))], per_thread: usize) {
    let workers = Workers::new();
    let mut ratios: Vec<Vec<f64>> = vec![Vec::new(); paths.len()];
    let mut rates: Vec<Vec<(f64, f64)>> = vec![Vec::new(); paths.len()];
    std::thread::scope(|sc| {
        for index in 0..2 {
            let w = &workers;
            sc.spawn(move || w.serve(index));
        }
        // Warm both threads' caches on every path.
        for (_, call) in paths {
            workers.run(0, 2, per_thread / 10, *call);
        }
        for round in 0..SCALING_ROUNDS {
            for (i, (_, call)) in paths.iter().enumerate() {
                // The single worker alternates between the two threads.
                let one = per_thread as f64 / workers.run(round % 2, 1, per_thread, *call);
                let two = 2.0 * per_thread as f64 / workers.run(0, 2, per_thread, *call);
                ratios[i].push(two / one);
                rates[i].push((one, two));
            }
        }
        workers.stop();
    });
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (i, (name, _)) in paths.iter().enumerate() {
        let mut one: Vec<f64> = rates[i].iter().map(|r| r.0).collect();
        let mut two: Vec<f64> = rates[i].iter().map(|r| r.1).collect();
        let r = &mut ratios[i];
        let (min, max) = (
            r.iter().copied().fold(f64::INFINITY, f64::min),
            r.iter().copied().fold(0.0, f64::max),
        );
        println!(
            "scaling/{name:<6} ratio {:.2} median (min {min:.2}, max {max:.2}) of {SCALING_ROUNDS} rounds (target >= 1.8); 1 thread {:>9.0}/s, 2 threads {:>9.0}/s (medians)",
            median(r),
            median(&mut one),
            median(&mut two),
        );
    }
}

fn main() {
    let s = setup();
    let rust = Mesh::from_json(&s.config).unwrap();
    let config_c = CString::new(s.config.clone()).unwrap();
    let mut handle: *const mesh_t = std::ptr::null();
    // SAFETY: a valid configuration string and a writable out-parameter.
    assert_eq!(
        unsafe { mesh_new(config_c.as_ptr(), &mut handle) },
        mesh_result::MESH_OK
    );
    let f: AuthorizeFn = black_box(mesh_authorize);
    // Both paths give the same answer before anything is timed.
    for ctx in [false, true] {
        assert_eq!(rust_call(&rust, &s, ctx), c_call(f, handle, &s, ctx));
    }
    let p = parts(&s);
    assert_eq!(
        rust_call(&rust, &s, true),
        rust_call_with(&rust, &s, &p.action, &p.resource, Some(&p.context))
    );

    // Instruction counts: `MESH_FFI_PATH=c|rust valgrind --tool=callgrind
    // target/release/deps/ffi_overhead-*` runs only that path; the setup is
    // the same in both runs, so (C total - Rust total) / N is the overhead.
    if let Ok(path) = std::env::var("MESH_FFI_PATH") {
        let n: usize = std::env::var("MESH_FFI_CALLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(10_000);
        let threads: usize = std::env::var("MESH_FFI_THREADS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1);
        let mode = std::env::var("MESH_FFI_CONTEXT").unwrap_or_default();
        let ctx = !mode.is_empty();
        // `varying`: a new context text per call, built before timing starts.
        let texts: Vec<CString> = (0..if mode == "varying" { n } else { 0 })
            .map(|i| varying_context(&s, i as u64))
            .collect();
        let h = handle as usize;
        let run = || {
            let handle = h as *const mesh_t;
            // `rust_into`: one decision reused, as the C side reuses its slot.
            let mut reused = None;
            for i in 0..n {
                black_box(match (path.as_str(), texts.get(i)) {
                    ("c", Some(t)) => c_call_with(f, handle, &s, t.as_ptr()),
                    ("c", None) => c_call(f, handle, &s, ctx),
                    ("rust_into", _) => rust_into_call(&rust, &s, ctx, &mut reused),
                    ("rust", _) if threads > 1 => rust_parts_call(&rust, &s),
                    _ => rust_call(&rust, &s, ctx),
                });
            }
        };
        if threads > 1 {
            // As in the scaling lines: the threads' own request parts. All
            // threads live through all calls (barriers at both ends), so
            // none of them takes over memory another one freed on exit.
            let both_ends = std::sync::Barrier::new(threads);
            std::thread::scope(|sc| {
                for _ in 0..threads {
                    sc.spawn(|| {
                        both_ends.wait();
                        run();
                        both_ends.wait();
                    });
                }
            });
        } else {
            run();
        }
        println!("{path}: {n} calls");
        assert_eq!(mesh_free(handle), mesh_result::MESH_OK);
        return;
    }

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    let r = mean_ns(&mut c, "rust/authorize_cached", || {
        rust_call(&rust, &s, false)
    });
    let h = handle as usize;
    let cc = mean_ns(&mut c, "c/mesh_authorize", || {
        c_call(f, h as *const mesh_t, &s, false)
    });
    let rx = mean_ns(&mut c, "rust/authorize_cached_ctx", || {
        rust_call(&rust, &s, true)
    });
    let cx = mean_ns(&mut c, "c/mesh_authorize_ctx", || {
        c_call(f, h as *const mesh_t, &s, true)
    });
    let mut seq = 0u64;
    let cv = mean_ns(&mut c, "c/mesh_authorize_ctx_varying", || {
        seq += 1;
        let ctx = varying_context(&s, seq);
        c_call_with(f, h as *const mesh_t, &s, ctx.as_ptr())
    });
    let (ri, ci) = interleaved(
        200,
        200,
        || rust_call(&rust, &s, false),
        || c_call(f, h as *const mesh_t, &s, false),
    );
    // The strictest comparison: Rust reusing one decision as the C side
    // reuses its decision slot, so the difference is the boundary alone.
    let mut reused = rust.authorize(
        Credential::Bearer(s.token_str.as_str()),
        &s.action,
        &s.resource,
        Record::default(),
        now(),
    );
    let (rr, cr) = interleaved(
        200,
        200,
        || {
            rust.authorize_into(
                Credential::Bearer(black_box(s.token_str.as_str())),
                &s.action,
                &s.resource,
                Record::default(),
                now(),
                &mut reused,
            );
            reused.is_allowed()
        },
        || c_call(f, h as *const mesh_t, &s, false),
    );
    println!(
        "ffi overhead (no context):   C {cc:.0} ns - Rust {r:.0} ns = {:+.0} ns per call (target <= 100 ns)",
        cc - r
    );
    println!(
        "ffi overhead (no context, alternating batches, best of 200): C {ci:.0} ns - Rust {ri:.0} ns = {:+.0} ns per call",
        ci - ri
    );
    println!(
        "ffi overhead (no context, alternating batches, best of 200, Rust reusing its decision through `authorize_into`): C {cr:.0} ns - Rust {rr:.0} ns = {:+.0} ns per call (the boundary alone)",
        cr - rr
    );
    println!(
        "ffi overhead (JSON context): C {cx:.0} ns - Rust {rx:.0} ns = {:+.0} ns per call (same context text: cached)",
        cx - rx
    );
    println!(
        "ffi overhead (new context):  C {cv:.0} ns - Rust {rx:.0} ns = {:+.0} ns per call (context JSON parsed, and built, every call)",
        cv - rx
    );

    let per_thread = std::env::var("MESH_SCALING_DECISIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000);
    let c_path = || c_call(f, h as *const mesh_t, &s, true);
    let rust_path = || rust_parts_call(&rust, &s);
    // The machine's own parallelism in the same run: independent work that
    // shares nothing (one SHA-256 of 1 KiB per call, about a decision's
    // time), so the ratios above can be read against what 2 threads get here.
    let block = [0x5au8; 1024];
    let floor = || ring::digest::digest(&ring::digest::SHA256, black_box(&block)).as_ref()[0] == 0;
    scaling(
        &[("c", &c_path), ("rust", &rust_path), ("floor", &floor)],
        per_thread,
    );

    assert_eq!(mesh_free(handle), mesh_result::MESH_OK);
    c.final_summary();
}
