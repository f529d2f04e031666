//! Private timing helpers (`_mesh._bench_*`): the same work as a Python
//! call, run `n` times in Rust in the same process, so `tests/perf.py` can
//! report the binding's overhead and throughput ratio measured in one run.
//! Not part of the public API.

use std::hint::black_box;
use std::time::Instant;

use mesh_core::events::Normalizer;
use mesh_core::policy::{EntityUid, Record};
use mesh_core::{Credential, Timestamp};
use pyo3::prelude::*;

use crate::{normalizer, now_or_clock, record_arg, uid_arg, Mesh};

/// Nanoseconds per `Mesh::authorize` in Rust for `token` (arguments parsed
/// once, empty context), over `n` calls after `n / 10` warm-up calls.
#[pyfunction]
#[pyo3(signature = (mesh, token, action, resource, n, now=None))]
pub(crate) fn _bench_authorize(
    py: Python<'_>,
    mesh: PyRef<'_, Mesh>,
    token: &str,
    action: &str,
    resource: &str,
    n: u32,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<f64> {
    let action = uid_arg(action, "action")?;
    let resource = uid_arg(resource, "resource")?;
    let now = now_or_clock(now)?;
    let m = &mesh.inner;
    Ok(py.detach(|| {
        authorize_pass(m, token, &action, &resource, now, n / 10);
        let t = Instant::now();
        authorize_pass(m, token, &action, &resource, now, n);
        t.elapsed().as_nanos() as f64 / f64::from(n.max(1))
    }))
}

/// `n` decisions (a function of its own, so an instruction profiler can
/// count it: `valgrind --tool=callgrind --toggle-collect='*authorize_pass*'`).
#[inline(never)]
fn authorize_pass(
    m: &mesh_core::Mesh,
    token: &str,
    action: &EntityUid,
    resource: &EntityUid,
    now: Timestamp,
    n: u32,
) {
    for _ in 0..n {
        black_box(m.authorize(
            Credential::detect(black_box(token)),
            action,
            resource,
            Record::default(),
            now,
        ));
    }
}

/// One Rust batch normalization of `raws`, events dropped (a function of
/// its own, for `--toggle-collect='*normalize_pass*'`).
#[inline(never)]
fn normalize_pass(n: &Normalizer, raws: &[Vec<u8>], now: Timestamp) {
    black_box(n.normalize_batch(raws.iter().map(Vec::as_slice), None, now));
}

/// Nanoseconds per record of Rust batch normalization of `records`
/// (repeated `repeat` times): `(normalize_batch only, normalize_batch plus
/// serialization of every event to a `serde_json::Value`)`.
#[pyfunction]
#[pyo3(signature = (records, repeat=1, now=None))]
pub(crate) fn _bench_normalize(
    py: Python<'_>,
    records: &Bound<'_, PyAny>,
    repeat: u32,
    now: Option<&Bound<'_, PyAny>>,
) -> PyResult<(f64, f64)> {
    let now = now_or_clock(now)?;
    let mut raws = Vec::new();
    for r in records.try_iter()? {
        raws.push(record_arg(&r?)?);
    }
    let n = normalizer()?;
    Ok(py.detach(|| {
        let total = raws.len() as f64 * f64::from(repeat.max(1));
        let t = Instant::now();
        for _ in 0..repeat.max(1) {
            normalize_pass(n, &raws, now);
        }
        let plain = t.elapsed().as_nanos() as f64 / total;
        let t = Instant::now();
        for _ in 0..repeat.max(1) {
            for e in n
                .normalize_batch(raws.iter().map(Vec::as_slice), None, now)
                .into_iter()
                .flatten()
            {
                black_box(serde_json::to_value(&e).ok());
            }
        }
        let to_value = t.elapsed().as_nanos() as f64 / total;
        (plain, to_value)
    }))
}
