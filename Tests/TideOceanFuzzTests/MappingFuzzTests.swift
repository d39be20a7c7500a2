import Foundation
import Testing
import TideJQ
import TideOceanFuzz

/// Differential fuzzing against port-ocean 0.56.2 (issue 13). `scripts/fuzz-mappings.py` generated
/// mappings and records from a grammar of real Ocean mappings and recorded what Ocean itself made of
/// each record (Fixtures/ocean-fuzz.json, fixed seed; Fixtures/ocean-fuzz-regressions.json, the
/// minimised differences long campaigns found). Tide must give the same entities, misconfigured
/// fields, filtered, skipped and failed items, except for the known differences in
/// `OceanFuzz.knownDifferences`, each documented in docs/jq.md. Campaigns compare their random
/// corpora with the same code, release-built, in `tide-ocean-fuzz`.
@Suite(.serialized) struct MappingFuzzTests {
    static var fixtures: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures") }

    /// What a run found, to hand back from its thread.
    struct Outcome: Sendable {
        var corpus = 0, regressions = 0, expectedPairs = 0, compared = 0, timed = 0
        var differences: [FuzzDifference] = []
        var slow: [String] = []
    }

    /// Runs `body` on a thread of its own: a minute of synchronous mapping on one of Swift's
    /// cooperative threads (two on this machine) would starve the loopback servers of other suites.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    @Test func corpusMatchesOcean() async throws {
        let run = try await Self.offThePool { () throws -> Outcome in
            let corpus = try OceanFuzz.load(Self.fixtures.appendingPathComponent("ocean-fuzz.json"))
            let regressions = try OceanFuzz.load(Self.fixtures.appendingPathComponent("ocean-fuzz-regressions.json"))
            var run = FuzzRun()
            for fuzzCase in corpus + regressions { run.compare(fuzzCase) }
            return Outcome(corpus: corpus.count, regressions: regressions.count,
                           expectedPairs: (corpus + regressions).reduce(0) { $0 + ($1["records"]?.count ?? 0) },
                           compared: run.compared, timed: run.timed, differences: run.differences, slow: run.slow)
        }
        let expectedPairs = run.expectedPairs
        #expect(run.corpus >= 40)
        #expect(run.regressions >= 1)
        #expect(run.compared == expectedPairs && expectedPairs > 0)
        #expect(run.timed == expectedPairs)
        for difference in run.differences.prefix(30) {
            Issue.record("\(difference.caseID) record \(difference.record): \(difference.detail)")
        }
        #expect(run.differences.count == 0, "differences from Ocean (the first 30 are listed above)")
        for slow in run.slow.prefix(10) { Issue.record("slow: \(slow)") }
        #expect(run.slow.count == 0)
    }

    /// Every known difference is documented in docs/jq.md under its id.
    @Test func knownDifferencesAreDocumented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/jq.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        var checked = 0
        for known in OceanFuzz.knownDifferences {
            #expect(text.contains("`\(known.id)`"), "docs/jq.md does not document \(known.id)")
            checked += 1
        }
        #expect(checked == OceanFuzz.knownDifferences.count && checked > 0)
    }
}
