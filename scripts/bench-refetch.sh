#!/usr/bin/env bash
# Webhook refetch throughput: `tide run integrations/jira` serving webhooks against a fast Jira
# stand-in on loopback. Sends N signed `jira:issue_updated` events for distinct issues, each of
# which Tide verifies, matches, reads again through the selector's JQL narrowed to its key, maps
# and writes to a scratch catalog; prints events applied per second.
#
#   scripts/bench-refetch.sh [events]
#
# TIDE=path/to/tide and STANDIN=path/to/tide-jira-standin pick the binaries (default: release
# builds in .build-webhooks). STANDIN_ARGS makes the stand-in a real API's speed and limits
# (e.g. "--latency-ms 150 --rate-limit 20"); then the stand-in's count of requests served and
# answered 429 is printed too. TIDE_ARGS adds flags to `tide run` (e.g. "--rate-limit 20/s").
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${1:-2000}
PORT=${PORT:-18091}
SECRET=bench-secret
TIDE=${TIDE:-.build-webhooks/release/tide}
STANDIN=${STANDIN:-.build-webhooks/release/tide-jira-standin}
if [ ! -x "$TIDE" ] || [ ! -x "$STANDIN" ]; then
    swift build -c release --scratch-path .build-webhooks --product tide
    swift build -c release --scratch-path .build-webhooks --product tide-jira-standin
fi

WORK=$(mktemp -d)
SERVER=""; JIRA=""
trap 'kill $SERVER $JIRA 2>/dev/null || true; rm -rf "$WORK"' EXIT
WARMUP=${WARMUP:-200}
# shellcheck disable=SC2086  # the extra arguments are words
"$STANDIN" --issues $((EVENTS + WARMUP)) ${STANDIN_ARGS:-} > "$WORK/standin.out" 2> "$WORK/standin.err" &
JIRA=$!
for _ in $(seq 100); do grep -q listening "$WORK/standin.out" 2>/dev/null && break; sleep 0.1; done
BASE=$(awk '/listening/ {print $2}' "$WORK/standin.out")

OCEAN__INTEGRATION__CONFIG__WEBHOOK_SECRET=$SECRET "$TIDE" run integrations/jira --catalog "$WORK/catalog.sqlite" \
    --config jiraHost="$BASE" --config atlassianUserEmail=bench@example.com --config atlassianUserToken=bench-token-0123456789 \
    --event-listener WEBHOOKS_ONLY --listen "127.0.0.1:$PORT" ${TIDE_ARGS:-} 2> "$WORK/tide.log" &
SERVER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null 2>&1 && break; sleep 0.1; done

python3 - "$PORT" "$SECRET" "$EVENTS" "$WARMUP" <<'PY'
import hashlib, hmac, http.client, json, sys, threading, time, re
port, secret, events, warmup = int(sys.argv[1]), sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
bodies = []
for n in range(1, events + warmup + 1):
    body = json.dumps({"webhookEvent": "jira:issue_updated", "issue": {"key": f"PRJ-{n}", "id": str(n)}}).encode()
    bodies.append((body, "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()))
def processed():
    c = http.client.HTTPConnection("127.0.0.1", port); c.request("GET", "/metrics")
    text = c.getresponse().read().decode(); c.close()
    done = sum(int(v) for v in re.findall(r'^tide_webhook_events_(?:processed|failed)_total\{[^}]*\} (\d+)', text, re.M))
    failed = sum(int(v) for v in re.findall(r'^tide_webhook_events_failed_total\{[^}]*\} (\d+)', text, re.M))
    return done, failed
def send(part):
    # A full queue answers 503 with Retry-After: wait a little and send again, as Jira would.
    c = http.client.HTTPConnection("127.0.0.1", port)
    for body, sig in part:
        while True:
            c.request("POST", "/integration/webhook", body, {"Content-Type": "application/json", "X-Hub-Signature": sig})
            r = c.getresponse(); r.read()
            if r.status == 202: break
            assert r.status == 503, r.status
            time.sleep(0.05)
    c.close()
def burst(part_bodies, before):
    start = time.time()
    threads = [threading.Thread(target=send, args=(part_bodies[i::8],)) for i in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    accepted = time.time() - start
    while True:
        done, failed = processed()
        if done >= before + len(part_bodies) or time.time() - start > 300: break
        time.sleep(0.02)
    return time.time() - start, accepted, failed
# The first events of each worker include its one-time start-up; the figure is the steady state.
if warmup:
    elapsed, _, _ = burst(bodies[events:], 0)
    print(f"refetch warm-up: {warmup} events in {elapsed:.2f} s")
elapsed, accepted, failed = burst(bodies[:events], warmup)
print(f"refetch: {events} events applied in {elapsed:.2f} s ({events / elapsed:.0f} events/s), {failed} failed; intake took {accepted:.2f} s")
PY
# The stand-in says, as it stops, how many requests it served and refused.
kill "$JIRA" 2>/dev/null || true
wait "$JIRA" 2>/dev/null || true
JIRA=""
if [ -n "${STANDIN_ARGS:-}" ]; then sed 's/^tide-jira-standin: /stand-in: /' "$WORK/standin.err"; fi
