#!/usr/bin/env bash
# The whole test suite: native unit tests, then the built Worker in workerd against the mock
# Qwen upstream, driven by the OpenAI and Anthropic SDKs (Node and Python), Claude Code, Codex CLI,
# curl and raw HTTP, and the admin dashboard in headless Chromium.
# SKIP_SETUP=1 skips scripts/setup.sh (already run).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
# Again: set-up may just have installed the Node that wrangler needs.
source scripts/env.sh
section() { printf '\n==== %s\n' "$*"; }

section "Native unit tests of the pure modules and the account tool (cargo test)"
cargo test --locked --features cli

section "Build the Worker (wasm32) and the account tool"
bash scripts/build.sh
cargo build --quiet --release --features cli --bin qwen-accounts

section "Mock upstream self-test and end-to-end tests (node:test; workerd via Miniflare and wrangler dev)"
node --test --test-concurrency=1 --test-reporter=spec tests/mock/*.test.mjs tests/e2e/*.test.mjs

section "Admin dashboard in headless Chromium (node:test + playwright-core; screenshots in test-output/browser/)"
node admin-ui/size.mjs
node --test --test-concurrency=1 --test-reporter=spec tests/browser/*.test.mjs

section "Benchmark smoke run (bench/run.mjs --quick: figures only, no budget is enforced here)"
node bench/run.mjs --quick

section "OpenAI and Anthropic Python SDKs (pytest)"
.tools/venv/bin/python -m pytest -q tests/python
