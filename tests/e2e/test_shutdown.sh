#!/usr/bin/env bash
# SIGTERM drains as documented (docs/operations.md): new work 503 + Retry-After, streams cut at
# --shutdown-grace end with an error event and [DONE], their usage records final
# (tests/e2e/hardening/shutdown.py). $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
tiny_qwen3 "$work/model.gguf"
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 1 --ctx 16384 --kv-memory 256MiB \
  --data-dir "$work/data" --shutdown-grace 1 || exit 1
/usr/bin/python3 "$(dirname "$0")/hardening/shutdown.py" "$port" "$server_pid" \
  "$work/data/ledger.sqlite3" || {
  tail -30 "$work/server.log"
  exit 1
}
