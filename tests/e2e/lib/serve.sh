# Shared by the e2e scripts (source it): start `mxserve serve ... --port 0` in the background
# and read the port it picked from its log.
#   serve_start LOG CMD...   runs CMD with stderr to LOG; sets server_pid and port
# Fails (printing the log) if the server exits or does not say where it listens within 60 s.
serve_start() {
  local log="$1"
  shift
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
