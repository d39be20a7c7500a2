#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL server, for the tests of the PostgreSQL catalog:
#
#   scripts/with-postgres.sh swift test --filter TideCatalogTests
#
# Installs Debian's `postgresql` when it is missing (only what is missing, like setup.sh), then
# creates a cluster in a temporary directory (initdb), starts it on a free loopback port with its
# unix socket in that directory, and runs the command with TIDE_TEST_POSTGRES_URL set to it
# (postgresql://tide:PASSWORD@127.0.0.1:PORT/tide). The server is stopped and the directory
# removed when the command ends, whatever its outcome; the command's exit status is returned.
# PostgreSQL refuses to run as root, so under root the server runs as the `postgres` user the
# package creates.
set -euo pipefail

if [ $# -eq 0 ]; then echo "usage: scripts/with-postgres.sh COMMAND [ARG...]" >&2; exit 2; fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! dpkg-query -W -f='${Status}' postgresql 2>/dev/null | grep -q "install ok installed"; then
  echo "with-postgres: installing postgresql" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null
  # The package starts a system-wide cluster; the tests use their own.
  $sudo service postgresql stop >/dev/null 2>&1 || true
fi

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$bin/initdb" ] || { echo "with-postgres: no initdb under /usr/lib/postgresql/*/bin" >&2; exit 1; }

dir=$(mktemp -d /tmp/tide-postgres.XXXXXX)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  run_as=(runuser -u postgres --)
fi
as_server() { (cd "$dir" && "${run_as[@]}" "$@"); }

stop() {
  as_server "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
as_server sh -c "printf '%s\n' '$password' > '$dir/password'"
# Password logins over TCP (so the URL carries one, as in production); trust on the socket only.
as_server "$bin/initdb" -D "$dir/data" -U tide --pwfile="$dir/password" --auth-local=trust \
  --auth-host=scram-sha-256 -E UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# A scratch server: durability is not wanted, speed is (and deadlocks, which tests provoke, found fast).
if ! as_server "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start -o \
  "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c deadlock_timeout=200ms" \
  >/dev/null; then
  cat "$dir/server.log" >&2
  exit 1
fi
as_server "$bin/psql" -h "$dir" -p "$port" -U tide -d postgres -qAt -c "CREATE DATABASE tide" >/dev/null

export TIDE_TEST_POSTGRES_URL="postgresql://tide:$password@127.0.0.1:$port/tide"
echo "with-postgres: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $dir)" >&2
status=0
"$@" || status=$?
exit $status
