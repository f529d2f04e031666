#!/usr/bin/env bash
# Regenerates include/mesh.h from mesh-ffi with the pinned cbindgen.
# With --check, fails if the checked-in header differs (header drift).
set -euo pipefail
cd "$(dirname "$0")/.."
CBINDGEN_VERSION=0.29.4
if ! cbindgen --version 2>/dev/null | grep -q " $CBINDGEN_VERSION\$"; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi
out=include/mesh.h
[ "${1:-}" = "--check" ] && out=$(mktemp)
cbindgen --quiet --config mesh-ffi/cbindgen.toml --crate mesh-ffi --output "$out" mesh-ffi
if [ "${1:-}" = "--check" ]; then
  if ! diff -u include/mesh.h "$out"; then
    echo "include/mesh.h is out of date: run scripts/gen-header.sh and commit it" >&2
    exit 1
  fi
  echo "include/mesh.h matches mesh-ffi"
fi
