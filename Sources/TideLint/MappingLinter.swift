import TideCore
import TideJQ
import TideMapping
import TideModel

/// The linter's own checks of a loaded port-app-config, beyond what its loader reports (spec,
/// Ocean quirks) and the integration's cross-checks (kinds, selector fields): every jq expression
/// compiles as Ocean compiles it, identifiers are not constants, and the mapping fits the literal
/// blueprint it names.
struct MappingLinter {
    let source: SourceText
    let config: PortAppConfig
    /// nil when there is no blueprints.json to check against.
    let blueprints: [Blueprint]?
    var diagnostics: [Diagnostic] = []
    var batch: JQBatch

    init(source: SourceText, config: PortAppConfig, blueprints: [Blueprint]?) {
        self.source = source
        self.config = config
        self.blueprints = blueprints
        batch = JQBatch(source: source)
    }

    mutating func run() {
        for resource in config.resources { self.resource(resource) }
        diagnostics += batch.check()
    }

    mutating func resource(_ resource: ResourceConfig) {
        let path = "resources[\(resource.index)]"
        expression(resource.selector.query, field: "\(path).selector.query")
        if let items = resource.port.itemsToParse { expression(items, field: "\(path).port.itemsToParse") }
        let mappings = resource.port.entity
        for (name, tree) in mappings.fields { leaves(tree, field: "\(path).port.entity.mappings.\(name)") }
        if case .expression(let identifier)? = mappings.tree("identifier"), identifier.location != nil,
           let value = JQScan.literal(identifier.oceanProgram), !value.isNull {
            diagnostics.append(Diagnostic(.warning, at: identifier.location,
                                          "\(path).port.entity.mappings.identifier is the constant \(value.serialized()): every record becomes the same entity",
                                          rule: LintRule.constantIdentifier,
                                          hint: "map it from the record, for example .key or .id"))
        }
        blueprint(mappings, path: "\(path).port.entity.mappings")
    }

    /// Every string leaf of a mapping value is jq (objects and lists are search queries or nested values).
    mutating func leaves(_ tree: MappingTree, field: String) {
        switch tree {
        case .expression(let expression): self.expression(expression, field: field)
        case .array(let items): for (index, item) in items.enumerated() { leaves(item, field: "\(field)[\(index)]") }
        case .object(let pairs): for (key, value) in pairs { leaves(value, field: "\(field).\(key)") }
        }
    }

    /// Compiles the program Ocean compiles: the text after its single-quote rewrite. A default
    /// (no position) is not the author's, and an empty value is the loader's `mapping-empty`.
    mutating func expression(_ expression: JQExpression, field: String) {
        guard expression.location != nil else { return }
        batch.expression(expression.source, program: expression.oceanProgram, at: expression.location, field: field)
    }

    /// A literal blueprint (`'"jiraIssue"'`) must be in blueprints.json, and the mapping must fit it.
    mutating func blueprint(_ mappings: EntityMapping, path: String) {
        guard let blueprints, case .expression(let expression)? = mappings.tree("blueprint"), expression.location != nil,
              let identifier = JQScan.literal(expression.oceanProgram)?.stringValue else { return }
        guard let blueprint = blueprints.first(where: { $0.identifier == identifier }) else {
            let names = blueprints.map(\.identifier)
            let suggestion = DidYouMean.closest(to: identifier, in: names).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: expression.location, "\(path).blueprint \"\(identifier)\" is not in blueprints.json\(suggestion)",
                                          rule: LintRule.unknownBlueprint))
            return
        }
        let mappedProperties = Self.keys(mappings.tree("properties"))
        let propertyNames = blueprint.properties.keys.sorted()
        for name in mappedProperties where blueprint.properties[name] == nil {
            let suggestion = DidYouMean.closest(to: name, in: propertyNames).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: mappings.keyLocations["properties.\(name)"],
                                          "\(path).properties.\(name) is not a property of blueprint \"\(identifier)\"\(suggestion)",
                                          rule: LintRule.unknownProperty))
        }
        let mappedRelations = Self.keys(mappings.tree("relations"))
        let relationNames = blueprint.relations.keys.sorted()
        for name in mappedRelations where blueprint.relations[name] == nil {
            let suggestion = DidYouMean.closest(to: name, in: relationNames).map { " (did you mean \"\($0)\"?)" } ?? ""
            diagnostics.append(Diagnostic(at: mappings.keyLocations["relations.\(name)"],
                                          "\(path).relations.\(name) is not a relation of blueprint \"\(identifier)\"\(suggestion)",
                                          rule: LintRule.unknownRelation))
        }
        // Port refuses an entity without its blueprint's required properties and relations.
        for name in blueprint.requiredProperties where !mappedProperties.contains(name) {
            diagnostics.append(Diagnostic(at: mappings.keyLocations["properties"] ?? mappings.location,
                                          "\(path) does not map property \"\(name)\", which blueprint \"\(identifier)\" requires",
                                          rule: LintRule.requiredPropertyUnmapped))
        }
        for name in relationNames where blueprint.relations[name]!.required && !mappedRelations.contains(name) {
            diagnostics.append(Diagnostic(at: mappings.keyLocations["relations"] ?? mappings.location,
                                          "\(path) does not map relation \"\(name)\", which blueprint \"\(identifier)\" requires",
                                          rule: LintRule.requiredRelationUnmapped))
        }
    }

    /// The keys of an object value, in file order.
    static func keys(_ tree: MappingTree?) -> [String] {
        guard case .object(let pairs)? = tree else { return [] }
        return pairs.map(\.key)
    }
}
