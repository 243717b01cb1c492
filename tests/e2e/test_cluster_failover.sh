#!/usr/bin/env bash
# Frontend + workers vs serve: greedy equality, SIGKILL / SIGSTOP of a worker under 8 streams,
# ledger exact, nothing left on the workers (tests/e2e/cluster/failover.py). $1: mxserve.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
tiny_qwen3 "$work/model.gguf"
/usr/bin/python3 "$(dirname "$0")/cluster/failover.py" "$mxserve" "$work/model.gguf" "$work" || {
  for log in "$work"/*.log; do echo "== $log"; tail -20 "$log"; done
  exit 1
}
