#!/usr/bin/env bash
# scripts/multi-instance.sh — several real cyberhub-server processes behind a real HAProxy,
# on one PostgreSQL database, one pgvector collection and one Redis: the multi-instance
# suite and the fault tests of tests/multi_instance.rs (issue 15). scripts/test.sh runs it
# after the other tests; it can be run alone after a build.
#
# The cases start their own processes, one case at a time: three instances
# (`cyberhub-server serve`, the binary of the build, configured by CYBERHUB_* variables) on
# free 127.0.0.1 ports, each cluster on a fresh database of DATABASE_URL's server, one
# pgvector collection and this run's Redis database, behind HAProxy (configuration written
# by the test: `GET /ready` health checks, retries with redispatch, X-Forwarded-For, the
# instances trusting 127.0.0.1 as their proxy). The outage cases run a private PostgreSQL
# (Debian's binaries) and a private pgvector (the build scripts/start-pgvector.sh installs)
# on free ports, so the shared servers are never stopped.
#
# This script: installs HAProxy if missing (Debian package), starts or finds PostgreSQL,
# pgvector and Redis (the start-*.sh scripts) unless their URLs are given, empties this
# run's Redis database, runs the cases with a time limit, and on exit (also on failure or
# Ctrl-C) stops whatever they left running.
#
# Usage: bash scripts/multi-instance.sh [--no-shared-state] [TEST-FILTER...]
#   --no-shared-state  run the instances without Redis (CYBERHUB_REDIS_URL unset): shows
#                      which guarantees fail without shared state (expected to fail).
# Environment: CYBERHUB_SERVER_BIN (default $CARGO_TARGET_DIR/debug/cyberhub-server),
#   DATABASE_URL, PGVECTOR_DATABASE_URL, REDIS_URL, CYBERHUB_MODEL_DIR (as scripts/test.sh
#   exports them), CYBERHUB_MI_REDIS_DB (Redis database number of this run, default 8 to 15),
#   CYBERHUB_MI_TIMEOUT (seconds for the whole suite, default 420), CYBERHUB_MI_LOG (the
#   instances' log filter, default warn), CYBERHUB_MI_KEEP=1 (keep logs and data).
set -euo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
say() { printf '[multi-instance +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }

SHARED=1
THROUGHPUT=0
FILTERS=()
for a in "$@"; do
  case "$a" in
    --no-shared-state) SHARED=0 ;;
    --throughput) THROUGHPUT=1 ;;  # scripts/scale-throughput.sh
    *) FILTERS+=("$a") ;;
  esac
done

CACHE_DIR="${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}"
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$CACHE_DIR/target}"
export CYBERHUB_SERVER_BIN="${CYBERHUB_SERVER_BIN:-$CARGO_TARGET_DIR/debug/cyberhub-server}"
export CYBERHUB_MODEL_DIR="${CYBERHUB_MODEL_DIR:-$CACHE_DIR/models/all-MiniLM-L6-v2}"
[ -x "$CYBERHUB_SERVER_BIN" ] || { echo "no server binary at $CYBERHUB_SERVER_BIN: build first (cargo test --workspace --no-run)" >&2; exit 1; }

# ---- HAProxy (Debian's), and PostgreSQL's server binaries for the private server -------
need=()
command -v haproxy >/dev/null || need+=(haproxy)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v psql >/dev/null || need+=(postgresql-client)
command -v redis-cli >/dev/null || need+=(redis-tools)
if [ "${#need[@]}" -gt 0 ]; then
  say "installing ${need[*]} (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  # policy-rc.d exit 101: packages must not start their services (we start our own).
  REMOVE_POLICY=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee /usr/sbin/policy-rc.d >/dev/null
    as_root chmod +x /usr/sbin/policy-rc.d; REMOVE_POLICY=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >&2
  [ "$REMOVE_POLICY" = 1 ] && as_root rm -f /usr/sbin/policy-rc.d
fi
say "$(haproxy -v | head -1)"
PG_VER=$(ls /usr/lib/postgresql | sort -n | tail -1)
export CYBERHUB_MI_PG_BIN="/usr/lib/postgresql/$PG_VER/bin"
export CYBERHUB_MI_PG_USER="${CYBERHUB_MI_PG_USER:-postgres}"
if [ "$(id -u)" = 0 ] && ! id -u "$CYBERHUB_MI_PG_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$CYBERHUB_MI_PG_USER"
fi

# ---- the shared services ------------------------------------------------------------------
[ -n "${DATABASE_URL:-}" ] || DATABASE_URL="$(bash scripts/start-postgres.sh)"
[ -n "${PGVECTOR_DATABASE_URL:-}" ] || PGVECTOR_DATABASE_URL="$(bash scripts/start-pgvector.sh)"
[ -n "${REDIS_URL:-}" ] || REDIS_URL="$(bash scripts/start-redis.sh)"
export DATABASE_URL PGVECTOR_DATABASE_URL
PGVECTOR_DIR="${PGVECTOR_DIR:-/tmp/cyberhub-pgvector}"
[ -f "$PGVECTOR_DIR/.bin" ] || bash scripts/start-pgvector.sh >/dev/null
export CYBERHUB_MI_PGVECTOR_BIN="$(cat "$PGVECTOR_DIR/.bin")"
export CYBERHUB_MI_PGVECTOR_USER="${PGVECTOR_OS_USER:-cyberhub-pg}"
if [ "$(id -u)" = 0 ] && ! id -u "$CYBERHUB_MI_PGVECTOR_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$CYBERHUB_MI_PGVECTOR_USER"
fi
# This run's own Redis database (the server's key prefix is fixed), one of 8..15 so that two
# runs on one Redis rarely share one: emptied first.
REDIS_DB="${CYBERHUB_MI_REDIS_DB:-$(( 8 + $$ % 8 ))}"
REDIS_BASE="${REDIS_URL%/}"
[[ "$REDIS_BASE" =~ ^(redis://[^/]+)(/[0-9]+)?$ ]] && REDIS_BASE="${BASH_REMATCH[1]}"
redis-cli -u "$REDIS_BASE/$REDIS_DB" FLUSHDB >/dev/null
if [ "$SHARED" = 1 ]; then
  export CYBERHUB_MI_REDIS_URL="$REDIS_BASE/$REDIS_DB"
else
  export CYBERHUB_MI_REDIS_URL=off
  say "shared state OFF: the instances run without Redis (some guarantees are expected to fail)"
fi

# ---- run, and clean up whatever is left ----------------------------------------------------
export CYBERHUB_MI_RUN_DIR
CYBERHUB_MI_RUN_DIR="$(mktemp -d /tmp/cyberhub-mi.XXXXXX)"
chmod 755 "$CYBERHUB_MI_RUN_DIR"
cleanup() {
  # Processes a killed test left behind: its instances and balancers (pid files), then
  # its private database servers.
  for f in "$CYBERHUB_MI_RUN_DIR"/pids/*.pid; do
    [ -f "$f" ] || continue
    pid=$(cat "$f")
    if grep -qaE 'cyberhub-server|haproxy' "/proc/$pid/cmdline" 2>/dev/null; then
      kill -9 "$pid" 2>/dev/null || true
    fi
  done
  while IFS= read -r ctl; do
    read -r bin user < "$ctl" || continue
    data="$(dirname "$ctl")/data"
    [ -f "$data/postmaster.pid" ] || continue
    if [ "$user" = - ]; then "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1 || true
    else (cd / && runuser -u "$user" -- "$bin/pg_ctl" -D "$data" -m immediate stop >/dev/null 2>&1) || true; fi
  done < <(find "$CYBERHUB_MI_RUN_DIR" -name pg.ctl 2>/dev/null)
  if [ -n "${CYBERHUB_MI_KEEP:-}" ]; then echo "kept: $CYBERHUB_MI_RUN_DIR" >&2; else rm -rf "$CYBERHUB_MI_RUN_DIR"; fi
}
trap cleanup EXIT

say "cases of tests/multi_instance.rs (server: $CYBERHUB_SERVER_BIN; redis: $CYBERHUB_MI_REDIS_URL; logs: $CYBERHUB_MI_RUN_DIR)"
# The test binary of the build: the newest one in the target directory (running it
# directly builds nothing; scripts/test.sh has just built it).
TEST_BIN="${CYBERHUB_MI_TEST_BIN:-$(find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -executable -name 'multi_instance-*' -printf '%T@ %p\n' 2>/dev/null | sort -n | tail -1 | cut -d' ' -f2-)}"
[ -x "$TEST_BIN" ] || { echo "tests/multi_instance.rs is not built: cargo test --workspace --no-run" >&2; exit 1; }
# One case at a time: each starts several processes on a machine that may have two cores.
# The throughput measurement is not part of the suite (scripts/scale-throughput.sh).
if [ "$THROUGHPUT" = 1 ]; then
  CASES=(throughput_by_instance_count --exact --nocapture)
else
  CASES=(--skip throughput_by_instance_count ${FILTERS[@]+"${FILTERS[@]}"})
fi
status=0
timeout --kill-after=10 "${CYBERHUB_MI_TIMEOUT:-420}" \
  "$TEST_BIN" --ignored --test-threads=1 "${CASES[@]}" || status=$?
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
  echo "the multi-instance suite ran past ${CYBERHUB_MI_TIMEOUT:-420}s and was stopped" >&2
fi
say "done (exit $status)"
exit "$status"
