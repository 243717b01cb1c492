#!/usr/bin/env bash
# Cache-aware routing: requests sharing a prefix land on the worker that cached it, per the
# workers' prefix-cache counters; greedy text equals serve's (tests/e2e/cluster/cache_routing.py).
# $1: mxserve.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
tiny_qwen3 "$work/model.gguf"
timeout 300 /usr/bin/python3 "$(dirname "$0")/cluster/cache_routing.py" "$mxserve" \
  "$work/model.gguf" "$work" || {
  for log in "$work"/*.log; do echo "== $log"; tail -${MX_E2E_LOG_LINES:-20} "$log"; done
  exit 1
}
