#!/bin/bash
# The PostgreSQL ledger store against a real server: starts a throwaway cluster
# (tests/e2e/lib/postgres.sh) and runs the PgStore* unit tests of test_service with
# MX_TEST_PG_URL pointing at it. Fails (does not skip) when PostgreSQL is not installed, and
# when any of those tests skipped.
#
#   tests/e2e/test_ledger_postgres.sh path/to/mxserve   (test_service is found next to it)
set -euo pipefail

MXSERVE=${1:?usage: $0 path/to/mxserve}
HERE=$(cd "$(dirname "$0")" && pwd)
TEST_SERVICE=$(dirname "$MXSERVE")/test_service
[ -x "$TEST_SERVICE" ] || { echo "FAIL: $TEST_SERVICE not found: build the test_service target"; exit 1; }

source "$HERE/lib/postgres.sh"
trap pg_stop EXIT
pg_start || { echo "FAIL: could not start a PostgreSQL server"; exit 1; }
echo "PostgreSQL at $PG_URL ($PG_BIN)"

OUTPUT=$(mktemp)
trap 'pg_stop; rm -f "$OUTPUT"' EXIT
status=0
MX_TEST_PG_URL=$PG_URL "$TEST_SERVICE" --gtest_filter='PgStore*' 2>&1 | tee "$OUTPUT" || status=$?
if [ "$status" -ne 0 ]; then
  echo "FAIL: PgStore tests failed (server log follows)"
  tail -n 50 "$PG_DIR/server.log" || true
  exit 1
fi
if grep -q '^\[  SKIPPED \]' "$OUTPUT"; then
  echo "FAIL: some PgStore tests skipped although MX_TEST_PG_URL was set"
  exit 1
fi
grep -q '^\[  PASSED  \] [1-9]' "$OUTPUT" || { echo "FAIL: no PgStore test ran"; exit 1; }
echo "PASS: the PostgreSQL ledger store"
