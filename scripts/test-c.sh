#!/usr/bin/env bash
# Builds libmesh and runs the C and C++ programs under examples/c against it:
# compiled with -Wall -Wextra -Werror -pedantic, run under ASan/UBSan and
# under valgrind; checks the header compiles as C++, that every exported
# symbol starts with mesh_, and that the header has not drifted.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/gen-header.sh --check

# The debug build shares its dependencies with `cargo test`; sanitizers
# and valgrind check behaviour, not speed.
cargo build -q -p mesh-ffi --locked
lib=target/debug
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

echo "exported symbols all start with mesh_:"
bad=$(nm -D --defined-only "$lib/libmesh.so" | awk '$2 ~ /^[TDBR]$/ {print $3}' | grep -v '^mesh_' || true)
if [ -n "$bad" ]; then echo "symbols without the mesh_ prefix:"; echo "$bad"; exit 1; fi
echo "  ok ($(nm -D --defined-only "$lib/libmesh.so" | awk '$2 == "T"' | wc -l) functions)"
soname=$(objdump -p "$lib/libmesh.so" | awk '/SONAME/ {print $2}')
[ -n "$soname" ] || { echo "libmesh.so has no SONAME"; exit 1; }
echo "  soname: $soname"

cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -Iinclude -g)
cxxflags=(-std=c++17 -Wall -Wextra -Werror -pedantic -Iinclude -g)
libs=("$lib/libmesh.a" -lpthread -ldl -lm)

echo "header compiles as C++:"
echo '#include "mesh.h"' | g++ "${cxxflags[@]}" -x c++ -fsyntax-only - && echo "  ok"

status=0
for src in examples/c/*.c examples/c/*.cpp; do
  [ -f "$src" ] || continue
  name=$(basename "${src%.*}")
  case "$src" in
    *.c) cc=(gcc "${cflags[@]}") ;;
    *.cpp) cc=(g++ "${cxxflags[@]}") ;;
  esac
  args=()
  [ -f "examples/c/$name.args" ] && read -r -a args <"examples/c/$name.args"
  echo "$name (ASan/UBSan):"
  "${cc[@]}" -fsanitize=address,undefined -fno-omit-frame-pointer "$src" -o "$out/$name-asan" "${libs[@]}"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    "$out/$name-asan" "${args[@]}" || status=1
  echo "$name (valgrind):"
  "${cc[@]}" "$src" -o "$out/$name" "${libs[@]}"
  valgrind -q --error-exitcode=99 --leak-check=full --show-possibly-lost=no --errors-for-leak-kinds=definite,indirect \
    "$out/$name" "${args[@]}" || status=1
done
exit $status
