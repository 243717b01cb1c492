#!/usr/bin/env bash
# What the Tokens service's metering ledger adds to request latency: the same bench/loadgen.mjs
# run (16 streams by default) against mxserve without a ledger (--no-ledger) and with one
# (SQLite under a temp --data-dir; PostgreSQL too when LEDGER_URL is set), alternating over
# ROUNDS rounds. Two measures per ledger variant:
#  - the client's view: TTFT / TPOT / end-to-end p50 and output tokens/s, against no-ledger
#    (run-to-run noise on a shared 2-core machine is several %, so these bound the overhead
#    only coarsely);
#  - the server's own: mxserve_ledger_wait_seconds from /metrics, the time each streamed chunk
#    and each final response waited for its usage to be committed before it was sent. The wait
#    of a request's last chunk is what the ledger adds to its end-to-end time; reported as the
#    mean wait and as a fraction of the mean end-to-end time.
# Usage: bench/ledger_overhead.sh MODEL.gguf
# Env (defaults): MXSERVE (build/bin/mxserve), THREADS (2), CONCURRENCY (16), REQUESTS (32),
#   PROMPT_TOKENS (128), OUTPUT_TOKENS (64), ROUNDS (2), LEDGER_URL (unset: SQLite only),
#   OUT (bench/results/ledger_overhead-<date>.json)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 MODEL.gguf" >&2; exit 2; }
MODEL=$1
MXSERVE=${MXSERVE:-build/bin/mxserve}
THREADS=${THREADS:-2}
CONCURRENCY=${CONCURRENCY:-16}
REQUESTS=${REQUESTS:-32}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
OUTPUT_TOKENS=${OUTPUT_TOKENS:-64}
ROUNDS=${ROUNDS:-2}
OUT=${OUT:-bench/results/ledger_overhead-$(date -u +%Y%m%d).json}
RAW=$(mktemp -d)
. bench/lib/servers.sh
trap 'stop_server; rm -rf "$RAW"' EXIT
trap 'exit 130' INT TERM

VARIANTS="no-ledger sqlite"
[ -n "${LEDGER_URL:-}" ] && VARIANTS="$VARIANTS postgresql"

run_one() {  # run_one VARIANT ROUND
  local variant=$1 round=$2 port ledger=()
  case $variant in
    no-ledger) ledger=(--no-ledger) ;;
    sqlite) ledger=(--data-dir "$RAW/data-$round") ;;
    postgresql) ledger=(--ledger "$LEDGER_URL") ;;
  esac
  port=$(free_port)
  start_server "$variant" "$RAW/$variant.$round.log" "$port" "$MXSERVE" serve -m "$MODEL" \
    --host 127.0.0.1 --port "$port" --max-seqs 16 --threads "$THREADS" "${ledger[@]}"
  echo "[$variant] round $round/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  node bench/loadgen.mjs --url "$SERVER_URL" --label "$variant" --concurrency "$CONCURRENCY" \
    --requests "$REQUESTS" --prompt-tokens "$PROMPT_TOKENS" --output-tokens "$OUTPUT_TOKENS" \
    --warmup 2 --seed 1 --out "$RAW/$variant.$round.json"
  curl -sf "$SERVER_URL/metrics" > "$RAW/$variant.$round.metrics"
  stop_server
}

for round in $(seq 1 "$ROUNDS"); do
  order=($VARIANTS)
  if [ $((round % 2)) -eq 0 ]; then order=($(printf '%s\n' "${order[@]}" | tac)); fi
  for variant in "${order[@]}"; do run_one "$variant" "$round"; done
done
mkdir -p "$(dirname "$OUT")"
node bench/ledger_report.mjs --raw "$RAW" --variants "$VARIANTS" --rounds "$ROUNDS" \
  --model "$MODEL" --out "$OUT"
echo "wrote $OUT" >&2
