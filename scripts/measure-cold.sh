#!/usr/bin/env bash
# measure-cold.sh quickstart|test — times the README's two commands from a fresh clone of
# this repository's HEAD with empty build/model/venv/npm caches, as a new machine runs them.
#
#   quickstart  `cargo run -p cyberhub-server -- serve --pull-model` in the fresh clone
#               (its own ./target, an empty model dir); prints the seconds until
#               GET /health answers, then stops the server.
#   test        `bash scripts/test.sh` in the fresh clone with CYBERHUB_CACHE pointing at an
#               empty directory (no target dir, model, venvs or npm cache), the pgvector and
#               Qdrant test servers stopped and their venvs and data removed, and
#               wasm-bindgen-cli removed from ~/.cargo/bin so that it is rebuilt.
# What stays warm either way (say so when quoting a number): cargo's registry downloads
# (~/.cargo/registry), pip's download cache, Debian packages already installed
# (chromium, the wasm toolchain), the machine's own PostgreSQL on 5432.
# Work dir: $COLD_DIR (default /tmp/cyberhub-cold, wiped first). Output: the timing line
# on stdout; the full log in $COLD_DIR/log.
set -euo pipefail
cd "$(dirname "$0")/.."
WHAT=${1:-}
COLD_DIR=${COLD_DIR:-/tmp/cyberhub-cold}
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
rm -rf "$COLD_DIR" && mkdir -p "$COLD_DIR"
git clone -q . "$COLD_DIR/clone"
LOG="$COLD_DIR/log"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores, AVX-512: $(grep -qm1 avx512f /proc/cpuinfo && echo yes || echo no)"

case "$WHAT" in
  quickstart)
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    T0=$(date +%s)
    (cd "$COLD_DIR/clone" && env -u CARGO_TARGET_DIR CYBERHUB_PORT="$PORT" \
      CYBERHUB_MODEL_DIR="$COLD_DIR/model" CYBERHUB_DATABASE_URL="sqlite://$COLD_DIR/cyberhub.db" \
      CYBERHUB_VECTOR_URL="embedded://$COLD_DIR/vectors" \
      cargo run -p cyberhub-server -- serve --pull-model) > "$LOG" 2>&1 &
    PID=$!
    trap 'kill $PID 2>/dev/null; pkill -f "$COLD_DIR/clone/target/debug/cyberhub-server" 2>/dev/null || true' EXIT
    until curl -sf "http://127.0.0.1:$PORT/health" >/dev/null; do
      kill -0 $PID 2>/dev/null || { tail -40 "$LOG"; echo "the server exited" >&2; exit 1; }
      sleep 1
    done
    echo "quickstart: first request (GET /health) served $(( $(date +%s) - T0 ))s after the command started ($(date -u +%F), $cpu)"
    ;;
  test)
    bash scripts/stop-pgvector.sh --purge >/dev/null 2>&1 || true
    bash scripts/stop-qdrant-shim.sh >/dev/null 2>&1 || true
    rm -rf "${PGVECTOR_DIR:-/tmp/cyberhub-pgvector}" "${QDRANT_SHIM_DIR:-/tmp/cyberhub-qdrant}"
    rm -f "${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen" "${CARGO_HOME:-$HOME/.cargo}/bin/wasm-bindgen-test-runner"
    T0=$(date +%s)
    (cd "$COLD_DIR/clone" && env -u CARGO_TARGET_DIR -u CYBERHUB_MODEL_DIR \
      CYBERHUB_CACHE="$COLD_DIR/cache" bash scripts/test.sh) > "$LOG" 2>&1 \
      || { tail -60 "$LOG"; echo "scripts/test.sh failed after $(( $(date +%s) - T0 ))s" >&2; exit 1; }
    grep -E '^\[test(-sdk)?\.sh \+' "$LOG"
    echo "cold scripts/test.sh: $(( $(date +%s) - T0 ))s ($(date -u +%F), $cpu)"
    ;;
  *) echo "usage: $0 quickstart|test" >&2; exit 2 ;;
esac
