import TideCore

/// A declarative description of a YAML format: the single source from which Tide validates
/// files (with positions), fills defaults, exports JSON Schema and writes reference docs, so the
/// four cannot drift apart.
public indirect enum SpecType: Sendable {
    case string(StringFormat = .plain)
    case integer(minimum: Int? = nil, maximum: Int? = nil)
    case number(minimum: Double? = nil, maximum: Double? = nil)
    case boolean
    /// One of fixed strings.
    case enumeration([String])
    case object(ObjectSpec)
    case array(SpecType)
    /// An object with free keys whose values all have one type (headers, query parameters).
    case map(SpecType)
    /// An object whose `tag` key chooses which fields it has (pagination `type`, auth `type`).
    case tagged(TaggedSpec)
    /// The first alternative whose shape (mapping, sequence, scalar) fits the value.
    case either([SpecType])
    /// Any JSON value (request bodies); strings inside may be templates.
    case json
}

public enum StringFormat: String, Sendable {
    case plain
    /// May contain `{{ jq }}`.
    case template
    /// A jq expression.
    case jq
    case url
}

public struct FieldSpec: Sendable {
    public var name: String
    public var type: SpecType
    public var required: Bool
    /// The default as JSON text (shown in docs and schemas, used when the key is absent).
    public var defaultValue: String?
    public var description: String
    public var examples: [String]
    /// Whether an empty value (`key:` or `key: null`) is accepted as if the key were absent, for
    /// formats whose readers treat null as "not set" (Ocean's Optional fields).
    public var nullable: Bool
    /// What to tell the user when this required field is missing.
    public var hint: String?

    public init(_ name: String, _ type: SpecType, required: Bool = false, default defaultValue: String? = nil,
                _ description: String, examples: [String] = [], nullable: Bool = false, hint: String? = nil) {
        self.name = name
        self.type = type
        self.required = required
        self.defaultValue = defaultValue
        self.description = description
        self.examples = examples
        self.nullable = nullable
        self.hint = hint
    }
}

public struct ObjectSpec: Sendable {
    public var fields: [FieldSpec]
    /// Whether keys not listed are accepted silently (they are reported as unknown otherwise).
    public var allowsOtherKeys: Bool
    public var description: String
    /// How an unknown or repeated key is reported. Tide's own formats make it an error; formats
    /// read as Ocean reads them (port-app-config), where PyYAML and pydantic ignore such keys,
    /// make it a warning so a file Ocean accepts still loads.
    public var unknownKeys: Diagnostic.Severity
    /// Fields of which exactly one must be given (alternative ways to say one thing).
    public var exactlyOneOf: [String]

    public init(_ description: String = "", fields: [FieldSpec], allowsOtherKeys: Bool = false,
                unknownKeys: Diagnostic.Severity = .error, exactlyOneOf: [String] = []) {
        self.fields = fields
        self.allowsOtherKeys = allowsOtherKeys
        self.description = description
        self.unknownKeys = unknownKeys
        self.exactlyOneOf = exactlyOneOf
    }

    public func field(_ name: String) -> FieldSpec? { fields.first { $0.name == name } }
}

public struct TaggedSpec: Sendable {
    public struct Variant: Sendable {
        public var name: String
        public var spec: ObjectSpec
        public init(_ name: String, _ spec: ObjectSpec) {
            self.name = name
            self.spec = spec
        }
    }

    public var tag: String
    public var variants: [Variant]
    /// The variant used when the tag key is absent.
    public var defaultVariant: String?
    /// Fields every variant accepts (for example `when` on auth schemes, `maxPages` on paginations).
    public var commonFields: [FieldSpec]

    public init(tag: String = "type", variants: [Variant], defaultVariant: String? = nil, commonFields: [FieldSpec] = []) {
        self.tag = tag
        self.variants = variants
        self.defaultVariant = defaultVariant
        self.commonFields = commonFields
    }

    public func variant(_ name: String) -> Variant? { variants.first { $0.name == name } }
}
