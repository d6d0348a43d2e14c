#!/usr/bin/env bash
# bench-venv.sh [VENV_DIR]
#
# The Python the comparison harness (benches/compare, section `embed`) measures against:
# a venv with pinned onnxruntime, tokenizers and numpy. Idempotent: a venv that already
# has these versions is left as it is. Prints the interpreter's path on stdout (the value
# for CYBERHUB_BENCH_PYTHON); pip's output goes to stderr.
#
# Default VENV_DIR: ${CYBERHUB_CACHE:-~/.cache/cyberhub}/venvs/bench.
set -euo pipefail
[ $# -le 1 ] || { echo "usage: $0 [VENV_DIR]" >&2; exit 2; }
CACHE=${CYBERHUB_CACHE:-$HOME/.cache/cyberhub}
VENV=${1:-$CACHE/venvs/bench}
PINS=(onnxruntime==1.32.0 tokenizers==0.23.2 numpy==2.4.6)

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV" >&2
want=$(printf '%s\n' "${PINS[@]}" | sort)
have=$("$VENV/bin/python" -m pip freeze --disable-pip-version-check 2>/dev/null \
  | grep -iE '^(onnxruntime|tokenizers|numpy)==' | sort || true)
if [ "$(echo "$have" | tr 'A-Z' 'a-z')" != "$(echo "$want" | tr 'A-Z' 'a-z')" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${PINS[@]}" >&2
fi
"$VENV/bin/python" -c 'import onnxruntime, tokenizers, numpy' >&2
echo "$VENV/bin/python"
