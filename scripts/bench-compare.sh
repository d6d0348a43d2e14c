#!/usr/bin/env bash
# bench-compare.sh [--publish] [SECTION...] — issue 16's comparison table in one command:
# each of our parts against its reference, back to back, on the same data, in one run
# (benches/compare; sections: embed, vector, http; default all).
#
# Sets up what the harness needs, as test.sh does (each step idempotent, cached under
# $CYBERHUB_CACHE, default ~/.cache/cyberhub):
#   - PostgreSQL on 127.0.0.1:5432 and PostgreSQL 18 + pgvector on 127.0.0.1:5433
#   - the model files, ONNX Runtime and the fp32 ONNX graph (fetch-model.sh, build-fp32-onnx.sh)
#   - a Python venv with onnxruntime, tokenizers and numpy (bench-venv.sh): the reference
#   - Debian's English package descriptions (apt's Translation-en indexes, fetched from the
#     Debian archive into $CYBERHUB_CACHE/bench/apt-lists; the corpus and its embeddings are
#     cached there too, so only the first run embeds it)
#   - DejaVu Sans for the PNG's text (fonts-dejavu-core)
# then builds the harness in the release profile (its own target dir, $CYBERHUB_CACHE/target-bench,
# so CI's dev build is not disturbed) and runs it. The table is printed and written to
# $CARGO_TARGET_DIR/compare/compare.md with the PNG beside it; --publish also copies both
# into docs/bench/ (what the README shows).
#
# The first full run builds the release profile (16 min measured on 2 shared cores) and
# embeds the corpus (24 min, likewise); both are cached for later runs. CI runs the same harness in smoke mode (tiny sizes) through
# `cargo test --workspace --benches` in scripts/test.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PUBLISH=0
if [ "${1:-}" = --publish ]; then PUBLISH=1; shift; fi
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CACHE_DIR="${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}"
unset CYBERHUB_CACHE
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target-bench}"
export CYBERHUB_MODEL_DIR="${CYBERHUB_MODEL_DIR:-$CACHE_DIR/models/all-MiniLM-L6-v2}"
export CYBERHUB_BENCH_CACHE="${CYBERHUB_BENCH_CACHE:-$CACHE_DIR/bench}"
export PGVECTOR_DIR="${PGVECTOR_DIR:-/tmp/cyberhub-pgvector}"
mkdir -p "$CYBERHUB_BENCH_CACHE"
say() { printf '[bench-compare] %s\n' "$*" >&2; }

say "services"
export DATABASE_URL="${DATABASE_URL:-$(bash scripts/start-postgres.sh)}"
export PGVECTOR_DATABASE_URL="${PGVECTOR_DATABASE_URL:-$(bash scripts/start-pgvector.sh)}"
say "model files, ONNX Runtime, fp32 ONNX graph"
bash scripts/fetch-model.sh "$CYBERHUB_MODEL_DIR" --onnxruntime >&2
VENV="$CACHE_DIR/venvs/onnx-build" bash scripts/build-fp32-onnx.sh "$CYBERHUB_MODEL_DIR" >&2
say "the Python reference (onnxruntime)"
CYBERHUB_BENCH_PYTHON="$(CYBERHUB_CACHE="$CACHE_DIR" bash scripts/bench-venv.sh)"
export CYBERHUB_BENCH_PYTHON

LISTS="$CYBERHUB_BENCH_CACHE/apt-lists"
if ! ls "$LISTS"/*_i18n_Translation-en* >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    say "Debian's Translation-en indexes into $LISTS"
    mkdir -p "$LISTS/partial"
    # The image turns translations off (Acquire::Languages "none"); a separate lists dir
    # leaves the system's apt state alone.
    apt-get -qq -o Dir::State::Lists="$LISTS" -o Acquire::Languages=en -o APT::Sandbox::User=root update >&2 \
      || say "could not fetch them: the corpus falls back to apt-cache dumpavail (short descriptions only)"
  else
    say "not root: no Translation-en fetch; the corpus falls back to apt-cache dumpavail"
  fi
fi
if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
  say "installing fonts-dejavu-core (the PNG's text)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >&2 \
    || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core >&2; }
fi

say "building the harness (release profile, $CARGO_TARGET_DIR)"
cargo bench --locked --bench compare --no-run >&2
say "running: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
cargo bench --locked --bench compare -- "$@"
OUT="$CARGO_TARGET_DIR/compare"
if [ "$PUBLISH" = 1 ]; then
  mkdir -p docs/bench
  cp "$OUT/compare.md" docs/bench/compare.md
  [ -f "$OUT/vector-recall-qps.png" ] && cp "$OUT/vector-recall-qps.png" docs/bench/vector-recall-qps.png
  say "copied the table and the PNG into docs/bench/"
fi
