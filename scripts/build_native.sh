#!/bin/sh
# Builds the native crypto library (native/, Rust, release) in native/target/release:
# - libqudag_native.so, for x86-64-v3 (AVX2, BMI2, FMA: native/.cargo/config.toml), which every node can load;
# - on x86_64 also libqudag_native.x86-64-v4.so beside it, the same code for AVX-512 (x86-64-v4). The node opens
#   it instead where the CPU runs it and --allow-ffi names it (src/crypto/ffi.ts, openFastestNative): ML-DSA-87
#   verify is about a fifth faster there (native/README.md). A failure to build it only warns.
# Arguments go to both `cargo build` calls (--quiet, --locked).
set -eu
cd "$(dirname "$0")/../native"
RUST_BACKTRACE=0 cargo build --release "$@"
case "$(uname -m)" in
  x86_64 | amd64) ;;
  *) exit 0 ;;
esac
case "$(uname -s)" in
  Darwin) lib=libqudag_native.dylib fast=libqudag_native.x86-64-v4.dylib ;;
  *) lib=libqudag_native.so fast=libqudag_native.x86-64-v4.so ;;
esac
# Its own target directory: RUSTFLAGS replaces the config file's flags, and the v3 build's artifacts stay as they are.
if RUST_BACKTRACE=0 RUSTFLAGS="-C target-cpu=x86-64-v4" cargo build --release --target-dir target/x86-64-v4 "$@"; then
  cp "target/x86-64-v4/release/$lib" "target/release/$fast.tmp"
  mv "target/release/$fast.tmp" "target/release/$fast"
else
  rm -f "target/release/$fast"
  echo "warning: the AVX-512 (x86-64-v4) build of the native crypto library failed; the x86-64-v3 one is used" >&2
fi
