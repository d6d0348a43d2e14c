#!/usr/bin/env bash
# start-redis.sh - Redis for tests on 127.0.0.1:$REDIS_PORT (default 6379).
#
# A Redis that already answers there is used as it is (these machines start one). Otherwise
# Debian's redis-server is installed if missing (apt-get) and started as a daemon on the
# loopback address only, without persistence (test data). Idempotent.
#
# stdout: exactly one line, the URL; progress goes to stderr:
#   export REDIS_URL="$(bash scripts/start-redis.sh)"
set -euo pipefail
REDIS_PORT=${REDIS_PORT:-6379}
URL="redis://127.0.0.1:${REDIS_PORT}"
say() { echo "[start-redis] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo -n "$@"; fi; }
ping() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; }

if command -v redis-cli >/dev/null && ping; then
  say "Redis answers on 127.0.0.1:$REDIS_PORT"
  echo "$URL"; exit 0
fi
if ! command -v redis-server >/dev/null; then
  say "installing redis-server (apt)"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >&2
fi
DIR=${REDIS_DIR:-/tmp/cyberhub-redis}
mkdir -p "$DIR"
say "starting redis-server on 127.0.0.1:$REDIS_PORT (data in $DIR, no persistence)"
redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --daemonize yes --dir "$DIR" \
  --save '' --appendonly no --logfile "$DIR/redis.log" >&2
for _ in $(seq 1 50); do
  if ping; then echo "$URL"; exit 0; fi
  sleep 0.1
done
tail -20 "$DIR/redis.log" >&2 || true
echo "[start-redis] ERROR: redis-server did not answer on 127.0.0.1:$REDIS_PORT" >&2
exit 1
