#!/usr/bin/env bash
# Runs every test of mesh: Rust (format, lints, unit/integration/doc tests,
# benches compiled, fuzz targets briefly), C and Python.
# Installs what it needs when missing (cargo tools, pip packages), so it works
# on a fresh machine. Set MESH_SKIP_FUZZ=1 to skip the fuzz smoke runs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

step() { printf '\n==> %s\n' "$*"; }
pip_install() { python3 -m pip install -q --disable-pip-version-check "$@"; }

step "rustfmt"
cargo fmt --all -- --check

step "clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "API docs (broken links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --locked

step "Rust build of every target (benches included, test profile)"
cargo test --workspace --all-targets --locked --no-run

step "Rust tests (unit, integration, doc)"
cargo test --workspace --locked 2>&1 | tee "$log/cargo-test.txt"

if [ -d fuzz/fuzz_targets ] && [ "${MESH_SKIP_FUZZ:-0}" != 1 ]; then
  step "fuzz targets (seeded: ${MESH_FUZZ_RUNS:-4000} runs each, at most ${MESH_FUZZ_SECONDS:-20}s)"
  command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
  targets=$(cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz list)
  (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz build -O)
  for t in $targets; do
    mkdir -p "fuzz/corpus/$t"
    (cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" -- -seed="${MESH_FUZZ_SEED:-1}" -runs="${MESH_FUZZ_RUNS:-4000}" -max_total_time="${MESH_FUZZ_SECONDS:-20}" -print_final_stats=0 >"$log/fuzz-$t.txt" 2>&1) \
      || { cat "$log/fuzz-$t.txt"; echo "fuzz target $t failed"; exit 1; }
    echo "fuzz $t: ok"
  done
fi

if [ -f scripts/validate_ocsf.py ]; then
  step "OCSF 1.8.0 JSON Schema validation of normalized outputs"
  python3 -c 'import jsonschema, ocsf_json_schema' 2>/dev/null || pip_install jsonschema ocsf-json-schema
  python3 scripts/validate_ocsf.py mesh-core/tests/data/sources/*/*.ocsf.json mesh-core/tests/data/events/expected
fi

step "C ABI: header drift, symbols, C and C++ programs under ASan/UBSan and valgrind"
scripts/test-c.sh 2>&1 | tee "$log/c.txt"

if [ -x scripts/test-python.sh ]; then
  step "Python: build the wheel, install it, stubtest and pytest"
  scripts/test-python.sh 2>&1 | tee "$log/python.txt"
fi

if [ -x scripts/test-report-browser.sh ]; then
  step "report: render in headless Chromium"
  scripts/test-report-browser.sh
fi

step "summary"
# `count FILE REGEX FIELD`: the sum of FIELD over every match of REGEX in FILE,
# 0 when nothing matches (grep's "no match" status must not end the script).
count() { { grep -Eo "$2" "$1" 2>/dev/null || true; } | awk -v f="$3" '{s+=$f} END {print s+0}'; }
passed=$(count "$log/cargo-test.txt" 'test result: [a-z]+\. [0-9]+ passed' 4)
failed=$(count "$log/cargo-test.txt" '; [0-9]+ failed' 2)
c_passed=$(count "$log/c.txt" '[0-9]+ passed, [0-9]+ failed' 1)
c_failed=$(count "$log/c.txt" '[0-9]+ passed, [0-9]+ failed' 3)
# pytest prints one final line such as "26 passed, 1 skipped in 0.69s".
py_passed=$({ grep -Eo '[0-9]+ passed' "$log/python.txt" 2>/dev/null || true; } | tail -1 | awk '{print $1+0}')
py_failed=$({ grep -Eo '[0-9]+ failed' "$log/python.txt" 2>/dev/null || true; } | tail -1 | awk '{print $1+0}')
py_passed=${py_passed:-0}
py_failed=${py_failed:-0}
echo "rust: $passed passed, $failed failed"
echo "python: $py_passed passed, $py_failed failed"
echo "c: $c_passed passed, $c_failed failed"
echo "all: $((passed + c_passed + py_passed)) passed, $((failed + c_failed + py_failed)) failed"
