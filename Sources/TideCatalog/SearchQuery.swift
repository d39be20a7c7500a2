import TideJQ

/// A Port search query (`{"combinator":"and"|"or","rules":[…]}`) translated to an SQL condition
/// over the `entities` table, evaluated by the engine's JSON functions so a lookup never loads
/// entities into Swift. SQLite's translation is here; PostgreSQL's, which gives the same answers
/// with its own functions, is in SearchQuery+PostgreSQL.swift.
///
/// Supported rule properties: `$identifier`, `$title`, `$team`, `$icon`, `$blueprint`,
/// `$datasource`, and any property name (looked up in `properties`). Operators: `=`, `!=`, `>`,
/// `>=`, `<`, `<=`, `in`, `notIn`, `contains`, `doesNotContains`, `containsAny`, `beginsWith`,
/// `doesNotBeginsWith`, `endsWith`, `doesNotEndsWith`, `isEmpty`, `isNotEmpty`. A negative
/// operator also matches entities where the value is absent, as "not equal" reads.
struct SearchCondition {
    var sql: String
    var bindings: [SQLValue]
}

struct SearchQueryError: Error {
    var message: String
}

enum SearchQuery {
    /// Whether a JSON value is shaped like a search query rather than an identifier.
    static func isQuery(_ value: JSON) -> Bool {
        value.kind == .object && value["rules"] != nil
    }

    static func condition(_ query: JSON, dialect: SQLDialect = .sqlite) throws(SearchQueryError) -> SearchCondition {
        var bindings: [SQLValue] = []
        let sql = try group(query, dialect, &bindings)
        return SearchCondition(sql: sql, bindings: bindings)
    }

    private static func group(_ query: JSON, _ dialect: SQLDialect, _ bindings: inout [SQLValue]) throws(SearchQueryError) -> String {
        let combinator = query["combinator"]?.stringValue?.lowercased() ?? "and"
        guard combinator == "and" || combinator == "or" else {
            throw SearchQueryError(message: "combinator must be \"and\" or \"or\", not \(query["combinator"]?.serialized() ?? "null")")
        }
        guard let rules = query["rules"], rules.kind == .array else {
            throw SearchQueryError(message: "a search query needs a \"rules\" array")
        }
        var parts: [String] = []
        for rule in rules.arrayElements {
            if isQuery(rule) {
                parts.append(try group(rule, dialect, &bindings))
            } else if dialect == .postgresql {
                parts.append(try PostgreSQLSearch.rule(rule, &bindings))
            } else {
                parts.append(try self.rule(rule, &bindings))
            }
        }
        // An empty "and" matches everything and an empty "or" nothing, as in logic.
        guard !parts.isEmpty else {
            if dialect == .postgresql { return combinator == "and" ? "true" : "false" }
            return combinator == "and" ? "1" : "0"
        }
        return "(" + parts.joined(separator: combinator == "and" ? " AND " : " OR ") + ")"
    }

    /// Where a rule's value lives: a plain column, or a JSON path inside a JSON column.
    enum Source {
        case column(String)
        case json(column: String, path: String)

        /// The SQL value (json_extract turns JSON strings into TEXT, true/false into 1/0).
        var value: String {
            switch self {
            case .column(let name): name
            case .json(let column, let path): "json_extract(\(column), '\(path)')"
            }
        }
        var type: String? {
            switch self {
            case .column: nil
            case .json(let column, let path): "json_type(\(column), '\(path)')"
            }
        }
    }

    static func source(_ property: String) throws(SearchQueryError) -> Source {
        switch property {
        case "$identifier": return .column("identifier")
        case "$blueprint": return .column("blueprint")
        case "$datasource": return .column("datasource")
        case "$title": return .json(column: "title", path: "$")
        case "$icon": return .json(column: "icon", path: "$")
        case "$team": return .json(column: "team", path: "$")
        default:
            guard !property.hasPrefix("$") else {
                throw SearchQueryError(message: "the catalog cannot search on \"\(property)\"")
            }
            // The path is inlined as an SQL literal; a quote in the name could not be expressed.
            guard !property.contains("\""), !property.contains("'") else {
                throw SearchQueryError(message: "property name \(property) contains a quote, which the catalog cannot search on")
            }
            return .json(column: "properties", path: "$.\"\(property)\"")
        }
    }

    /// A JSON value as the SQL value json_extract would produce for it.
    static func sqlValue(_ value: JSON) -> SQLValue {
        switch value.kind {
        case .null: return .null
        case .bool: return .integer(value.boolValue == true ? 1 : 0)
        case .number:
            let number = value.numberValue ?? 0
            if number == number.rounded(), abs(number) < 9.0e15 { return .integer(Int64(number)) }
            return .real(number)
        case .string: return .text(value.stringValue ?? "")
        case .array, .object: return .text(value.serialized())
        }
    }

    private static func rule(_ rule: JSON, _ bindings: inout [SQLValue]) throws(SearchQueryError) -> String {
        guard rule.kind == .object else {
            throw SearchQueryError(message: "a rule must be an object, not \(rule.serialized())")
        }
        guard let property = rule["property"]?.stringValue else {
            throw SearchQueryError(message: "rule \(rule.serialized()) has no \"property\" string")
        }
        guard let op = rule["operator"]?.stringValue else {
            throw SearchQueryError(message: "rule \(rule.serialized()) has no \"operator\" string")
        }
        let source = try self.source(property)
        let value = rule["value"] ?? JSON.null
        let v = source.value

        func scalar() throws(SearchQueryError) -> SQLValue {
            guard value.kind != .array, value.kind != .object else {
                throw SearchQueryError(message: "operator \"\(op)\" needs a single value, not \(value.serialized())")
            }
            return sqlValue(value)
        }
        func text() throws(SearchQueryError) -> String {
            switch try scalar() {
            case .text(let text): return text
            case .integer(let number): return String(number)
            case .real(let number): return String(number)
            case .null: throw SearchQueryError(message: "operator \"\(op)\" needs a string value, not null")
            }
        }
        func list() throws(SearchQueryError) -> [SQLValue] {
            guard value.kind == .array else {
                throw SearchQueryError(message: "operator \"\(op)\" needs an array value, not \(value.serialized())")
            }
            return value.arrayElements.map(sqlValue)
        }
        func placeholders(_ count: Int) -> String { Array(repeating: "?", count: count).joined(separator: ", ") }

        func contains() throws(SearchQueryError) -> String {
            let needle = try scalar()
            switch source {
            case .column:
                bindings.append(.text(try text()))
                return "coalesce(instr(\(v), ?) > 0, 0)"
            case .json(let column, let path):
                // An array value contains an element; a string value contains a substring.
                bindings.append(needle)
                bindings.append(.text(try text()))
                return "coalesce(CASE WHEN \(source.type!) = 'array' "
                    + "THEN EXISTS (SELECT 1 FROM json_each(\(column), '\(path)') WHERE value = ?) "
                    + "ELSE instr(\(v), ?) > 0 END, 0)"
            }
        }
        func beginsWith() throws(SearchQueryError) -> String {
            bindings.append(.text(try text()))
            return "coalesce(instr(\(v), ?) = 1, 0)"
        }
        func endsWith() throws(SearchQueryError) -> String {
            let suffix = try text()
            guard !suffix.isEmpty else { return "(\(v) IS NOT NULL)" }
            bindings.append(.text(suffix))
            bindings.append(.text(suffix))
            return "coalesce(substr(\(v), -length(?)) = ?, 0)"
        }
        func isEmpty() -> String {
            switch source {
            case .column: return "(coalesce(\(v), '') = '')"
            case .json(let column, let path):
                let type = source.type!
                return "(\(type) IS NULL OR \(type) = 'null' OR (\(type) = 'text' AND \(v) = '') "
                    + "OR (\(type) = 'array' AND json_array_length(\(column), '\(path)') = 0) "
                    + "OR (\(type) = 'object' AND \(v) = '{}'))"
            }
        }

        switch op {
        case "=":
            let operand = try scalar()
            if operand == .null { return "(\(v) IS NULL)" }
            bindings.append(operand)
            return "(\(v) = ?)"
        case "!=":
            let operand = try scalar()
            if operand == .null { return "(\(v) IS NOT NULL)" }
            bindings.append(operand)
            return "(\(v) IS NOT ?)"
        case ">", ">=", "<", "<=":
            let operand = try scalar()
            guard operand != .null else { throw SearchQueryError(message: "operator \"\(op)\" needs a value, not null") }
            bindings.append(operand)
            return "coalesce(\(v) \(op) ?, 0)"
        case "in":
            let values = try list()
            guard !values.isEmpty else { return "0" }
            bindings += values
            return "coalesce(\(v) IN (\(placeholders(values.count))), 0)"
        case "notIn":
            let values = try list()
            guard !values.isEmpty else { return "1" }
            bindings += values
            return "coalesce(\(v) NOT IN (\(placeholders(values.count))), 1)"
        case "containsAny":
            let values = try list()
            guard !values.isEmpty else { return "0" }
            bindings += values
            switch source {
            case .column: return "coalesce(\(v) IN (\(placeholders(values.count))), 0)"
            case .json(let column, let path):
                // json_each over a scalar yields that scalar, so this also works for non-arrays.
                return "EXISTS (SELECT 1 FROM json_each(\(column), '\(path)') WHERE value IN (\(placeholders(values.count))))"
            }
        case "contains": return try contains()
        case "doesNotContains", "doesNotContain": return "(NOT \(try contains()))"
        case "beginsWith": return try beginsWith()
        case "doesNotBeginsWith", "doesNotBeginWith": return "(NOT \(try beginsWith()))"
        case "endsWith": return try endsWith()
        case "doesNotEndsWith", "doesNotEndWith": return "(NOT \(try endsWith()))"
        case "isEmpty": return isEmpty()
        case "isNotEmpty": return "(NOT \(isEmpty()))"
        default:
            throw SearchQueryError(message: "operator \"\(op)\" is not supported by the catalog")
        }
    }
}
