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
  worker-build --release "$@"
else
  # No rustup target: Debian's rustc builds std for wasm32 from source. /usr/bin first, so that
  # cargo and rustc are Debian's (rustup's cannot use that source).
  PATH="/usr/bin:$PATH" RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort \
    worker-build --release "$@"
fi
# worker-build keeps the WebAssembly's names section (a fifth of the file, about 60 KiB of the
# gzipped upload): it is dropped, unless QW_WASM_NAMES=1 asks for it (CPU profiles and panics
# then name our functions; `npm run bench:profile` wants it).
if [ "${QW_WASM_NAMES:-}" != 1 ]; then
  features=(mutable-globals sign-ext nontrapping-float-to-int bulk-memory multivalue reference-types exception-handling)
  "$WASM_OPT_BIN" "${features[@]/#/--enable-}" --strip-debug build/index_bg.wasm -o build/index_bg.wasm
fi
