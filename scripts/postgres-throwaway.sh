# A throwaway PostgreSQL cluster on loopback, for the registry's tests and
# benches. Sourced, not run:
#   . scripts/postgres-throwaway.sh
#   start_throwaway_postgres [-c name=value ...]   # extra server settings
#   ... CARTORIO_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
#   stop_throwaway_postgres
# Installs PostgreSQL with apt-get when no server is installed, starts a
# cluster (trust authentication, loopback only) in a temporary directory
# on a free port, as the `postgres` user when run as root (the server
# refuses to run as root), and removes it all when stopped.

pg_bin_dir() {
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

start_throwaway_postgres() {
  local bin sudo="" port
  bin=$(pg_bin_dir)
  if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing: postgresql"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
    bin=$(pg_bin_dir)
  fi
  PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/cartorio-pg.XXXXXX")
  PG_AS=()
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$PG_DIR"
    PG_AS=(runuser -u postgres --)
  fi
  PG_CTL="$bin/pg_ctl"
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  if ! "${PG_AS[@]}" "$bin/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 >"$PG_DIR/initdb.log" 2>&1; then
    cat "$PG_DIR/initdb.log" >&2
    return 1
  fi
  # Loopback TCP only; the socket directory is the cluster's own.
  if ! "${PG_AS[@]}" "$PG_CTL" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
      -o "-h 127.0.0.1 -p $port -k $PG_DIR $*" start >/dev/null; then
    cat "$PG_DIR/server.log" >&2
    return 1
  fi
  export CARTORIO_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
  echo "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($PG_DIR)"
}

stop_throwaway_postgres() {
  [ -n "${PG_DIR:-}" ] || return 0
  "${PG_AS[@]}" "$PG_CTL" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  rm -rf "$PG_DIR"
  PG_DIR=""
}
