import TideCore
import TideYAML

extension PortAppConfig {
    /// Reads a port-app-config file. Every problem found is reported, each with its position.
    public static func load(contentsOf path: String) throws(Diagnostics) -> PortAppConfig {
        let root: YAMLNode
        do { root = try YAML.parse(contentsOf: path) } catch { throw Diagnostics([error]) }
        var config = try PortAppConfig(node: root)
        config.file = path
        return config
    }

    /// Reads a port-app-config from YAML (or JSON, as Port's API returns it) text.
    public static func parse(_ text: String, file: String) throws(Diagnostics) -> PortAppConfig {
        let root: YAMLNode
        do { root = try YAML.parse(text, file: file) } catch { throw Diagnostics([error]) }
        var config = try PortAppConfig(node: root)
        config.file = file
        return config
    }

    /// Builds the configuration from a parsed YAML tree; warnings are kept in `warnings`.
    public init(node root: YAMLNode) throws(Diagnostics) {
        var reader = ConfigReader()
        self = reader.readConfig(root)
        if reader.diagnostics.contains(where: { $0.severity == .error }) {
            throw Diagnostics(reader.diagnostics)
        }
        warnings = reader.diagnostics
    }
}

/// Walks the YAML tree once, collecting every diagnostic instead of stopping at the first.
private struct ConfigReader {
    var diagnostics: [Diagnostic] = []

    mutating func error(_ node: YAMLNode, _ message: String, rule: String = "mapping-schema", hint: String? = nil) {
        diagnostics.append(Diagnostic(.error, at: node.location, message, rule: rule, hint: hint))
    }

    mutating func warning(_ node: YAMLNode, _ message: String, rule: String, hint: String? = nil) {
        diagnostics.append(Diagnostic(.warning, at: node.location, message, rule: rule, hint: hint))
    }

    static let topLevelKeys = ["enableMergeEntity", "deleteDependentEntities", "createMissingRelatedEntities",
                               "entityDeletionThreshold", "resources"]
    static let mappingKeys = ["identifier", "title", "blueprint", "icon", "team", "properties", "relations"]

    mutating func readConfig(_ root: YAMLNode) -> PortAppConfig {
        var config = PortAppConfig()
        if case .scalar(let scalar) = root.kind, scalar.value == .null { return config }
        guard let pairs = root.pairs else {
            error(root, "a port-app-config must be a mapping, found a \(root.typeName)")
            return config
        }
        for pair in pairs {
            let key = pair.key.scalar?.text ?? ""
            switch key {
            case "enableMergeEntity": config.enableMergeEntity = readBool(pair.value, default: true)
            case "deleteDependentEntities": config.deleteDependentEntities = readBool(pair.value, default: true)
            case "createMissingRelatedEntities": config.createMissingRelatedEntities = readBool(pair.value, default: true)
            case "entityDeletionThreshold":
                if let number = readNumber(pair.value) {
                    if number < 0 || number > 1 {
                        error(pair.value, "entityDeletionThreshold must be between 0 and 1, found \(number)",
                              hint: "0 never deletes stale entities, 1 always does; the default is 0.9")
                    } else {
                        config.entityDeletionThreshold = number
                    }
                }
            case "resources":
                if case .scalar(let scalar) = pair.value.kind, scalar.value == .null { continue }
                guard let items = pair.value.items else {
                    error(pair.value, "resources must be a list, found a \(pair.value.typeName)")
                    continue
                }
                for (index, item) in items.enumerated() {
                    if let resource = readResource(item, index: index) {
                        config.resources.append(resource)
                    }
                }
            default:
                // Ocean ignores unknown top-level keys; say so, since it is usually a typo.
                warning(pair.key, "unknown key \"\(key)\" is ignored\(suggestion(key, Self.topLevelKeys))",
                        rule: "unknown-key")
            }
        }
        return config
    }

    mutating func readResource(_ node: YAMLNode, index: Int) -> ResourceConfig? {
        guard node.pairs != nil else {
            error(node, "a resource must be a mapping with kind, selector and port, found a \(node.typeName)")
            return nil
        }
        var valid = true
        var kind = ""
        if let kindNode = required(node, "kind", in: "resource") {
            if let text = string(kindNode) { kind = text } else { valid = false }
        } else { valid = false }

        // Name the resource by its kind, or by its position when the kind is missing.
        let label = kind.isEmpty ? "#\(index)" : "\"\(kind)\""
        var selector: Selector?
        if let selectorNode = required(node, "selector", in: "resource \(label)") {
            selector = readSelector(selectorNode, label: label)
        }
        var port: PortMapping?
        if let portNode = required(node, "port", in: "resource \(label)") {
            port = readPort(portNode, label: label)
        }
        var enableDelete: Bool?
        if let node = node["enableDelete"] {
            // Ocean rejects the string "false" here: the value must be a real boolean.
            if case .scalar(let scalar) = node.kind, case .bool(let flag) = scalar.value {
                enableDelete = flag
            } else {
                error(node, "enableDelete must be true or false, found a \(node.typeName)")
            }
        }
        for pair in node.pairs ?? [] {
            let key = pair.key.scalar?.text ?? ""
            if !["kind", "selector", "port", "enableDelete"].contains(key) {
                warning(pair.key, "unknown key \"\(key)\" in a resource is ignored\(suggestion(key, ["kind", "selector", "port", "enableDelete"]))",
                        rule: "unknown-key")
            }
        }
        guard valid, let selector, let port else { return nil }
        return ResourceConfig(kind: kind, index: index, selector: selector, port: port,
                              enableDelete: enableDelete, location: node.location)
    }

    mutating func readSelector(_ node: YAMLNode, label: String) -> Selector? {
        guard let pairs = node.pairs else {
            error(node, "selector must be a mapping, found a \(node.typeName)")
            return nil
        }
        guard let queryNode = node["query"] else {
            error(node, "selector of resource \(label) has no query",
                  hint: "Ocean requires one; write query: 'true' to keep every record")
            return nil
        }
        guard let query = expression(queryNode, field: "selector.query") else { return nil }
        var fields: [(name: String, json: String, location: SourceLocation?)] = []
        for pair in pairs where pair.key.scalar?.text != "query" {
            fields.append((pair.key.scalar?.text ?? "", pair.value.jsonText(), pair.value.location))
        }
        return Selector(query: query, fields: fields)
    }

    mutating func readPort(_ node: YAMLNode, label: String) -> PortMapping? {
        guard node.pairs != nil else {
            error(node, "port must be a mapping, found a \(node.typeName)")
            return nil
        }
        guard let entityNode = required(node, "entity", in: "port") else { return nil }
        guard let mappingsNode = required(entityNode, "mappings", in: "port.entity") else { return nil }
        guard let mappingPairs = mappingsNode.pairs else {
            // Some Ocean docs show a list of mappings; core takes a single object.
            error(mappingsNode, "port.entity.mappings must be a mapping (one entity per record), found a \(mappingsNode.typeName)")
            return nil
        }
        var fields: [(name: String, tree: MappingTree)] = []
        for name in Self.mappingKeys {
            guard let value = mappingsNode[name] else { continue }
            fields.append((name, tree(value, path: name)))
        }
        for key in ["identifier", "blueprint"] where mappingsNode[key] == nil {
            error(mappingsNode, "port.entity.mappings of resource \(label) has no \(key)",
                  hint: key == "blueprint" ? "a literal blueprint is written as a jq string: '\"myBlueprint\"'" : nil)
        }
        for key in ["properties", "relations"] {
            if let value = mappingsNode[key], value.pairs == nil, !(value.scalar?.value == .null) {
                error(value, "\(key) must be a mapping of name → jq expression, found a \(value.typeName)")
            }
        }
        for pair in mappingPairs {
            let key = pair.key.scalar?.text ?? ""
            if !Self.mappingKeys.contains(key) {
                warning(pair.key, "unknown mapping field \"\(key)\" is ignored\(suggestion(key, Self.mappingKeys))",
                        rule: "unknown-key")
            }
        }
        var port = PortMapping(entity: EntityMapping(fields: fields))
        if let itemsNode = node["itemsToParse"] {
            port.itemsToParse = expression(itemsNode, field: "itemsToParse")
        }
        if let nameNode = node["itemsToParseName"], let name = string(nameNode) { port.itemsToParseName = name }
        if let flag = node["itemsToParseTopLevelTransform"] {
            port.itemsToParseTopLevelTransform = readBool(flag, default: true)
        }
        for pair in node.pairs ?? [] {
            let key = pair.key.scalar?.text ?? ""
            let known = ["entity", "itemsToParse", "itemsToParseName", "itemsToParseTopLevelTransform"]
            if !known.contains(key) {
                warning(pair.key, "unknown key \"\(key)\" under port is ignored\(suggestion(key, known))", rule: "unknown-key")
            }
        }
        return port
    }

    /// Any mapping value: strings are jq, objects and lists recurse (search queries, nested objects).
    mutating func tree(_ node: YAMLNode, path: String) -> MappingTree {
        switch node.kind {
        case .mapping(let pairs):
            return .object(pairs.map { pair in
                let key = pair.key.scalar?.text ?? ""
                return (key, tree(pair.value, path: path + "." + key))
            })
        case .sequence(let items):
            return .array(items.enumerated().map { tree($0.element, path: "\(path)[\($0.offset)]") })
        case .scalar:
            return .expression(expression(node, field: path) ?? JQExpression("null", location: node.location))
        }
    }

    /// A scalar used as a jq expression. Non-string scalars are taken as written, which is what
    /// their text means in jq; Ocean's YAML layer would turn `true` into `"True"` (a jq error).
    mutating func expression(_ node: YAMLNode, field: String) -> JQExpression? {
        guard let scalar = node.scalar else {
            error(node, "\(field) must be a jq expression (a string), found a \(node.typeName)")
            return nil
        }
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

    mutating func required(_ node: YAMLNode, _ key: String, in context: String) -> YAMLNode? {
        if let value = node[key] { return value }
        error(node, "\(context) has no \(key)")
        return nil
    }

    mutating func string(_ node: YAMLNode) -> String? {
        guard let scalar = node.scalar, scalar.value != .null else {
            error(node, "expected a string, found a \(node.typeName)")
            return nil
        }
        return scalar.text
    }

    mutating func readBool(_ node: YAMLNode, default fallback: Bool) -> Bool {
        if case .scalar(let scalar) = node.kind, case .bool(let flag) = scalar.value { return flag }
        error(node, "expected true or false, found a \(node.typeName)")
        return fallback
    }

    mutating func readNumber(_ node: YAMLNode) -> Double? {
        if case .scalar(let scalar) = node.kind {
            switch scalar.value {
            case .int(let value): return Double(value)
            case .float(let value): return value
            default: break
            }
        }
        error(node, "expected a number, found a \(node.typeName)")
        return nil
    }

    func suggestion(_ key: String, _ candidates: [String]) -> String {
        guard let best = DidYouMean.closest(to: key, in: candidates) else { return "" }
        return " (did you mean \"\(best)\"?)"
    }
}
