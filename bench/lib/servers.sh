# shellcheck shell=bash
# Shared by the serving benchmark scripts (source it): start one OpenAI-compatible server in
# the background, wait for GET /health, stop it; an EXIT trap stops whatever is still running.
#   start_server NAME LOG CMD...   sets SERVER_PID, SERVER_URL (port from free_port)
#   stop_server
# Needs: curl, node. Callers set -euo pipefail.

SERVER_PID=""
SERVER_URL=""
SERVER_LOG=""
SERVER_NAME=""
HEALTH_TIMEOUT_S=${HEALTH_TIMEOUT_S:-300}

free_port() {  # a TCP port nothing listens on now (the kernel picks it)
  node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close();});'
}

log_tail() {
  echo "---- last 30 lines of $SERVER_LOG ----" >&2
  tail -n 30 "$SERVER_LOG" >&2 || true
  echo "----" >&2
}

stop_server() {
  [ -n "$SERVER_PID" ] || return 0
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 100); do  # up to 10 s for a clean exit, then SIGKILL
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null || true
  fi
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

# start_server NAME LOG PORT CMD... : CMD must listen on 127.0.0.1:PORT.
start_server() {
  SERVER_NAME=$1 SERVER_LOG=$2
  local port=$3
  shift 3
  SERVER_URL="http://127.0.0.1:$port"
  echo "[$(date -u +%H:%M:%S)] starting $SERVER_NAME: $*" >&2
  "$@" >"$SERVER_LOG" 2>&1 &
  SERVER_PID=$!
  local waited=0
  while :; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      local rc=0
      wait "$SERVER_PID" || rc=$?
      SERVER_PID=""
      echo "error: $SERVER_NAME exited (status $rc) before answering /health" >&2
      log_tail
      return 1
    fi
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$SERVER_URL/health" || true)" = 200 ]; then
      echo "[$(date -u +%H:%M:%S)] $SERVER_NAME is up at $SERVER_URL after ${waited} s" >&2
      return 0
    fi
    if [ "$waited" -ge "$HEALTH_TIMEOUT_S" ]; then
      echo "error: $SERVER_NAME did not answer GET $SERVER_URL/health with 200 within ${HEALTH_TIMEOUT_S} s" >&2
      log_tail
      stop_server
      return 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
}
