# A throwaway PostgreSQL cluster for end-to-end tests. Source it, then:
#
#   pg_start            # creates and starts a cluster; exports PG_URL (and PG_DIR, PG_BIN)
#   trap pg_stop EXIT   # stops the server and removes its directory
#
# The cluster lives in a temporary directory, listens on 127.0.0.1 only (and a Unix socket in
# that directory), on a free port, with trust authentication: for tests, never for data.
# PG_URL is postgresql://postgres@127.0.0.1:PORT/postgres. As root the server runs as the
# `postgres` system user (initdb refuses root); otherwise as the current user.
# Needs the Debian package postgresql (initdb, pg_ctl, pg_isready under /usr/lib/postgresql).

# The bin directory of the newest installed PostgreSQL server, or a message on stderr.
pg_find_bin() {
  local dir best
  # The glob sorts lexically (10 before 9): sort on the version field of /usr/lib/postgresql/V/bin.
  best=$(for dir in /usr/lib/postgresql/*/bin; do
    [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && echo "$dir"
  done | sort -t/ -k5,5n | tail -n 1)
  if [ -z "$best" ]; then
    echo "PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql/*/bin;" \
         "install the Debian package postgresql (apt-get install postgresql)" >&2
    return 1
  fi
  echo "$best"
}

# Runs a command as the cluster's owner: `postgres` when we are root, else ourselves.
pg_as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

pg_free_port() {
  /usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

pg_start() {
  PG_BIN=$(pg_find_bin) || return 1
  if [ "$(id -u)" -eq 0 ] && ! id postgres >/dev/null 2>&1; then
    echo "running as root but there is no 'postgres' system user to run the server as" \
         "(the Debian package postgresql creates it)" >&2
    return 1
  fi
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/mx_pg.XXXXXX") || return 1
  [ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
  local port log=$PG_DIR/server.log
  port=$(pg_free_port) || return 1
  if ! pg_as_owner "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 \
      --locale=C >"$PG_DIR/initdb.log" 2>&1; then
    echo "initdb failed:" >&2
    cat "$PG_DIR/initdb.log" >&2
    return 1
  fi
  if ! pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off" start >/dev/null; then
    echo "the PostgreSQL server did not start:" >&2
    cat "$log" >&2
    return 1
  fi
  local tries=0
  until "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
      echo "the PostgreSQL server on 127.0.0.1:$port is not ready after 30 s:" >&2
      cat "$log" >&2
      return 1
    fi
    sleep 0.5
  done
  export PG_DIR PG_BIN
  export PG_URL="postgresql://postgres@127.0.0.1:$port/postgres"
}

# Safe to call more than once, and when pg_start failed half-way.
pg_stop() {
  if [ -n "${PG_DIR:-}" ] && [ -d "$PG_DIR" ]; then
    if [ -f "$PG_DIR/data/postmaster.pid" ]; then
      pg_as_owner "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$PG_DIR"
  fi
  PG_DIR=""
}
