#!/usr/bin/env bash
# Runs every test: builds Tide (installing the C libraries it needs first), then the Swift
# test suites, which drive the real `tide` binary and real servers on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build
swift test
