import Foundation
import Testing
import TideJQ
import TideModel
@testable import TideMapping

/// Differential fuzzing against port-ocean 0.56.2 (issue 13). `scripts/fuzz-mappings.py` generated
/// mappings and records from a grammar of real Ocean mappings and recorded what Ocean itself made of
/// each record (Fixtures/ocean-fuzz.json, fixed seed; Fixtures/ocean-fuzz-regressions.json, the
/// minimised differences long campaigns found). Tide must give the same entities, misconfigured
/// fields, filtered, skipped and failed items, except for the known differences below, each
/// documented in docs/jq.md. With TIDE_FUZZ_CORPUS set (the script's campaigns), that corpus is
/// compared instead and the differences are written to TIDE_FUZZ_DIFFS.
@Suite(.serialized) struct MappingFuzzTests {
    /// Differences libjq 1.6 cannot avoid, by id (the id is the heading's anchor in docs/jq.md).
    static let knownDifferences: [KnownDifference] = [
        KnownDifference(id: "number-literals", reason: "jq 1.8 keeps a number's literal text through tostring/tojson/interpolation; 1.6 prints the double") { ocean, tide in
            guard let ocean, let tide else { return false }
            return FuzzCompare.sameWithNumbersCanonical(ocean, tide)
        },
        KnownDifference(id: "blueprint-not-string", reason: "Ocean keeps a truthy non-string blueprint (1, true) and sends the entity, which Port rejects; Tide skips the item") { ocean, _ in
            ocean?["outcome"]?.stringValue == "entity" && ocean?["entity"]?["blueprint"].map { $0.kind != .string } == true
        },
        KnownDifference(id: "icon-validation", reason: "Ocean fails the whole batch when pydantic rejects the entity (an icon that is a list or object); Tide maps the entity with a null icon and reports the field") { ocean, _ in
            ocean?["outcome"]?.stringValue == "batchError"
        },
    ]

    static var fixtures: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures") }

    static func load(_ url: URL) throws -> [JSON] {
        let data = try Data(contentsOf: url)
        return try JSON(parsing: String(decoding: data, as: UTF8.self))["cases"]?.arrayElements ?? []
    }

    /// Runs `body` on a thread of its own: a minute of synchronous mapping on one of Swift's
    /// cooperative threads (two on this machine) would starve the loopback servers of other suites.
    static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    @Test func corpusMatchesOcean() async throws {
        let environment = ProcessInfo.processInfo.environment
        let (run, expectedPairs, caseCount) = try await Self.offThePool { () throws -> (FuzzRun, Int, Int) in
            var cases: [JSON]
            if let corpus = environment["TIDE_FUZZ_CORPUS"] {
                cases = try Self.load(URL(fileURLWithPath: corpus))
            } else {
                cases = try Self.load(Self.fixtures.appendingPathComponent("ocean-fuzz.json"))
                let regressions = Self.fixtures.appendingPathComponent("ocean-fuzz-regressions.json")
                if FileManager.default.fileExists(atPath: regressions.path) { cases += try Self.load(regressions) }
            }
            var run = FuzzRun()
            for fuzzCase in cases { run.compare(fuzzCase) }
            return (run, cases.reduce(0) { $0 + ($1["records"]?.count ?? 0) }, cases.count)
        }

        if let path = environment["TIDE_FUZZ_DIFFS"] {
            let list = run.differences.map { JSON(object: ["case": JSON($0.caseID), "record": JSON($0.record), "detail": JSON($0.detail)]) }
            try JSON(object: ["differences": JSON(array: list), "pairs": JSON(run.compared)]).serialized()
                .write(toFile: path, atomically: true, encoding: .utf8)
        }
        #expect(caseCount >= 90 || environment["TIDE_FUZZ_CORPUS"] != nil)
        #expect(run.compared == expectedPairs)
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
        for known in Self.knownDifferences {
            #expect(text.contains("`\(known.id)`"), "docs/jq.md does not document \(known.id)")
            checked += 1
        }
        #expect(checked == Self.knownDifferences.count && checked > 0)
    }
}

struct KnownDifference: Sendable {
    var id: String
    var reason: String
    /// Whether a difference between Ocean's value and Tide's is this one.
    var matches: @Sendable (_ ocean: JSON?, _ tide: JSON?) -> Bool
}

struct FuzzDifference: Sendable {
    var caseID: String
    var record: Int
    var detail: String
}

/// Maps every record of a corpus with Tide and compares with Ocean's recorded results.
struct FuzzRun: Sendable {
    var compared = 0
    var timed = 0
    var differences: [FuzzDifference] = []
    var slow: [String] = []
    /// How many differences each known difference absorbed (for campaign summaries).
    var known: [String: Int] = [:]

    mutating func compare(_ fuzzCase: JSON) {
        let id = fuzzCase["id"]?.stringValue ?? "?"
        let records = fuzzCase["records"]?.arrayElements ?? []
        let oceanResults = fuzzCase["ocean"]?.arrayElements ?? []
        guard let resourceJSON = fuzzCase["resource"] else { return }
        let configText = JSON(object: ["resources": JSON(array: [resourceJSON])]).serialized()
        let config: PortAppConfig
        do { config = try PortAppConfig.parse(configText, file: "fuzz.json") } catch {
            for index in records.indices {
                compared += 1
                timed += 1
                differences.append(FuzzDifference(caseID: id, record: index, detail: "Tide rejects the mapping: \(error)"))
            }
            return
        }
        let mapper = ResourceMapper(resource: config.resources[0], options: MappingOptions(timeout: .seconds(10)))
        let singles = SingleFields(mapper)
        for (index, text) in records.enumerated() {
            compared += 1
            guard let raw = text.stringValue, let record = try? JSON(parsing: raw), index < oceanResults.count else {
                differences.append(FuzzDifference(caseID: id, record: index, detail: "unreadable case"))
                continue
            }
            var report = MappingReport()
            var outcomes: [ItemOutcome] = []
            let started = ContinuousClock.now
            mapper.map(record: record, report: &report) { outcomes.append($0) }
            let whole = ContinuousClock.now - started
            timed += 1
            let single = singles.time(mapper: mapper, record: record)
            // Robust to a loaded machine: a ratio, with a floor (the blow-up this guards against
            // costs seconds), and noise only ever adds time, so a slow record is measured again
            // and judged by its fastest run.
            let floor = Duration.milliseconds(25)
            if whole > single * 50 + floor {
                var fastest = whole
                for _ in 0..<3 {
                    var again = MappingReport()
                    let restarted = ContinuousClock.now
                    mapper.map(record: record, report: &again) { _ in }
                    fastest = min(fastest, ContinuousClock.now - restarted)
                }
                let fastestSingle = min(single, singles.time(mapper: mapper, record: record))
                if fastest > fastestSingle * 50 + floor {
                    slow.append("\(id) record \(index): \(fastest) for the mapping, \(fastestSingle) for its fields one by one")
                }
            }
            if let detail = difference(ocean: oceanResults[index], outcomes: outcomes, report: report) {
                differences.append(FuzzDifference(caseID: id, record: index, detail: detail))
            }
        }
    }

    /// nil when Tide's outcome for the record is Ocean's (or a known difference).
    mutating func difference(ocean: JSON, outcomes: [ItemOutcome], report: MappingReport) -> String? {
        let oceanSkipped = ocean["itemsSkipped"]?.boolValue ?? false
        let tideSkipped = !report.itemsToParseWarnings.isEmpty
        if oceanSkipped != tideSkipped { return "itemsToParse skipped: Ocean \(oceanSkipped), Tide \(tideSkipped)" }
        let items = ocean["items"]?.arrayElements ?? []
        if items.count != outcomes.count { return "items: Ocean \(items.count), Tide \(outcomes.count)" }
        var misconfiguredMatters = false
        for (oceanItem, outcome) in zip(items, outcomes) {
            let kind = oceanItem["outcome"]?.stringValue ?? "?"
            switch (kind, outcome) {
            case ("entity", .entity(let entity, _)):
                misconfiguredMatters = true
                guard let tide = try? JSON(parsing: entity.jsonText()), let expected = oceanItem["entity"] else { return "unreadable entity" }
                for (key, value) in expected.objectMembers {
                    let got = tide[key] ?? JSON.null
                    if FuzzCompare.equal(value, got) { continue }
                    if let known = known(value, got) { self.known[known, default: 0] += 1; continue }
                    return "\(key): Ocean \(value.serialized()), Tide \(got.serialized())"
                }
                for (key, _) in tide.objectMembers where expected[key] == nil { return "Tide has \(key), Ocean does not" }
            case ("filtered", .filtered), ("error", .error):
                continue
            case ("skipped", .skipped):
                misconfiguredMatters = true
            default:
                if let known = known(oceanItem, nil) { self.known[known, default: 0] += 1; continue }
                return "outcome: Ocean \(oceanItem.serialized()), Tide \(outcome)"
            }
        }
        guard misconfiguredMatters else { return nil }
        var expected = Set<String>()
        for item in items { for path in item["misconfigured"]?.arrayElements ?? [] { if let p = path.stringValue { expected.insert(p) } } }
        let got = Set(report.misconfigurations.keys.map { $0.replacingOccurrences(of: #"\[\d+\]"#, with: "", options: .regularExpression) })
        if expected != got { return "misconfigured: Ocean \(expected.sorted()), Tide \(got.sorted())" }
        return nil
    }

    func known(_ ocean: JSON?, _ tide: JSON?) -> String? {
        MappingFuzzTests.knownDifferences.first { $0.matches(ocean, tide) }?.id
    }
}

/// Each field of a mapping compiled on its own, to time what the record's fields cost one by one.
struct SingleFields {
    var programs: [JQProgram]

    init(_ mapper: ResourceMapper) {
        let options = JQOptions(timeout: .seconds(10))
        let expressions = [mapper.resource.selector.query] + mapper.leaves.filter(\.compiles).map(\.expression)
        programs = expressions.compactMap { try? JQProgram($0.oceanProgram, options: options) }
    }

    func time(mapper: ResourceMapper, record: JSON) -> Duration {
        var items = [record]
        if let expander = mapper.expander, case .items(let expanded) = expander.expand(record) { items = expanded }
        let started = ContinuousClock.now
        for item in items { for program in programs { _ = try? program.first(item) } }
        return ContinuousClock.now - started
    }
}

enum FuzzCompare {
    /// JSON equality, numbers by value (Ocean's ints and Tide's doubles).
    static func equal(_ a: JSON, _ b: JSON) -> Bool { a == b }

    /// Equal once every number, and every number inside a string, is written canonically.
    static func sameWithNumbersCanonical(_ a: JSON, _ b: JSON) -> Bool {
        canonical(a) == canonical(b) && a != b
    }

    static func canonical(_ value: JSON) -> String {
        let text = value.serialized(sortedKeys: true)
        let pattern = try! NSRegularExpression(pattern: #"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?"#)
        var output = ""
        var last = text.startIndex
        for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
            guard let range = Range(match.range, in: text) else { continue }
            output += text[last..<range.lowerBound]
            output += Double(text[range]).map { "\($0)" } ?? String(text[range])
            last = range.upperBound
        }
        return output + text[last...]
    }
}
