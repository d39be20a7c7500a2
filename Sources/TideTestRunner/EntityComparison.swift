import TideCatalog
import TideJQ
import TideModel

/// Compares the catalog's entities with a case's expectation and renders the difference as a
/// unified diff of pretty JSON, one entity after another in (blueprint, identifier) order, so a
/// failure reads like a code review rather than a dump.
public enum EntityComparison {
    /// The comparable shape of a stored entity: title, icon and team only when set.
    static func json(_ entity: StoredEntity) -> JSON {
        var pairs: [(String, JSON)] = [("blueprint", JSON(entity.blueprint)), ("identifier", JSON(entity.identifier))]
        for (key, raw) in [("title", entity.title), ("icon", entity.icon), ("team", entity.team)] {
            if let raw, let value = try? JSON(parsing: raw.text), !value.isNull { pairs.append((key, value)) }
        }
        pairs.append(("properties", (try? JSON(parsing: entity.properties.text)) ?? JSON(object: [:])))
        pairs.append(("relations", (try? JSON(parsing: entity.relations.text)) ?? JSON(object: [:])))
        return JSON(orderedObject: pairs)
    }

    /// An expected entity as written, with what an exact comparison assumes when a key is absent.
    static func normalisedExpectation(_ expected: JSON) -> JSON {
        var pairs: [(String, JSON)] = []
        for (key, value) in expected.objectMembers where !(["title", "icon", "team"].contains(key) && value.isNull) {
            pairs.append((key, value))
        }
        for key in ["properties", "relations"] where expected[key] == nil { pairs.append((key, JSON(object: [:]))) }
        return JSON(orderedObject: pairs)
    }

    /// `actual` cut down to the keys `expected` lists, recursively through objects.
    static func project(_ actual: JSON, onto expected: JSON) -> JSON {
        guard actual.kind == .object, expected.kind == .object else { return actual }
        var pairs: [(String, JSON)] = []
        for (key, value) in expected.objectMembers {
            if let present = actual[key] { pairs.append((key, project(present, onto: value))) }
        }
        return JSON(orderedObject: pairs)
    }

    static func key(_ entity: JSON) -> String {
        "\(entity["blueprint"]?.stringValue ?? "")\u{0}\(entity["identifier"]?.stringValue ?? "")"
    }

    /// nil when they agree; otherwise a unified diff (`-` expected, `+` actual).
    ///
    /// - Parameter listsAll: with `subset`, entities that are not listed still count, shown by
    ///   their key (a webhook's upserts: which entities were written is always compared whole).
    public static func diff(expected: [JSON], actual: [StoredEntity], subset: Bool, listsAll: Bool = false) -> String? {
        let actualJSON = actual.map(json)
        var left: [JSON] = []
        var right: [JSON] = []
        if subset {
            let byKey = Dictionary(actualJSON.map { (key($0), $0) }, uniquingKeysWith: { first, _ in first })
            for item in expected {
                left.append(item)
                if let found = byKey[key(item)] { right.append(project(found, onto: item)) }
            }
            if listsAll {
                let listed = Set(expected.map(key))
                for entity in actualJSON where !listed.contains(key(entity)) {
                    right.append(JSON(orderedObject: [("blueprint", entity["blueprint"] ?? .null), ("identifier", entity["identifier"] ?? .null)]))
                }
            }
        } else {
            left = expected.map(normalisedExpectation)
            right = actualJSON
        }
        left.sort { key($0) < key($1) }
        right.sort { key($0) < key($1) }
        if left.count == right.count, zip(left, right).allSatisfy({ $0 == $1 }) { return nil }
        let render = { (entities: [JSON]) -> [String] in
            entities.flatMap { $0.prettyPrinted(sortedKeys: true).split(separator: "\n", omittingEmptySubsequences: false).map(String.init) }
        }
        return UnifiedDiff.render(render(left), render(right), from: "expected", to: "actual")
    }
}

/// A line diff in the unified format, from a longest common subsequence (inputs are small: the
/// entities of one test case).
public enum UnifiedDiff {
    enum Line { case same(String), removed(String), added(String) }

    public static func render(_ a: [String], _ b: [String], from: String, to: String, context: Int = 3) -> String {
        let lines = script(a, b)
        var output = ["--- \(from)", "+++ \(to)"]
        // Hunks: runs of changes with up to `context` unchanged lines around them.
        var index = 0
        var oldLine = 1, newLine = 1
        var positions: [(old: Int, new: Int)] = []
        for line in lines {
            positions.append((oldLine, newLine))
            switch line {
            case .same: oldLine += 1; newLine += 1
            case .removed: oldLine += 1
            case .added: newLine += 1
            }
        }
        while index < lines.count {
            guard let change = lines[index...].firstIndex(where: { if case .same = $0 { false } else { true } }) else { break }
            let start = max(change - context, index)
            var end = change
            var quiet = 0
            var cursor = change
            while cursor < lines.count {
                if case .same = lines[cursor] {
                    quiet += 1
                    if quiet > context * 2 { break }
                } else {
                    quiet = 0
                    end = cursor
                }
                cursor += 1
            }
            let stop = min(end + context + 1, lines.count)
            let slice = lines[start..<stop]
            let oldCount = slice.filter { if case .added = $0 { false } else { true } }.count
            let newCount = slice.filter { if case .removed = $0 { false } else { true } }.count
            output.append("@@ -\(positions[start].old),\(oldCount) +\(positions[start].new),\(newCount) @@")
            for line in slice {
                switch line {
                case .same(let text): output.append(" " + text)
                case .removed(let text): output.append("-" + text)
                case .added(let text): output.append("+" + text)
                }
            }
            index = stop
        }
        return output.joined(separator: "\n")
    }

    static func script(_ a: [String], _ b: [String]) -> [Line] {
        let n = a.count, m = b.count
        // Beyond a few million cells the table costs more than the report is worth.
        guard n * m <= 16_000_000 else { return a.map(Line.removed) + b.map(Line.added) }
        var table = [Int32](repeating: 0, count: (n + 1) * (m + 1))
        for i in stride(from: n - 1, through: 0, by: -1) {
            for j in stride(from: m - 1, through: 0, by: -1) {
                table[i * (m + 1) + j] = a[i] == b[j] ? table[(i + 1) * (m + 1) + j + 1] + 1
                    : max(table[(i + 1) * (m + 1) + j], table[i * (m + 1) + j + 1])
            }
        }
        var lines: [Line] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n, j < m, a[i] == b[j] {
                lines.append(.same(a[i])); i += 1; j += 1
            } else if i < n, j == m || table[(i + 1) * (m + 1) + j] >= table[i * (m + 1) + j + 1] {
                lines.append(.removed(a[i])); i += 1
            } else {
                lines.append(.added(b[j])); j += 1
            }
        }
        return lines
    }
}
