import TideCore
import TideJQ

/// A field of the mapping that did not give a usable value for a record. Ocean sends null for
/// such a field and logs it; Tide counts them so the report can say which expression to fix.
public struct FieldProblem: Sendable, Hashable {
    public enum Problem: Sendable, Hashable {
        case null
        case noOutput
        case error(String)
        case compileError(String)

        var summary: String {
            switch self {
            case .null: "null"
            case .noOutput: "no output"
            case .error(let message): "error: \(message)"
            case .compileError(let message): "does not compile: \(message)"
            }
        }
    }

    /// Dot path such as `properties.url` or `relations.team.rules[0].value`.
    public var path: String
    public var expression: JQExpression
    public var problem: Problem
}

/// Counts of what a mapping did, for the report `tide map` and `tide run` print.
public struct MappingReport: Sendable {
    public struct Misconfiguration: Sendable {
        public var path: String
        public var expression: JQExpression
        /// Problem summary → how many items had it.
        public var problems: [String: Int] = [:]
        public var total: Int { problems.values.reduce(0, +) }
    }

    /// Raw records read.
    public var records = 0
    /// Items mapped (records, or `itemsToParse` elements).
    public var items = 0
    public var entities = 0
    /// Entities that failed the selector but were mapped anyway (`parseAll`).
    public var entitiesFailingSelector = 0
    public var filtered = 0
    /// Reason → count.
    public private(set) var skipped: [String: Int] = [:]
    /// Message → count.
    public private(set) var errors: [String: Int] = [:]
    public private(set) var misconfigurations: [String: Misconfiguration] = [:]
    /// Warning → count (records whose itemsToParse could not be expanded).
    public private(set) var itemsToParseWarnings: [String: Int] = [:]

    /// Distinct messages kept per table; the rest are folded into one line so a report stays
    /// small when every record fails differently.
    static let distinctLimit = 20

    public init() {}

    public var skippedCount: Int { skipped.values.reduce(0, +) }
    public var errorCount: Int { errors.values.reduce(0, +) }

    public mutating func count(_ outcome: ItemOutcome) {
        switch outcome {
        case .entity(_, let passed): if passed { entities += 1 } else { entitiesFailingSelector += 1 }
        case .filtered: filtered += 1
        case .skipped(let reason): Self.add(reason, to: &skipped)
        case .error(let message): Self.add(message, to: &errors)
        }
    }

    public mutating func note(_ problem: FieldProblem) {
        var entry = misconfigurations[problem.path] ?? Misconfiguration(path: problem.path, expression: problem.expression)
        if entry.expression.source.isEmpty { entry.expression = problem.expression }
        Self.add(problem.problem.summary, to: &entry.problems)
        misconfigurations[problem.path] = entry
    }

    public mutating func note(itemsToParse warning: String) {
        Self.add(warning, to: &itemsToParseWarnings)
    }

    /// Adds another report's counts (reports from several pages or threads).
    public mutating func merge(_ other: MappingReport) {
        records += other.records
        items += other.items
        entities += other.entities
        entitiesFailingSelector += other.entitiesFailingSelector
        filtered += other.filtered
        for (key, value) in other.skipped { Self.add(key, to: &skipped, count: value) }
        for (key, value) in other.errors { Self.add(key, to: &errors, count: value) }
        for (key, value) in other.itemsToParseWarnings { Self.add(key, to: &itemsToParseWarnings, count: value) }
        for (path, entry) in other.misconfigurations {
            var mine = misconfigurations[path] ?? Misconfiguration(path: path, expression: entry.expression)
            for (key, value) in entry.problems { Self.add(key, to: &mine.problems, count: value) }
            misconfigurations[path] = mine
        }
    }

    private static func add(_ key: String, to table: inout [String: Int], count: Int = 1) {
        if table[key] != nil || table.count < distinctLimit {
            table[key, default: 0] += count
        } else {
            table["(other messages)", default: 0] += count
        }
    }

    // MARK: Rendering

    /// A report for people: counts first, then what to fix, most frequent first; every line
    /// after the first is indented by `indent` more spaces (to nest it under a table).
    public func humanText(title: String, indent: Int = 0) -> String {
        let lines = humanLines(title: title)
        let pad = String(repeating: " ", count: indent)
        return lines.enumerated().map { $0.offset == 0 ? $0.element : pad + $0.element }.joined(separator: "\n")
    }

    private func humanLines(title: String) -> [String] {
        var lines = ["\(title): \(records) record\(records == 1 ? "" : "s") → \(entities) entit\(entities == 1 ? "y" : "ies")"
            + " (\(filtered) filtered by the selector, \(skippedCount) skipped, \(errorCount) error\(errorCount == 1 ? "" : "s"))"]
        if !itemsToParseWarnings.isEmpty || items > records { lines.append("  \(items) items after itemsToParse") }
        if entitiesFailingSelector > 0 { lines.append("  \(entitiesFailingSelector) entities did not pass the selector") }
        if !errors.isEmpty {
            lines.append("errors (these items were not mapped; a resync with errors deletes nothing):")
            lines += Self.sorted(errors).map { "  ×\($0.value)  \($0.key)" }
        }
        if !skipped.isEmpty {
            lines.append("skipped (no entity without an identifier and a blueprint):")
            lines += Self.sorted(skipped).map { "  ×\($0.value)  \($0.key)" }
        }
        if !itemsToParseWarnings.isEmpty {
            lines.append("itemsToParse:")
            lines += Self.sorted(itemsToParseWarnings).map { "  ×\($0.value)  \($0.key)" }
        }
        // A field that raised (or does not compile) is a mistake to fix; one that gave null is often
        // a field the API leaves out for some records. Both are sent as null, as Ocean does.
        let isPlainNull: (String) -> Bool = { $0 == FieldProblem.Problem.null.summary || $0 == FieldProblem.Problem.noOutput.summary }
        lines += misconfigurationLines("fields that failed (sent as null, as Ocean does; fix the expression):") { !isPlainNull($0) }
        lines += misconfigurationLines("fields that gave null (sent as null; often a field the API leaves out):", where: isPlainNull)
        return lines
    }

    /// A section of the fields whose problems pass `include`, most frequent first.
    private func misconfigurationLines(_ heading: String, where include: (String) -> Bool) -> [String] {
        let entries = misconfigurations.values.compactMap { entry -> Misconfiguration? in
            var kept = entry
            kept.problems = entry.problems.filter { include($0.key) }
            return kept.problems.isEmpty ? nil : kept
        }
        guard !entries.isEmpty else { return [] }
        var lines = [heading]
        for entry in entries.sorted(by: { ($0.total, $1.path) > ($1.total, $0.path) }) {
            let place = entry.expression.location.map { "\($0): " } ?? ""
            lines.append("  \(place)\(entry.path): \(entry.expression.source)")
            lines += Self.sorted(entry.problems).map { "      ×\($0.value)  \($0.key)" }
        }
        return lines
    }

    /// The same report as one JSON object, for tools.
    public func json() -> JSON {
        func table(_ values: [String: Int]) -> JSON {
            JSON(array: Self.sorted(values).map { JSON(object: ["message": JSON($0.key), "count": JSON($0.value)]) })
        }
        let fields = misconfigurations.values.sorted { $0.path < $1.path }.map { entry -> JSON in
            var pairs: [(String, JSON)] = [("field", JSON(entry.path)), ("expression", JSON(entry.expression.source))]
            if let location = entry.expression.location {
                pairs.append(("location", JSON(object: ["file": JSON(location.file), "line": JSON(location.line),
                                                        "column": JSON(location.column)])))
            }
            pairs.append(("problems", table(entry.problems)))
            return JSON(orderedObject: pairs)
        }
        return JSON(orderedObject: [
            ("records", JSON(records)), ("items", JSON(items)), ("entities", JSON(entities)),
            ("entitiesFailingSelector", JSON(entitiesFailingSelector)), ("filtered", JSON(filtered)),
            ("skipped", table(skipped)), ("errors", table(errors)), ("itemsToParse", table(itemsToParseWarnings)),
            ("misconfigurations", JSON(array: fields)),
        ])
    }

    private static func sorted(_ table: [String: Int]) -> [(key: String, value: Int)] {
        table.sorted { ($0.value, $1.key) > ($1.value, $0.key) }
    }
}

/// How Python prints values that pydantic coerced to `str` (Ocean's `icon` and `team`).
enum PythonText {
    static func number(_ value: Double) -> String {
        // jq.py hands whole doubles to Python as ints, which print without a fraction.
        if value.rounded() == value, abs(value) < 1e17 { return String(Int64(value)) }
        if value.isNaN { return "nan" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        return "\(value)"
    }
}
