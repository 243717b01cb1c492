#!/usr/bin/env bash
# The OpenAI-compatible API end to end: a real `mxserve serve` on a tiny Qwen3 test model,
# driven by the official `openai` npm client (tests/e2e/openai/*.test.mjs, node:test).
# $1: the mxserve binary.
set -euo pipefail
source "$(dirname "$0")/lib/serve.sh"
e2e_setup "$1"

tiny_qwen3 "$work/model.gguf"

# Port 0: the server picks a free port and logs it.
serve_start "$work/server.log" \
  "$mxserve" serve -m "$work/model.gguf" --served-model-name tiny-qwen3 --port 0 --threads 2 \
  --ctx 1024 --kv-memory 64MiB --max-seqs 8 --shutdown-grace 5 --data-dir "$work/data" || exit 1

status=0
MX_BASE_URL="http://127.0.0.1:$port" MX_SERVER_PID="$server_pid" \
  NODE_PATH="$MX_TEST_NODE_MODULES" \
  node --test --test-concurrency=1 "$MX_SOURCE_DIR"/tests/e2e/openai/*.test.mjs || status=$?

# Graceful shutdown: SIGTERM, then the process must exit 0 within the grace period.
if kill -0 "$server_pid" 2>/dev/null; then
  kill -TERM "$server_pid"
  for _ in $(seq 1 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$server_pid" 2>/dev/null; then
    echo "server did not stop within 10 s of SIGTERM"; status=1
  else
    wait "$server_pid" || { echo "server exited with $? after SIGTERM"; status=1; }
  fi
  server_pid=""
fi
if [ "$status" != 0 ]; then tail -50 "$work/server.log"; fi
exit "$status"
