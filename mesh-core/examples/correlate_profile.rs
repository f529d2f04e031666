//! Runs the correlation benchmark's mixed stream once more after warming,
//! for instruction counting under callgrind:
//! `correlate_profile setup|value|extract|text|parse|scan|sigma [EVENTS] [ACTORS]`:
//! correlation of parsed values, signal extraction alone, correlation of
//! NDJSON lines, signal reading from lines alone, JSON scanning alone,
//! the Sigma benchmark's 300 rules on `EVENTS` process events.
//!
//! Prints the number of measured events; callgrind's total minus that of
//! `setup` (the same work without the measured loop), divided by it, is the
//! instructions per event. The measured loop is the function `measured`, so
//! `--toggle-collect='*measured*'` counts it alone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "../benches/support/correlate_stream.rs"]
mod correlate_stream;
#[path = "../benches/support/sigma_stream.rs"]
mod sigma_stream;

use std::hint::black_box;

use correlate_stream::{stamp, stream, to_lines, warm_logon, T0};
use mesh_core::analytics::{Correlator, CorrelatorConfig, FieldMapping, SigmaRuleSet, Signal};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let mode = args.get(1).map_or("value", String::as_str);
    let len: usize = args.get(2).map_or(20_000, |s| s.parse().unwrap());
    if mode == "sigma" {
        let mut rules = SigmaRuleSet::new(FieldMapping::new());
        rules.add_yaml(&sigma_stream::synthetic_rules()).unwrap();
        let events = sigma_stream::process_events();
        measured_sigma(&rules, &events, len);
        println!("{len} events");
        return;
    }
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
    let lines = to_lines(&events);
    out.clear();
    measured(mode, &events, &lines, &mut corr);
    println!("{len} events");
}

/// The measured loop of the Sigma mode, kept out of line for
/// `--toggle-collect`.
#[inline(never)]
fn measured_sigma(rules: &SigmaRuleSet, events: &[serde_json::Value], len: usize) {
    let mut out = Vec::new();
    for e in events.iter().cycle().take(len) {
        out.clear();
        black_box(rules.evaluate_into(e, &mut out));
    }
}

/// The measured loop of `mode`, kept out of line for `--toggle-collect`.
#[inline(never)]
fn measured(mode: &str, events: &[serde_json::Value], lines: &[String], corr: &mut Correlator) {
    let mut out = Vec::new();
    match mode {
        "setup" => {}
        "value" => {
            for e in events {
                black_box(corr.observe(e, &mut out).unwrap());
            }
        }
        "extract" => {
            for e in events {
                black_box(Signal::from_event(e).unwrap());
            }
        }
        "text" => {
            for l in lines {
                black_box(corr.observe_json(l, &mut out).unwrap());
            }
        }
        "parse" => {
            for l in lines {
                black_box(Signal::from_json(l).unwrap());
            }
        }
        "scan" => {
            for l in lines {
                black_box(serde_json::from_str::<serde::de::IgnoredAny>(l).unwrap());
            }
        }
        other => panic!("unknown mode `{other}`"),
    }
}
