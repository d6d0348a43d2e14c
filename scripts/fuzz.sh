#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — builds the cargo-fuzz targets (libFuzzer, AddressSanitizer,
# nightly toolchain) and runs each for SECONDS (default 60). The seeds in fuzz/corpus/<target>
# are read, never written: what a run finds goes to a scratch corpus. A crash stops the run
# with exit 1 and leaves the input in fuzz/artifacts/<target>/ (turn it into a regression test).
#
# cargo-fuzz is installed into CYBERHUB_CACHE/tools (default ~/.cache/cyberhub/tools) if it is
# missing; the fuzz build has its own target dir (CYBERHUB_CACHE/fuzz-target).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-60}"
CACHE_DIR="${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}"
TOOLS="$CACHE_DIR/tools"
CARGO_FUZZ_VERSION=0.13.2
export PATH="$TOOLS/bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
# The main build's settings are not the fuzz build's.
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS RUSTFLAGS
export CARGO_TARGET_DIR="$CACHE_DIR/fuzz-target"

if ! rustup run nightly rustc -V > /dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is missing (rustup toolchain list); libFuzzer's sanitizer flags need it" >&2
  exit 1
fi
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --root "$TOOLS"
fi

cd fuzz
cargo +nightly fuzz build -O
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
for target in $(cargo +nightly fuzz list); do
  mkdir -p "$SCRATCH/$target" "corpus/$target"
  echo "fuzz.sh: $target for ${SECONDS_PER_TARGET}s"
  # -rss_limit_mb: each input must stay far below the server's memory; -max_len: 64 KiB inputs.
  if ! cargo +nightly fuzz run -O "$target" "$SCRATCH/$target" "corpus/$target" -- \
      -max_total_time="$SECONDS_PER_TARGET" -max_len=65536 -rss_limit_mb=2048 \
      -print_final_stats=1 > "$SCRATCH/$target.log" 2>&1; then
    tail -60 "$SCRATCH/$target.log"
    echo "fuzz.sh: $target found a crash; the input is in fuzz/artifacts/$target/" >&2
    exit 1
  fi
  grep -E "^stat::(number_of_executed_units|peak_rss_mb)|^Done" "$SCRATCH/$target.log" | tr '\n' ' '
  echo
done
