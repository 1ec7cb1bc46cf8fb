#!/usr/bin/env bash
# `wrangler deploy` with the project's tools on PATH (wrangler.toml's [build] builds the WASM first).
# Arguments go to wrangler: npm run deploy -- --dry-run
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
exec wrangler deploy "$@"
