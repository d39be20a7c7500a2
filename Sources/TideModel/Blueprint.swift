import TideJQ

/// A Port blueprint, as found in an integration's `.port/resources/blueprints.json`.
public struct Blueprint: Sendable, Hashable {
    public struct Relation: Sendable, Hashable {
        public var target: String
        public var many: Bool
        public var required: Bool
        public init(target: String, many: Bool = false, required: Bool = false) {
            self.target = target
            self.many = many
            self.required = required
        }
    }

    public var identifier: String
    public var title: String?
    /// Property name → its JSON schema (type, format, enum…), as text.
    public var properties: [String: RawJSON]
    public var requiredProperties: [String]
    public var relations: [String: Relation]
    /// The whole blueprint as it was written.
    public var definition: RawJSON

    public init(identifier: String, title: String? = nil, properties: [String: RawJSON] = [:],
                requiredProperties: [String] = [], relations: [String: Relation] = [:],
                definition: RawJSON = .emptyObject) {
        self.identifier = identifier
        self.title = title
        self.properties = properties
        self.requiredProperties = requiredProperties
        self.relations = relations
        self.definition = definition
    }

    /// Reads one blueprint object in Port's format.
    public init(json: JSON) throws(BlueprintError) {
        guard let identifier = json["identifier"]?.stringValue, !identifier.isEmpty else {
            throw BlueprintError(message: "a blueprint has no \"identifier\" string")
        }
        self.identifier = identifier
        title = json["title"]?.stringValue
        let schema = json["schema"]
        properties = Dictionary(uniqueKeysWithValues: (schema?["properties"]?.objectMembers ?? []).map {
            ($0.key, RawJSON($0.value))
        })
        requiredProperties = (schema?["required"]?.arrayElements ?? []).compactMap(\.stringValue)
        var relations: [String: Relation] = [:]
        for (name, relation) in json["relations"]?.objectMembers ?? [] {
            guard let target = relation["target"]?.stringValue else {
                throw BlueprintError(message: "relation \"\(name)\" of blueprint \"\(identifier)\" has no \"target\"")
            }
            relations[name] = Relation(target: target, many: relation["many"]?.boolValue ?? false,
                                       required: relation["required"]?.boolValue ?? false)
        }
        self.relations = relations
        definition = RawJSON(json)
    }

    /// Reads the array of blueprints in a `blueprints.json` file's text.
    public static func list(fromJSON text: String) throws(BlueprintError) -> [Blueprint] {
        let document: JSON
        do { document = try JSON(parsing: text) } catch {
            throw BlueprintError(message: "not valid JSON: \(error.message)")
        }
        guard document.kind == .array else { throw BlueprintError(message: "expected a JSON array of blueprints") }
        var blueprints: [Blueprint] = []
        for element in document.arrayElements { blueprints.append(try Blueprint(json: element)) }
        return blueprints
    }
}

public struct BlueprintError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
