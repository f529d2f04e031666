"""Python-binding timings against the same work in Rust, in one process.

Not part of the pytest suite. Build a release wheel first:

    target/py-venv/bin/maturin build --release -m mesh-py/Cargo.toml -o target/wheels
    target/py-venv/bin/pip install --force-reinstall --no-deps target/wheels/mesh-*.whl
    target/py-venv/bin/python mesh-py/tests/perf.py

Each figure is the best of several alternating rounds (Rust, then Python),
so load from other processes inflates both sides alike. Targets (issue 7):
authorize overhead <= 1.5 us per call over Rust for a cached token;
normalize_many >= 80% of the Rust batch throughput.

What is compared:
- authorize: Rust is `Mesh::authorize` on the same cached token with the
  action and resource parsed once and an empty context (`_bench_authorize`,
  the whole loop detached); Python is the keyword call
  `m.authorize(token=, action=, resource=, now=)` in a loop, including
  creating and freeing the `Decision`.
- normalize: Rust is `Normalizer::normalize_batch` over the same records
  already in Rust memory, events dropped (`_bench_normalize`); Python is
  `normalize_many(list of bytes)` returning the list of event dicts (and
  `EventError`s for records no source recognizes), including freeing that
  list. `normalize_ndjson` (NDJSON bytes in, NDJSON bytes out) is shown too.
  The records are examples/data/mixed.log repeated (one line of six is
  rejected), so the conversion's caches (short strings, small ints,
  template dicts by struct shape and key sequence) hit more often than on
  telemetry whose names, addresses and times vary.

Wall-clock figures on a loaded machine vary; instruction counts do not:

    valgrind --tool=callgrind --toggle-collect='*authorize_pass*' python SCRIPT
    valgrind --tool=callgrind --toggle-collect='*normalize_pass*' python SCRIPT

count the Rust side (the private `authorize_pass`/`normalize_pass`
functions behind the helpers); the Python side is the difference between
runs of a script with and without the calls. The conversion of events to
dicts alone (what `normalize_many` adds to the Rust batch, apart from
reading the records and making `EventError`s) is counted by

    valgrind --tool=callgrind --toggle-collect='_mesh::convert::JsonBuilder::serialize*' python SCRIPT
"""

import pathlib
import sys
import time

import mesh
from mesh import _mesh

DATA = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data"
NOW = 1767226200.0
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5


def best(f, rounds=ROUNDS):
    return min(f() for _ in range(rounds))


def main():
    m = mesh.Mesh.from_config(DATA / "gateway.toml")
    m.activate_bundle((DATA / "policies-r1.bundle").read_bytes())
    token = (DATA / "tokens.txt").read_text().splitlines()[0].split()[1]
    action, resource = 'Action::"read"', 'Document::"q3"'
    n = 50_000

    def py_authorize():
        auth = m.authorize
        t = time.perf_counter()
        for _ in range(n):
            auth(token=token, action=action, resource=resource, now=NOW)
        return (time.perf_counter() - t) / n * 1e9

    def py_loop():
        # The cost of the bare Python loop, shown for reference.
        t = time.perf_counter()
        for _ in range(n):
            pass
        return (time.perf_counter() - t) / n * 1e9

    py_authorize()  # warm the token cache and the argument caches
    rs, py = [], []
    for _ in range(ROUNDS):
        rs.append(_mesh._bench_authorize(m, token, action, resource, n, now=NOW))
        py.append(py_authorize())
    rust_ns, py_ns = min(rs), min(py)
    print(f"authorize      rust {rust_ns:8.0f} ns/call   python {py_ns:8.0f} ns/call   "
          f"overhead {py_ns - rust_ns:6.0f} ns/call (target <= 1500; bare loop {best(py_loop):.0f} ns)")

    lines = [ln for ln in (DATA / "mixed.log").read_bytes().splitlines() if ln.strip()]
    batch = lines * 200
    reps = 2

    def py_many():
        t = time.perf_counter()
        for _ in range(reps):
            mesh.normalize_many(batch, now=NOW)
        return (time.perf_counter() - t) / (reps * len(batch)) * 1e9

    def py_ndjson():
        data = b"\n".join(batch) + b"\n"
        t = time.perf_counter()
        for _ in range(reps):
            mesh.normalize_ndjson(data, now=NOW)
        return (time.perf_counter() - t) / (reps * len(batch)) * 1e9

    plain, value, many, ndjson = [], [], [], []
    for _ in range(ROUNDS):
        p, v = _mesh._bench_normalize(batch, reps, now=NOW)
        plain.append(p)
        value.append(v)
        many.append(py_many())
        ndjson.append(py_ndjson())
    plain_ns, value_ns, many_ns, ndjson_ns = min(plain), min(value), min(many), min(ndjson)
    print(f"normalize      rust batch {plain_ns:6.0f} ns/record ({1e9 / plain_ns:9.0f} records/s); "
          f"with serde_json::Value {value_ns:6.0f} ns/record")
    print(f"normalize_many python     {many_ns:6.0f} ns/record ({1e9 / many_ns:9.0f} records/s): "
          f"{plain_ns / many_ns:5.0%} of the Rust batch, {value_ns / many_ns:5.0%} of batch+Value (target >= 80%)")
    print(f"normalize_ndjson python   {ndjson_ns:6.0f} ns/record ({1e9 / ndjson_ns:9.0f} records/s): "
          f"{plain_ns / ndjson_ns:5.0%} of the Rust batch")


if __name__ == "__main__":
    main()
