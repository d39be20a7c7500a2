import TideCore
import TideJQ
import TideMapping
import TideModel
import TideYAML

/// The checks of one port-app-config: its spec and Ocean quirks (through the loader itself), every
/// jq expression as Ocean compiles it, and agreement with the integration's kinds and blueprints.
struct MappingLinter {
    let source: SourceText
    let root: YAMLNode
    /// nil when the port-app-config is linted alone or integration.yml could not be read.
    let facts: IntegrationFacts?
    /// nil when there is no blueprints.json to check against.
    let blueprints: [Blueprint]?
    var diagnostics: [Diagnostic] = []
    var batch: JQBatch

    init(source: SourceText, root: YAMLNode, facts: IntegrationFacts?, blueprints: [Blueprint]?) {
        self.source = source
        self.root = root
        self.facts = facts
        self.blueprints = blueprints
        batch = JQBatch(source: source)
    }

    /// Ocean's entity fields; keys outside these are ignored by the loader, so not checked.
    static let entityFields = ["identifier", "title", "blueprint", "icon", "team", "properties", "relations"]

    mutating func run() {
        do { diagnostics += try PortAppConfig(node: root).warnings } catch { diagnostics += error.items }
        for (index, resource) in (root["resources"]?.items ?? []).enumerated() where resource.pairs != nil {
            self.resource(resource, path: "resources[\(index)]")
        }
        diagnostics += batch.check()
    }

    mutating func resource(_ node: YAMLNode, path: String) {
        var kind: IntegrationFacts.Kind?
        if let facts, let kindNode = node["kind"], let name = kindNode.scalar?.text, kindNode.value != .null {
            kind = facts.kind(name)
            if kind == nil {
                let names = facts.kinds.map(\.name)
                let suggestion = DidYouMean.closest(to: name, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
                diagnostics.append(Diagnostic(at: kindNode.location,
                                              "\(path).kind \"\(name)\" is not a kind of this integration\(suggestion); it defines \(names.joined(separator: ", "))",
                                              rule: LintRule.unknownKind))
            }
        }
        if let selector = node["selector"], let pairs = selector.pairs {
            for pair in pairs {
                let key = pair.key.name
                if key == "query" {
                    expression(pair.value, field: "\(path).selector.query")
                } else if let kind, !kind.selectorFields.contains(key) {
                    let suggestion = DidYouMean.closest(to: key, in: kind.selectorFields).map { " (did you mean \"\($0)\"?)" } ?? ""
                    let declared = kind.selectorFields.isEmpty ? "declares no selector fields" : "declares \(kind.selectorFields.joined(separator: ", "))"
                    diagnostics.append(Diagnostic(at: pair.key.location,
                                                  "\(path).selector.\(key) is not a selector field of kind \"\(kind.name)\"\(suggestion); the kind \(declared)",
                                                  rule: LintRule.unknownSelectorField))
                }
            }
        }
        guard let port = node["port"], port.pairs != nil else { return }
        if let items = port["itemsToParse"] { expression(items, field: "\(path).port.itemsToParse") }
        guard let mappings = port["entity"]?["mappings"], mappings.pairs != nil else { return }
        for name in Self.entityFields {
            if let value = mappings[name] { leaves(value, field: "\(path).port.entity.mappings.\(name)") }
        }
        if let identifier = mappings["identifier"], let text = identifier.scalar?.text,
           let value = JQScan.literal(JQExpression(text).oceanProgram), !value.isNull {
            diagnostics.append(Diagnostic(.warning, at: identifier.location,
                                          "\(path).port.entity.mappings.identifier is the constant \(value.serialized()): every record becomes the same entity",
                                          rule: LintRule.constantIdentifier,
                                          hint: "map it from the record, for example .key or .id"))
        }
        blueprint(mappings, path: "\(path).port.entity.mappings")
    }

    /// Every string leaf of a mapping value is jq (objects and lists are search queries or nested values).
    mutating func leaves(_ node: YAMLNode, field: String) {
        switch node.kind {
        case .scalar: expression(node, field: field)
        case .sequence(let items): for (index, item) in items.enumerated() { leaves(item, field: "\(field)[\(index)]") }
        case .mapping(let pairs): for pair in pairs { leaves(pair.value, field: "\(field).\(pair.key.name)") }
        }
    }

    /// Compiles the program Ocean compiles: the text after its single-quote rewrite.
    mutating func expression(_ node: YAMLNode, field: String) {
        guard let scalar = node.scalar, !(scalar.style == .plain && scalar.value == .null) else { return }
        batch.expression(scalar.text, program: JQExpression(scalar.text).oceanProgram, node: node, field: field)
    }

    /// A literal blueprint (`'"jiraIssue"'`) must be in blueprints.json, and the mapping must fit it.
    mutating func blueprint(_ mappings: YAMLNode, path: String) {
        guard let blueprints, let node = mappings["blueprint"], let text = node.scalar?.text,
              let identifier = JQScan.literal(JQExpression(text).oceanProgram)?.stringValue else { return }
        guard let blueprint = blueprints.first(where: { $0.identifier == identifier }) else {
            let names = blueprints.map(\.identifier)
            let suggestion = DidYouMean.closest(to: identifier, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: node.location, "\(path).blueprint \"\(identifier)\" is not in blueprints.json\(suggestion)",
                                          rule: LintRule.unknownBlueprint))
            return
        }
        let properties = mappings["properties"]
        let propertyNames = blueprint.properties.keys.sorted()
        for pair in properties?.pairs ?? [] where blueprint.properties[pair.key.name] == nil {
            let suggestion = DidYouMean.closest(to: pair.key.name, in: propertyNames).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: pair.key.location,
                                          "\(path).properties.\(pair.key.name) is not a property of blueprint \"\(identifier)\"\(suggestion)",
                                          rule: LintRule.unknownProperty))
        }
        let relations = mappings["relations"]
        let relationNames = blueprint.relations.keys.sorted()
        for pair in relations?.pairs ?? [] where blueprint.relations[pair.key.name] == nil {
            let suggestion = DidYouMean.closest(to: pair.key.name, in: relationNames).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: pair.key.location,
                                          "\(path).relations.\(pair.key.name) is not a relation of blueprint \"\(identifier)\"\(suggestion)",
                                          rule: LintRule.unknownRelation))
        }
        // Port refuses an entity without its blueprint's required properties and relations.
        let mappedProperties = Set((properties?.pairs ?? []).map(\.key.name))
        for name in blueprint.requiredProperties where !mappedProperties.contains(name) {
            diagnostics.append(Diagnostic(at: mappings.key("properties")?.location ?? mappings.location,
                                          "\(path) does not map property \"\(name)\", which blueprint \"\(identifier)\" requires",
                                          rule: LintRule.requiredPropertyUnmapped))
        }
        let mappedRelations = Set((relations?.pairs ?? []).map(\.key.name))
        for name in relationNames where blueprint.relations[name]!.required && !mappedRelations.contains(name) {
            diagnostics.append(Diagnostic(at: mappings.key("relations")?.location ?? mappings.location,
                                          "\(path) does not map relation \"\(name)\", which blueprint \"\(identifier)\" requires",
                                          rule: LintRule.requiredRelationUnmapped))
        }
    }
}

extension YAMLNode {
    /// The key node of the pair `subscript` would pick (the last one with that text).
    func key(_ name: String) -> YAMLNode? { pairs?.last { $0.key.scalar?.text == name }?.key }
}
