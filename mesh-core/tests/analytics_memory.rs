//! Memory per tracked actor, measured: a counting global allocator wraps the
//! system allocator in this test binary and counts the bytes the correlator
//! holds once its actors are tracked. The figures are documented in the
//! analytics module (`Correlator`, "Bounded state").
#![allow(unsafe_code)] // the global allocator below is the only unsafe code
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod analytics_support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use analytics_support::*;
use mesh_core::analytics::{Correlator, CorrelatorConfig};
use serde_json::{json, Value};

struct Counting;

thread_local! {
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note(delta: i64) {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = LIVE.try_with(|c| c.set(c.get() + delta));
        }
    });
}

fn size(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

// SAFETY: forwards every call to the system allocator unchanged; counting
// touches only `const`-initialized thread-locals, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(size(new_size) - size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        note(-size(layout.size()));
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Heap bytes held by the correlator built by feeding it `events` (made
/// before counting starts), and the correlator itself.
fn held(events: &[Value]) -> (i64, Correlator) {
    // In-order events, no lateness: the reorder buffer stays empty, so what
    // remains is the per-key state.
    let config = CorrelatorConfig {
        allowed_lateness_ms: 0,
        ..CorrelatorConfig::default()
    };
    ARMED.with(|a| a.set(true));
    let before = LIVE.with(Cell::get);
    let mut c = Correlator::new(config);
    let mut out = Vec::new();
    for e in events {
        c.observe(e, &mut out).unwrap();
        out.clear();
    }
    drop(out);
    let bytes = LIVE.with(Cell::get) - before;
    ARMED.with(|a| a.set(false));
    (bytes, c)
}

const ACTORS: i64 = 2_000;

/// The benchmark's traffic shape: logons with location from a home IP, some
/// failed, MFA pushes, session uses from one device, file reads.
#[test]
fn typical_traffic_stays_small_per_actor() {
    let mut events = Vec::new();
    let mut t = T0;
    for round in 0..4 {
        for a in 0..ACTORS {
            t += 1;
            let user = format!("user{a}@example.com");
            let ip = format!("10.{}.{}.{}", a % 4, (a >> 2) % 256, (a >> 10) % 256);
            let uid = format!("evt-{round}-{a}");
            let (lat, lon) = ((a % 120) as f64 - 60.0, (a % 300) as f64 - 150.0);
            events.push(match round {
                0 => logon_at(
                    &uid,
                    t,
                    &user,
                    &ip,
                    lat,
                    lon,
                    ["FR", "US"][(a % 2) as usize],
                ),
                1 => logon(&uid, t, &user, &ip, a % 10 != 0),
                2 => session_use(&uid, t, &user, &format!("s-{a}"), &format!("d-{a}"), 64500),
                _ => push(&uid, t, &user, a % 10 != 0),
            });
        }
    }
    let (bytes, c) = held(&events);
    let s = c.stats();
    assert_eq!(s.tracked_actors, ACTORS as usize);
    let per_actor = bytes / ACTORS;
    eprintln!(
        "typical: {bytes} bytes for {} actors and {} sources: {per_actor} bytes per actor; estimate {}",
        s.tracked_actors,
        s.tracked_sources,
        c.approx_state_bytes()
    );
    assert!(per_actor <= 768, "{per_actor} bytes per actor");
}

/// Every ring of every actor full, with 36-byte event uids: the bound.
#[test]
fn worst_case_per_actor_is_bounded() {
    let uid = |a: i64, k: &str, i: i64| format!("{a:08}-{k}-{i:04}-0000-000000000000");
    let mut events = Vec::new();
    let mut t = T0;
    let mut next = || {
        t += 1;
        t
    };
    for a in 0..ACTORS {
        let user = format!("user{a}@example.com");
        for (i, country) in ["FR", "US", "DE", "JP", "BR", "IN", "AU", "CA", "MX"]
            .iter()
            .enumerate()
        {
            let mut e = logon_at(
                &uid(a, "geo", i as i64),
                next(),
                &user,
                "",
                10.0,
                10.0,
                country,
            );
            e["src_endpoint"] =
                json!({"location": {"coordinates": [10.0, 10.0], "country": country}});
            events.push(e);
        }
        for i in 0..6 {
            let mut e = push(&uid(a, "psh", i), next(), &user, false);
            e["src_endpoint"] = json!({});
            events.push(e);
        }
        for i in 0..12 {
            let mut e = logon(&uid(a, "bad", i), next(), &user, "", false);
            e["src_endpoint"] = json!({});
            events.push(e);
        }
        for i in 0..6 {
            events.push(session_use(
                &uid(a, "ses", i),
                next(),
                &user,
                &format!("session-{a}-{i}"),
                &format!("device-{a}"),
                64500,
            ));
        }
        events.push(grant(&uid(a, "grt", 0), next(), "admin@example.com", &user));
    }
    let (bytes, c) = held(&events);
    let s = c.stats();
    assert_eq!(s.tracked_actors, ACTORS as usize);
    assert_eq!(s.tracked_sources, 0);
    let per_actor = bytes / ACTORS;
    eprintln!(
        "worst case: {bytes} bytes for {} actors: {per_actor} bytes per actor; estimate {}",
        s.tracked_actors,
        c.approx_state_bytes()
    );
    assert!(per_actor <= 2048, "{per_actor} bytes per actor");
}
