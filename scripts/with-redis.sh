#!/usr/bin/env bash
# Runs a command beside a throwaway Redis server, for the tests of live events in Redis:
#
#   scripts/with-redis.sh swift test --filter TideRedisTests
#
# Installs Debian's `redis-server` when it is missing (only then, like setup.sh), starts it on a
# free loopback port with its files in a temporary directory, a password, and the append-only
# file on (as production should run it), and runs the command with TIDE_TEST_REDIS_URL set to it
# (redis://:PASSWORD@127.0.0.1:PORT/0). The server is stopped and the directory removed when the
# command ends, whatever its outcome; the command's exit status is returned.
set -euo pipefail

if [ $# -eq 0 ]; then echo "usage: scripts/with-redis.sh COMMAND [ARG...]" >&2; exit 2; fi

sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
if ! command -v redis-server >/dev/null 2>&1; then
  echo "with-redis: installing redis-server" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq redis-server >/dev/null
  # The package may start a system-wide server; the tests use their own.
  $sudo service redis-server stop >/dev/null 2>&1 || true
fi

dir=$(mktemp -d /tmp/tide-redis.XXXXXX)
pid=""
stop() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$dir"
}
trap stop EXIT
trap 'exit 130' INT TERM

password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The password goes through a config file, not the command line (which `ps` shows).
cat > "$dir/redis.conf" <<CONF
bind 127.0.0.1
port $port
dir $dir
daemonize no
save ""
appendonly yes
appendfsync everysec
requirepass $password
logfile $dir/server.log
CONF
redis-server "$dir/redis.conf" &
pid=$!
for _ in $(seq 1 100); do
  if redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning -a "$password" ping 2>/dev/null | grep -q PONG; then break; fi
  if ! kill -0 "$pid" 2>/dev/null; then cat "$dir/server.log" >&2; exit 1; fi
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$port" --no-auth-warning -a "$password" ping 2>/dev/null | grep -q PONG \
  || { echo "with-redis: the server did not answer" >&2; cat "$dir/server.log" >&2; exit 1; }

export TIDE_TEST_REDIS_URL="redis://:$password@127.0.0.1:$port/0"
echo "with-redis: Redis $(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p') on 127.0.0.1:$port (data in $dir)" >&2
status=0
"$@" || status=$?
exit $status
