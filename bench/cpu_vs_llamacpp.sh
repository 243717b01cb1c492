#!/usr/bin/env bash
# mxserve vs llama.cpp on CPU: prompt processing (pp) and generation (tg) tokens/s for the same
# GGUF files and thread count, the two engines run alternately in one run (round r: mxserve,
# then llama-bench), so load from other processes hits both alike. Each invocation does its own
# warm-up and one timed repetition; medians are taken over ROUNDS rounds. Also probes streaming
# memory bandwidth (bench_kernels --bandwidth-only) to state tg as a fraction of the roofline:
#   roofline tg = bandwidth / (bytes of weights read per generated token)
# where the bytes are every layer tensor plus the output matrix (the embedding table only if it
# is also the tied output; one embedding row per token is negligible).
#
# Usage: bench/cpu_vs_llamacpp.sh [MODEL.gguf ...]
# Env: LLAMA_CPP_BIN (default /tmp/llama.cpp/build/bin), MXSERVE (build-perf/bin/mxserve),
#      BENCH_KERNELS (build-perf/bin/bench_kernels), MODELS_DIR (/tmp/bench), THREADS (2),
#      ROUNDS (5), PP (512), TG (128), OUT (bench/results/cpu_vs_llamacpp-<date>.json).
set -euo pipefail
cd "$(dirname "$0")/.."

LLAMA_CPP_BIN=${LLAMA_CPP_BIN:-/tmp/llama.cpp/build/bin}
MXSERVE=${MXSERVE:-build-perf/bin/mxserve}
BENCH_KERNELS=${BENCH_KERNELS:-build-perf/bin/bench_kernels}
MODELS_DIR=${MODELS_DIR:-/tmp/bench}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
PP=${PP:-512}
TG=${TG:-128}
OUT=${OUT:-bench/results/cpu_vs_llamacpp-$(date +%Y%m%d).json}
PYTHON=${PYTHON:-/usr/bin/python3}

if [ $# -gt 0 ]; then
  MODELS=("$@")
else
  MODELS=("$MODELS_DIR/qwen3-0.6b-q8_0.gguf" "$MODELS_DIR/qwen3-0.6b-q4_k_m.gguf"
          "$MODELS_DIR/llama-1b-q8_0.gguf" "$MODELS_DIR/llama-1b-q4_k_m.gguf")
fi
for tool in "$MXSERVE" "$BENCH_KERNELS" "$LLAMA_CPP_BIN/llama-bench"; do
  [ -x "$tool" ] || { echo "missing executable: $tool" >&2; exit 1; }
done

RAW=$(mktemp -d)
trap 'rm -rf "$RAW"' EXIT
loadavg() { cut -d' ' -f1 /proc/loadavg; }

bandwidth() {  # one probe, GB/s with THREADS threads
  "$BENCH_KERNELS" --bandwidth-only --threads "$THREADS" |
    "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["results"][0]["gb_s"])'
}

echo "load average at start: $(loadavg)" >&2
echo "$(loadavg)" > "$RAW/load_start"
bandwidth >> "$RAW/bandwidth"
for model in "${MODELS[@]}"; do
  name=$(basename "$model" .gguf)
  for round in $(seq 1 "$ROUNDS"); do
    echo "[$name] round $round/$ROUNDS (load $(loadavg))" >&2
    "$MXSERVE" bench -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r 1 --json \
      2>/dev/null > "$RAW/$name.mx.$round.json"
    "$LLAMA_CPP_BIN/llama-bench" -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r 1 -o json \
      2>/dev/null > "$RAW/$name.llama.$round.json"
  done
  bandwidth >> "$RAW/bandwidth"
done
echo "$(loadavg)" > "$RAW/load_end"

"$PYTHON" bench/cpu_vs_llamacpp_report.py "$RAW" "$OUT" "$THREADS" "$PP" "$TG" "${MODELS[@]}"
