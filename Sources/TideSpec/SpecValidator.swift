import TideCore
import TideYAML

/// Checks a YAML tree against a spec and reports every finding with its position: unknown keys
/// (with a did-you-mean), wrong types, missing required keys, values outside an enum.
public struct SpecValidator {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public static func validate(_ node: YAMLNode, against type: SpecType, path: String = "") -> [Diagnostic] {
        var validator = SpecValidator()
        validator.check(node, type, path: path)
        return validator.diagnostics.sorted()
    }

    /// How unknown and repeated keys are reported in the object being checked (and in the maps
    /// and JSON values inside it); see `ObjectSpec.unknownKeys`.
    var keySeverity: Diagnostic.Severity = .error

    mutating func report(_ node: YAMLNode, _ message: String, rule: String, hint: String? = nil,
                         severity: Diagnostic.Severity = .error) {
        diagnostics.append(Diagnostic(severity, at: node.location, message, rule: rule, hint: hint))
    }

    /// `must be at least 1` / `between 0 and 1`, with whole numbers written without `.0`.
    mutating func checkRange(_ node: YAMLNode, _ name: String, _ value: Double, _ minimum: Double?, _ maximum: Double?) {
        func text(_ number: Double) -> String {
            number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
        }
        let below = minimum.map { value < $0 } ?? false, above = maximum.map { value > $0 } ?? false
        guard below || above else { return }
        if let minimum, let maximum {
            report(node, "\(name) must be between \(text(minimum)) and \(text(maximum)), found \(text(value))", rule: "range")
        } else if let minimum, below {
            report(node, "\(name) must be at least \(text(minimum)), found \(text(value))", rule: "range")
        } else if let maximum {
            report(node, "\(name) must be at most \(text(maximum)), found \(text(value))", rule: "range")
        }
    }

    /// Repeated keys: the last one wins (as PyYAML, so as Ocean), which is rarely what was meant.
    mutating func checkDuplicates(_ pairs: [YAMLPair], path: String) {
        var seen = Set<String>()
        for pair in pairs {
            let key = pair.key.scalar?.text ?? ""
            if !seen.insert(key).inserted {
                report(pair.key, "\(join(path, key)) appears twice; the last one is used", rule: "duplicate-key", severity: keySeverity)
            }
        }
    }

    /// Free-form JSON has no spec, but its repeated keys are still worth reporting.
    mutating func checkJSONDuplicates(_ node: YAMLNode, path: String) {
        switch node.kind {
        case .scalar: return
        case .sequence(let items):
            for (index, item) in items.enumerated() { checkJSONDuplicates(item, path: "\(path)[\(index)]") }
        case .mapping(let pairs):
            checkDuplicates(pairs, path: path)
            for pair in pairs { checkJSONDuplicates(pair.value, path: join(path, pair.key.scalar?.text ?? "")) }
        }
    }

    mutating func check(_ node: YAMLNode, _ type: SpecType, path: String) {
        let name = path.isEmpty ? "the document" : path
        switch type {
        case .string(let format):
            guard let scalar = node.scalar else {
                report(node, "\(name) must be a \(format.noun), found a \(node.typeName)", rule: "type")
                return
            }
            if scalar.style == .plain, scalar.value == .null {
                report(node, "\(name) is empty; expected a \(format.noun)", rule: "type")
                return
            }
            if format == .url, !scalar.text.contains("{{"),
               !(scalar.text.hasPrefix("http://") || scalar.text.hasPrefix("https://")) {
                report(node, "\(name) must be an http(s) URL, found \"\(scalar.text)\"", rule: "type")
            }
        case .integer(let minimum, let maximum):
            guard case .int(let value)? = node.value else {
                report(node, "\(name) must be an integer, found a \(node.typeName)", rule: "type")
                return
            }
            checkRange(node, name, Double(value), minimum.map(Double.init), maximum.map(Double.init))
        case .number(let minimum, let maximum):
            let value: Double
            switch node.value {
            case .int(let int)?: value = Double(int)
            case .float(let float)?: value = float
            default:
                report(node, "\(name) must be a number, found a \(node.typeName)", rule: "type")
                return
            }
            checkRange(node, name, value, minimum, maximum)
        case .boolean:
            guard case .bool? = node.value else {
                report(node, "\(name) must be true or false, found a \(node.typeName)", rule: "type")
                return
            }
        case .enumeration(let options):
            guard let text = node.scalar?.text, node.scalar?.value != .null else {
                report(node, "\(name) must be one of \(options.joined(separator: ", ")), found a \(node.typeName)", rule: "enum")
                return
            }
            if !options.contains(text) {
                let suggestion = DidYouMean.closest(to: text, in: options).map { " (did you mean \"\($0)\"?)" } ?? ""
                report(node, "\(name) must be one of \(options.joined(separator: ", ")), found \"\(text)\"\(suggestion)", rule: "enum")
            }
        case .object(let spec):
            checkObject(node, spec, path: path)
        case .array(let element):
            guard let items = node.items else {
                report(node, "\(name) must be a list, found a \(node.typeName)", rule: "type")
                return
            }
            for (index, item) in items.enumerated() { check(item, element, path: "\(path)[\(index)]") }
        case .map(let value):
            guard let pairs = node.pairs else {
                if node.value == .null { return }
                report(node, "\(name) must be a mapping, found a \(node.typeName)", rule: "type")
                return
            }
            checkDuplicates(pairs, path: path)
            for pair in pairs { check(pair.value, value, path: join(path, pair.key.scalar?.text ?? "")) }
        case .tagged(let tagged):
            checkTagged(node, tagged, path: path)
        case .either(let alternatives):
            if let fitting = alternatives.first(where: { Self.shapeFits(node, $0) }) {
                check(node, fitting, path: path)
            } else {
                report(node, "\(name) has the wrong shape: found a \(node.typeName)", rule: "type")
            }
        case .json:
            checkJSONDuplicates(node, path: path)
        }
    }

    mutating func checkObject(_ node: YAMLNode, _ spec: ObjectSpec, path: String, extraFields: [FieldSpec] = [],
                              ignoring extraKeys: Set<String> = []) {
        guard let pairs = node.pairs else {
            report(node, "\(path.isEmpty ? "the document" : path) must be a mapping, found a \(node.typeName)", rule: "type")
            return
        }
        let outer = keySeverity
        keySeverity = spec.unknownKeys
        defer { keySeverity = outer }
        let fields = spec.fields + extraFields
        checkDuplicates(pairs, path: path)
        var seen = Set<String>()
        for pair in pairs {
            let key = pair.key.scalar?.text ?? ""
            seen.insert(key)
            if let field = fields.first(where: { $0.name == key }) {
                if field.nullable, let scalar = pair.value.scalar, scalar.style == .plain, scalar.value == .null { continue }
                check(pair.value, field.type, path: join(path, key))
            } else if !spec.allowsOtherKeys && !extraKeys.contains(key) {
                let names = fields.map(\.name) + extraKeys
                let suggestion = DidYouMean.closest(to: key, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                let place = path.isEmpty ? "" : " in \(path)"
                let effect = spec.unknownKeys == .error ? "" : " is ignored"
                report(pair.key, "unknown key \"\(key)\"\(place)\(effect)\(suggestion)", rule: "unknown-key", severity: spec.unknownKeys)
            }
        }
        for field in fields where field.required && !seen.contains(field.name) {
            report(node, "\(path.isEmpty ? "the document" : path) has no \(field.name), which is required", rule: "required", hint: field.hint)
        }
        if !spec.exactlyOneOf.isEmpty {
            let given = spec.exactlyOneOf.filter(seen.contains)
            if given.count != 1 {
                let found = given.isEmpty ? "none" : given.joined(separator: " and ")
                report(node, "\(path.isEmpty ? "the document" : path) takes exactly one of \(spec.exactlyOneOf.joined(separator: ", ")); found \(found)",
                       rule: "one-of")
            }
        }
    }

    mutating func checkTagged(_ node: YAMLNode, _ tagged: TaggedSpec, path: String) {
        guard node.pairs != nil else {
            report(node, "\(path) must be a mapping with a \"\(tagged.tag)\", found a \(node.typeName)", rule: "type")
            return
        }
        let names = tagged.variants.map(\.name)
        let tagNode = node[tagged.tag]
        guard let chosen = tagNode?.scalar?.text ?? tagged.defaultVariant else {
            report(node, "\(path) has no \(tagged.tag); it must be one of \(names.joined(separator: ", "))", rule: "required")
            return
        }
        guard let variant = tagged.variant(chosen) else {
            let suggestion = DidYouMean.closest(to: chosen, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            report(tagNode ?? node, "\(join(path, tagged.tag)) must be one of \(names.joined(separator: ", ")), found \"\(chosen)\"\(suggestion)", rule: "enum")
            return
        }
        checkObject(node, variant.spec, path: path, extraFields: tagged.commonFields, ignoring: [tagged.tag])
    }

    /// Whether a value has the shape an alternative expects, to pick among `either` alternatives.
    static func shapeFits(_ node: YAMLNode, _ type: SpecType) -> Bool {
        switch (node.kind, type) {
        case (.mapping, .object), (.mapping, .map), (.mapping, .tagged), (.mapping, .json): true
        case (.sequence, .array), (.sequence, .json): true
        case (.scalar, .string), (.scalar, .integer), (.scalar, .number), (.scalar, .boolean),
             (.scalar, .enumeration), (.scalar, .json): true
        default: false
        }
    }

    func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
}

extension StringFormat {
    var noun: String {
        switch self {
        case .plain, .template: "string"
        case .jq: "jq expression"
        case .url: "URL"
        }
    }
}
