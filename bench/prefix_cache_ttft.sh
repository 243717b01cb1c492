#!/usr/bin/env bash
# Prefix caching, measured as time to first token: the same bench/loadgen.mjs run (2048-token
# prompts whose first 90% of tokens are the same in every request, the rest unique) against
# mxserve with prefix caching (default) and without (--no-prefix-caching). The warm-up request
# puts the shared prefix in the cache, so every measured request can reuse ~1843 tokens.
# Reports TTFT of each and the ratio uncached / cached (how many times faster the first token
# comes with the cache), plus the cached prompt tokens the server reports in usage
# (prompt_tokens_details.cached_tokens). The variants alternate over ROUNDS rounds, one server
# at a time.
#
# Usage: bench/prefix_cache_ttft.sh MODEL
# Env (defaults): SERVER (mxserve; llama-server to try the script: the uncached variant then
#   sends "cache_prompt": false), MXSERVE (build/bin/mxserve),
#   LLAMA_SERVER (/tmp/llama.cpp/build/bin/llama-server), THREADS (2), MAX_SEQS (16),
#   PROMPT_TOKENS (2048), SHARED_FRACTION (0.9), OUTPUT_TOKENS (16), REQUESTS (8),
#   CONCURRENCY (1), ROUNDS (1), SLOT_CTX (4096, llama-server only), MXSERVE_ARGS,
#   LLAMA_SERVER_ARGS, OUT (bench/results/prefix_cache_ttft-<date>.json), BAN_INVALID_UTF8
#   (yes for llama-server, no for mxserve: see serve_vs_llamaserver.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -eq 1 ] || { echo "usage: $0 MODEL" >&2; exit 2; }
MODEL=$1
[ -e "$MODEL" ] || { echo "error: no model at $MODEL" >&2; exit 1; }
SERVER=${SERVER:-mxserve}
LLAMA_SERVER=${LLAMA_SERVER:-/tmp/llama.cpp/build/bin/llama-server}
MXSERVE=${MXSERVE:-build/bin/mxserve}
THREADS=${THREADS:-2}
MAX_SEQS=${MAX_SEQS:-16}
PROMPT_TOKENS=${PROMPT_TOKENS:-2048}
SHARED_FRACTION=${SHARED_FRACTION:-0.9}
OUTPUT_TOKENS=${OUTPUT_TOKENS:-16}
REQUESTS=${REQUESTS:-8}
CONCURRENCY=${CONCURRENCY:-1}
ROUNDS=${ROUNDS:-1}
SLOT_CTX=${SLOT_CTX:-4096}
MXSERVE_ARGS=${MXSERVE_ARGS:-}
LLAMA_SERVER_ARGS=${LLAMA_SERVER_ARGS:-}
OUT=${OUT:-bench/results/prefix_cache_ttft-$(date -u +%Y%m%d).json}
if [ "$SERVER" = llama-server ]; then BAN_INVALID_UTF8=${BAN_INVALID_UTF8:-yes}; fi
BAN=()
[ "${BAN_INVALID_UTF8:-no}" = yes ] && BAN=(--ban-invalid-utf8 "$MODEL")

case $SERVER in
  mxserve) [ -x "$MXSERVE" ] || { echo "error: mxserve not found at $MXSERVE (set MXSERVE)" >&2; exit 1; } ;;
  llama-server) [ -x "$LLAMA_SERVER" ] || { echo "error: llama-server not found at $LLAMA_SERVER" >&2; exit 1; } ;;
  *) echo "error: SERVER must be mxserve or llama-server, got '$SERVER'" >&2; exit 2 ;;
esac

RAW=$(mktemp -d)
. bench/lib/servers.sh
trap 'stop_server; rm -rf "$RAW"' EXIT
trap 'exit 130' INT TERM

run_variant() {  # run_variant cached|uncached ROUND
  local variant=$1 round=$2 port extra_body='{}'
  port=$(free_port)
  if [ "$SERVER" = mxserve ]; then
    local flag=()
    [ "$variant" = uncached ] && flag=(--no-prefix-caching)
    # shellcheck disable=SC2206
    CMD=("$MXSERVE" serve -m "$MODEL" --host 127.0.0.1 --port "$port" --max-seqs "$MAX_SEQS"
         --data-dir "$RAW/mxserve-data"
         --threads "$THREADS" "${flag[@]}" $MXSERVE_ARGS)
  else
    # llama-server has no server-wide switch: prefix reuse is the per-request cache_prompt.
    [ "$variant" = uncached ] && extra_body='{"cache_prompt":false}'
    # shellcheck disable=SC2206
    CMD=("$LLAMA_SERVER" -m "$MODEL" --host 127.0.0.1 --port "$port" --parallel "$CONCURRENCY"
         -c $((CONCURRENCY * SLOT_CTX)) -t "$THREADS" $LLAMA_SERVER_ARGS)
  fi
  printf '%s\n' "${CMD[*]}" > "$RAW/$variant.cmd"
  start_server "$SERVER ($variant)" "$RAW/$variant.$round.log" "$port" "${CMD[@]}"
  local rc=0
  node bench/loadgen.mjs "${BAN[@]}" --url "$SERVER_URL" --label "$SERVER $variant" \
    --concurrency "$CONCURRENCY" --requests "$REQUESTS" --prompt-tokens "$PROMPT_TOKENS" \
    --output-tokens "$OUTPUT_TOKENS" --shared-prefix-fraction "$SHARED_FRACTION" --warmup 1 \
    --extra-body "$extra_body" --out "$RAW/$variant.$round.json" || rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "error: loadgen against $SERVER ($variant) failed (status $rc)" >&2
    log_tail
    exit 1
  fi
  stop_server
}

for round in $(seq 1 "$ROUNDS"); do
  if [ $((round % 2)) -eq 1 ]; then order=(cached uncached); else order=(uncached cached); fi
  for variant in "${order[@]}"; do run_variant "$variant" "$round"; done
done

mkdir -p "$(dirname "$OUT")"
node - "$RAW" "$ROUNDS" "$OUT" "$MODEL" "$SERVER" <<'EOF'
const fs = require('fs'), path = require('path');
const [raw, rounds, out, model, server] = process.argv.slice(2);
const median = (xs) => {
  const v = xs.filter((x) => x !== null && x !== undefined).sort((a, b) => a - b);
  if (!v.length) return null;
  const m = Math.floor(v.length / 2);
  return v.length % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
};
const r3 = (x) => (x === null ? null : Math.round(x * 1000) / 1000);
const variants = {};
let settings = null, machine = null;
for (const variant of ['cached', 'uncached']) {
  const runs = [];
  for (let r = 1; r <= Number(rounds); r++) {
    const res = JSON.parse(fs.readFileSync(path.join(raw, `${variant}.${r}.json`), 'utf8'));
    settings ??= res.settings; machine ??= res.machine;
    for (const l of res.levels) delete l.requests_detail;
    runs.push(res.levels[0]);
  }
  variants[variant] = {
    command: fs.readFileSync(path.join(raw, `${variant}.cmd`), 'utf8').trim(),
    ttft_p50_ms: r3(median(runs.map((l) => l.ttft_ms.p50))),
    ttft_mean_ms: r3(median(runs.map((l) => l.ttft_ms.mean))),
    ttft_p99_ms: r3(median(runs.map((l) => l.ttft_ms.p99))),
    cached_tokens_p50: median(runs.map((l) => l.cached_tokens.p50)),
    errors: runs.reduce((a, l) => a + l.errors, 0),
    runs,
  };
}
const ratio = (a, b) => (a === null || b === null || b === 0 ? null : r3(a / b));
const report = {
  benchmark: 'prefix_cache_ttft', date: new Date().toISOString(), server, model,
  settings, machine,
  ttft_p50_ratio_uncached_over_cached: ratio(variants.uncached.ttft_p50_ms, variants.cached.ttft_p50_ms),
  ttft_mean_ratio_uncached_over_cached: ratio(variants.uncached.ttft_mean_ms, variants.cached.ttft_mean_ms),
  variants,
};
fs.writeFileSync(out, JSON.stringify(report, null, 1) + '\n');
for (const [k, v] of Object.entries(variants)) {
  console.error(`${k.padEnd(9)} TTFT p50 ${v.ttft_p50_ms} ms, mean ${v.ttft_mean_ms} ms, ` +
                `cached tokens p50 ${v.cached_tokens_p50}, errors ${v.errors}`);
}
console.error(`TTFT ratio uncached / cached: p50 ${report.ttft_p50_ratio_uncached_over_cached}, ` +
              `mean ${report.ttft_mean_ratio_uncached_over_cached}`);
EOF
echo "wrote $OUT" >&2
