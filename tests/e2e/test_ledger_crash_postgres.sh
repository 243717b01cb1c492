#!/usr/bin/env bash
# The ledger's exactly-once metering through aborts, quotas and a SIGKILL, on PostgreSQL
# (a throwaway cluster from tests/e2e/lib/postgres.sh; tests/e2e/ledger/crash.mjs says what is
# checked). $1: the mxserve binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
source "$here/lib/postgres.sh"
cleanup() {
  pkill -9 -f "$work/model.gguf" 2>/dev/null || true
  pg_stop
  rm -rf "$work"
}
trap cleanup EXIT
pg_start || { echo "FAIL: could not start a PostgreSQL server"; exit 1; }
bash "$here/ledger/run_crash.sh" "$1" "$work" --ledger "$PG_URL"
