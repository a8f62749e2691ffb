#!/bin/sh
# Builds the native crypto library when a Rust toolchain is present; without
# one the node runs on WebCrypto (and noble) and says so in /api/v1/status.
set -u
if [ ! -f native/Cargo.toml ]; then exit 0; fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "note: no cargo on PATH; skipping the native crypto library (WebCrypto backend will be used)" >&2
  exit 0
fi
cd native && RUST_BACKTRACE=0 cargo build --release --quiet || {
  echo "warning: native crypto library failed to build; falling back to WebCrypto" >&2
  exit 0
}
