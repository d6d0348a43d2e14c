#!/usr/bin/env bash
# Builds the browser SDK (cyberhub-wasm) into two npm packages:
#   target/pkg/web   `--target web`    (ES module; `await init()` then `new CyberHub(url)`)
#   target/pkg/node  `--target nodejs` (CommonJS for Node.js >= 18)
# each with package.json, the .wasm, the JS glue and the TypeScript definitions, and prints
# their sizes (the .wasm raw and gzip -9). The dashboard served by cyberhub-server at `/`
# loads target/pkg/web.
#
# Usage: bash scripts/build-sdk.sh [OUT_DIR]   (default target/pkg)
# Installs the wasm32 toolchain first (scripts/install-wasm-toolchain.sh; idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
CACHE_DIR="${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}"
OUT="${1:-target/pkg}"

if [ "${CYBERHUB_SKIP_WASM_INSTALL:-0}" != 1 ]; then
  bash scripts/install-wasm-toolchain.sh --no-clippy --no-browser
fi
export CARGO_WASM_TARGET_DIR="${CARGO_WASM_TARGET_DIR:-$CACHE_DIR/target-wasm}"
cargo-wasm rustc --locked --profile wasm-release -p cyberhub-wasm --lib --crate-type cdylib
WASM="$CARGO_WASM_TARGET_DIR/wasm32-unknown-unknown/wasm-release/cyberhub_wasm.wasm"

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n1)
LICENSE=$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -n1)
pkg_json() { # name, module type, description
  cat <<JSON
{
  "name": "$1",
  "version": "$VERSION",
  "description": "$3",
  "license": "$LICENSE",
  "type": "$2",
  "main": "cyberhub_wasm.js",
  "types": "cyberhub_wasm.d.ts",
  "files": ["cyberhub_wasm.js", "cyberhub_wasm.d.ts", "cyberhub_wasm_bg.wasm", "cyberhub_wasm_bg.wasm.d.ts"],
  "sideEffects": false,
  "engines": { "node": ">=18" }
}
JSON
}

build() { # wasm-bindgen target, dir, package name, module type, description
  rm -rf "${OUT:?}/$2"
  mkdir -p "$OUT/$2"
  wasm-bindgen --target "$1" --out-dir "$OUT/$2" --remove-name-section --remove-producers-section "$WASM"
  pkg_json "$3" "$4" "$5" > "$OUT/$2/package.json"
}
build web web "@cyberhub/sdk" module "CyberHub API client for browsers (WebAssembly; TypeScript definitions included)"
build nodejs node "@cyberhub/sdk-node" commonjs "CyberHub API client for Node.js (WebAssembly; TypeScript definitions included)"

raw=$(stat -c %s "$OUT/web/cyberhub_wasm_bg.wasm")
gz=$(gzip -9 -c "$OUT/web/cyberhub_wasm_bg.wasm" | wc -c)
js=$(gzip -9 -c "$OUT/web/cyberhub_wasm.js" | wc -c)
echo "SDK packages in $OUT/{web,node}: cyberhub_wasm_bg.wasm $raw bytes ($gz gzipped), JS glue $js bytes gzipped"
