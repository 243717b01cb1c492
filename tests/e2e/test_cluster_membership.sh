#!/usr/bin/env bash
# A cluster on a real etcd: join, leave, etcd outage under load, SIGKILL / SIGTERM of a worker
# (tests/e2e/cluster/membership.py). $1: mxserve.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
tiny_qwen3 "$work/model.gguf"
/usr/bin/python3 "$(dirname "$0")/cluster/membership.py" "$mxserve" "$work/model.gguf" "$work" || {
  for log in "$work"/*.log; do echo "== $log"; tail -20 "$log"; done
  exit 1
}
