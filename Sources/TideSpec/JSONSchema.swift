import TideCore
import TideJQ

/// JSON Schema (2020-12) for a spec, so editors validate and complete the YAML that Tide reads.
public enum JSONSchemaExporter {
    public static func schema(for type: SpecType, id: String, title: String, description: String) -> JSON {
        var pairs: [(String, JSON)] = [
            ("$schema", JSON("https://json-schema.org/draft/2020-12/schema")),
            ("$id", JSON(id)),
            ("title", JSON(title)),
            ("description", JSON(description)),
        ]
        pairs += members(of: type)
        return JSON(orderedObject: pairs)
    }

    static func node(_ type: SpecType, description: String? = nil, defaultValue: String? = nil) -> JSON {
        var pairs: [(String, JSON)] = []
        if let description, !description.isEmpty { pairs.append(("description", JSON(description))) }
        if let defaultValue, let value = try? JSON(parsing: defaultValue) { pairs.append(("default", value)) }
        pairs += members(of: type)
        return JSON(orderedObject: pairs)
    }

    static func members(of type: SpecType) -> [(String, JSON)] {
        switch type {
        case .string(let format):
            var pairs: [(String, JSON)] = [("type", JSON("string"))]
            switch format {
            case .jq: pairs.append(("x-tide-format", JSON("jq")))
            case .template: pairs.append(("x-tide-format", JSON("template")))
            case .url: pairs.append(("x-tide-format", JSON("url")))
            case .plain: break
            }
            return pairs
        case .integer(let minimum, let maximum):
            var pairs: [(String, JSON)] = [("type", JSON("integer"))]
            if let minimum { pairs.append(("minimum", JSON(minimum))) }
            if let maximum { pairs.append(("maximum", JSON(maximum))) }
            return pairs
        case .number(let minimum, let maximum):
            var pairs: [(String, JSON)] = [("type", JSON("number"))]
            if let minimum { pairs.append(("minimum", JSON(minimum))) }
            if let maximum { pairs.append(("maximum", JSON(maximum))) }
            return pairs
        case .boolean:
            return [("type", JSON("boolean"))]
        case .enumeration(let options):
            return [("enum", JSON(array: options.map { JSON($0) }))]
        case .object(let spec):
            var members = objectMembers(spec.fields, allowsOtherKeys: spec.closedInSchema == false, extra: [])
            if !spec.exactlyOneOf.isEmpty {
                members.append(("oneOf", JSON(array: spec.exactlyOneOf.map { JSON(orderedObject: [("required", JSON(array: [JSON($0)]))]) })))
            }
            return members
        case .array(let element):
            return [("type", JSON("array")), ("items", node(element))]
        case .map(let value):
            return [("type", JSON("object")), ("additionalProperties", node(value))]
        case .tagged(let tagged):
            let variants = tagged.variants.map { variant -> JSON in
                var tagSchema: [(String, JSON)] = [("const", JSON(variant.name))]
                if !variant.spec.description.isEmpty { tagSchema.append(("description", JSON(variant.spec.description))) }
                let required = tagged.defaultVariant == variant.name ? [] : [tagged.tag]
                return JSON(orderedObject: objectMembers(variant.spec.fields + tagged.commonFields,
                                                         allowsOtherKeys: variant.spec.closedInSchema == false,
                                                         extra: [(tagged.tag, JSON(orderedObject: tagSchema))],
                                                         extraRequired: required))
            }
            return [("type", JSON("object")), ("oneOf", JSON(array: variants))]
        case .either(let alternatives):
            return [("anyOf", JSON(array: alternatives.map { node($0) }))]
        case .json:
            return []
        }
    }

    static func objectMembers(_ fields: [FieldSpec], allowsOtherKeys: Bool, extra: [(String, JSON)],
                              extraRequired: [String] = []) -> [(String, JSON)] {
        let properties = extra + fields.map { field -> (String, JSON) in
            let schema = node(field.type, description: field.description, defaultValue: field.defaultValue)
            guard field.nullable else { return (field.name, schema) }
            // An empty value means "not set": allow null beside the type.
            var pairs: [(String, JSON)] = []
            if !field.description.isEmpty { pairs.append(("description", JSON(field.description))) }
            if let text = field.defaultValue, let value = try? JSON(parsing: text) { pairs.append(("default", value)) }
            pairs.append(("anyOf", JSON(array: [node(field.type), JSON(orderedObject: [("type", JSON("null"))])])))
            return (field.name, JSON(orderedObject: pairs))
        }
        var pairs: [(String, JSON)] = [("type", JSON("object")), ("properties", JSON(orderedObject: properties))]
        let required = extraRequired + fields.filter(\.required).map(\.name)
        if !required.isEmpty { pairs.append(("required", JSON(array: required.map { JSON($0) }))) }
        if !allowsOtherKeys { pairs.append(("additionalProperties", JSON(false))) }
        return pairs
    }
}

extension ObjectSpec {
    /// Whether the schema rejects keys the spec does not list. Objects whose unknown keys are only
    /// warnings stay open: files with such keys are valid (Ocean ignores them), and an editor
    /// must not mark them as errors; `tide lint` still warns.
    var closedInSchema: Bool { !allowsOtherKeys && unknownKeys == .error }
}
