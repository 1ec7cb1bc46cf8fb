#!/usr/bin/env bash
# Benchmarks (bench/run.mjs): latency the gateway adds, streaming, KV cost, size and start,
# native hot paths. Prints tables; writes bench/results/*.json. Arguments go to bench/run.mjs
# (--quick, --requests N, --budget-service-ms MS, --events N, --chunk-ms MS, --no-pin).
set -euo pipefail
source "$(dirname "$0")/env.sh"
cd "$ROOT"
[ "${SKIP_SETUP:-}" = 1 ] || bash scripts/setup.sh >/dev/null
source scripts/env.sh
bash scripts/build.sh >/dev/null 2>&1 || bash scripts/build.sh
node bench/run.mjs "$@"
