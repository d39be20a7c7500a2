#!/usr/bin/env bash
# Leak check for TideJQ: compiles Sources/TideJQ together with a small workload (every case of
# the jq 1.8 oracle fixture through JQProgram/JSON: compile, run, outputs, runtime and compile
# errors, timeouts, the whole prelude) and runs it under valgrind. Fails on any definite leak or
# memory error outside the libjq 1.6 leaks listed in scripts/valgrind-libjq.supp.
#
#   scripts/leak-check.sh             one pass over the fixture
#   ROUNDS=3 scripts/leak-check.sh    more passes (a leak then grows with the count)
#
# Why not the SwiftPM test binary: Debian's valgrind 3.19 cannot read the DWARF 5 debug info of
# the toolchain-built xctest ("Possibly corrupted debuginfo file ... Giving up"), and `swift test`
# needs every target of the package to build. A direct swiftc build of TideJQ avoids both.
# Only definite leaks count: the Swift runtime keeps "still reachable"/"possibly lost" globals.
set -u
cd "$(dirname "$0")/.."
root=$(pwd)
rounds=${ROUNDS:-1}
fixture="$root/Tests/TideJQTests/Fixtures/jq18-oracle.json"
work=$(mktemp -d /tmp/tide-leak-check.XXXXXX)
started=$(date +%s)

cat >"$work/main.swift" <<'SWIFT'
import Foundation

// Every fixture case, `rounds` times: each compiled afresh, run, outputs and errors consumed.
let arguments = CommandLine.arguments
let text = try String(contentsOf: URL(fileURLWithPath: arguments[1]), encoding: .utf8)
let rounds = Int(arguments[2]) ?? 1
let cases = try JSON(parsing: text)
var outputs = 0, errors = 0
for _ in 0..<rounds {
    for entry in cases.arrayElements {
        guard let source = entry["program"]?.stringValue, let input = entry["input"]?.stringValue else { continue }
        do {
            let program = try JQProgram(source, options: JQOptions(timeout: .seconds(20)))
            let value = try JSON(parsing: input)
            do {
                for output in try program.all(value) { _ = output.serialized(); outputs += 1 }
            } catch { errors += 1 }
            _ = try? program.first(value)
        } catch { errors += 1 }
    }
}
print("workload: \(cases.count) cases x \(rounds): \(outputs) outputs, \(errors) errors")
SWIFT

if ! swiftc -Onone -module-name TideJQLeakCheck -I "$root/Sources/CJQ" \
        "$root"/Sources/TideJQ/*.swift "$work/main.swift" -o "$work/workload" >"$work/build.log" 2>&1; then
    echo "leak-check: build failed:" >&2
    grep -E 'error:' "$work/build.log" >&2
    exit 2
fi

# Known leaks inside libjq 1.6 itself (not Tide's) are listed, with the reason, in the suppressions.
valgrind --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite \
    --suppressions="$root/scripts/valgrind-libjq.supp" \
    --error-exitcode=99 --num-callers=30 --log-file="$work/valgrind.log" \
    "$work/workload" "$fixture" "$rounds" >"$work/workload.log" 2>&1
status=$?
elapsed=$(( $(date +%s) - started ))

definite=$(grep -E 'definitely lost:' "$work/valgrind.log" | tail -1 | sed -E 's/^==[0-9]+== +//')
summary=$(grep -E 'ERROR SUMMARY' "$work/valgrind.log" | tail -1 | sed -E 's/^==[0-9]+== //')
echo "leak-check: $(cat "$work/workload.log")"
echo "leak-check: ${definite:-definitely lost: 0 bytes (no leak summary: nothing allocated was lost)}"
echo "leak-check: ${summary:-no error summary}"
echo "leak-check: ${elapsed}s; valgrind log $work/valgrind.log"
if [[ $status -eq 99 ]]; then
    echo "leak-check: VERDICT: LEAKS OR MEMORY ERRORS (see the log above)"
    exit 1
elif [[ $status -ne 0 ]]; then
    echo "leak-check: VERDICT: INCONCLUSIVE, the workload exited $status"
    exit 3
fi
echo "leak-check: VERDICT: CLEAN (no definite leaks, no memory errors)"
