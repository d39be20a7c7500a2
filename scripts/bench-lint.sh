#!/usr/bin/env bash
# Times `tide lint` over every shipped integration with a release build: the figure the lint
# issue promises stays "well under a second". Prints the best and median of RUNS runs.
#
#   scripts/bench-lint.sh            # builds release (into .build), then times
#   RUNS=50 scripts/bench-lint.sh
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-20}
SCRATCH=${SCRATCH:-.build}

swift build -c release --product tide --scratch-path "$SCRATCH" >&2
TIDE="$SCRATCH/release/tide"
"$TIDE" lint integrations/... >/dev/null   # must be clean, and warms the page cache

python3 - "$TIDE" "$RUNS" <<'PY'
import statistics, subprocess, sys, time
tide, runs = sys.argv[1], int(sys.argv[2])
times = []
for _ in range(runs):
    start = time.perf_counter()
    subprocess.run([tide, "lint", "integrations/..."], check=True, stdout=subprocess.DEVNULL)
    times.append((time.perf_counter() - start) * 1000)
print(f"tide lint integrations/... ({runs} runs, whole process): best {min(times):.1f} ms, median {statistics.median(times):.1f} ms")
PY
