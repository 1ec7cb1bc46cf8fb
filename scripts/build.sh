#!/usr/bin/env bash
# Builds the Worker (build/worker/shim.mjs + index.wasm) and the admin dashboard (admin-ui/dist).
# wrangler.toml's [build] runs this.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
# The admin dashboard's static assets (admin-ui/dist), served by the Worker at /admin.
node admin-ui/build.mjs
# worker-build would download these from GitHub; use the ones npm and cargo installed.
export WASM_BINDGEN_BIN="${WASM_BINDGEN_BIN:-$(command -v wasm-bindgen)}"
export WASM_OPT_BIN="${WASM_OPT_BIN:-$ROOT/node_modules/binaryen/bin/wasm-opt}"
export ESBUILD_BIN="${ESBUILD_BIN:-$(ls "$ROOT"/node_modules/@esbuild/*/bin/esbuild 2>/dev/null | head -1)}"
if wasm_target_from_rustup; then
  exec worker-build --release "$@"
fi
# No rustup target: Debian's rustc builds std for wasm32 from source. /usr/bin first, so that
# cargo and rustc are Debian's (rustup's cannot use that source).
export PATH="/usr/bin:$PATH"
export RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
exec worker-build --release "$@"
