#!/usr/bin/env bash
# Builds the mesh wheel, installs it into target/py-venv the way the README
# says, and runs mypy.stubtest and the pytest suite against it.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=target/py-venv
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
# dask[bag] and distributed run examples/python/dask_normalize.py on a
# local cluster (tests/test_examples.py); CI requires them.
"$VENV/bin/pip" install -q maturin pytest mypy 'dask[bag,distributed]'
export MESH_REQUIRE_DASK=1
rm -f target/wheels/mesh-*.whl
# A debug build shares its dependencies with `cargo test`; speed is
# measured separately (mesh-py/tests/perf.py on a release build).
"$VENV/bin/maturin" build -q -m mesh-py/Cargo.toml -o target/wheels
"$VENV/bin/pip" install -q --force-reinstall --no-deps target/wheels/mesh-*.whl
(cd mesh-py && "../$VENV/bin/python" -m mypy.stubtest mesh --allowlist tests/stubtest-allowlist.txt)
cd mesh-py && "../$VENV/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
