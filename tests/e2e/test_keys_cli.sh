#!/bin/bash
# `mxserve keys` and `mxserve usage` on a fresh SQLite ledger in a temp --data-dir: keys are
# created (the secret printed once), listed (never a secret or hash), updated and revoked;
# usage reports are valid when empty and add up records written into the ledger file.
#
#   tests/e2e/test_keys_cli.sh path/to/mxserve
set -euo pipefail

MXSERVE=${1:?usage: $0 path/to/mxserve}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
DATA=$WORK/data
unset MXSERVE_DATA_DIR MXSERVE_LEDGER MXSERVE_PRICES

fail() { echo "FAIL: $*" >&2; exit 1; }
mx() { "$MXSERVE" "$@" --data-dir "$DATA"; }
# py 'expression over d' < json: prints the expression's value, d being the parsed input.
py() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# expect_fail CODE TEXT ARGS...: mxserve ARGS must exit with CODE and say TEXT on stderr.
expect_fail() {
  local code=$1 text=$2 status=0
  shift 2
  "$MXSERVE" "$@" > "$WORK/out" 2> "$WORK/err" || status=$?
  [ "$status" -eq "$code" ] || fail "mxserve $* exited $status, expected $code: $(cat "$WORK/err")"
  grep -qF -- "$text" "$WORK/err" || fail "mxserve $* did not say '$text': $(cat "$WORK/err")"
}

# An empty ledger gives a valid, empty report in every format.
mx usage --format json | py 'd["object"] == "list" and d["data"] == [] and d["totals"]["requests"] == 0 and d["group_by"] == "none"' | grep -qx True || fail "empty JSON report"
[ "$(mx usage --format csv)" = "bucket_start,bucket_start_ms,key_id,tenant,model,requests,prompt_tokens,cached_tokens,completion_tokens,reasoning_tokens,cost" ] || fail "empty CSV report"
mx usage | grep -qE '^TOTAL +0 +0 +0 +0 +0 +0\.000000$' || fail "empty table report"
mx keys list | grep -q "No API keys" || fail "empty key list"

# create: the secret once, with a warning; --json for scripts.
mx keys create --name alice --tenant acme --models qwen3,llama --tokens-per-day 1000 \
  --requests-per-minute 5 --expires 2099-01-01 --admin > "$WORK/alice.txt"
ALICE=$(grep -oE 'key_[0-9a-f]{12}' "$WORK/alice.txt" | head -1)
ALICE_SECRET=$(grep -oE 'mxk-[A-Za-z0-9_-]{43}' "$WORK/alice.txt" || true)
[ -n "$ALICE" ] && [ -n "$ALICE_SECRET" ] || fail "create printed no id or secret: $(cat "$WORK/alice.txt")"
grep -q "shown only this once" "$WORK/alice.txt" || fail "create did not warn that the secret is shown once"
mx keys create --name bob --json > "$WORK/bob.json"
BOB=$(py 'd["id"]' < "$WORK/bob.json")
BOB_SECRET=$(py 'd["secret"]' < "$WORK/bob.json")
[[ "$BOB_SECRET" =~ ^mxk-[A-Za-z0-9_-]{43}$ ]] || fail "bad secret in --json: $BOB_SECRET"

# list: both keys, their fields, and never a secret or a secret's hash.
mx keys list > "$WORK/list.txt"
mx keys list --json > "$WORK/list.json"
for secret in "$ALICE_SECRET" "$BOB_SECRET"; do
  hash=$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)
  ! grep -qF -e "$secret" -e "$hash" "$WORK/list.txt" "$WORK/list.json" || fail "list shows a secret or its hash"
done
grep -qE "^$ALICE +alice +acme +qwen3,llama +1000 +- +5 +2099-01-01 00:00 +yes +active " "$WORK/list.txt" || fail "alice in the table: $(cat "$WORK/list.txt")"
py "[k['id'] for k in d['data']] == ['$ALICE', '$BOB']" < "$WORK/list.json" | grep -qx True || fail "key ids in list --json"
py "d['data'][0]['models'] == ['qwen3', 'llama'] and d['data'][0]['admin'] and d['data'][0]['expires_at'] == '2099-01-01T00:00:00Z' and d['data'][0]['requests_per_minute'] == 5" \
  < "$WORK/list.json" | grep -qx True || fail "alice's fields in list --json: $(cat "$WORK/list.json")"

# update: only the given fields change.
mx keys update "$ALICE" --name alice2 --models "" --tokens-per-day 0 --no-admin --json > "$WORK/update.json"
py "d['name'] == 'alice2' and d['models'] == [] and d['tokens_per_day'] == 0 and not d['admin'] and d['tenant'] == 'acme' and d['requests_per_minute'] == 5" \
  < "$WORK/update.json" | grep -qx True || fail "update: $(cat "$WORK/update.json")"

# revoke.
mx keys revoke "$BOB" | grep -q "Revoked $BOB" || fail "revoke"
mx keys list --json | py "[k['status'] for k in d['data']] == ['active', 'revoked']" | grep -qx True || fail "status after revoke"

# Mistakes: one clear message, exit 2 for a bad argument, 1 for what the ledger says.
expect_fail 1 "no API key with id 'key_000000000000'" keys update key_000000000000 --name x --data-dir "$DATA"
expect_fail 1 "no API key with id 'key_000000000000'" keys revoke key_000000000000 --data-dir "$DATA"
expect_fail 2 "nothing to update" keys update "$ALICE" --data-dir "$DATA"
expect_fail 2 "--expires: '2026-13-01' is not a date" keys create --name x --expires 2026-13-01 --data-dir "$DATA"
expect_fail 2 "--group-by 'weekly'" usage --group-by weekly --data-dir "$DATA"
expect_fail 2 "--from: 'yesterday'" usage --from yesterday --data-dir "$DATA"
expect_fail 2 "--format 'xml'" usage --format xml --data-dir "$DATA"
expect_fail 1 "--key key_000000000000: no such API key" usage --key key_000000000000 --data-dir "$DATA"
touch "$WORK/file"
expect_fail 1 "cannot create the ledger directory '$WORK/file/data'" usage --data-dir "$WORK/file/data"

# Usage of records written into the ledger: two finished requests of alice an hour apart and
# one still open; costs per 1M tokens from a price file.
python3 - "$DATA/ledger.sqlite3" "$ALICE" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
t0 = 1795417200000  # 2026-11-23T07:00:00Z
rows = [("r1", "qwen3", 1000, 200, 100, "ok", t0 + 600000),
        ("r2", "llama", 400, 0, 40, "ok", t0 + 4800000),
        ("r3", "qwen3", 50, 0, 5, "open", t0 + 4900000)]
for rid, model, prompt, cached, completion, status, started in rows:
    db.execute("INSERT INTO usage_records VALUES (?,?,?,?,?,?,?,0,?,?,0,10.0,100.0,'e2e',?,?,'')",
               (rid, sys.argv[2], "acme", model, prompt, cached, completion, prompt + 100,
                status, started, 0 if status == "open" else started + 100))
db.commit()
PY
echo '{"qwen3": {"input": 2, "cached_input": 1, "output": 8}, "llama": {"input": 0.5, "output": 1}}' > "$WORK/prices.json"
# qwen3: 800 * 2 + 200 * 1 + 100 * 8 = 2600; llama: 400 * 0.5 + 40 * 1 = 240 (per 1M tokens).
mx usage --group-by hour --format json --prices "$WORK/prices.json" > "$WORK/hour.json"
py "[r['bucket_start'] for r in d['data']] == ['2026-11-23T07:00:00Z', '2026-11-23T08:00:00Z'] and d['totals']['requests'] == 2 and d['totals']['prompt_tokens'] == 1400 and abs(d['totals']['cost'] - 2840e-6) < 1e-12 and abs(d['data'][0]['cost'] - 2600e-6) < 1e-12" \
  < "$WORK/hour.json" | grep -qx True || fail "usage by hour: $(cat "$WORK/hour.json")"
mx usage --group-by key --format json --include-open --key "$ALICE" --from 2026-11-23 --to 2026-11-23 \
  | py "len(d['data']) == 1 and d['data'][0]['tenant'] == 'acme' and d['data'][0]['requests'] == 3" \
  | grep -qx True || fail "usage by key with open records"
mx usage --to 2026-11-22 --format json | py "d['data'] == []" | grep -qx True || fail "--to before the records"
[ "$(mx usage --records --format csv | wc -l)" -eq 3 ] || fail "usage --records --format csv"
mx usage --group-by model --prices "$WORK/prices.json" | grep -qE '^qwen3 +1 +1000 +200 +100 +0 +0\.002600$' || fail "usage table by model: $(mx usage --group-by model --prices "$WORK/prices.json")"

echo "PASS: keys and usage commands"
