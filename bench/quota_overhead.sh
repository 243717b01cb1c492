#!/usr/bin/env bash
# What quotas shared through the ledger cost at admission: bench_quota on SQLite and on a
# throwaway PostgreSQL (tests/e2e/lib/postgres.sh). Writes bench/results/quota-<date>.json.
#   bench/quota_overhead.sh [build/bin]   (N=2000 reservations per case)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${1:-$here/../build/bin}"
source "$here/../tests/e2e/lib/postgres.sh"
trap pg_stop EXIT
pg_start >/dev/null
out="$here/results/quota-$(date +%Y%m%d).json"
cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)
"$bin/bench_quota" --n "${N:-2000}" --pg "$PG_URL" |
  /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); d['cpu']=sys.argv[1]; print(json.dumps(d, indent=1))" "$cpu" |
  tee "$out"
