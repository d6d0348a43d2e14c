#!/usr/bin/env bash
# scripts/scale-throughput.sh — throughput of GET /progress and POST /recommendations
# through HAProxy over 1, 2 and 3 cyberhub-server instances (one PostgreSQL database, one
# pgvector collection, one Redis), with the CPU each process used: prints a Markdown table.
# A measurement, not a test (not run by CI). Needs the build of scripts/test.sh (or
# `cargo test --workspace --no-run`) and the services scripts/multi-instance.sh uses.
#
# Environment: CYBERHUB_MI_SECONDS (per run, default 10), CYBERHUB_MI_CONCURRENCY (clients,
# default 16), and those of scripts/multi-instance.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
export CYBERHUB_MI_TIMEOUT="${CYBERHUB_MI_TIMEOUT:-900}"
exec bash scripts/multi-instance.sh --throughput "$@"
