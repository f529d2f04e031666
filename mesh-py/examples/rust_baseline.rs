//! Rust-side timings the Python binding is compared with
//! (`mesh-py/tests/perf.py` prints both): `authorize` for a cached token and
//! batch normalization of `examples/data/mixed.log`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::time::Instant;

use mesh_core::events::{sources, NormalizeOptions, Normalizer};
use mesh_core::policy::{EntityUid, Record};
use mesh_core::{Credential, Mesh, Timestamp};

fn main() {
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/data/");
    let cfg = std::fs::read_to_string(format!("{data}gateway.toml")).unwrap();
    let m = Mesh::from_toml(&cfg).unwrap();
    m.activate_bundle(&std::fs::read(format!("{data}policies-r1.bundle")).unwrap())
        .unwrap();
    let tokens = std::fs::read_to_string(format!("{data}tokens.txt")).unwrap();
    let token = tokens
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    let now = Timestamp::from_unix_millis(1_767_226_200_000);
    let action = EntityUid::parse("Action::\"read\"").unwrap();
    let resource = EntityUid::parse("Document::\"q3\"").unwrap();
    let n = 200_000u32;
    for _ in 0..1000 {
        m.authorize(
            Credential::detect(&token),
            &action,
            &resource,
            Record::default(),
            now,
        );
    }
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(m.authorize(
            Credential::detect(&token),
            &action,
            &resource,
            Record::default(),
            now,
        ));
    }
    println!(
        "rust authorize ns/call {:.0}",
        t.elapsed().as_nanos() as f64 / f64::from(n)
    );

    let mut norm = Normalizer::new(NormalizeOptions::default());
    sources::register_builtin(&mut norm).unwrap();
    let log = std::fs::read(format!("{data}mixed.log")).unwrap();
    let lines: Vec<&[u8]> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let reps = 2000;
    let t = Instant::now();
    let mut ok = 0usize;
    for _ in 0..reps {
        // The binding serializes every event; do the same here.
        for e in norm
            .normalize_batch(lines.iter().copied(), None, now)
            .into_iter()
            .flatten()
        {
            std::hint::black_box(serde_json::to_value(&e).unwrap());
            ok += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "rust normalize records/s {:.0} (ok {ok})",
        (reps * lines.len()) as f64 / secs
    );
}
