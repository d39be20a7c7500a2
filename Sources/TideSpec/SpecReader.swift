import TideJQ
import TideYAML

/// Typed reads of a YAML mapping that has passed `SpecValidator`, with the spec's defaults filled
/// in, so code that builds a model never restates a default.
public struct SpecReader {
    public let node: YAMLNode?
    public let fields: [FieldSpec]

    public init(_ node: YAMLNode?, _ type: SpecType) {
        self.node = node
        switch type {
        case .object(let spec): fields = spec.fields
        case .tagged(let tagged):
            let chosen = node?[tagged.tag]?.scalar?.text ?? tagged.defaultVariant ?? ""
            fields = (tagged.variant(chosen)?.spec.fields ?? []) + tagged.commonFields
                + [FieldSpec(tagged.tag, .string(), default: tagged.defaultVariant.map { "\"\($0)\"" }, "")]
        default: fields = []
        }
    }

    public func has(_ name: String) -> Bool { node?[name] != nil }
    public subscript(_ name: String) -> YAMLNode? { node?[name] }

    private func defaultJSON(_ name: String) -> JSON? {
        guard let text = fields.first(where: { $0.name == name })?.defaultValue else { return nil }
        return try? JSON(parsing: text)
    }

    public func string(_ name: String) -> String? {
        if let scalar = node?[name]?.scalar, !(scalar.style == .plain && scalar.value == .null) { return scalar.text }
        return defaultJSON(name)?.stringValue
    }

    public func int(_ name: String) -> Int? {
        if case .int(let value)? = node?[name]?.value { return value }
        return defaultJSON(name)?.numberValue.map { Int($0) }
    }

    public func double(_ name: String) -> Double? {
        switch node?[name]?.value {
        case .int(let value)?: return Double(value)
        case .float(let value)?: return value
        default: return defaultJSON(name)?.numberValue
        }
    }

    /// `int(name)` for a field whose spec gives a default, so the caller needs no fallback of its
    /// own (and cannot restate the default differently). A field without one is a mistake in the
    /// spec, which the first load of any integration reveals.
    public func intOrDefault(_ name: String) -> Int {
        guard let value = int(name) else { preconditionFailure("the spec gives \(name) no default") }
        return value
    }

    /// `double(name)` for a field whose spec gives a default (see `intOrDefault`).
    public func doubleOrDefault(_ name: String) -> Double {
        guard let value = double(name) else { preconditionFailure("the spec gives \(name) no default") }
        return value
    }

    public func bool(_ name: String) -> Bool? {
        if case .bool(let value)? = node?[name]?.value { return value }
        return defaultJSON(name)?.boolValue
    }

    /// JSON text of a value (or its default).
    public func json(_ name: String) -> String? {
        if let child = node?[name] { return child.jsonText() }
        return fields.first(where: { $0.name == name })?.defaultValue
    }

    /// A reader for a nested object, tagged object or map value.
    public func child(_ name: String) -> SpecReader {
        let type = fields.first(where: { $0.name == name })?.type ?? .json
        return SpecReader(node?[name], type)
    }

    /// The spec type of a field, for readers of list elements and map values.
    public func type(of name: String) -> SpecType? { fields.first(where: { $0.name == name })?.type }
}
