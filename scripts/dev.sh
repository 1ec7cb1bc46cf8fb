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
  CREDS="$(curl -fsS -X POST -H 'content-type: application/json' -d '{"id":"demo"}' "$MOCK_URL/__mock/accounts" |
    node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const a=JSON.parse(s);console.log(JSON.stringify({access_token:a.access_token,refresh_token:a.refresh_token,token_type:"Bearer",resource_url:a.resource_url,expiry_date:a.expiry_date}))})')"
  wrangler kv key put --local "${PERSIST[@]}" --binding QWEN_TOKEN_CACHE "ACCOUNT:demo" "$CREDS" >/dev/null
  wrangler kv key put --local "${PERSIST[@]}" --binding QWEN_TOKEN_CACHE ACCOUNTS '["demo"]' >/dev/null
  echo "mock upstream on $MOCK_URL with account 'demo' in local KV"
  ARGS+=(--var "QWEN_OAUTH_BASE_URL:$MOCK_URL" --var "QWEN_API_BASE_URL:$MOCK_URL")
fi
wrangler dev --local --ip 127.0.0.1 --port "$PORT" --show-interactive-dev-session=false "${ARGS[@]}"
