#!/usr/bin/env bash
# Builds libmesh (shared and static) and installs it with its header and a
# pkg-config file under PREFIX (default /usr/local):
#   scripts/install-c.sh [PREFIX]
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${1:-/usr/local}
version=$(cargo pkgid -p mesh-ffi | sed 's/.*[#@]//')
major=${version%%.*}
cargo build -q -p mesh-ffi --release --locked
install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 644 include/mesh.h "$prefix/include/mesh.h"
install -m 644 target/release/libmesh.a "$prefix/lib/libmesh.a"
install -m 755 target/release/libmesh.so "$prefix/lib/libmesh.so.$version"
ln -sf "libmesh.so.$version" "$prefix/lib/libmesh.so.$major"
ln -sf "libmesh.so.$major" "$prefix/lib/libmesh.so"
sed -e "s|@PREFIX@|$prefix|" -e "s|@VERSION@|$version|" mesh-ffi/mesh.pc.in >"$prefix/lib/pkgconfig/mesh.pc"
echo "installed libmesh $version under $prefix"
