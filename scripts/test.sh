#!/usr/bin/env bash
# Runs every test: builds Tide (installing the C libraries it needs first), then the Swift
# test suites, which drive the real `tide` binary and real servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build --build-tests
# Two passes over one build. The jq suites are thousands of short synchronous evaluations that
# keep Swift's cooperative threads (two on a 2-core machine) busy for minutes; run beside the
# suites that wait on loopback servers and child processes, they starve those waits into
# time-outs. So the CPU-bound suites run first, on their own, then everything else.
cpu_bound='TideJQTests|TideMappingTests'
swift test --skip-build --filter "$cpu_bound"
swift test --skip-build --skip "$cpu_bound"
