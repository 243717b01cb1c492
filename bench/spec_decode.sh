#!/usr/bin/env bash
# Speculative decoding (n-gram drafts) vs none on `mxserve serve`: the same bench/loadgen.mjs
# requests (streaming /v1/completions, token-id prompts, ignore_eos, temperature 0) against the
# server started with --speculative none and with --speculative ngram, alternating over ROUNDS
# rounds (round 1: none then ngram, round 2 the other way round). The bench model has random
# weights, and its greedy text seldom repeats (checked: a few drafts per 256 tokens), so the
# workloads make repetition with logit_bias, which costs nothing extra in the forward pass:
#   loop    — greedy, logit_bias +100 on one token id (LOOP_TOKEN): the output repeats it,
#             what n-gram drafts copy best (the upper end of acceptance: nearly every draft);
#   sampled — temperature 1, logit_bias +100 on four token ids (BIAS_TOKENS): each token is a
#             draw among the four (greedy would settle on one of them), so a
#             draft is accepted with about the probability the target gives it (rejection
#             sampling path, low-to-middle acceptance);
#   random  — greedy, no bias: drafts are rare; shows what speculation costs when it finds
#             nothing to copy.
# Per workload and concurrency level, each variant's medians over the rounds of output tokens/s,
# end-to-end latency p50 and TPOT p50, and, from the server's /metrics counters read before and
# after the level, the draft acceptance rate (accepted / draft tokens) and the tokens a sequence
# gets per engine step (generated tokens / sampling steps); speed-up = ngram / none tokens/s.
#
# METHOD=mtp compares --speculative mtp with none instead (a model with nextn layers: the
# deepseek2 test models have one; random weights, so its drafts are seldom accepted).
#
# Usage: bench/spec_decode.sh [MODEL.gguf]   (default /tmp/bench/qwen3-0.6b-q8_0.gguf; make one
#   with: build/bin/mxserve make-test-model --arch qwen3 --size bench --type q8_0 ...)
# Env (defaults): MXSERVE (build/bin/mxserve), THREADS (2), ROUNDS (2), CONCURRENCY (1 4),
#   REQUESTS (8 per level), PROMPT_TOKENS (128), OUTPUT_TOKENS (128),
#   LOOP_TOKEN (1000), BIAS_TOKENS (1000,2000,3000,4000), WORKLOADS ("loop sampled random"), DRAFT_TOKENS (4), NGRAM_MIN (2), NGRAM_MAX (4), SEED (1),
#   METHOD (ngram | mtp), MXSERVE_ARGS (extra flags), OUT (bench/results/spec_decode-<date>.json)
set -euo pipefail
cd "$(dirname "$0")/.."

MODEL=${1:-/tmp/bench/qwen3-0.6b-q8_0.gguf}
[ -f "$MODEL" ] || { echo "error: no model file $MODEL" >&2; exit 1; }
MXSERVE=${MXSERVE:-build/bin/mxserve}
[ -x "$MXSERVE" ] || { echo "error: mxserve not found at $MXSERVE (set MXSERVE)" >&2; exit 1; }
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
CONCURRENCY=${CONCURRENCY:-1 4}
REQUESTS=${REQUESTS:-8}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
OUTPUT_TOKENS=${OUTPUT_TOKENS:-128}
LOOP_TOKEN=${LOOP_TOKEN:-1000}
BIAS_TOKENS=${BIAS_TOKENS:-1000,2000,3000,4000}
WORKLOADS=${WORKLOADS:-loop sampled random}
DRAFT_TOKENS=${DRAFT_TOKENS:-4}
NGRAM_MIN=${NGRAM_MIN:-2}
NGRAM_MAX=${NGRAM_MAX:-4}
SEED=${SEED:-1}
METHOD=${METHOD:-ngram}
MXSERVE_ARGS=${MXSERVE_ARGS:-}
suffix=$([ "$METHOD" = ngram ] || echo "-$METHOD")
OUT=${OUT:-bench/results/spec_decode$suffix-$(date -u +%Y%m%d).json}

RAW=$(mktemp -d)
. bench/lib/servers.sh
trap 'stop_server; rm -rf "$RAW"' EXIT
trap 'exit 130' INT TERM

extra_body() {  # extra_body WORKLOAD: the request fields that make the workload
  local bias
  bias=$(echo "$BIAS_TOKENS" | sed 's/\([0-9][0-9]*\)/"\1":100/g')
  case $1 in
    loop) echo "{\"logit_bias\":{\"$LOOP_TOKEN\":100}}" ;;
    sampled) echo "{\"temperature\":1.0,\"logit_bias\":{$bias}}" ;;
    random) echo "{}" ;;
    *) echo "error: unknown workload '$1' (loop, sampled, random)" >&2; exit 2 ;;
  esac
}

metrics() {  # metrics FILE: the server's /metrics text
  curl -sf "$SERVER_URL/metrics" > "$1"
}

run_variant() {  # run_variant SPEC ROUND
  local spec=$1 round=$2 port
  port=$(free_port)
  # shellcheck disable=SC2206
  local cmd=("$MXSERVE" serve -m "$MODEL" --host 127.0.0.1 --port "$port" --no-ledger
             --threads "$THREADS" --speculative "$spec" --draft-tokens "$DRAFT_TOKENS"
             --ngram-min "$NGRAM_MIN" --ngram-max "$NGRAM_MAX" $MXSERVE_ARGS)
  printf '%s\n' "${cmd[*]}" > "$RAW/$spec.cmd"
  start_server "$spec" "$RAW/$spec.$round.log" "$port" "${cmd[@]}"
  for workload in $WORKLOADS; do
    local body
    body=$(extra_body "$workload")
    for c in $CONCURRENCY; do
      local tag="$spec.$workload.c$c.$round"
      echo "[$spec] round $round/$ROUNDS $workload c=$c (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      metrics "$RAW/$tag.before.prom"
      node bench/loadgen.mjs --url "$SERVER_URL" --label "$spec" --concurrency "$c" \
        --requests "$REQUESTS" --prompt-tokens "$PROMPT_TOKENS" --output-tokens "$OUTPUT_TOKENS" \
        --extra-body "$body" --warmup 0 --seed "$SEED" --quiet \
        --out "$RAW/$tag.json" || { log_tail; exit 1; }
      metrics "$RAW/$tag.after.prom"
    done
  done
  stop_server
}

# One warm-up server run (page cache, CPU frequency) that is not measured.
echo "[warm-up]" >&2
port=$(free_port)
start_server warmup "$RAW/warmup.log" "$port" "$MXSERVE" serve -m "$MODEL" --host 127.0.0.1 \
  --port "$port" --no-ledger --threads "$THREADS"
node bench/loadgen.mjs --url "$SERVER_URL" --concurrency 1 --requests 2 --prompt-tokens 32 \
  --output-tokens 16 --warmup 0 --quiet --out /dev/null
stop_server

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order="none $METHOD"; else order="$METHOD none"; fi
  for spec in $order; do run_variant "$spec" "$round"; done
done

mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 bench/spec_decode_report.py --raw "$RAW" --rounds "$ROUNDS" --model "$MODEL" \
  --workloads "$WORKLOADS" --concurrency "$CONCURRENCY" --out "$OUT" --method "$METHOD" \
  --settings "{\"threads\":$THREADS,\"requests\":$REQUESTS,\"prompt_tokens\":$PROMPT_TOKENS,\"output_tokens\":$OUTPUT_TOKENS,\"loop_token\":$LOOP_TOKEN,\"bias_tokens\":\"$BIAS_TOKENS\",\"draft_tokens\":$DRAFT_TOKENS,\"ngram_min\":$NGRAM_MIN,\"ngram_max\":$NGRAM_MAX,\"seed\":$SEED,\"mxserve_args\":\"$MXSERVE_ARGS\"}"
echo "wrote $OUT" >&2
