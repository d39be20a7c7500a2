import TideCore

/// One YAML node with the position it was written at, so lint and every later error can point
/// at the user's text.
///
/// Aliases are already expanded: an alias becomes a copy of its anchored node whose root
/// `location` is the alias's position (its children keep the anchored positions, which is
/// where their text actually is). Merge keys (`<<`) are already applied (see `YAML`).
///
/// Equality compares positions and tags too, and a `.nan` float is unequal to itself, as
/// `Double` is.
public struct YAMLNode: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case scalar(YAMLScalar)
        case mapping([YAMLPair])
        case sequence([YAMLNode])
    }

    public var kind: Kind
    /// 1-based line and column (in Unicode scalars) of the node's first character: the quote
    /// of a quoted scalar, `{`/`[` of a flow collection, the first key or `-` of a block
    /// collection. A node with an anchor or tag starts at that property (`&a`, `!!str`).
    public var location: SourceLocation
    /// The explicit tag as written, with the standard `tag:yaml.org,2002:` prefix shown as
    /// `!!` (so `!!str`, `!custom`); nil when the node has none.
    public var tag: String?

    public init(kind: Kind, location: SourceLocation, tag: String? = nil) {
        self.kind = kind
        self.location = location
        self.tag = tag
    }
}

public struct YAMLScalar: Sendable, Hashable {
    public enum Style: Sendable, Hashable { case plain, singleQuoted, doubleQuoted, literal, folded }

    /// The value after YAML unescaping and line folding, before any type resolution:
    /// `'"jiraIssue"'` has the text `"jiraIssue"` (quotes included).
    public var text: String
    public var style: Style
    /// The resolved value: plain scalars by the YAML 1.2 core schema, every other style a string.
    public var value: YAMLValue

    public init(text: String, style: Style, value: YAMLValue) {
        self.text = text
        self.style = style
        self.value = value
    }
}

public enum YAMLValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case int(Int)
    case float(Double)
    case string(String)
}

public struct YAMLPair: Sendable, Hashable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(key: YAMLNode, value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// Bounds that keep hostile or broken input from exhausting the process.
public struct YAMLLimits: Sendable, Hashable {
    /// Deepest collection nesting accepted, counted after alias expansion. Code that walks a
    /// tree recursively can rely on this bound.
    public var maxDepth: Int
    /// Most nodes (scalars and collections) accepted after alias expansion, which is what
    /// stops "billion laughs" documents that are tiny as text but huge as a tree.
    public var maxNodes: Int

    public init(maxDepth: Int = 256, maxNodes: Int = 1_000_000) {
        self.maxDepth = maxDepth
        self.maxNodes = maxNodes
    }

    public static let `default` = YAMLLimits()
}

extension YAMLNode {
    /// The value of the last pair whose key is a scalar with this text; nil if there is none or
    /// this is not a mapping. "Last" because that is the value PyYAML (and so Ocean) keeps when
    /// a key is repeated; `pairs` still holds every occurrence so lint can report them.
    public subscript(key: String) -> YAMLNode? {
        guard case .mapping(let pairs) = kind else { return nil }
        for pair in pairs.reversed() {
            if case .scalar(let scalar) = pair.key.kind, scalar.text == key { return pair.value }
        }
        return nil
    }

    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = kind { return scalar }
        return nil
    }

    /// Every pair in order, repeated keys included; nil unless this is a mapping.
    public var pairs: [YAMLPair]? {
        if case .mapping(let pairs) = kind { return pairs }
        return nil
    }

    public var items: [YAMLNode]? {
        if case .sequence(let items) = kind { return items }
        return nil
    }

    /// The resolved scalar value; nil for collections.
    public var value: YAMLValue? { scalar?.value }

    /// The scalar's value if it resolved to a string; nil otherwise (so `1` or `true` is not one).
    public var string: String? {
        if case .string(let text)? = scalar?.value { return text }
        return nil
    }

    /// A word for messages such as "expected a mapping, found a sequence".
    public var typeName: String {
        switch kind {
        case .mapping: return "mapping"
        case .sequence: return "sequence"
        case .scalar(let scalar): return scalar.value.typeName
        }
    }

    /// Compact JSON of the resolved tree. Keys are their scalar text (a non-scalar key becomes
    /// its own JSON text); a repeated key appears once with its last value, as in PyYAML's dict.
    /// `.inf` and `.nan` have no JSON form and become `null`.
    public func jsonText() -> String {
        var out = ""
        writeJSON(to: &out)
        return out
    }

    /// Recursion depth is bounded by `YAMLLimits.maxDepth` for parsed trees.
    private func writeJSON(to out: inout String) {
        switch kind {
        case .scalar(let scalar):
            scalar.value.writeJSON(to: &out)
        case .sequence(let items):
            out.append("[")
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(",") }
                item.writeJSON(to: &out)
            }
            out.append("]")
        case .mapping(let pairs):
            // First position, last value: Python dict semantics for repeated keys.
            var order: [String] = []
            var values: [String: YAMLNode] = [:]
            for pair in pairs {
                let key = pair.key.keyText
                if values.updateValue(pair.value, forKey: key) == nil { order.append(key) }
            }
            out.append("{")
            for (index, key) in order.enumerated() {
                if index > 0 { out.append(",") }
                writeJSONString(key, to: &out)
                out.append(":")
                values[key]!.writeJSON(to: &out)
            }
            out.append("}")
        }
    }

    /// The text a key is known by: its scalar text, or the JSON of a collection key.
    var keyText: String {
        if case .scalar(let scalar) = kind { return scalar.text }
        return jsonText()
    }
}

extension YAMLValue {
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .float: return "number"
        case .string: return "string"
        }
    }

    /// Compact JSON of this value (`.inf`/`.nan` → `null`).
    public var jsonText: String {
        var out = ""
        writeJSON(to: &out)
        return out
    }

    func writeJSON(to out: inout String) {
        switch self {
        case .null: out.append("null")
        case .bool(let flag): out.append(flag ? "true" : "false")
        case .int(let number): out.append(String(number))
        case .float(let number): out.append(number.isFinite ? number.description : "null")
        case .string(let text): writeJSONString(text, to: &out)
        }
    }
}

private func writeJSONString(_ text: String, to out: inout String) {
    out.append("\"")
    for unit in text.unicodeScalars {
        switch unit {
        case "\"": out.append("\\\"")
        case "\\": out.append("\\\\")
        case "\n": out.append("\\n")
        case "\r": out.append("\\r")
        case "\t": out.append("\\t")
        case "\u{08}": out.append("\\b")
        case "\u{0C}": out.append("\\f")
        default:
            if unit.value < 0x20 {
                let hex = String(unit.value, radix: 16)
                out.append("\\u" + String(repeating: "0", count: 4 - hex.count) + hex)
            } else {
                out.unicodeScalars.append(unit)
            }
        }
    }
    out.append("\"")
}
