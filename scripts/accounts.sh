#!/usr/bin/env bash
# Runs the account tool (src/bin/qwen-accounts.rs), building it first when needed.
# The npm scripts auth:*, setup:* and secrets:put call this; see `bash scripts/accounts.sh --help`.
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
cargo build --quiet --release --features cli --bin qwen-accounts
exec "$ROOT/target/release/qwen-accounts" "$@"
