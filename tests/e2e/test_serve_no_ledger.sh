#!/usr/bin/env bash
# `mxserve serve --no-ledger` (no keys, no usage records): generation still answers, streamed and
# whole, and the ledger's routes say there is no ledger. $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
tiny_qwen3 "$work/model.gguf"
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 2 --ctx 512 --kv-memory 64MiB \
  --no-ledger || exit 1
url="http://127.0.0.1:$port"
fail() { echo "FAIL: $*"; tail -20 "$work/server.log"; exit 1; }

whole=$(curl -s -m 30 "$url/v1/completions" -d '{"prompt":"hello","max_tokens":4}')
grep -q '"completion_tokens":4' <<< "$whole" || fail "whole response: $whole"
stream=$(curl -s -m 30 "$url/v1/completions" \
  -d '{"prompt":"hello","max_tokens":4,"stream":true,"stream_options":{"include_usage":true}}')
grep -q '"completion_tokens":4' <<< "$stream" || fail "no usage chunk in the stream: $stream"
tail -2 <<< "$stream" | grep -q 'data: \[DONE\]' || fail "stream without [DONE]: $stream"
status=$(curl -s -o /dev/null -w '%{http_code}' -m 10 "$url/v1/usage")
[ "$status" = 404 ] || fail "/v1/usage answered $status without a ledger"
echo "PASS: serve --no-ledger"
