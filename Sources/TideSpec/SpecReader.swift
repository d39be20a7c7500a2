import TideJQ
import TideYAML

/// Typed reads of a YAML mapping that has passed `SpecValidator`, with the spec's defaults filled
/// in, so code that builds a model never restates a default.
///
/// A `lenient` reader also reads a tree that failed validation (for `tide lint`, which checks the
/// rest of a model whose structure has errors): a value the spec determines but the document
/// lacks or gets wrong reads as a placeholder (`""`, `0`, `false`, an enumeration's first case),
/// never as a crash. The validator has reported the problem; the model is never run.
public struct SpecReader {
    public let node: YAMLNode?
    public let fields: [FieldSpec]
    public let lenient: Bool

    public init(_ node: YAMLNode?, _ type: SpecType, lenient: Bool = false) {
        self.node = node
        self.lenient = lenient
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

    public func bool(_ name: String) -> Bool? {
        if case .bool(let value)? = node?[name]?.value { return value }
        return defaultJSON(name)?.boolValue
    }

    // MARK: Values the spec determines
    //
    // For a field the spec gives a default or requires (and the document has passed
    // `SpecValidator`), the value is always there: these accessors return it without a fallback,
    // so no loader restates a default. A field with neither is a bug in the spec, stopped here.

    public func string(specified name: String) -> String { specified(name, string(name), placeholder: "") }
    public func int(specified name: String) -> Int { specified(name, int(name), placeholder: 0) }
    public func double(specified name: String) -> Double { specified(name, double(name), placeholder: 0) }
    public func bool(specified name: String) -> Bool { specified(name, bool(name), placeholder: false) }

    /// An enumeration field as its Swift type (the validator has checked the value is one of them).
    public func value<T: RawRepresentable & CaseIterable>(specified name: String, as type: T.Type) -> T where T.RawValue == String {
        specified(name, T(rawValue: string(specified: name)), placeholder: T.allCases.first)
    }

    /// A list of integers (or its default).
    public func ints(specified name: String) -> [Int] {
        let list = node?[name].map { ($0.items ?? []).compactMap { item -> Int? in
            if case .int(let value)? = item.value { return value } else { return nil }
        } } ?? defaultJSON(name)?.arrayElements.compactMap { $0.numberValue.map { Int($0) } }
        return specified(name, list, placeholder: [])
    }

    private func specified<T>(_ name: String, _ value: T?, placeholder: T?) -> T {
        if value == nil, lenient, let placeholder { return placeholder }
        guard let value else {
            preconditionFailure("spec field \(name) has no default and is not required, or the document skipped validation")
        }
        return value
    }

    /// JSON text of a value (or its default).
    public func json(_ name: String) -> String? {
        if let child = node?[name] { return child.jsonText() }
        return fields.first(where: { $0.name == name })?.defaultValue
    }

    /// A reader for a nested object, tagged object or map value.
    public func child(_ name: String) -> SpecReader {
        let type = fields.first(where: { $0.name == name })?.type ?? .json
        return SpecReader(node?[name], type, lenient: lenient)
    }

    /// The spec type of a field, for readers of list elements and map values.
    public func type(of name: String) -> SpecType? { fields.first(where: { $0.name == name })?.type }
}
