import Foundation
import TideJQ
import TideOceanFuzz

// tide-ocean-fuzz CORPUS.json DIFFS.json: maps every case of a corpus that
// scripts/fuzz-mappings.py recorded Ocean's results for, with the comparison MappingFuzzTests
// makes, and writes what differs (and the known differences it absorbed) as JSON. Release-built,
// so that campaigns of 100,000+ pairs take minutes.
let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    FileHandle.standardError.write(Data("usage: tide-ocean-fuzz CORPUS.json DIFFS.json\n".utf8))
    exit(2)
}
let cases = try OceanFuzz.load(URL(fileURLWithPath: arguments[1]))
var run = FuzzRun()
for fuzzCase in cases { run.compare(fuzzCase) }
let differences = run.differences.map {
    JSON(object: ["case": JSON($0.caseID), "record": JSON($0.record), "detail": JSON($0.detail)])
}
let known = JSON(orderedObject: run.known.sorted { $0.key < $1.key }.map { ($0.key, JSON($0.value)) })
try JSON(object: ["pairs": JSON(run.compared), "timed": JSON(run.timed), "differences": JSON(array: differences),
                  "slow": JSON(array: run.slow.map { JSON($0) }), "known": known])
    .serialized().write(toFile: arguments[2], atomically: true, encoding: .utf8)
