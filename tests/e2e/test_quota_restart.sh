#!/usr/bin/env bash
# Quota windows survive a restart (they live in the ledger store, not in the process): a key with
# --requests-per-minute 3 gets 3 requests, the server restarts, and a 4th within the same
# minute is refused with 429 and a Retry-After. $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
fail() { echo "FAIL: $*"; tail -n 20 "$work"/server*.log; exit 1; }
tiny_qwen3 "$work/model.gguf"
secret=$("$mxserve" keys create --name three --requests-per-minute 3 --data-dir "$work/data" \
  --json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["secret"])')

serve() {  # serve LOG: starts the server on the ledger, sets server_pid and port
  serve_start "$1" "$mxserve" serve -m "$work/model.gguf" --served-model-name tiny --port 0 \
    --threads 1 --ctx 256 --kv-memory 32MiB --data-dir "$work/data" || exit 1
}
complete() {  # prints the HTTP status; headers in $work/headers
  curl -s -m 30 -o "$work/body" -D "$work/headers" -w '%{http_code}' \
    -H "Authorization: Bearer $secret" -H 'content-type: application/json' \
    "http://127.0.0.1:$port/v1/completions" -d '{"model":"tiny","prompt":"hi","max_tokens":1}'
}

serve "$work/server1.log"
started=$(date +%s)
for i in 1 2 3; do
  status=$(complete)
  [ "$status" = 200 ] || fail "request $i answered $status: $(cat "$work/body")"
done
kill -TERM "$server_pid"
wait "$server_pid" || fail "the server did not stop cleanly"
server_pid=""

serve "$work/server2.log"
status=$(complete)
elapsed=$(( $(date +%s) - started ))
[ "$elapsed" -lt 55 ] || fail "took $elapsed s: the minute is over, the test says nothing"
[ "$status" = 429 ] || fail "the 4th request within a minute, after a restart, answered $status: $(cat "$work/body")"
grep -q '"rate_limit_exceeded"' "$work/body" || fail "429 body: $(cat "$work/body")"
grep -qi '^retry-after: [1-9]' "$work/headers" || fail "no Retry-After: $(cat "$work/headers")"
grep -q 'requests_per_minute limit of 3' "$work/body" || fail "429 message: $(cat "$work/body")"
echo "PASS: the requests-per-minute window survives a restart ($elapsed s)"
