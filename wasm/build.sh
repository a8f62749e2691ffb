#!/bin/sh
# Rebuilds wasm/qudag_core.wasm from wasm/src with Debian's rustc 1.63 and
# its wasm32 standard library:
#   apt-get install -y rustc libstd-rust-dev-wasm32
# One plain rustc call: no cargo, no dependencies, no network, so the build
# works offline and gives the same bytes on every machine with that rustc
# (paths are remapped, codegen is single-unit, symbols are stripped).
# The module uses WebAssembly SIMD (simd128: BLAKE3, wasm/src/blake3.rs),
# which V8 runs since 9.1 (Deno 1.9).
#
# Usage: sh wasm/build.sh [OUTPUT]   (default: wasm/qudag_core.wasm)
# Environment: QUDAG_WASM_RUSTC overrides the compiler (default /usr/bin/rustc).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-"$here/qudag_core.wasm"}
rustc=${QUDAG_WASM_RUSTC:-/usr/bin/rustc}
# The committed artifact was built with this exact compiler; another version
# builds a valid module with different bytes.
expected_version="rustc 1.63.0"

if [ ! -x "$rustc" ]; then
  echo "build.sh: $rustc not found. Install it with:" >&2
  echo "  apt-get update && apt-get install -y rustc libstd-rust-dev-wasm32" >&2
  echo "(the committed wasm/qudag_core.wasm works without it)" >&2
  exit 1
fi
version=$("$rustc" --version)
case "$version" in
  "$expected_version"*) ;;
  *) echo "build.sh: warning: $version is not $expected_version; the output will not match the committed bytes" >&2 ;;
esac
sysroot=$("$rustc" --print sysroot)
if [ ! -d "$sysroot/lib/rustlib/wasm32-unknown-unknown" ]; then
  echo "build.sh: $rustc has no wasm32-unknown-unknown std; apt-get install -y libstd-rust-dev-wasm32" >&2
  exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
RUST_BACKTRACE=0 SOURCE_DATE_EPOCH=0 "$rustc" \
  --edition 2021 \
  --crate-name qudag_core \
  --crate-type cdylib \
  --target wasm32-unknown-unknown \
  -C opt-level=3 \
  -C target-feature=+simd128 \
  -C lto=fat \
  -C codegen-units=1 \
  -C panic=abort \
  -C strip=symbols \
  -C debuginfo=0 \
  --remap-path-prefix "$here=wasm" \
  --remap-path-prefix "$sysroot=/rustc-sysroot" \
  -o "$tmp/qudag_core.wasm" \
  "$here/src/lib.rs"
mv "$tmp/qudag_core.wasm" "$out"
echo "build.sh: wrote $out ($(wc -c < "$out") bytes, $version)"
