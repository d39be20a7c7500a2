#!/usr/bin/env bash
# Resync benchmark: N generated Jira issues (about 3 KB each) from a loopback stand-in, through
# Tide's mapping, into a fresh embedded catalog (or, with --sink port, into a Port API stand-in;
# with --sink postgres, into a fresh schema of a PostgreSQL catalog: TIDE_TEST_POSTGRES_URL's
# server, else a throwaway one started by scripts/with-postgres.sh).
# Prints records/s and peak RSS per N.
# usage: scripts/bench-resync.sh [--sink catalog|port|postgres] [N ...]     (default: catalog, 10000 100000)
# RUN_FLAGS adds flags to `tide run` (e.g. RUN_FLAGS="--parse-whole --jobs 1" to compare).
set -euo pipefail
cd "$(dirname "$0")/.."
sink=catalog
if [ "${1:-}" = "--sink" ]; then sink=$2; shift 2; fi
if [ "$sink" = postgres ] && [ -z "${TIDE_TEST_POSTGRES_URL:-}" ]; then
  exec scripts/with-postgres.sh "$0" --sink postgres "$@"
fi
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)

scripts/setup.sh
swift build -c release --product tide >/dev/null
swift build -c release --product tide-jira-standin >/dev/null
[ "$sink" = port ] && swift build -c release --product tide-port-standin >/dev/null
bin=.build/release
work=$(mktemp -d)
# The stand-ins start inside command substitutions, so they are not this shell's jobs: stop them by name.
trap 'pkill -f "$bin/tide-jira-standin" 2>/dev/null || true; pkill -f "$bin/tide-port-standin" 2>/dev/null || true; rm -rf "$work"' EXIT

# Starts a stand-in in the background and prints its base URL.
start() {
  "$bin/$1" "${@:2}" > "$work/$1.out" 2>&1 &
  for _ in $(seq 200); do grep -q listening "$work/$1.out" 2>/dev/null && break; sleep 0.05; done
  awk '/listening/ {print $2}' "$work/$1.out"
}

printf "%-8s %-10s %10s %12s %14s\n" "sink" "issues" "seconds" "records/s" "peak RSS (MB)"
for n in "${sizes[@]}"; do
  jira=$(start tide-jira-standin --issues "$n" --page-size 100)
  env=()
  if [ "$sink" = port ]; then
    port=$(start tide-port-standin)
    env=(OCEAN__PORT__CLIENT_ID=client-id OCEAN__PORT__CLIENT_SECRET=client-secret OCEAN__PORT__BASE_URL="$port"
         OCEAN__INTEGRATION__IDENTIFIER=bench)
  fi
  rm -f "$work/catalog.sqlite"*
  catalog="$work/catalog.sqlite"
  if [ "$sink" = postgres ]; then
    psql=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)/psql
    "$psql" "$TIDE_TEST_POSTGRES_URL" -qAt -c "SET client_min_messages = warning; DROP SCHEMA IF EXISTS tide_bench CASCADE; CREATE SCHEMA tide_bench" >/dev/null
    catalog="$TIDE_TEST_POSTGRES_URL?options=-csearch_path%3Dtide_bench"
  fi
  env "${env[@]}" /usr/bin/time -f "%e %M" -o "$work/time" "$bin/tide" run integrations/jira \
    --sink "$([ "$sink" = postgres ] && echo catalog || echo "$sink")" ${RUN_FLAGS:-} \
    --mapping Benchmarks/jira-issues-mapping.yml --catalog "$catalog" \
    --config "jiraHost=$jira" --config atlassianUserEmail=bench@example.com --config atlassianUserToken=bench \
    > /dev/null 2> "$work/run.log" || { cat "$work/run.log"; exit 1; }
  pkill -f "$bin/tide-jira-standin" 2>/dev/null || true
  pkill -f "$bin/tide-port-standin" 2>/dev/null || true
  read -r seconds rss_kb < "$work/time"
  written=$(grep -Eo '^issue\[0\] +[0-9]+ +[0-9]+ +[0-9]+' "$work/run.log" | awk '{print $4}')
  [ "$written" = "$n" ] || { echo "expected $n entities, the run wrote ${written:-none}"; cat "$work/run.log"; exit 1; }
  awk -v k="$sink" -v n="$n" -v s="$seconds" -v r="$rss_kb" \
    'BEGIN { printf "%-8s %-10d %10.2f %12.0f %14.1f\n", k, n, s, n / s, r / 1024 }'
done
