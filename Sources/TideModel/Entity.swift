import TideJQ

/// JSON text. Entities cross threads and processes (catalog rows, Port request bodies) as text,
/// because libjq's values are bound to the thread that made them.
public struct RawJSON: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var text: String
    public init(_ text: String) { self.text = text }
    public init(stringLiteral text: String) { self.text = text }
    public init(_ value: JSON) { self.text = value.serialized() }
    public var description: String { text }
    /// Parses the text back into a value; RawJSON made by Tide always parses.
    public func json() throws(JSONParseError) -> JSON { try JSON(parsing: text) }

    public static let null = RawJSON("null")
    public static let emptyObject = RawJSON("{}")
}

/// A Port entity as Ocean would send it. Optional fields are `nil` when the mapping does not
/// mention them (so they are not sent), and `RawJSON.null` when it does and they evaluated to null.
public struct Entity: Sendable, Hashable {
    /// A JSON string, or a search query object (`{"combinator":…,"rules":[…]}`) that Port resolves.
    public var identifier: RawJSON
    public var blueprint: String
    public var title: RawJSON?
    public var icon: RawJSON?
    public var team: RawJSON?
    /// A JSON object of property values, when mapped.
    public var properties: RawJSON?
    /// A JSON object of relation values (identifiers, arrays of them, or search queries), when mapped.
    public var relations: RawJSON?

    public init(identifier: RawJSON, blueprint: String, title: RawJSON? = nil, icon: RawJSON? = nil,
                team: RawJSON? = nil, properties: RawJSON? = nil, relations: RawJSON? = nil) {
        self.identifier = identifier
        self.blueprint = blueprint
        self.title = title
        self.icon = icon
        self.team = team
        self.properties = properties
        self.relations = relations
    }

    /// The identifier when it is a plain string; nil for a search-query identifier.
    public var identifierString: String? {
        guard identifier.text.first == "\"" else { return nil }
        return (try? identifier.json())?.stringValue
    }

    public var usesSearchIdentifier: Bool { identifier.text.first == "{" }

    /// The entity as one JSON object with Ocean's keys and order: only mapped keys, nulls kept.
    public func jsonText() -> String {
        var text = "{\"identifier\":" + identifier.text
        if let title { text += ",\"title\":" + title.text }
        if let icon { text += ",\"icon\":" + icon.text }
        if let team { text += ",\"team\":" + team.text }
        text += ",\"blueprint\":" + JSON(blueprint).serialized()
        if let properties { text += ",\"properties\":" + properties.text }
        if let relations { text += ",\"relations\":" + relations.text }
        return text + "}"
    }
}

/// Which installation wrote an entity: Port's `$datasource`, derived as Ocean's User-Agent is
/// (`port-ocean/<type>/<version>/<identifier>/exporter`).
public struct Datasource: Sendable, Hashable {
    public var integrationType: String
    public var integrationVersion: String
    public var installationIdentifier: String

    public init(integrationType: String, integrationVersion: String = "0.0.0", installationIdentifier: String) {
        self.integrationType = integrationType
        self.integrationVersion = integrationVersion
        self.installationIdentifier = installationIdentifier
    }

    public var userAgent: String {
        "port-ocean/\(integrationType)/\(integrationVersion)/\(installationIdentifier)/exporter"
    }
    /// Ownership ignores the version, as Port's datasource-entities query does.
    public var prefix: String { "port-ocean/\(integrationType)/" }
    public var suffix: String { "/\(installationIdentifier)/exporter" }
}
