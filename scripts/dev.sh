#!/usr/bin/env bash
# Sets up (first run), builds and serves qwen-worker locally: `wrangler dev` on local KV.
#
#   npm run dev                 # real Qwen: accounts in local KV or QWEN_OAUTH_CREDS in .dev.vars
#   npm run dev -- --mock       # no Qwen account needed: a local mock upstream and a demo account
#
# Env: PORT (8787), MOCK_PORT (8790), SKIP_SETUP=1 to skip scripts/setup.sh.
# Other arguments go to wrangler dev (e.g. --persist-to DIR, --env-file FILE).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh
# Again: set-up may just have installed the Node that wrangler needs.
source scripts/env.sh
PORT="${PORT:-8787}"
MOCK=0
ARGS=()
PERSIST=()
for a in "$@"; do
  case "$a" in
    --mock) MOCK=1 ;;
    *) ARGS+=("$a") ;;
  esac
done
# Keep wrangler kv and wrangler dev on the same local state.
for ((i = 0; i < ${#ARGS[@]}; i++)); do
  if [ "${ARGS[$i]}" = --persist-to ]; then PERSIST=(--persist-to "${ARGS[$((i + 1))]}"); fi
done

if [ "$MOCK" = 1 ]; then
  MOCK_PORT="${MOCK_PORT:-8790}"
  MOCK_URL="http://127.0.0.1:$MOCK_PORT"
  node tests/mock/upstream.mjs --port "$MOCK_PORT" &
  MOCK_PID=$!
  trap 'kill $MOCK_PID 2>/dev/null || true' EXIT
  for _ in $(seq 50); do curl -fsS "$MOCK_URL/__mock/stats" >/dev/null 2>&1 && break; sleep 0.1; done
  # The demo account serves; two more show the dashboard's states without ever being chosen: a
  # Coding Plan account whose 5-hour window is spent, and an OAuth account of the ended free tier.
  SEED="$(mktemp)"
  trap 'kill $MOCK_PID 2>/dev/null || true; rm -f "$SEED"' EXIT
  node scripts/mock-seed.mjs "$MOCK_URL" >"$SEED"
  wrangler kv bulk put --local "${PERSIST[@]}" --binding QWEN_TOKEN_CACHE "$SEED" >/dev/null
  echo "mock upstream on $MOCK_URL with accounts 'demo' (serving), 'coder' and 'legacy' in local KV"
  ARGS+=(--var "QWEN_OAUTH_BASE_URL:$MOCK_URL" --var "QWEN_API_BASE_URL:$MOCK_URL")
fi
echo "admin dashboard: http://127.0.0.1:$PORT/admin (sign in with ADMIN_SECRET_KEY, e.g. from .dev.vars)"
wrangler dev --local --ip 127.0.0.1 --port "$PORT" --show-interactive-dev-session=false "${ARGS[@]}"
