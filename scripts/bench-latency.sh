#!/usr/bin/env bash
# Resync speed against an API that answers late: N generated Jira issues in K projects, served by
# the loopback stand-in 150 ms after each request (and, with RATE, at most RATE requests a
# second, answered 429 + Retry-After past it), resynced by `tide run integrations/jira` with the
# issue kind's default mapping into a fresh catalog. For each N it prints three rows:
#
#   concurrency 1   one request at a time (`--concurrency 1`): what Tide did before partitions
#   shipped         the integration as shipped: issues read one project per partition, side by
#                   side within the host's request budget (http.concurrency)
#   bound           the fastest any client could go: requests needed × latency ÷ concurrency,
#                   or requests needed ÷ RATE when the API's rate limit is the tighter
#
#   scripts/bench-latency.sh [N ...]         (default 10000 100000)
#   RATE=20 scripts/bench-latency.sh 10000   (the API allows 20 requests/s)
#
# LATENCY (ms, default 150), PROJECTS (default 50) and PAGE (issues per page, default 100) shape
# the stand-in; SKIP_ONE=1 leaves out the concurrency-1 row (it takes N ÷ PAGE × LATENCY).
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)
latency=${LATENCY:-150}
projects=${PROJECTS:-50}
page=${PAGE:-100}
rate=${RATE:-0}

if [ -z "${NO_BUILD:-}" ]; then  # NO_BUILD=1: use the release binaries as they are
  scripts/setup.sh
  swift build -c release --product tide >/dev/null
  swift build -c release --product tide-jira-standin >/dev/null
fi
bin=.build/release
work=$(mktemp -d)
trap 'pkill -f "$bin/tide-jira-standin" 2>/dev/null || true; rm -rf "$work"' EXIT

# The integration's own budget, as shipped (integration.yml's http.concurrency).
concurrency=$(awk '/^http:/ {h=1} h && /^  concurrency:/ {print $2; exit}' integrations/jira/integration.yml)

start_standin() {
  local args=(--issues "$1" --page-size "$page" --projects "$projects" --latency-ms "$latency")
  [ "$rate" -gt 0 ] && args+=(--rate-limit "$rate")
  "$bin/tide-jira-standin" "${args[@]}" > "$work/standin.out" 2> "$work/standin.err" &
  for _ in $(seq 200); do grep -q listening "$work/standin.out" 2>/dev/null && break; sleep 0.05; done
  awk '/listening/ {print $2}' "$work/standin.out"
}

# Runs one resync; prints "seconds requests peak-RSS-MB".
resync() {
  local n=$1; shift
  local jira
  jira=$(start_standin "$n")
  rm -f "$work/catalog.sqlite"*
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin/tide" run integrations/jira "$@" \
    --mapping Benchmarks/jira-issues-mapping.yml --catalog "$work/catalog.sqlite" \
    --config "jiraHost=$jira" --config atlassianUserEmail=bench@example.com --config atlassianUserToken=bench-token-0123456789 \
    > /dev/null 2> "$work/run.log" || { cat "$work/run.log" >&2; exit 1; }
  pkill -f "$bin/tide-jira-standin" 2>/dev/null || true
  local written requests seconds rss_kb
  written=$(grep -Eo '^issue\[0\] +[0-9]+ +[0-9]+ +[0-9]+' "$work/run.log" | awk '{print $4}')
  [ "$written" = "$n" ] || { echo "expected $n entities, the run wrote ${written:-none}" >&2; cat "$work/run.log" >&2; exit 1; }
  requests=$(grep -Eo '[0-9]+ requests,' "$work/run.log" | awk '{s += $1} END {print s + 0}')
  read -r seconds rss_kb < "$work/time"
  echo "$seconds $requests $((rss_kb / 1024))"
}

limit="none"; [ "$rate" -gt 0 ] && limit="$rate requests/s"
printf "latency %s ms, rate limit %s, %s projects, %s issues a page, http.concurrency %s\n" "$latency" "$limit" "$projects" "$page" "$concurrency"
printf "%-9s %-15s %9s %9s %12s %10s %12s\n" "issues" "run" "seconds" "requests" "issues/s" "RSS (MB)" "× conc. 1"
for n in "${sizes[@]}"; do
  one_rate=""
  if [ -z "${SKIP_ONE:-}" ]; then
    read -r s r m < <(resync "$n" --concurrency 1)
    one_rate=$(echo "$n / $s" | bc -l)
    printf "%-9s %-15s %9.2f %9s %12.0f %10s %12s\n" "$n" "concurrency 1" "$s" "$r" "$one_rate" "$m" "1.0"
  fi
  read -r s r m < <(resync "$n")
  shipped_rate=$(echo "$n / $s" | bc -l)
  speedup=$([ -n "$one_rate" ] && printf "%.1f" "$(echo "$shipped_rate / $one_rate" | bc -l)" || echo "-")
  printf "%-9s %-15s %9.2f %9s %12.0f %10s %12s\n" "$n" "shipped" "$s" "$r" "$shipped_rate" "$m" "$speedup"
  # The bound for the requests this run needed.
  by_latency=$(echo "$r * $latency / 1000 / $concurrency" | bc -l)
  bound=$by_latency
  [ "$rate" -gt 0 ] && bound=$(echo "b = $r / $rate; if (b > $by_latency) b else $by_latency" | bc -l)
  printf "%-9s %-15s %9.2f %9s %12.0f %10s %12s\n" "$n" "bound" "$bound" "$r" "$(echo "$n / $bound" | bc -l)" "-" \
    "$(printf "%.2f" "$(echo "$s / $bound" | bc -l)")×"
done
echo "(the bound row's last column: shipped time ÷ bound)"
