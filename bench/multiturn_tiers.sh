#!/usr/bin/env bash
# KV tiers on a multi-turn chat workload (bench/multiturn.py: CONVERSATIONS conversations of
# TURNS turns, interleaved, growing context): time to first token per turn with
#   off  — prefix caching in a compute tier too small to hold every conversation (recompute),
#   host — plus a host-memory tier (--kv-host-memory),
#   ssd  — plus an SSD tier only (--kv-ssd-size; no host tier beyond its staging slots), so the
#          old turns come back from disk (its writes are synced and dropped from the page cache);
# one server at a time, same model and flags otherwise. Also the SSD tier's read bandwidth
# (from /metrics: read bytes / read seconds) beside the disk's raw sequential read bandwidth
# (dd with O_DIRECT on a 2 GiB file in the same folder).
#
# Usage: bench/multiturn_tiers.sh MODEL
# Env (defaults): MXSERVE (build/bin/mxserve), THREADS (2), KV_MEMORY (512MiB: the compute tier),
#   HOST_MEMORY (6GiB), SSD_SIZE (16GiB), CONVERSATIONS (4), TURNS (10), USER_WORDS (160),
#   ANSWER_TOKENS (32), MODES ("off host ssd"), WORK (a temp dir on the disk to measure),
#   OUT (bench/results/multiturn_tiers-<date>.json)
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 1 ] || { echo "usage: $0 MODEL" >&2; exit 2; }
MODEL=$1
MXSERVE=${MXSERVE:-build/bin/mxserve}
THREADS=${THREADS:-2}
KV_MEMORY=${KV_MEMORY:-512MiB}
HOST_MEMORY=${HOST_MEMORY:-6GiB}
SSD_SIZE=${SSD_SIZE:-16GiB}
CONVERSATIONS=${CONVERSATIONS:-4}
TURNS=${TURNS:-10}
USER_WORDS=${USER_WORDS:-160}
ANSWER_TOKENS=${ANSWER_TOKENS:-32}
MODES=${MODES:-off host ssd}
WORK=${WORK:-$(mktemp -d /var/tmp/mx_multiturn.XXXXXX)}
OUT=${OUT:-bench/results/multiturn_tiers-$(date +%Y%m%d).json}
source tests/e2e/lib/serve.sh
server_pid=""
trap '[ -n "$server_pid" ] && kill -9 "$server_pid" 2>/dev/null; rm -rf "$WORK"' EXIT

for mode in $MODES; do
  extra=()
  [ "$mode" = host ] && extra=(--kv-host-memory "$HOST_MEMORY")
  [ "$mode" = ssd ] && extra=(--kv-ssd-size "$SSD_SIZE")
  rm -rf "$WORK/data"
  serve_start "$WORK/$mode.log" "$MXSERVE" serve -m "$MODEL" --port 0 --threads "$THREADS" \
    --ctx 8192 --kv-memory "$KV_MEMORY" --no-ledger --data-dir "$WORK/data" "${extra[@]}"
  echo "== $mode: $CONVERSATIONS conversations x $TURNS turns" >&2
  /usr/bin/python3 bench/multiturn.py --url "http://127.0.0.1:$port" \
    --conversations "$CONVERSATIONS" --turns "$TURNS" --user-words "$USER_WORDS" \
    --answer-tokens "$ANSWER_TOKENS" > "$WORK/$mode.jsonl"
  curl -s "http://127.0.0.1:$port/metrics" > "$WORK/$mode.metrics"
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
done

# The disk's raw sequential read bandwidth, O_DIRECT (no page cache), same file system.
dd if=/dev/urandom of="$WORK/raw.bin" bs=4M count=512 conv=fdatasync status=none
raw_bps=$(dd if="$WORK/raw.bin" of=/dev/null bs=4M iflag=direct 2>&1 |
  sed -n 's/.* bytes .* copied, \([0-9.]*\) s.*/\1/p' | awk '{print 2147483648 / $1}')
rm -f "$WORK/raw.bin"

mkdir -p "$(dirname "$OUT")"
/usr/bin/python3 - "$WORK" "$raw_bps" "$OUT" "$MODES" "$MODEL" <<'PY'
import json, statistics, sys
work, raw_bps, out, modes, model = sys.argv[1], float(sys.argv[2]), sys.argv[3], sys.argv[4].split(), sys.argv[5]
def metric(text, name, tier):
    key = f'{name}{{tier="{tier}"}} '
    for line in text.splitlines():
        if line.startswith(key): return float(line.split()[-1])
    return 0.0
result = {"model": model, "raw_disk_read_bytes_per_s": raw_bps, "modes": {}}
for mode in modes:
    rows = [json.loads(l) for l in open(f"{work}/{mode}.jsonl")]
    turns = sorted({r["turn"] for r in rows})
    per_turn = {t: {"ttft_median_s": statistics.median(r["ttft_s"] for r in rows if r["turn"] == t),
                    "prompt_tokens_mean": statistics.mean(r["prompt_tokens"] for r in rows if r["turn"] == t),
                    "cached_tokens_mean": statistics.mean(r["cached_tokens"] or 0 for r in rows if r["turn"] == t)}
                for t in turns}
    metrics = open(f"{work}/{mode}.metrics").read()
    entry = {"per_turn": per_turn}
    if mode == "ssd":
        read_b = metric(metrics, "mxserve_kv_tier_read_bytes_total", "ssd")
        read_s = metric(metrics, "mxserve_kv_tier_read_seconds_total", "ssd")
        entry["ssd_read_bytes"] = read_b
        entry["ssd_read_bytes_per_s"] = read_b / read_s if read_s > 0 else 0
        entry["ssd_hits"] = metric(metrics, "mxserve_kv_tier_hits_total", "ssd")
    if mode == "host":
        entry["host_hits"] = metric(metrics, "mxserve_kv_tier_hits_total", "host")
    result["modes"][mode] = entry
last = max(int(t) for t in result["modes"][modes[0]]["per_turn"])
off = result["modes"].get("off", {}).get("per_turn", {}).get(last, {}).get("ttft_median_s")
for mode in modes:
    t = result["modes"][mode]["per_turn"][last]
    ratio = off / t["ttft_median_s"] if off else None
    result["modes"][mode]["last_turn_speedup_vs_off"] = ratio
    print(f"{mode:5s} turn {last}: TTFT {t['ttft_median_s']:.3f} s, prompt {t['prompt_tokens_mean']:.0f} tokens, "
          f"cached {t['cached_tokens_mean']:.0f}" + (f", {ratio:.2f}x faster than off" if ratio else ""))
if "ssd" in result["modes"]:
    bw = result["modes"]["ssd"]["ssd_read_bytes_per_s"]
    print(f"SSD tier read bandwidth {bw / 1e6:.0f} MB/s vs raw disk sequential read {raw_bps / 1e6:.0f} MB/s "
          f"({bw / raw_bps:.2f} of raw)")
json.dump(result, open(out, "w"), indent=1)
print("wrote", out)
PY
