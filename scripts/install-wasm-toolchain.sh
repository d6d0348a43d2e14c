#!/usr/bin/env bash
# install-wasm-toolchain.sh -- wasm32-unknown-unknown toolchain for the cyberhub-wasm crate,
# built only from the package registries this machine reaches (Debian packages and the
# Rust crate registry; no rustup downloads, no prebuilt binaries from elsewhere).
#
# What it sets up (idempotent; run as root, non-interactive; safe to run on every CI run):
#   1. Debian's "rustc-web" Rust 1.96 toolchain next to (not instead of) rustup's:
#      rustc-web, cargo-web (-> /usr/bin/rustc, /usr/bin/cargo), rust-web-src (std sources
#      for -Zbuild-std), rust-web-llvm + lld-22 (-> /usr/bin/rust-lld, the wasm linker) and
#      rust-web-clippy (optional). rustup's ~/.cargo/bin stays first on PATH, so plain
#      `cargo` / `rustc` remain the rustup stable toolchain.
#   2. wasm-bindgen-cli (wasm-bindgen, wasm-bindgen-test-runner) via `cargo install` from the
#      crate registry, built with the rustup default toolchain, at exactly the wasm-bindgen
#      version found in the workspace's Cargo.lock.
#   3. Debian's chromium + chromium-driver for headless browser tests (optional).
#   4. /usr/local/bin/cargo-wasm: wrapper running Debian's cargo with RUSTC_BOOTSTRAP=1 and
#      -Zbuild-std for wasm32-unknown-unknown (`cargo-wasm build ...` or `cargo wasm ...`),
#      and /usr/local/share/wasm-toolchain/webdriver.json (headless Chromium options).
#
# Usage: bash install-wasm-toolchain.sh [--lockfile PATH] [--wasm-bindgen-version X.Y.Z]
#                                       [--no-browser] [--no-clippy] [--no-bindgen] [--verify]
# (adapted for CyberHub from the team's tested recipe: --no-bindgen skips wasm-bindgen-cli when
#  only a wasm32 compile check is needed)
# Env:   WASM_BINDGEN_VERSION, WASM_WITH_BROWSER=0|1, WASM_WITH_CLIPPY=0|1, WASM_VERIFY=0|1
# wasm-bindgen-cli version: --wasm-bindgen-version / WASM_BINDGEN_VERSION, else the single
# wasm-bindgen version in --lockfile (default ./Cargo.lock), else the fallback below.
# --verify builds and tests a tiny wasm-bindgen crate (Node + Chromium) afterwards.
# Time on a fresh 2-core machine: ~40 s apt + 3-7 min building wasm-bindgen-cli; re-runs ~1 s.
set -euo pipefail

FALLBACK_WASM_BINDGEN_VERSION=0.2.130
WITH_BROWSER="${WASM_WITH_BROWSER:-1}"
WITH_CLIPPY="${WASM_WITH_CLIPPY:-1}"
VERIFY="${WASM_VERIFY:-0}"
WITH_BINDGEN="${WASM_WITH_BINDGEN:-1}"
WB_VERSION="${WASM_BINDGEN_VERSION:-}"
LOCKFILE=""

T0=$(date +%s)
log()  { printf '[wasm-toolchain +%ss] %s\n' "$(( $(date +%s) - T0 ))" "$*"; }
die()  { printf '[wasm-toolchain] ERROR: %s\n' "$*" >&2; exit 1; }
run()  { log "+ $*"; "$@"; }

while [ $# -gt 0 ]; do
  case "$1" in
    --lockfile) LOCKFILE="$2"; shift 2 ;;
    --wasm-bindgen-version) WB_VERSION="$2"; shift 2 ;;
    --no-browser) WITH_BROWSER=0; shift ;;
    --no-clippy) WITH_CLIPPY=0; shift ;;
    --verify) VERIFY=1; shift ;;
    --no-bindgen) WITH_BINDGEN=0; shift ;;
    -h|--help) sed -n '2,26p' "$0"; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done

[ "$(id -u)" = 0 ] || die "run as root (apt-get install is needed)"
export DEBIAN_FRONTEND=noninteractive

# rustup's cargo must be reachable (CI shells may not source ~/.cargo/env).
CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
case ":$PATH:" in *":$CARGO_HOME/bin:"*) ;; *) export PATH="$CARGO_HOME/bin:$PATH" ;; esac
command -v cargo >/dev/null || die "rustup's cargo not found (expected in $CARGO_HOME/bin)"

# ---------------------------------------------------------------- 1. Debian packages
APT_PKGS=(rustc-web cargo-web rust-web-src rust-web-llvm lld-22)
[ "$WITH_CLIPPY" = 1 ] && APT_PKGS+=(rust-web-clippy)
[ "$WITH_BROWSER" = 1 ] && APT_PKGS+=(chromium chromium-driver)

missing=()
for p in "${APT_PKGS[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  log "Debian packages already installed: ${APT_PKGS[*]}"
else
  log "installing Debian packages: ${missing[*]}"
  ok=0
  for i in 1 2 3; do
    if run apt-get -o DPkg::Lock::Timeout=300 update -q; then ok=1; break; fi
    log "apt-get update failed (try $i), retrying in 10s"; sleep 10
  done
  [ $ok = 1 ] || die "apt-get update failed"
  ok=0
  for i in 1 2 3; do
    if run apt-get -o DPkg::Lock::Timeout=300 install -y -q --no-install-recommends "${missing[@]}"; then ok=1; break; fi
    log "apt-get install failed (try $i), retrying in 10s"; sleep 10
  done
  [ $ok = 1 ] || die "apt-get install ${missing[*]} failed"
fi

# Sanity checks on the Debian toolchain.
[ -x /usr/bin/rustc ] && [ -x /usr/bin/cargo ] || die "/usr/bin/rustc or /usr/bin/cargo missing"
targets="$(/usr/bin/rustc --print target-list)"
grep -qx wasm32-unknown-unknown <<<"$targets" || die "Debian rustc does not know wasm32-unknown-unknown"
SRC_LIB="$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library"
[ -f "$SRC_LIB/Cargo.lock" ] || die "std sources for -Zbuild-std missing at $SRC_LIB (rust-web-src)"
/usr/bin/rust-lld -flavor wasm --version >/dev/null 2>&1 || die "/usr/bin/rust-lld (wasm-ld) not working"
log "Debian toolchain: $(/usr/bin/rustc -V) / $(/usr/bin/cargo -V) / $(/usr/bin/rust-lld -flavor wasm --version)"

# ---------------------------------------------------------------- 2. wasm-bindgen-cli
if [ "$WITH_BINDGEN" = 0 ]; then
  log "skipping wasm-bindgen-cli (--no-bindgen)"
else
if [ -z "$WB_VERSION" ]; then
  [ -n "$LOCKFILE" ] || LOCKFILE=Cargo.lock
  if [ -f "$LOCKFILE" ]; then
    versions=$(awk '/^\[\[package\]\]/{n=""} /^name = "wasm-bindgen"$/{n=1; next} n==1 && /^version = /{gsub(/"/,"",$3); print $3; n=""}' "$LOCKFILE" | sort -u)
    count=$(printf '%s\n' "$versions" | grep -c . || true)
    if [ "$count" -gt 1 ]; then
      die "several wasm-bindgen versions in $LOCKFILE ($(echo $versions)); pin one with --wasm-bindgen-version"
    elif [ "$count" = 1 ]; then
      WB_VERSION="$versions"; log "wasm-bindgen version from $LOCKFILE: $WB_VERSION"
    fi
  fi
fi
if [ -z "$WB_VERSION" ]; then
  WB_VERSION=$FALLBACK_WASM_BINDGEN_VERSION; log "no wasm-bindgen in a Cargo.lock: using $WB_VERSION"
fi

have_wb() {
  [ "$("$CARGO_HOME/bin/wasm-bindgen" --version 2>/dev/null)" = "wasm-bindgen $WB_VERSION" ] &&
  [ "$("$CARGO_HOME/bin/wasm-bindgen-test-runner" --version 2>/dev/null)" = "wasm-bindgen-test-runner $WB_VERSION" ]
}
if have_wb; then
  log "wasm-bindgen-cli $WB_VERSION already installed in $CARGO_HOME/bin"
else
  log "building wasm-bindgen-cli $WB_VERSION from the crate registry with the rustup default toolchain (several minutes on 2 cores)"
  # No --locked: the Cargo.lock packaged with wasm-bindgen-cli pins webpki-roots 1.0.11, which the
  # registry reached here lacks, so a locked install fails. --no-default-features drops the TLS
  # stack (only needed for a remote WebDriver over https) and builds faster. Built from / so that
  # no rust-toolchain.toml can override the rustup default toolchain.
  # A tool run a few times on a small module: opt-level 1 without LTO builds in about half the
  # time of the crate's release settings, and build scripts and proc macros stay at 0.
  (cd / && CARGO_PROFILE_RELEASE_OPT_LEVEL=1 CARGO_PROFILE_RELEASE_LTO=false \
        CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_DEBUG=false \
        CARGO_PROFILE_RELEASE_BUILD_OVERRIDE_OPT_LEVEL=0 \
        run cargo install wasm-bindgen-cli --version "=$WB_VERSION" \
        --no-default-features --force --bin wasm-bindgen --bin wasm-bindgen-test-runner)
  have_wb || die "wasm-bindgen-cli $WB_VERSION did not install correctly"
fi
log "$("$CARGO_HOME/bin/wasm-bindgen" --version), $("$CARGO_HOME/bin/wasm-bindgen-test-runner" --version)"
fi

# ---------------------------------------------------------------- 3. webdriver.json + cargo-wasm wrapper
install -d /usr/local/share/wasm-toolchain
cat > /usr/local/share/wasm-toolchain/webdriver.json.new <<'EOF'
{
  "goog:chromeOptions": {
    "binary": "/usr/bin/chromium",
    "args": [
      "--headless=new",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run"
    ]
  }
}
EOF
mv -f /usr/local/share/wasm-toolchain/webdriver.json.new /usr/local/share/wasm-toolchain/webdriver.json

cat > /usr/local/bin/cargo-wasm.new <<'EOF'
#!/bin/sh
# cargo-wasm (written by install-wasm-toolchain.sh): cargo for wasm32-unknown-unknown using
# Debian's rustc-web toolchain (/usr/bin/cargo, /usr/bin/rustc) and -Zbuild-std with the std
# sources of rust-web-src. Plain `cargo` stays the rustup toolchain.
#   cargo-wasm build --release -p cyberhub-wasm
#   cargo-wasm test  -p cyberhub-wasm          (runner: wasm-bindgen-test-runner)
#   cargo-wasm clippy -p cyberhub-wasm --all-targets -- -D warnings
# Also callable as `cargo wasm ...`. Defaults (override by setting them): CARGO_BUILD_TARGET,
# CARGO_UNSTABLE_BUILD_STD, CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER,
# WASM_BINDGEN_TEST_WEBDRIVER_JSON, CHROMEDRIVER; target dir: $CARGO_WASM_TARGET_DIR, else
# <workspace root>/target/wasm (keeps the rustup builds in target/ untouched).
set -e
[ "${1:-}" = wasm ] && shift
D=/usr/bin
CH="${CARGO_HOME:-$HOME/.cargo}"
case ":$PATH:" in *":$CH/bin:"*) ;; *) PATH="$CH/bin:$PATH"; export PATH ;; esac
export RUSTC="$D/rustc" RUSTDOC="$D/rustdoc" CARGO="$D/cargo" RUSTC_BOOTSTRAP=1
export CARGO_BUILD_TARGET="${CARGO_BUILD_TARGET:-wasm32-unknown-unknown}"
export CARGO_UNSTABLE_BUILD_STD="${CARGO_UNSTABLE_BUILD_STD:-std,panic_abort}"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER:-wasm-bindgen-test-runner}"
if [ -z "${WASM_BINDGEN_TEST_WEBDRIVER_JSON:-}" ] && [ -f /usr/local/share/wasm-toolchain/webdriver.json ]; then
  export WASM_BINDGEN_TEST_WEBDRIVER_JSON=/usr/local/share/wasm-toolchain/webdriver.json
fi
if [ -z "${CHROMEDRIVER:-}${CHROMEDRIVER_REMOTE:-}${GECKODRIVER:-}" ] && [ -x /usr/bin/chromedriver ]; then
  export CHROMEDRIVER=/usr/bin/chromedriver
fi
if [ -z "${CARGO_WASM_TARGET_DIR:-}" ]; then
  mp=""; prev=""
  for a in "$@"; do
    case "$a" in --manifest-path=*) mp="${a#--manifest-path=}" ;; esac
    [ "$prev" = --manifest-path ] && mp="$a"
    prev="$a"
  done
  if root=$("$D/cargo" locate-project --workspace --message-format plain ${mp:+--manifest-path "$mp"} 2>/dev/null); then
    CARGO_WASM_TARGET_DIR="$(dirname "$root")/target/wasm"
  fi
fi
[ -n "${CARGO_WASM_TARGET_DIR:-}" ] && export CARGO_TARGET_DIR="$CARGO_WASM_TARGET_DIR"
if [ "${1:-}" = clippy ]; then
  [ -x "$D/cargo-clippy" ] || { echo "cargo-wasm: Debian rust-web-clippy not installed" >&2; exit 1; }
  exec "$D/cargo-clippy" "$@"
fi
exec "$D/cargo" "$@"
EOF
chmod 0755 /usr/local/bin/cargo-wasm.new
mv -f /usr/local/bin/cargo-wasm.new /usr/local/bin/cargo-wasm
log "wrote /usr/local/bin/cargo-wasm and /usr/local/share/wasm-toolchain/webdriver.json"

if [ "$WITH_BROWSER" = 1 ]; then
  log "browser: $(/usr/bin/chromium --version 2>/dev/null | head -1); $(/usr/bin/chromedriver --version | head -1)"
fi
# The default toolchain must still be rustup's.
log "default toolchain: $(command -v cargo) -> $(cargo -V); $(command -v rustc) -> $(rustc -V)"

# ---------------------------------------------------------------- 4. optional end-to-end check
if [ "$VERIFY" = 1 ]; then
  V=$(mktemp -d /tmp/wasm-verify.XXXXXX)
  log "verify: building and testing a tiny wasm-bindgen crate in $V"
  mkdir -p "$V/src" "$V/tests"
  cat > "$V/Cargo.toml" <<EOF
[package]
name = "wasm-verify"
version = "0.0.0"
edition = "2021"
publish = false
[lib]
crate-type = ["cdylib", "rlib"]
[dependencies]
wasm-bindgen = "=$WB_VERSION"
[dev-dependencies]
wasm-bindgen-test = "0.3"
EOF
  cat > "$V/src/lib.rs" <<'EOF'
use wasm_bindgen::prelude::*;
#[wasm_bindgen]
pub fn greet(name: &str) -> String { format!("hello {name}") }
EOF
  cat > "$V/tests/node.rs" <<'EOF'
use wasm_bindgen_test::*;
#[wasm_bindgen_test]
fn greets() { assert_eq!(wasm_verify::greet("wasm"), "hello wasm"); }
EOF
  cp "$V/tests/node.rs" "$V/tests/web.rs"
  sed -i '1a wasm_bindgen_test_configure!(run_in_browser);' "$V/tests/web.rs"
  [ "$WITH_BROWSER" = 1 ] || rm "$V/tests/web.rs"
  (cd "$V" && run cargo-wasm test && run cargo-wasm build \
     && run wasm-bindgen --target web --out-dir pkg target/wasm/wasm32-unknown-unknown/debug/wasm_verify.wasm \
     && ls -l pkg)
  rm -rf "$V"
  log "verify: OK"
fi
log "done in $(( $(date +%s) - T0 ))s"
