#!/usr/bin/env bash
# mxserve perplexity vs llama.cpp's llama-perplexity on the same random test GGUF files and the
# same text, for every architecture (dense, qwen3moe, deepseek2, glm4moe, minimax-m2) and several
# storage types. Not a CI test: it needs llama.cpp built from source (LLAMA_CPP_BIN, default
# /tmp/llama.cpp/build/bin).
# Usage: [ARCHS="qwen3moe deepseek2"] [TYPES="f32 q8_0"] [QUANTS="Q4_K_M Q2_K"] [OUT=file.json]
#        bench/perplexity_vs_llamacpp.sh [MXSERVE_BIN]
# TYPES (default f32 q8_0 q4_k_m): files written by `mxserve make-test-model --type`.
# QUANTS (default none): llama.cpp ftypes; the f32 test model is converted by llama.cpp's own
# llama-quantize (its type mix: fall-backs such as Q5_0 for rows that are not a multiple of 256,
# more bits for attn_v / ffn_down / output), so the files are the ones llama.cpp users make.
# The IQ1 / IQ2 / IQ3 ftypes (and Q2_K_S) need an importance matrix: llama-imatrix computes one
# per architecture from IMATRIX_TEXT (default: the source headers src/*/*.h, not the scored
# text), ctx 128, IMATRIX_CHUNKS (default 32) chunks, and llama-quantize gets --imatrix. The
# deepseek2 test model's last block (blk.3) is its nextn / MTP layer, which llama-imatrix never
# runs: without importance data llama-quantize refuses the very-low-bit types for it, so it is
# kept at q8_0 there (it takes no part in the perplexity of either engine).
# deepseek2 is also scored with `--mla-form absorbed` (llama.cpp always computes MLA's absorbed
# form: q_nope times the stored attn_k_b; mxserve's default at these chunk sizes is the direct
# form with an f32 copy of attn_k_b, see docs/performance.md).
# llama.cpp runs with --no-repack: this snapshot's CPU repack buffers abort on the deepseek2
# test models (GGML_ASSERT(*cur_backend_id != -1) in ggml_backend_sched_split_graph).
# writes bench/results/perplexity-<date>.json unless OUT says otherwise
set -euo pipefail
cd "$(dirname "$0")/.."
mxserve="${1:-build/bin/mxserve}"
llama_bin="${LLAMA_CPP_BIN:-/tmp/llama.cpp/build/bin}"
llama="$llama_bin/llama-perplexity"
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
imatrix_text="${IMATRIX_TEXT:-$work/imatrix-text.txt}"
[ -n "${IMATRIX_TEXT:-}" ] || cat src/*/*.h > "$imatrix_text"
ctx=128
chunks=${CHUNKS:-64}
results=()

# measure ARCH LABEL MODEL: both engines' perplexity of MODEL, one line and one JSON record.
measure() {
  local arch=$1 type=$2 model=$3
  local ours fa_on fa_off d_on d_off spread absorbed=null d_abs=null
  ours=$("$mxserve" perplexity -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks \
    -t 2 2>/dev/null | sed -n 's/^PPL = //p') || true
  if [ "$arch" = deepseek2 ]; then
    absorbed=$("$mxserve" perplexity -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks \
      -t 2 --mla-form absorbed 2>/dev/null | sed -n 's/^PPL = //p') || true
  fi
  # llama.cpp in both of its attention paths: flash attention (f16 accumulation of V, its
  # default on CPU) and the plain path (f32 softmax and accumulation, as mxserve computes).
  # Their spread is the measurement's own noise floor on these sensitive random models.
  fa_on=$("$llama" -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks -t 2 -fa on -nr 2>&1 |
    sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p') || true
  fa_off=$("$llama" -m "$model" -f "$work/text.txt" -c $ctx --chunks $chunks -t 2 -fa off -nr 2>&1 |
    sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p') || true
  # A run that failed (no PPL printed) is recorded as null.
  ours=${ours:-null} fa_on=${fa_on:-null} fa_off=${fa_off:-null} absorbed=${absorbed:-null}
  read -r d_on d_off spread < <(python3 -c "
null = None
o, a, b = $ours, $fa_on, $fa_off
d = lambda x, y: 'null' if x is None or y is None else f'{abs(x - y) / y * 100:.4f}'
print(d(o, a), d(o, b), d(a, b))")
  if [ "$absorbed" != null ] && [ "$fa_off" != null ]; then
    d_abs=$(python3 -c "print(f'{abs($absorbed - $fa_off) / $fa_off * 100:.4f}')")
    echo "$arch $type: mxserve --mla-form absorbed PPL $absorbed: difference $d_abs% to plain"
  fi
  echo "$arch $type: mxserve PPL $ours, llama.cpp PPL $fa_on (flash attn) / $fa_off (plain):" \
    "difference $d_on% / $d_off% (llama.cpp's own spread $spread%)"
  results+=("{\"arch\":\"$arch\",\"type\":\"$type\",\"mxserve\":$ours,\"llama_cpp_fa_on\":$fa_on,\"llama_cpp_fa_off\":$fa_off,\"diff_fa_on_percent\":$d_on,\"diff_fa_off_percent\":$d_off,\"llama_cpp_spread_percent\":$spread,\"mxserve_absorbed\":$absorbed,\"diff_absorbed_fa_off_percent\":$d_abs}")
}

for arch in ${ARCHS:-qwen3 qwen2 llama qwen3moe deepseek2 glm4moe minimax-m2}; do
  tok="$node_modules/tokenizer-qwen3/models"
  [ "$arch" = llama ] && tok="$node_modules/tokenizer-llama3/models"
  for type in ${TYPES-f32 q8_0 q4_k_m}; do
    model="$work/$arch-$type.gguf"
    "$mxserve" make-test-model --arch "$arch" --tokenizer "$tok" --type "$type" --seed 3 \
      --out "$model" 2>/dev/null
    measure "$arch" "$type" "$model"
    rm -f "$model"
  done
  [ -n "${QUANTS:-}" ] || continue
  base="$work/$arch-f32-base.gguf"
  "$mxserve" make-test-model --arch "$arch" --tokenizer "$tok" --type f32 --seed 3 \
    --out "$base" 2>/dev/null
  imatrix="$work/$arch-imatrix.gguf"
  for ftype in $QUANTS; do
    model="$work/$arch-$ftype.gguf"
    imatrix_args=()
    case $ftype in
      IQ1_* | IQ2_* | IQ3_* | Q2_K_S)
        if [ ! -f "$imatrix" ]; then
          "$llama_bin/llama-imatrix" -m "$base" -f "$imatrix_text" -o "$imatrix" -c $ctx \
            --chunks "${IMATRIX_CHUNKS:-32}" -t 2 > "$work/imatrix.log" 2>&1 ||
            { cat "$work/imatrix.log" >&2; exit 1; }
        fi
        imatrix_args=(--imatrix "$imatrix")
        [ "$arch" = deepseek2 ] && imatrix_args+=(--tensor-type 'blk\.3\.=q8_0')
        ;;
    esac
    "$llama_bin/llama-quantize" "${imatrix_args[@]}" "$base" "$model" "$ftype" 2 \
      > "$work/quantize.log" 2>&1 || { cat "$work/quantize.log" >&2; exit 1; }
    # The tensor types llama-quantize chose, e.g. "q4_K:43 q6_K:7 q5_0:3 f32:30".
    mix=$(sed -n 's/.*converting to \([a-zA-Z0-9_]*\) .*/\1/p; s/.*type = *\([a-zA-Z0-9_]*\), size = .*/\1/p' \
      "$work/quantize.log" | sort | uniq -c |
      awk '{printf "%s:%s ", $2, $1}')
    echo "$arch llama-quantize $ftype tensors: $mix"
    measure "$arch" "llama-quantize $ftype${imatrix_args[*]:+ (imatrix)}" "$model"
    rm -f "$model"
  done
  rm -f "$base" "$imatrix"
done
mkdir -p bench/results
out="${OUT:-bench/results/perplexity-$(date +%Y%m%d).json}"
(IFS=,; echo "{\"ctx\":$ctx,\"chunks\":$chunks,\"results\":[${results[*]}]}") |
  python3 -m json.tool > "$out"
echo "wrote $out"
