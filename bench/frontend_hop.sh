#!/usr/bin/env bash
# The frontend hop: TTFT and TPOT through `mxserve frontend` + one `mxserve worker` vs
# `mxserve serve` on the same model, threads and cores (issue 15). The same bench/loadgen.mjs
# sweep against each; the two alternate over ROUNDS rounds (odd rounds serve first) so load
# from other processes hits both alike. Writes each configuration's per-level medians over the
# rounds and the ratios cluster / serve of TTFT p50 / p99 and TPOT p50 / p99 (1.00 = no cost).
#
# Usage: bench/frontend_hop.sh MODEL.gguf
# Env (defaults): MXSERVE (build/bin/mxserve), THREADS (2), PARALLEL (8), ROUNDS (3),
#   CONCURRENCY (1,4), REQUESTS (16), PROMPT_TOKENS (128), OUTPUT_TOKENS (64), WARMUP (2),
#   OUT (bench/results/frontend_hop-<date>.json)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 MODEL.gguf" >&2; exit 2; }
MODEL=$1
MXSERVE=${MXSERVE:-build/bin/mxserve}
THREADS=${THREADS:-2}
PARALLEL=${PARALLEL:-8}
ROUNDS=${ROUNDS:-3}
CONCURRENCY=${CONCURRENCY:-1,4}
REQUESTS=${REQUESTS:-16}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
OUTPUT_TOKENS=${OUTPUT_TOKENS:-64}
WARMUP=${WARMUP:-2}
OUT=${OUT:-bench/results/frontend_hop-$(date -u +%Y%m%d).json}
RAW=$(mktemp -d)
WORKER_PID=""
. bench/lib/servers.sh
stop_worker() {
  [ -n "$WORKER_PID" ] || return 0
  kill -TERM "$WORKER_PID" 2>/dev/null || true
  wait "$WORKER_PID" 2>/dev/null || true
  WORKER_PID=""
}
trap 'stop_server; stop_worker; rm -rf "$RAW"' EXIT
trap 'exit 130' INT TERM
ENGINE=(-m "$MODEL" --threads "$THREADS" --max-seqs "$PARALLEL" --kv-memory 1GiB)

run_one() {  # run_one serve|cluster ROUND
  local name=$1 round=$2 port
  port=$(free_port)
  if [ "$name" = serve ]; then
    start_server serve "$RAW/serve.$round.log" "$port" \
      "$MXSERVE" serve "${ENGINE[@]}" --port "$port" --no-ledger
  else
    local grpc
    grpc=$(free_port)
    "$MXSERVE" worker "${ENGINE[@]}" --listen "127.0.0.1:$grpc" 2>"$RAW/worker.$round.log" &
    WORKER_PID=$!
    start_server frontend "$RAW/frontend.$round.log" "$port" \
      "$MXSERVE" frontend -m "$MODEL" --port "$port" --no-ledger --worker "127.0.0.1:$grpc"
    for _ in $(seq 1 100); do  # the worker's first status poll
      curl -s "$SERVER_URL/cluster/workers" | grep -q '"up"' && break
      sleep 0.1
    done
  fi
  echo "[$name] round $round/$ROUNDS (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  node bench/loadgen.mjs --url "$SERVER_URL" --label "$name" --concurrency "$CONCURRENCY" \
    --requests "$REQUESTS" --prompt-tokens "$PROMPT_TOKENS" --output-tokens "$OUTPUT_TOKENS" \
    --warmup "$WARMUP" --seed 1 --out "$RAW/$name.$round.json" >/dev/null
  stop_server
  stop_worker
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order=(serve cluster); else order=(cluster serve); fi
  for name in "${order[@]}"; do run_one "$name" "$round"; done
done
mkdir -p "$(dirname "$OUT")"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -1)
/usr/bin/python3 - "$RAW" "$ROUNDS" "$OUT" "$cpu" "$MODEL" <<'PY'
import json, statistics, sys
raw, rounds, out, cpu, model = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
def levels(name):
    runs = [json.load(open(f"{raw}/{name}.{r}.json")) for r in range(1, rounds + 1)]
    by = {}
    for run in runs:
        for level in run["levels"]:
            by.setdefault(level["concurrency"], []).append(level)
    return by
keys = [("ttft_ms", "p50"), ("ttft_ms", "p99"), ("tpot_ms", "p50"), ("tpot_ms", "p99")]
result = {"cpu": cpu, "model": model, "rounds": rounds, "levels": []}
serve, cluster = levels("serve"), levels("cluster")
for c in sorted(serve):
    row = {"concurrency": c}
    for metric, stat in keys:
        s = statistics.median(l[metric][stat] for l in serve[c])
        k = statistics.median(l[metric][stat] for l in cluster[c])
        row[f"{metric}_{stat}"] = {"serve": round(s, 2), "cluster": round(k, 2),
                                   "ratio": round(k / s, 3)}
    result["levels"].append(row)
json.dump(result, open(out, "w"), indent=1)
for row in result["levels"]:
    print(row["concurrency"], {k: v["ratio"] for k, v in row.items() if k != "concurrency"})
PY
echo "wrote $OUT" >&2
