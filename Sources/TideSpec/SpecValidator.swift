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

    mutating func report(_ node: YAMLNode, _ message: String, rule: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: node.location, message, rule: rule, hint: hint))
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
            if let minimum, value < minimum { report(node, "\(name) must be at least \(minimum), found \(value)", rule: "range") }
            if let maximum, value > maximum { report(node, "\(name) must be at most \(maximum), found \(value)", rule: "range") }
        case .number(let minimum, let maximum):
            let value: Double
            switch node.value {
            case .int(let int)?: value = Double(int)
            case .float(let float)?: value = float
            default:
                report(node, "\(name) must be a number, found a \(node.typeName)", rule: "type")
                return
            }
            if let minimum, value < minimum { report(node, "\(name) must be at least \(minimum), found \(value)", rule: "range") }
            if let maximum, value > maximum { report(node, "\(name) must be at most \(maximum), found \(value)", rule: "range") }
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
            checkObject(node, fields: spec.fields, allowsOtherKeys: spec.allowsOtherKeys, path: path)
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
            break
        }
    }

    mutating func checkObject(_ node: YAMLNode, fields: [FieldSpec], allowsOtherKeys: Bool, path: String,
                              ignoring extraKeys: Set<String> = []) {
        guard let pairs = node.pairs else {
            report(node, "\(path.isEmpty ? "the document" : path) must be a mapping, found a \(node.typeName)", rule: "type")
            return
        }
        var seen = Set<String>()
        for pair in pairs {
            let key = pair.key.scalar?.text ?? ""
            if seen.contains(key) {
                report(pair.key, "\(join(path, key)) appears twice; the last one is used", rule: "duplicate-key")
            }
            seen.insert(key)
            if let field = fields.first(where: { $0.name == key }) {
                check(pair.value, field.type, path: join(path, key))
            } else if !allowsOtherKeys && !extraKeys.contains(key) {
                let names = fields.map(\.name) + extraKeys
                let suggestion = DidYouMean.closest(to: key, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                report(pair.key, "unknown key \"\(key)\"\(path.isEmpty ? "" : " in \(path)")\(suggestion)", rule: "unknown-key")
            }
        }
        for field in fields where field.required && !seen.contains(field.name) {
            report(node, "\(path.isEmpty ? "the document" : path) has no \(field.name), which is required", rule: "required")
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
        checkObject(node, fields: variant.spec.fields + tagged.commonFields, allowsOtherKeys: variant.spec.allowsOtherKeys,
                    path: path, ignoring: [tagged.tag])
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
