#!/usr/bin/env bash
# mxserve serve vs llama-server on the same GGUF file: the same bench/loadgen.mjs sweep
# (streaming /v1/completions, token-id prompts, ignore_eos) against each, 16 sequences at a time
# and the same thread count. Only one server runs at a time; the two alternate over ROUNDS
# rounds (round 1: mxserve then llama-server, round 2 the other way round, ...) so load from
# other processes on the machine hits both alike. Per concurrency level the result holds each
# server's medians over the rounds and the ratios mxserve / llama-server of aggregate output
# tokens/s (higher is better for mxserve) and of TPOT p99 (lower is better for mxserve).
#
# Usage: bench/serve_vs_llamaserver.sh MODEL.gguf
# Env (defaults): LLAMA_SERVER (/tmp/llama.cpp/build/bin/llama-server), MXSERVE
#   (build/bin/mxserve), SERVERS ("mxserve llama-server"; one of
#   them alone to try the script), PARALLEL (16), SLOT_CTX (1024 tokens per sequence; llama-server
#   gets -c PARALLEL*SLOT_CTX), THREADS (2), ROUNDS (2), CONCURRENCY (1,4,16), REQUESTS (32 per
#   level, or one count per level: 16,32,64), PROMPT_TOKENS (128), OUTPUT_TOKENS (128),
#   WARMUP (2), SEED (1), MXSERVE_ARGS and LLAMA_SERVER_ARGS (extra flags),
#   OUT (bench/results/serve_vs_llamaserver-<date>.json),
#   BAN_INVALID_UTF8 (llama-server: which servers get loadgen --ban-invalid-utf8 MODEL, i.e.
#   logit_bias -100 on the ~1.4k vocabulary tokens that are not valid UTF-8 alone; llama-server
#   aborts a stream whose output is not valid UTF-8, which random-weight models produce within
#   a few dozen tokens. "both" sends it to mxserve too (needs logit_bias), "none" to neither.
#   Outputs have max_tokens tokens either way (ignore_eos), so the work per request is the same.)
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 1 ] || { echo "usage: $0 MODEL.gguf" >&2; exit 2; }
MODEL=$1
[ -f "$MODEL" ] || { echo "error: no model file $MODEL" >&2; exit 1; }
LLAMA_SERVER=${LLAMA_SERVER:-/tmp/llama.cpp/build/bin/llama-server}
MXSERVE=${MXSERVE:-build/bin/mxserve}
SERVERS=${SERVERS:-mxserve llama-server}
PARALLEL=${PARALLEL:-16}
SLOT_CTX=${SLOT_CTX:-1024}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-2}
CONCURRENCY=${CONCURRENCY:-1,4,16}
REQUESTS=${REQUESTS:-32}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
OUTPUT_TOKENS=${OUTPUT_TOKENS:-128}
WARMUP=${WARMUP:-2}
SEED=${SEED:-1}
MXSERVE_ARGS=${MXSERVE_ARGS:-}
LLAMA_SERVER_ARGS=${LLAMA_SERVER_ARGS:-}
OUT=${OUT:-bench/results/serve_vs_llamaserver-$(date -u +%Y%m%d).json}
BAN_INVALID_UTF8=${BAN_INVALID_UTF8:-llama-server}
case $BAN_INVALID_UTF8 in
  llama-server|both|none) ;;
  *) echo "error: BAN_INVALID_UTF8 must be llama-server, both or none" >&2; exit 2 ;;
esac

for s in $SERVERS; do
  case $s in
    mxserve) [ -x "$MXSERVE" ] || { echo "error: mxserve not found at $MXSERVE (set MXSERVE)" >&2; exit 1; } ;;
    llama-server) [ -x "$LLAMA_SERVER" ] || { echo "error: llama-server not found at $LLAMA_SERVER (set LLAMA_SERVER)" >&2; exit 1; } ;;
    *) echo "error: SERVERS may name mxserve and llama-server, got '$s'" >&2; exit 2 ;;
  esac
done

RAW=$(mktemp -d)
. bench/lib/servers.sh
trap 'stop_server; rm -rf "$RAW"' EXIT
trap 'exit 130' INT TERM

# server_cmd NAME PORT: prints nothing, fills the CMD array.
server_cmd() {
  case $1 in
    mxserve)
      # shellcheck disable=SC2206
      CMD=("$MXSERVE" serve -m "$MODEL" --host 127.0.0.1 --port "$2" --max-seqs "$PARALLEL"
           --data-dir "$RAW/mxserve-data"
           --threads "$THREADS" $MXSERVE_ARGS) ;;
    llama-server)
      # shellcheck disable=SC2206
      CMD=("$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$2" --parallel "$PARALLEL"
           -c $((PARALLEL * SLOT_CTX)) -t "$THREADS" $LLAMA_SERVER_ARGS) ;;
  esac
}

run_one() {  # run_one NAME ROUND
  local name=$1 round=$2 port
  port=$(free_port)
  server_cmd "$name" "$port"
  printf '%s\n' "${CMD[*]}" > "$RAW/$name.cmd"
  start_server "$name" "$RAW/$name.$round.log" "$port" "${CMD[@]}"
  echo "[$name] round $round/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  local rc=0 ban=()
  if [ "$BAN_INVALID_UTF8" = both ] || [ "$BAN_INVALID_UTF8" = "$name" ]; then
    ban=(--ban-invalid-utf8 "$MODEL")
  fi
  node bench/loadgen.mjs "${ban[@]}" --url "$SERVER_URL" --label "$name" --concurrency "$CONCURRENCY" \
    --requests "$REQUESTS" --prompt-tokens "$PROMPT_TOKENS" --output-tokens "$OUTPUT_TOKENS" \
    --warmup "$WARMUP" --seed "$SEED" --out "$RAW/$name.$round.json" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "error: loadgen against $name failed (status $rc)" >&2
    log_tail
    exit 1
  fi
  stop_server
}

read -r -a ORDER <<< "$SERVERS"
for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then names=("${ORDER[@]}"); else
    names=(); for ((i = ${#ORDER[@]} - 1; i >= 0; i--)); do names+=("${ORDER[i]}"); done
  fi
  for name in "${names[@]}"; do run_one "$name" "$round"; done
done

versions=$RAW/versions
: > "$versions"
for s in $SERVERS; do
  case $s in
    mxserve) echo "mxserve=$("$MXSERVE" --version 2>&1 | head -1 || true)" >> "$versions" ;;
    llama-server) echo "llama-server=$("$LLAMA_SERVER" --version 2>&1 | head -1 || true)" >> "$versions" ;;
  esac
done
mkdir -p "$(dirname "$OUT")"
node bench/serve_report.mjs --raw "$RAW" --servers "$SERVERS" --rounds "$ROUNDS" \
  --model "$MODEL" --out "$OUT" \
  --settings "{\"parallel\":$PARALLEL,\"ban_invalid_utf8\":\"$BAN_INVALID_UTF8\",\"slot_ctx\":$SLOT_CTX,\"threads\":$THREADS,\"rounds\":$ROUNDS}"
echo "wrote $OUT" >&2
