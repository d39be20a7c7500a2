import TideCore
import TideSpec
import TideYAML
import Foundation

extension PortAppConfig {
    /// Reads a port-app-config file. Every problem found is reported, each with its position.
    public static func load(contentsOf path: String) throws(Diagnostics) -> PortAppConfig {
        let root: YAMLNode
        do { root = try YAML.parse(contentsOf: path) } catch { throw Diagnostics([error]) }
        var config = try PortAppConfig(node: root)
        config.file = path
        return config
    }

    /// Reads a port-app-config file without stopping at errors: the model as far as it can be
    /// built (nil when the file cannot be read or parsed) and every diagnostic, warnings included.
    /// `load` is this, throwing on errors; `tide lint` checks the model it gives.
    public static func read(contentsOf path: String) -> (config: PortAppConfig?, diagnostics: [Diagnostic]) {
        let root: YAMLNode
        do { root = try YAML.parse(contentsOf: path) } catch { return (nil, [error]) }
        var (config, diagnostics) = read(node: root)
        config.file = path
        return (config, diagnostics)
    }

    /// The model built from a tree, however invalid, and every diagnostic about it.
    public static func read(node root: YAMLNode) -> (config: PortAppConfig, diagnostics: [Diagnostic]) {
        // An empty file is an empty configuration (PyYAML gives None; Ocean's defaults apply).
        if let scalar = root.scalar, scalar.style == .plain, scalar.value == .null { return (PortAppConfig(), []) }
        var diagnostics = SpecValidator.validate(root, against: PortAppConfigSpec.root)
        // The builder reads what it can of an invalid tree too, so its Ocean warnings are
        // reported alongside the errors rather than only once the errors are fixed.
        var builder = ConfigBuilder()
        let config = builder.build(root)
        diagnostics += builder.diagnostics
        return (config, diagnostics)
    }

    /// Reads a port-app-config from YAML (or JSON, as Port's API returns it) text.
    public static func parse(_ text: String, file: String) throws(Diagnostics) -> PortAppConfig {
        let root: YAMLNode
        do { root = try YAML.parse(text, file: file) } catch { throw Diagnostics([error]) }
        var config = try PortAppConfig(node: root)
        config.file = file
        return config
    }

    /// Builds the configuration from a parsed YAML tree: first validated against
    /// `PortAppConfigSpec` (every finding at once), then read; warnings are kept in `warnings`.
    public init(node root: YAMLNode) throws(Diagnostics) {
        let (config, diagnostics) = Self.read(node: root)
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }
        self = config
        warnings = Diagnostics(diagnostics).items
    }
}

/// Builds the model from a tree that has passed `PortAppConfigSpec`, so shapes need no checking
/// here; defaults come from the spec. What remains are Ocean's quirks, reported as warnings.
private struct ConfigBuilder {
    var diagnostics: [Diagnostic] = []

    mutating func warning(_ node: YAMLNode, _ message: String, rule: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.warning, at: node.location, message, rule: rule, hint: hint))
    }

    /// Ocean's order of entity fields, which is also the order they are evaluated and sent in.
    static let mappingKeys = ["identifier", "title", "blueprint", "icon", "team", "properties", "relations"]

    mutating func build(_ root: YAMLNode) -> PortAppConfig {
        let reader = SpecReader(root, PortAppConfigSpec.root, lenient: true)
        var config = PortAppConfig()
        config.enableMergeEntity = reader.bool(specified: "enableMergeEntity")
        config.deleteDependentEntities = reader.bool(specified: "deleteDependentEntities")
        config.createMissingRelatedEntities = reader.bool(specified: "createMissingRelatedEntities")
        config.entityDeletionThreshold = reader.double(specified: "entityDeletionThreshold")
        for (index, item) in (root["resources"]?.items ?? []).enumerated() {
            config.resources.append(resource(item, index: index))
        }
        return config
    }

    mutating func resource(_ node: YAMLNode, index: Int) -> ResourceConfig {
        let selectorNode = node["selector"]
        let queryNode = selectorNode?["query"]
        let path = "resources[\(index)]"
        let query = queryNode.map { expression($0, field: "\(path).selector.query") } ?? JQExpression("null")
        var fields: [(name: String, json: String, location: SourceLocation?)] = []
        for pair in lastWins(selectorNode?.pairs ?? []) where pair.key.scalar?.text != "query" {
            fields.append((pair.key.scalar?.text ?? "", pair.value.jsonText(), pair.key.location))
        }
        var enableDelete: Bool?
        if case .bool(let flag)? = node["enableDelete"]?.value { enableDelete = flag }
        var resource = ResourceConfig(kind: node["kind"]?.scalar?.text ?? "", index: index,
                                      selector: Selector(query: query, fields: fields),
                                      port: port(node["port"], path: "\(path).port"), enableDelete: enableDelete, location: node.location)
        if let kind = node["kind"], let scalar = kind.scalar, !(scalar.style == .plain && scalar.value == .null) {
            resource.kindLocation = kind.location
        }
        return resource
    }

    mutating func port(_ node: YAMLNode?, path: String) -> PortMapping {
        let reader = SpecReader(node, PortAppConfigSpec.port, lenient: true)
        let mappingsNode = node?["entity"]?["mappings"]
        var fields: [(name: String, tree: MappingTree)] = []
        for name in Self.mappingKeys {
            guard let value = mappingsNode?[name] else { continue }
            fields.append((name, tree(value, field: "\(path).entity.mappings.\(name)")))
        }
        var entity = EntityMapping(fields: fields)
        entity.location = mappingsNode?.location
        for name in ["properties", "relations"] {
            guard let pair = mappingsNode?.pairs?.last(where: { $0.key.scalar?.text == name }) else { continue }
            entity.keyLocations[name] = pair.key.location
            for inner in pair.value.pairs ?? [] {
                let key = "\(name).\(inner.key.scalar?.text ?? "")"
                if entity.keyLocations[key] == nil { entity.keyLocations[key] = inner.key.location }
            }
        }
        var port = PortMapping(entity: entity)
        if let itemsNode = node?["itemsToParse"] { port.itemsToParse = expression(itemsNode, field: "\(path).itemsToParse") }
        port.itemsToParseName = reader.string(specified: "itemsToParseName")
        port.itemsToParseTopLevelTransform = reader.bool(specified: "itemsToParseTopLevelTransform")
        return port
    }

    /// Any mapping value: strings are jq, objects and lists recurse (search queries, nested objects).
    /// `field` names the value in messages.
    mutating func tree(_ node: YAMLNode, field: String) -> MappingTree {
        switch node.kind {
        case .mapping(let pairs):
            return .object(lastWins(pairs).map { pair in
                let key = pair.key.scalar?.text ?? ""
                return (key, tree(pair.value, field: field + "." + key))
            })
        case .sequence(let items):
            return .array(items.enumerated().map { tree($0.element, field: "\(field)[\($0.offset)]") })
        case .scalar:
            return .expression(expression(node, field: field))
        }
    }

    /// A repeated key keeps its first position and its last value, as a Python dict built by
    /// PyYAML does (the validator has already warned about the repetition).
    func lastWins(_ pairs: [YAMLPair]) -> [YAMLPair] {
        var order: [String] = []
        var last: [String: YAMLPair] = [:]
        for pair in pairs {
            let key = pair.key.scalar?.text ?? ""
            if last.updateValue(pair, forKey: key) == nil { order.append(key) }
        }
        return order.map { last[$0]! }
    }

    /// A scalar used as a jq expression. Non-string scalars are taken as written, which is what
    /// their text means in jq; Ocean's YAML layer would turn `true` into `"True"` (a jq error).
    mutating func expression(_ node: YAMLNode, field: String) -> JQExpression {
        guard let scalar = node.scalar else { return JQExpression("null", location: node.location) }
        switch (scalar.style, scalar.value) {
        case (.plain, .null):
            warning(node, "\(field) is empty, so it always maps to null", rule: "mapping-empty",
                    hint: "write a jq expression, or remove the key")
            return JQExpression("null", location: node.location)
        case (.plain, .bool):
            warning(node, "\(field) is the YAML boolean \(scalar.text); Ocean reads it as the string \"\(scalar.text.capitalized)\", which is not valid jq",
                    rule: "ocean-yaml-boolean", hint: "quote it ('\(scalar.text)') so Tide and Ocean agree")
        default:
            break
        }
        return JQExpression(scalar.text, location: node.location)
    }
}
