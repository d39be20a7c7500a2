import Foundation
import TideJQ
import TideModel
import TideMapping

/// The comparison side of the differential fuzzer against port-ocean 0.56.2 (issue 13), shared by
/// MappingFuzzTests (the committed corpus and regressions, in `swift test`) and the release-built
/// `tide-ocean-fuzz` that `scripts/fuzz-mappings.py campaign` runs over long random corpora.
/// Only for tests and campaigns, never linked into `tide`.
public enum OceanFuzz {
    /// Differences libjq 1.6 cannot avoid, by id (the id is documented in docs/jq.md).
    public static let knownDifferences: [KnownDifference] = [
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

    /// The cases of a corpus file written by scripts/fuzz-mappings.py.
    public static func load(_ url: URL) throws -> [JSON] {
        let data = try Data(contentsOf: url)
        return try JSON(parsing: String(decoding: data, as: UTF8.self))["cases"]?.arrayElements ?? []
    }
}

public struct KnownDifference: Sendable {
    public var id: String
    public var reason: String
    /// Whether a difference between Ocean's value and Tide's is this one.
    public var matches: @Sendable (_ ocean: JSON?, _ tide: JSON?) -> Bool
}

public struct FuzzDifference: Sendable {
    public var caseID: String
    public var record: Int
    public var detail: String
}

/// Maps every record of a corpus with Tide and compares with Ocean's recorded results.
public struct FuzzRun {
    public var compared = 0
    public var timed = 0
    public var differences: [FuzzDifference] = []
    public var slow: [String] = []
    /// How many differences each known difference absorbed (for campaign summaries).
    public var known: [String: Int] = [:]
    /// Single-field programs by text, shared by the cases of a run.
    private var singleFieldPrograms: [String: JQProgram] = [:]

    public init() {}

    public mutating func compare(_ fuzzCase: JSON) {
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
        let singles = SingleFields(mapper, cache: &singleFieldPrograms)
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
                // A record with integral floats (1.0) was also given to Ocean with plain integers,
                // which jq 1.6 reads as the same doubles: equal to that, the difference is only
                // jq 1.8 keeping the literal 1.0 (number-literals), wherever it shows.
                if let twin = oceanResults[index]["twin"], difference(ocean: twin, outcomes: outcomes, report: report) == nil {
                    known["number-literals", default: 0] += 1
                } else {
                    differences.append(FuzzDifference(caseID: id, record: index, detail: detail))
                }
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
        OceanFuzz.knownDifferences.first { $0.matches(ocean, tide) }?.id
    }
}

/// Each field of a mapping compiled on its own, to time what the record's fields cost one by one.
struct SingleFields {
    var programs: [JQProgram]

    init(_ mapper: ResourceMapper, cache: inout [String: JQProgram]) {
        let options = JQOptions(timeout: .seconds(10))
        let expressions = [mapper.resource.selector.query] + mapper.leaves.filter(\.compiles).map(\.expression)
        // libjq 1.6 spends ~25 ms compiling even `.id`, and generated mappings share many fields:
        // compile each once per run (bounded, the programs hold libjq states).
        programs = expressions.compactMap { expression in
            let text = expression.oceanProgram
            if let program = cache[text] { return program }
            guard let program = try? JQProgram(text, options: options) else { return nil }
            if cache.count < 4000 { cache[text] = program }
            return program
        }
    }

    func time(mapper: ResourceMapper, record: JSON) -> Duration {
        var items = [record]
        if let expander = mapper.expander, case .items(let expanded) = expander.expand(record) { items = expanded }
        let started = ContinuousClock.now
        for item in items { for program in programs { _ = try? program.first(item) } }
        return ContinuousClock.now - started
    }
}

public enum FuzzCompare {
    /// JSON equality, numbers by value (Ocean's ints and Tide's doubles).
    static func equal(_ a: JSON, _ b: JSON) -> Bool { a == b }

    /// Equal once every number, and every number inside a string, is written canonically.
    static func sameWithNumbersCanonical(_ a: JSON, _ b: JSON) -> Bool {
        canonical(a) == canonical(b) && a != b
    }

    static func canonical(_ value: JSON) -> String {
        // Percent-decoded first: `@uri` writes a number's text too (`1e%2B17`).
        let serialized = value.serialized(sortedKeys: true)
        let text = serialized.removingPercentEncoding ?? serialized
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
