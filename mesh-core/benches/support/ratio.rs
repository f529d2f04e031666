//! Same-run ratios against a floor, printed as a table after the criterion
//! groups: the floor and the candidate run in alternating batches, so load
//! from other processes hits both alike. The ratio is the median of the
//! per-round ratios; the times are the best round's (least disturbed).

use std::time::{Duration, Instant};

/// One line of the table: a candidate against its floor.
pub struct Ratio<'a> {
    /// What is measured.
    pub name: &'a str,
    /// What it is compared with.
    pub floor_name: &'a str,
    /// The target, as text (`<= 1.5x`, `>= 500k/s`).
    pub target: &'a str,
}

/// Whether criterion runs in bench mode (not `cargo test --benches`).
pub fn bench_mode() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn per_iter(mut f: impl FnMut(), iters: u32) -> Duration {
    let t = Instant::now();
    for _ in 0..iters {
        f();
    }
    t.elapsed() / iters
}

/// Measures `candidate` against `floor` and prints one table row.
pub fn report(r: &Ratio<'_>, mut floor: impl FnMut(), mut candidate: impl FnMut()) {
    let (rounds, budget) = if bench_mode() {
        (31, Duration::from_millis(20))
    } else {
        (3, Duration::from_micros(200))
    };
    // Batch size: enough iterations for `budget` per batch.
    let one = per_iter(&mut candidate, 8).max(Duration::from_nanos(20));
    let iters =
        u32::try_from((budget.as_nanos() / one.as_nanos()).clamp(1, 1_000_000)).unwrap_or(1);
    let mut ratios = Vec::with_capacity(rounds);
    let (mut best_f, mut best_c) = (Duration::MAX, Duration::MAX);
    for _ in 0..rounds {
        let f = per_iter(&mut floor, iters);
        let c = per_iter(&mut candidate, iters);
        best_f = best_f.min(f);
        best_c = best_c.min(c);
        ratios.push(c.as_secs_f64() / f.as_secs_f64().max(1e-12));
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(f64::NAN);
    let per_s = 1.0 / best_c.as_secs_f64().max(1e-12);
    println!(
        "ratio | {:<30} | {:>8.3} us {:>10.0}/s | {:>5.2}x {:<30} ({:.3} us) | target {}",
        r.name,
        best_c.as_secs_f64() * 1e6,
        per_s,
        median,
        r.floor_name,
        best_f.as_secs_f64() * 1e6,
        r.target,
    );
}
