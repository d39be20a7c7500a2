import TideJQ

/// A search-query rule as a PostgreSQL condition over `entities`, matching what the SQLite
/// translation matches. SQLite compares `json_extract` values, which carry their JSON type along
/// (a string, a number, 1/0 for booleans); PostgreSQL's `->>` yields text only, so each
/// comparison here first asks `json_typeof` and then compares as that type. Every condition is
/// two-valued (never NULL), so `NOT` and the combinators read as in SQLite. No condition can raise
/// an error on stored data: a cast to numeric only happens under `json_typeof = 'number'`, inside
/// a CASE, whose branches PostgreSQL evaluates in order.
enum PostgreSQLSearch {
    /// A rule's value: `json` is the JSON expression (NULL when absent), `text` its value as text
    /// (a string unquoted, other JSON as written); a plain column has no JSON expression.
    private struct Value {
        var json: String?
        var text: String
    }

    private static func value(_ source: SearchQuery.Source) -> Value {
        switch source {
        case .column(let name):
            return Value(json: nil, text: name)
        case .json(let column, let path):
            if path == "$" { return Value(json: column, text: "(\(column) #>> '{}')") }
            // `$."name"` → the key; `SearchQuery.source` has refused names holding a quote.
            let key = String(path.dropFirst(3).dropLast())
            return Value(json: "(\(column) -> '\(key)')", text: "(\(column) ->> '\(key)')")
        }
    }

    /// "`value` equals the JSON scalar `operand`", typed as SQLite compares: a string equals a
    /// string, a number a number (numerically), a boolean a boolean; JSON null means absent.
    private static func equals(_ value: Value, _ operand: JSON, _ bindings: inout [SQLValue]) -> String {
        guard let json = value.json else {
            // A text column: SQLite compares the operand converted to text.
            switch operand.kind {
            case .null: return "(\(value.text) IS NULL)"
            default:
                bindings.append(.text(text(of: operand)))
                return "coalesce(\(value.text) = CAST(? AS TEXT), false)"
            }
        }
        switch operand.kind {
        case .null:
            return "(\(json) IS NULL OR json_typeof(\(json)) = 'null')"
        case .string:
            bindings.append(.text(operand.stringValue ?? ""))
            return "coalesce(json_typeof(\(json)) = 'string' AND \(value.text) = CAST(? AS TEXT), false)"
        case .number:
            bindings.append(.text(text(of: operand)))
            return "coalesce(CASE WHEN json_typeof(\(json)) = 'number' THEN CAST(\(value.text) AS NUMERIC) = CAST(? AS NUMERIC) ELSE false END, false)"
        case .bool:
            return "coalesce(json_typeof(\(json)) = 'boolean' AND \(value.text) = '\(operand.boolValue == true ? "true" : "false")', false)"
        case .array, .object:
            return "false"
        }
    }

    /// A scalar operand as text: a string as is, a number as SQLite would print it.
    private static func text(of operand: JSON) -> String {
        switch SearchQuery.sqlValue(operand) {
        case .text(let text): text
        case .integer(let number): String(number)
        case .real(let number): String(number)
        case .null: ""
        }
    }

    static func rule(_ rule: JSON, _ bindings: inout [SQLValue]) throws(SearchQueryError) -> String {
        guard rule.kind == .object else {
            throw SearchQueryError(message: "a rule must be an object, not \(rule.serialized())")
        }
        guard let property = rule["property"]?.stringValue else {
            throw SearchQueryError(message: "rule \(rule.serialized()) has no \"property\" string")
        }
        guard let op = rule["operator"]?.stringValue else {
            throw SearchQueryError(message: "rule \(rule.serialized()) has no \"operator\" string")
        }
        let v = value(try SearchQuery.source(property))
        let operand = rule["value"] ?? JSON.null

        func scalar() throws(SearchQueryError) -> JSON {
            guard operand.kind != .array, operand.kind != .object else {
                throw SearchQueryError(message: "operator \"\(op)\" needs a single value, not \(operand.serialized())")
            }
            return operand
        }
        func text() throws(SearchQueryError) -> String {
            let value = try scalar()
            guard value.kind != .null else { throw SearchQueryError(message: "operator \"\(op)\" needs a string value, not null") }
            return self.text(of: value)
        }
        func list() throws(SearchQueryError) -> [JSON] {
            guard operand.kind == .array else {
                throw SearchQueryError(message: "operator \"\(op)\" needs an array value, not \(operand.serialized())")
            }
            return operand.arrayElements
        }
        /// Any of `values` equals `value` (SQL's IN: a null in the list matches nothing).
        func anyEquals(_ value: Value, _ values: [JSON]) -> String {
            let parts = values.filter { $0.kind != .null }.map { equals(value, $0, &bindings) }
            return parts.isEmpty ? "false" : "(" + parts.joined(separator: " OR ") + ")"
        }
        /// The elements of a JSON array value, each as a `Value`, for EXISTS subqueries.
        let element = Value(json: "e.value", text: "(e.value #>> '{}')")

        func contains() throws(SearchQueryError) -> String {
            let needle = try scalar()
            guard let json = v.json else {
                bindings.append(.text(try text()))
                return "coalesce(strpos(\(v.text), CAST(? AS TEXT)) > 0, false)"
            }
            // An array value contains an element; any other value contains a substring.
            let inArray = equals(element, needle, &bindings)
            bindings.append(.text(try text()))
            return "coalesce(CASE WHEN json_typeof(\(json)) = 'array' "
                + "THEN EXISTS (SELECT 1 FROM json_array_elements(\(json)) AS e(value) WHERE \(inArray)) "
                + "ELSE strpos(\(v.text), CAST(? AS TEXT)) > 0 END, false)"
        }
        func beginsWith() throws(SearchQueryError) -> String {
            bindings.append(.text(try text()))
            return "coalesce(starts_with(\(v.text), CAST(? AS TEXT)), false)"
        }
        func endsWith() throws(SearchQueryError) -> String {
            let suffix = try text()
            guard !suffix.isEmpty else { return "(\(v.text) IS NOT NULL)" }
            bindings.append(.text(suffix))
            bindings.append(.text(suffix))
            return "coalesce(right(\(v.text), length(CAST(? AS TEXT))) = CAST(? AS TEXT), false)"
        }
        func isEmpty() -> String {
            guard let json = v.json else { return "(coalesce(\(v.text), '') = '')" }
            // No ELSE: an absent value (typeof NULL) falls through to NULL, which coalesce makes true.
            return "coalesce(CASE json_typeof(\(json)) WHEN 'null' THEN true WHEN 'string' THEN \(v.text) = '' "
                + "WHEN 'array' THEN json_array_length(\(json)) = 0 "
                + "WHEN 'object' THEN NOT EXISTS (SELECT 1 FROM json_object_keys(\(json))) "
                + "WHEN 'number' THEN false WHEN 'boolean' THEN false END, true)"
        }

        switch op {
        case "=":
            return equals(v, try scalar(), &bindings)
        case "!=":
            let value = try scalar()
            if value.kind == .null {
                guard let json = v.json else { return "(\(v.text) IS NOT NULL)" }
                return "coalesce(json_typeof(\(json)) <> 'null', false)"
            }
            return "(NOT \(equals(v, value, &bindings)))"
        case ">", ">=", "<", "<=":
            let value = try scalar()
            guard value.kind != .null else { throw SearchQueryError(message: "operator \"\(op)\" needs a value, not null") }
            guard let json = v.json else {
                bindings.append(.text(self.text(of: value)))
                return "coalesce(\(v.text) \(op) CAST(? AS TEXT) COLLATE \"C\", false)"
            }
            switch value.kind {
            case .number:
                bindings.append(.text(self.text(of: value)))
                return "coalesce(CASE WHEN json_typeof(\(json)) = 'number' THEN CAST(\(v.text) AS NUMERIC) \(op) CAST(? AS NUMERIC) ELSE false END, false)"
            case .bool:
                return "coalesce(json_typeof(\(json)) = 'boolean' AND \(v.text) \(op) '\(value.boolValue == true ? "true" : "false")', false)"
            default:
                bindings.append(.text(self.text(of: value)))
                // Byte-wise, as SQLite compares text.
                return "coalesce(json_typeof(\(json)) = 'string' AND \(v.text) \(op) CAST(? AS TEXT) COLLATE \"C\", false)"
            }
        case "in":
            return anyEquals(v, try list())
        case "notIn":
            return "(NOT \(anyEquals(v, try list())))"
        case "containsAny":
            let values = try list()
            guard !values.isEmpty else { return "false" }
            guard let json = v.json else { return anyEquals(v, values) }
            let inArray = anyEquals(element, values)
            let itself = anyEquals(v, values)
            return "coalesce(CASE WHEN json_typeof(\(json)) = 'array' "
                + "THEN EXISTS (SELECT 1 FROM json_array_elements(\(json)) AS e(value) WHERE \(inArray)) "
                + "ELSE \(itself) END, false)"
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
