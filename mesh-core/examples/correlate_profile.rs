//! Runs the correlation benchmark's mixed stream once more after warming,
//! for instruction counting under callgrind:
//! `correlate_profile value|extract [EVENTS] [ACTORS]`.
//!
//! Prints the number of measured events; divide callgrind's total (minus a
//! run with `EVENTS` = 0 for the set-up) by it for instructions per event.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../benches/support/correlate_stream.rs"]
mod correlate_stream;

use std::hint::black_box;

use correlate_stream::{stamp, stream, warm_logon, T0};
use mesh_core::analytics::{Correlator, CorrelatorConfig, Signal};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("value", String::as_str);
    let len: usize = args.get(2).map_or(20_000, |s| s.parse().unwrap());
    let actors: u64 = args.get(3).map_or(10_000, |s| s.parse().unwrap());
    let mut events = stream(len, actors);
    let mut corr = Correlator::new(CorrelatorConfig {
        max_actors: 2 * actors as usize,
        ..CorrelatorConfig::default()
    });
    let mut out = Vec::new();
    let mut base = T0;
    for a in 0..actors {
        corr.observe(&warm_logon(a, base), &mut out).unwrap();
    }
    base = stamp(&mut events, base + 1);
    for e in &events {
        corr.observe(e, &mut out).unwrap();
    }
    stamp(&mut events, base);
    out.clear();
    match mode {
        "value" => {
            for e in &events {
                black_box(corr.observe(e, &mut out).unwrap());
            }
        }
        "extract" => {
            for e in &events {
                black_box(Signal::from_event(e).unwrap());
            }
        }
        other => panic!("unknown mode `{other}`"),
    }
    println!("{len} events");
}
