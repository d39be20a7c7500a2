import Foundation

/// Markdown reference of a spec: one table of keys per object, nested objects in their own
/// sections, so docs/reference.md is generated from the tree the loaders validate with.
public enum SpecMarkdown {
    /// The sections for `type`, headed `title` at `level` (2 gives `##`).
    public static func document(_ type: SpecType, title: String, description: String, level: Int = 2) -> String {
        var writer = Writer()
        writer.lines.append(String(repeating: "#", count: level) + " " + title)
        writer.lines.append("")
        if !description.isEmpty { writer.lines += [description, ""] }
        writer.section(type, path: "", level: level)
        while writer.lines.last == "" { writer.lines.removeLast() }
        return writer.lines.joined(separator: "\n") + "\n"
    }

    struct Writer {
        var lines: [String] = []

        mutating func section(_ type: SpecType, path: String, level: Int) {
            switch type {
            case .object(let spec):
                table(spec.fields, allowsOtherKeys: spec.allowsOtherKeys)
                if !spec.exactlyOneOf.isEmpty {
                    lines += ["Exactly one of " + spec.exactlyOneOf.map { "`\($0)`" }.joined(separator: ", ") + ".", ""]
                }
                for field in spec.fields { nested(field.type, path: join(path, field.name), level: level + 1) }
            case .tagged(let tagged):
                if !tagged.commonFields.isEmpty {
                    lines += ["Every `\(tagged.tag)` also takes:", ""]
                    table(tagged.commonFields, allowsOtherKeys: false)
                }
                for variant in tagged.variants {
                    let isDefault = tagged.defaultVariant == variant.name ? " (the default)" : ""
                    lines += [String(repeating: "#", count: min(level + 1, 6)) + " `\(join(path, tagged.tag))`: `\(variant.name)`\(isDefault)", ""]
                    if !variant.spec.description.isEmpty { lines += [variant.spec.description, ""] }
                    if variant.spec.fields.isEmpty {
                        lines += ["No other keys.", ""]
                    } else {
                        table(variant.spec.fields, allowsOtherKeys: variant.spec.allowsOtherKeys)
                    }
                    for field in variant.spec.fields { nested(field.type, path: join(path, field.name), level: level + 2) }
                }
            default:
                break
            }
        }

        /// A section for a field whose value holds keys of its own.
        mutating func nested(_ type: SpecType, path: String, level: Int) {
            switch type {
            case .object(let spec):
                heading(path, level: level, description: spec.description)
                section(type, path: path, level: level)
            case .tagged(let tagged):
                heading(path, level: level, description: "Chosen by `\(tagged.tag)`.")
                section(type, path: path, level: level)
            case .array(let element): nested(element, path: path + "[]", level: level)
            case .map(let value): nested(value, path: path + ".<name>", level: level)
            case .either(let alternatives):
                // One section for the first alternative that has keys (a list of the same thing is not repeated).
                if let structured = alternatives.first(where: { Self.hasKeys($0) }) { nested(structured, path: path, level: level) }
            default:
                break
            }
        }

        static func hasKeys(_ type: SpecType) -> Bool {
            switch type {
            case .object, .tagged: true
            case .array(let element), .map(let element): hasKeys(element)
            default: false
            }
        }

        mutating func heading(_ path: String, level: Int, description: String) {
            lines += [String(repeating: "#", count: min(level, 6)) + " `\(path)`", ""]
            if !description.isEmpty { lines += [description, ""] }
        }

        mutating func table(_ fields: [FieldSpec], allowsOtherKeys: Bool) {
            lines += ["| key | type | default | description |", "|---|---|---|---|"]
            for field in fields {
                let required = field.required ? " **(required)**" : ""
                let defaultText = field.defaultValue.map { "`\(escape($0))`" } ?? ""
                lines.append("| `\(field.name)`\(required) | \(typeName(field.type)) | \(defaultText) | \(escape(field.description)) |")
            }
            if allowsOtherKeys { lines.append("| *other keys* | any | | Accepted. |") }
            lines.append("")
        }

        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "|", with: "\\|").replacingOccurrences(of: "\n", with: " ")
        }

        func typeName(_ type: SpecType) -> String {
            switch type {
            case .string(let format):
                switch format {
                case .plain: return "string"
                case .template: return "template"
                case .jq: return "jq"
                case .url: return "URL"
                }
            case .integer(let minimum, let maximum): return "integer" + range(minimum.map(Double.init), maximum.map(Double.init))
            case .number(let minimum, let maximum): return "number" + range(minimum, maximum)
            case .boolean: return "boolean"
            case .enumeration(let options): return options.map { "`\($0)`" }.joined(separator: " \\| ")
            case .object: return "object"
            case .array(let element): return "list of \(typeName(element))"
            case .map(let value): return "map of \(typeName(value))"
            case .tagged(let tagged): return "object by `\(tagged.tag)`"
            case .either(let alternatives): return alternatives.map(typeName).joined(separator: " or ")
            case .json: return "any"
            }
        }

        func range(_ minimum: Double?, _ maximum: Double?) -> String {
            func text(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
            switch (minimum, maximum) {
            case let (minimum?, maximum?): return " (\(text(minimum))–\(text(maximum)))"
            case let (minimum?, nil): return " (≥ \(text(minimum)))"
            case let (nil, maximum?): return " (≤ \(text(maximum)))"
            default: return ""
            }
        }

        func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }
    }
}
