#!/usr/bin/env bash
# Hostile JSON bodies (100,000 keys in an ignored field, up to 7.5 MB) are parsed off the I/O
# thread in linear time and bounded: /health answers in milliseconds meanwhile, the bodies get
# a 400 naming the key limit (tests/e2e/hardening/hostile_body.py). $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
tiny_qwen3 "$work/model.gguf"
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 1 --ctx 512 --kv-memory 64MiB \
  --no-ledger || exit 1
/usr/bin/python3 "$(dirname "$0")/hardening/hostile_body.py" "$port" || {
  tail -20 "$work/server.log"
  exit 1
}
