#!/bin/sh
# Proves the committed wasm/qudag_core.wasm is exactly what wasm/src builds
# to: copies the sources to a fresh directory (a different path, so no
# absolute path can leak into the output), rebuilds with wasm/build.sh and
# compares the bytes. CI runs it after:
#   apt-get update && apt-get install -y rustc libstd-rust-dev-wasm32
# Exit 0 = identical; 1 = differs or cannot build.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
committed="$here/qudag_core.wasm"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT INT TERM

if [ ! -f "$committed" ]; then
  echo "check_reproducible: $committed is missing" >&2
  exit 1
fi
mkdir -p "$work/copy/wasm"
cp -R "$here/src" "$here/build.sh" "$work/copy/wasm/"
sh "$work/copy/wasm/build.sh" "$work/rebuilt.wasm"

if cmp -s "$committed" "$work/rebuilt.wasm"; then
  sum=$(sha256sum "$committed" | cut -d' ' -f1)
  echo "check_reproducible: OK, rebuilt bytes match the committed wasm/qudag_core.wasm (sha256 $sum)"
else
  echo "check_reproducible: FAILED, wasm/qudag_core.wasm differs from a rebuild of wasm/src" >&2
  echo "  committed: $(sha256sum "$committed" | cut -d' ' -f1) $(wc -c < "$committed") bytes" >&2
  echo "  rebuilt:   $(sha256sum "$work/rebuilt.wasm" | cut -d' ' -f1) $(wc -c < "$work/rebuilt.wasm") bytes" >&2
  echo "  run \`deno task build:wasm\` and commit the result (rustc must be Debian's 1.63.0)" >&2
  exit 1
fi
