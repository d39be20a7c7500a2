#!/usr/bin/env bash
# Load run of Tide's webhook server on loopback, HMAC-SHA256 verification on.
#
#   scripts/bench-webhooks.sh [seconds] [connections] [redis]
#
# With `redis` as third argument: two replicas share live events through a throwaway Redis
# (scripts/with-redis.sh), each driven by its own wrk with half the connections; intake is the sum.
#
# Starts `tide run --event-listener WEBHOOKS_ONLY` on a generated integration whose one webhook
# upserts the payload's item into a scratch catalog, drives it with wrk (apt-get install wrk)
# using 2000 distinct pre-signed bodies, and prints intake events/s with p50/p99 latency, then
# how fast the workers applied the accepted events to the catalog.
# TIDE=path/to/tide picks the binary (default: a release build in .build-webhooks).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_TO_RUN=${1:-15}
CONNECTIONS=${2:-32}
PORT=${PORT:-18089}
SECRET=bench-secret
MODE=${3:-local}
if [ "$MODE" = redis ] && [ -z "${TIDE_TEST_REDIS_URL:-}" ]; then
    exec scripts/with-redis.sh "$0" "$@"
fi
TIDE=${TIDE:-.build-webhooks/release/tide}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install wrk" >&2; exit 2; }
if [ ! -x "$TIDE" ]; then
    swift build -c release --scratch-path .build-webhooks --product tide
fi

WORK=$(mktemp -d)
mkdir -p "$WORK/hooks/.port/resources"
cat > "$WORK/hooks/integration.yml" <<'EOF'
name: bench
configuration:
  - {name: secret, type: string, sensitive: true}
http:
  baseUrl: http://127.0.0.1:9
kinds:
  item:
    request: {path: /items}
    records: .items
webhooks:
  - path: /webhook
    verify: {type: hmac, secret: "{{ .config.secret }}", header: X-Hub-Signature-256, prefix: "sha256="}
    queueSize: 1000000
    workers: 4
    events:
      - {match: .payload.action == "updated", kinds: [item], item: .payload.item, key: .item.id}
EOF
cat > "$WORK/hooks/.port/resources/port-app-config.yml" <<'EOF'
resources:
  - kind: item
    selector: {query: 'true'}
    port:
      entity:
        mappings:
          identifier: .id
          title: .name
          blueprint: '"item"'
          properties: {status: .status}
EOF
echo '[{"identifier":"item","title":"Item","schema":{"properties":{"status":{"type":"string"}},"required":[]},"relations":{}}]' \
    > "$WORK/hooks/.port/resources/blueprints.json"

# Distinct bodies so events spread over the workers; signatures computed ahead (wrk's Lua has no HMAC).
python3 - "$WORK/bench.lua" "$SECRET" <<'EOF'
import hashlib, hmac, json, sys
path, secret = sys.argv[1], sys.argv[2].encode()
lines = ["local bodies = {}", "local signatures = {}"]
for i in range(2000):
    body = json.dumps({"action": "updated", "item": {"id": f"item-{i}", "name": f"Item {i}", "status": "open"}})
    sig = hmac.new(secret, body.encode(), hashlib.sha256).hexdigest()
    lines.append(f"bodies[{i + 1}] = {json.dumps(body)}")
    lines.append(f'signatures[{i + 1}] = "sha256={sig}"')
lines += [
    "local n = 0",
    "request = function()",
    "  n = n % #bodies + 1",
    '  return wrk.format("POST", "/integration/webhook", {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = signatures[n]}, bodies[n])',
    "end",
    "done = function(summary, latency, requests)",
    '  io.write(string.format("intake: %.0f events/s, p50 %.2f ms, p99 %.2f ms, non-2xx %d, errors %d\\n",',
    "    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000,",
    "    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))",
    "end",
]
open(path, "w").write("\n".join(lines) + "\n")
EOF

if [ "$MODE" = redis ]; then
    PORTS=("$PORT" "$((PORT + 1))")
    EVENTS=(--events "$TIDE_TEST_REDIS_URL")
    export OCEAN__INTEGRATION__IDENTIFIER="bench-$$"
else
    PORTS=("$PORT")
    EVENTS=()
fi
SERVERS=()
trap 'kill "${SERVERS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
for port in "${PORTS[@]}"; do
    OCEAN__INTEGRATION__CONFIG__SECRET=$SECRET "$TIDE" run "$WORK/hooks" --sink catalog --catalog "$WORK/catalog.sqlite" \
        --event-listener WEBHOOKS_ONLY --listen 127.0.0.1:$port "${EVENTS[@]}" > "$WORK/tide-$port.log" 2>&1 &
    SERVERS+=($!)
    for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.1; done
done

metric() {
    local total=0
    for port in "${PORTS[@]}"; do
        total=$((total + $(curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 ~ "^"name"[{]" {sum += $2} END {print sum + 0}')))
    done
    echo "$total"
}
# Events left to apply: the replicas' queues, or the streams in Redis.
left() {
    if [ "$MODE" = redis ]; then
        python3 - "$TIDE_TEST_REDIS_URL" "$OCEAN__INTEGRATION__IDENTIFIER" <<'PY'
import socket, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1]); s = socket.create_connection((url.hostname, url.port))
def cmd(*args):
    s.sendall(b"".join([b"*%d\r\n" % len(args)] + [b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in args]))
    return s.recv(4096)
if url.password: cmd("AUTH", urllib.parse.unquote(url.password))
print(sum(int(cmd("XLEN", f"tide:{{{sys.argv[2]}:/webhook}}:events:{p}")[1:].split(b"\r")[0]) for p in range(4)))
PY
    else
        metric tide_webhook_queue_depth
    fi
}
START=$(date +%s.%N)
WRKS=()
for port in "${PORTS[@]}"; do
    wrk -t2 -c"$((CONNECTIONS / ${#PORTS[@]}))" -d"${SECONDS_TO_RUN}s" --latency -s "$WORK/bench.lua" "http://127.0.0.1:$port" > "$WORK/wrk-$port.txt" &
    WRKS+=($!)
done
wait "${WRKS[@]}"
for port in "${PORTS[@]}"; do cat "$WORK/wrk-$port.txt"; done
if [ "${#PORTS[@]}" -gt 1 ]; then
    grep -h '^intake:' "$WORK"/wrk-*.txt | awk '{sum += $2} END {printf "intake (%d replicas on Redis): %.0f events/s in all\n", NR, sum}'
fi
# Then wait for the workers to apply everything accepted.
while [ "$(left)" != "0" ]; do sleep 0.2; done
END=$(date +%s.%N)
PROCESSED=$(metric tide_webhook_events_processed_total)
FAILED=$(metric tide_webhook_events_failed_total)
echo "applied: $PROCESSED events ($FAILED failed) in $(printf '%.1f' "$(echo "$END - $START" | bc)") s," \
     "$(printf '%.0f' "$(echo "$PROCESSED / ($END - $START)" | bc -l)") events/s end to end (verify → queue → map → catalog)"
kill -TERM "${SERVERS[@]}"
wait "${SERVERS[@]}" || true
cat "$WORK"/tide-*.log | grep -E "draining|stopped" || true
