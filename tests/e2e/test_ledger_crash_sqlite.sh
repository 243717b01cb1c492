#!/usr/bin/env bash
# The ledger's exactly-once metering through aborts, quotas and a SIGKILL, on SQLite
# (tests/e2e/ledger/crash.mjs says what is checked). $1: the mxserve binary.
set -euo pipefail
work="$(mktemp -d)"
trap 'pkill -9 -f "$work/model.gguf" 2>/dev/null || true; rm -rf "$work"' EXIT
bash "$(dirname "$0")/ledger/run_crash.sh" "$1" "$work" --data-dir "$work/data"
