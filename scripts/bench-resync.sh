#!/usr/bin/env bash
# Resync benchmark: N generated Jira issues (about 3 KB each) from a loopback stand-in, through
# Tide's mapping, into a fresh embedded catalog. Prints records/s and peak RSS per N.
# usage: scripts/bench-resync.sh [N ...]     (default: 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(10000 100000)

scripts/setup.sh
swift build -c release --product tide >/dev/null
swift build -c release --product tide-jira-standin >/dev/null
bin=.build/release
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

printf "%-10s %10s %12s %14s\n" "issues" "seconds" "records/s" "peak RSS (MB)"
for n in "${sizes[@]}"; do
  "$bin/tide-jira-standin" --issues "$n" --page-size 100 > "$work/standin.out" &
  standin=$!
  for _ in $(seq 100); do grep -q listening "$work/standin.out" 2>/dev/null && break; sleep 0.05; done
  url=$(awk '/listening/ {print $2}' "$work/standin.out")
  rm -f "$work/catalog.sqlite"*
  /usr/bin/time -f "%e %M" -o "$work/time" "$bin/tide" run integrations/jira \
    --mapping Benchmarks/jira-issues-mapping.yml --catalog "$work/catalog.sqlite" \
    --config "jiraHost=$url" --config atlassianUserEmail=bench@example.com --config atlassianUserToken=bench \
    > /dev/null 2> "$work/run.log" || { cat "$work/run.log"; exit 1; }
  kill "$standin"; wait "$standin" 2>/dev/null || true
  read -r seconds rss_kb < "$work/time"
  written=$(grep -Eo '^issue\[0\] +[0-9]+ +[0-9]+ +[0-9]+' "$work/run.log" | awk '{print $4}')
  [ "$written" = "$n" ] || { echo "expected $n entities, the run wrote ${written:-none}"; cat "$work/run.log"; exit 1; }
  awk -v n="$n" -v s="$seconds" -v r="$rss_kb" 'BEGIN { printf "%-10d %10.2f %12.0f %14.1f\n", n, s, n / s, r / 1024 }'
done
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/ {print $2}') GiB"
