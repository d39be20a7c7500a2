#!/usr/bin/env bash
# The main job, offline: builds Tide (installing the C libraries it needs first), then resyncs the
# Jira integration from its recorded API responses (served on loopback) into the embedded catalog
# at .tide/catalog.sqlite, and prints the summary and what landed in the catalog.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build --product tide
tide=".build/debug/tide"

"$tide" run integrations/jira --replay --catalog .tide/catalog.sqlite
echo
"$tide" catalog blueprints --catalog .tide/catalog.sqlite
