//! Deciding allocates nothing: a counting global allocator wraps the system
//! allocator in this test binary and counts allocations made while deciding
//! the reference workload's requests.
#![allow(unsafe_code)] // the global allocator below is the only unsafe code
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use mesh_core::policy::{Decision, Outcome};

struct Counting;

thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
    static ARMED: Cell<bool> = const { Cell::new(false) };
}

fn note() {
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        }
    });
}

// SAFETY: forwards every call to the system allocator unchanged; counting
// touches only `const`-initialized thread-locals, which do not allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    let r = f();
    ARMED.with(|a| a.set(false));
    (r, COUNT.with(Cell::get))
}

#[test]
fn deciding_does_not_allocate() {
    for n in [100, 1000] {
        let wl = common::load(n);
        let mut outcomes = [0usize; 3];
        // `decide` (fresh decision each time) and `decide_into` (reused).
        let (_, allocs) = counted(|| {
            for r in &wl.requests {
                let d = wl.policies.decide(r, &wl.entities);
                outcomes[match d.outcome() {
                    Outcome::Allow => 0,
                    Outcome::Deny => 1,
                    Outcome::Challenge { .. } => 2,
                }] += 1;
            }
        });
        assert_eq!(
            allocs,
            0,
            "n={n}: {allocs} allocations in {} decisions",
            wl.requests.len()
        );
        let mut d = Decision::new(&wl.policies);
        let (_, allocs) = counted(|| {
            for r in &wl.requests {
                wl.policies.decide_into(r, &wl.entities, &mut d);
                std::hint::black_box(&d);
            }
        });
        assert_eq!(allocs, 0, "n={n}: decide_into allocated {allocs} times");
        assert!(outcomes[0] > 0 && outcomes[1] > 0);
    }
}

#[test]
fn the_counter_counts() {
    let (v, allocs) = counted(|| vec![1u8; 10]);
    assert_eq!(v.len(), 10);
    assert_eq!(allocs, 1);
}
