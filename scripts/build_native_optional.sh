#!/bin/sh
# Builds the native crypto library when a Rust toolchain is present; without
# one the node runs on WebCrypto (and noble) and says so in /api/v1/status.
set -u
if [ ! -f native/Cargo.toml ]; then exit 0; fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "note: no cargo on PATH; skipping the native crypto library (WebCrypto backend will be used)" >&2
  exit 0
fi
if [ ! -f native/target/release/libqudag_native.so ]; then
  # cargo --quiet prints nothing for minutes: say what is happening.
  echo "building the native crypto library (native/, Rust release build of libcrux ML-DSA/ML-KEM and BLAKE3)" >&2
  echo "for the first time: about 4 minutes on 2 cores (two builds on x86_64); later starts take seconds" >&2
  started=$(date +%s)
fi
sh scripts/build_native.sh --quiet || {
  echo "warning: native crypto library failed to build; falling back to WebCrypto" >&2
  exit 0
}
if [ -n "${started:-}" ]; then
  echo "native crypto library built in $(($(date +%s) - started)) s" >&2
fi
