"""Python-side timings (not part of the pytest suite): run after the Rust
baseline `cargo run --release -p mesh-py --example rust_baseline`."""

import pathlib
import time

import mesh

DATA = pathlib.Path(__file__).resolve().parents[2] / "examples" / "data"
NOW = 1767226200.0
m = mesh.Mesh.from_config(DATA / "gateway.toml")
m.activate_bundle((DATA / "policies-r1.bundle").read_bytes())
token = (DATA / "tokens.txt").read_text().splitlines()[0].split()[1]
for _ in range(1000):
    m.authorize(token=token, action='Action::"read"', resource='Document::"q3"', now=NOW)
n = 100_000
t = time.perf_counter()
for _ in range(n):
    m.authorize(token=token, action='Action::"read"', resource='Document::"q3"', now=NOW)
print(f"python authorize ns/call {(time.perf_counter() - t) / n * 1e9:.0f}")
lines = [ln for ln in (DATA / "mixed.log").read_bytes().splitlines() if ln.strip()]
batch = lines * 500
t = time.perf_counter()
for _ in range(4):
    mesh.normalize_many(batch, now=NOW)
print(f"python normalize_many records/s {4 * len(batch) / (time.perf_counter() - t):.0f}")
t = time.perf_counter()
data = b"\n".join(batch) + b"\n"
for _ in range(4):
    mesh.normalize_ndjson(data, now=NOW)
print(f"python normalize_ndjson records/s {4 * len(batch) / (time.perf_counter() - t):.0f}")
