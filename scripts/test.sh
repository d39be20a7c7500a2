#!/usr/bin/env bash
# Runs every test: builds Tide (installing the C libraries it needs first), checks deploy/, then
# the Swift test suites, which drive the real `tide` binary and real servers on loopback, a throwaway
# PostgreSQL among them.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
swift build --build-tests
# deploy/ (Dockerfile, Kubernetes manifests), offline and in seconds: schemas, and agreement with the
# sources, the docs and the libraries the binary just built links (installs its validator once).
scripts/check-manifests.sh
# Passes over one build. The jq suites and the Ocean fuzz corpus (a minute of mapping) are
# thousands of short synchronous evaluations that keep Swift's cooperative threads (two on a
# 2-core machine) busy for minutes; run beside the suites that wait on loopback servers and child
# processes, they starve those waits into time-outs. The catalog suites do the same in their own
# way: against PostgreSQL every test holds its thread while it waits for the server. So the
# CPU-bound suites run first, on their own, then the catalog suites beside a throwaway PostgreSQL
# (scripts/with-postgres.sh installs it when missing and stops it after; without it their
# PostgreSQL tests fail rather than skip), then the live-events suites beside a throwaway Redis
# (scripts/with-redis.sh, the same way: they run two `tide` replicas and kill one), then the HTTP
# client's suites (their request-budget tests follow quota windows and pauses of a few seconds,
# which a machine loaded by every other suite outran), then the suites that run the `tide` binary
# (in a process of their own: the loopback servers the other suites leave open pushed the test
# process past a thousand descriptors, where Foundation's Process.run crashed), then everything else.
cpu_bound='TideJQTests|TideMappingTests|TideOceanFuzzTests'
swift test --skip-build --filter "$cpu_bound"
TIDE_TEST_REQUIRE_POSTGRES=1 scripts/with-postgres.sh swift test --skip-build --filter TideCatalogTests
TIDE_TEST_REQUIRE_REDIS=1 scripts/with-redis.sh swift test --skip-build --filter TideRedisTests
swift test --skip-build --filter TideHTTPTests
swift test --skip-build --filter TideCLITests
swift test --skip-build --skip "$cpu_bound|TideCatalogTests|TideRedisTests|TideHTTPTests|TideCLITests"
