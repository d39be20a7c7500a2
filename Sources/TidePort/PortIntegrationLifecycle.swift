import Foundation
import TideCore
import TideIntegration
import TideMapping
import TideModel
import TideYAML
import TideHTTP

/// Ocean's settings for talking to Port, read from the environment as Ocean reads them
/// (`OCEAN__` prefix, `__` nesting, names case-insensitive).
public struct PortSettings: Sendable {
    public var credentials: PortCredentials
    public var identifier: String
    public var type: String
    public var version: String
    public var initializePortResources: Bool
    /// Minutes (`OCEAN__SCHEDULED_RESYNC_INTERVAL`), reported as `intervalInMinuets`.
    public var scheduledResyncInterval: Int?
    /// `OCEAN__EVENT_LISTENER` type, upper-cased (POLLING by default, as Ocean).
    public var eventListener: String
    /// A port-app-config file pushed as the default mapping instead of the integration's own
    /// (`tide run --mapping`); Port's stored mapping still wins once the integration exists.
    public var defaultMappingFile: String?

    public init(credentials: PortCredentials, identifier: String, type: String, version: String,
                initializePortResources: Bool = true, scheduledResyncInterval: Int? = nil, eventListener: String = "POLLING") {
        self.credentials = credentials
        self.identifier = identifier
        self.type = type
        self.version = version
        self.initializePortResources = initializePortResources
        self.scheduledResyncInterval = scheduledResyncInterval
        self.eventListener = eventListener
    }

    public var datasource: Datasource {
        Datasource(integrationType: type, integrationVersion: version, installationIdentifier: identifier)
    }
}

/// The installation's life in Port around a resync, as Ocean lives it: registration, default
/// blueprints, the mapping, and resync-state reports.
public struct PortIntegrationLifecycle: Sendable {
    public enum ResyncStatus: String, Sendable { case running, completed, failed, aborted }

    public let client: PortClient
    public let settings: PortSettings
    public let integration: Integration

    public init(client: PortClient, settings: PortSettings, integration: Integration) {
        self.client = client
        self.settings = settings
        self.integration = integration
    }

    var integrationPath: String { "/v1/integration/\(PortClient.encode(settings.identifier))" }

    /// Ocean's changelog destination for its event listener (none for ONCE and POLLING).
    var changelogDestination: String? {
        switch settings.eventListener {
        case "KAFKA": return #"{"type":"KAFKA"}"#
        default: return nil
        }
    }

    /// Start-up: register or update the installation, then create the default blueprints once.
    /// Returns notes worth showing.
    @discardableResult
    public func start() async throws(PortError) -> [String] {
        var notes: [String] = []
        var stored = try await fetchIntegration()
        if stored == nil {
            stored = try await create()
            notes.append("registered installation \(settings.identifier) in Port")
        } else if let current = stored {
            if current["installationAppType"]?.stringValue != settings.type || current["version"]?.stringValue != settings.version {
                var body = "{\"installationAppType\":\(JSONValue.quoted(settings.type))"
                if let changelogDestination { body += ",\"changelogDestination\":\(changelogDestination)" }
                body += ",\"version\":\(JSONValue.quoted(settings.version))}"
                stored = try await client.call(.patch, integrationPath, body: body).json?["integration"] ?? current
            }
        }
        let initialised = stored?["arePortResourcesInitialized"]?.boolValue ?? false
        if settings.initializePortResources && !initialised {
            if let config = stored?["config"], config.objectValue?.isEmpty ?? true, let mapping = defaultMappingJSON() {
                _ = try await client.call(.patch, integrationPath + "/config", body: "{\"config\":\(mapping)}")
            }
            let outcome = await createBlueprints()
            _ = try await client.call(.patch, integrationPath,
                                      body: "{\"arePortResourcesInitialized\":true,\"version\":\(JSONValue.quoted(settings.version))}")
            switch outcome {
            case .success(let message): if let message { notes.append(message) }
            case .failure(let error): throw error
            }
        }
        return notes
    }

    /// `GET /v1/integration/{id}` → the `integration` object, or nil on 404.
    func fetchIntegration() async throws(PortError) -> JSONValue? {
        let response = try await client.call(.get, integrationPath, accepting: [404])
        if response.status == 404 { return nil }
        return response.json?["integration"] ?? .object([:])
    }

    func create() async throws(PortError) -> JSONValue? {
        let body = """
        {"installationId":\(JSONValue.quoted(settings.identifier)),"installationAppType":\(JSONValue.quoted(settings.type)),\
        "version":\(JSONValue.quoted(settings.version)),"changelogDestination":\(changelogDestination ?? "null"),\
        "config":\(defaultMappingJSON() ?? "{}"),"actionsProcessingEnabled":false,"incrementalSyncEnabled":false,\
        "createPortResourcesOrigin":"Default"}
        """
        return try await client.call(.post, "/v1/integration", body: body).json?["integration"]
    }

    /// The integration's `.port/resources/port-app-config.*` as JSON (JSON is YAML, so either works).
    func defaultMappingJSON() -> String? {
        if let file = settings.defaultMappingFile {
            return (try? YAML.parse(contentsOf: file))?.jsonText()
        }
        let resources = (integration.directory as NSString).appendingPathComponent(".port/resources")
        for name in ["port-app-config.yml", "port-app-config.yaml", "port-app-config.json"] {
            let path = (resources as NSString).appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: path), let node = try? YAML.parse(contentsOf: path) else { continue }
            return node.jsonText()
        }
        return nil
    }

    /// Ocean's three stages, only when none of blueprints.json's blueprints exists: bare blueprints
    /// concurrently (rolled back on any failure), then with relations, then in full.
    func createBlueprints() async -> Result<String?, PortError> {
        let blueprints = integration.blueprints
        guard !blueprints.isEmpty else { return .success(nil) }
        do {
            for blueprint in blueprints {
                let response = try await client.call(.get, "/v1/blueprints/\(PortClient.encode(blueprint.identifier))", accepting: [404])
                if response.status != 404 {
                    return .success("blueprint \(blueprint.identifier) already exists in Port, so no default blueprint was created (as Ocean)")
                }
            }
        } catch {
            return .failure(error)
        }
        let definitions = blueprints.map { JSONValue.parse($0.definition.text)?.objectValue ?? ["identifier": .string($0.identifier)] }
        func without(_ definition: [String: JSONValue], _ keys: [String]) -> String {
            JSONValue.object(definition.filter { !keys.contains($0.key) }).text()
        }
        let derived = ["calculationProperties", "mirrorProperties", "aggregationProperties"]
        let bare = derived + ["teamInheritance", "ownership", "relations"]

        let created = Locked<[String]>([])
        let failures = Locked<[PortError]>([])
        await withTaskGroup(of: Void.self) { group in
            for (blueprint, definition) in zip(blueprints, definitions) {
                group.addTask {
                    do {
                        _ = try await client.call(.post, "/v1/blueprints", body: without(definition, bare))
                        created.withLock { $0.append(blueprint.identifier) }
                    } catch {
                        failures.withLock { $0.append((error as? PortError) ?? PortError(method: "POST", path: "/v1/blueprints", message: "\(error)")) }
                    }
                }
            }
        }
        if let failure = failures.current.first {
            for identifier in created.current {
                _ = try? await client.send(.delete, "/v1/blueprints/\(PortClient.encode(identifier))")
            }
            return .failure(PortError(method: failure.method, path: failure.path, status: failure.status,
                                      message: failure.message + " (the default blueprints created so far were deleted again)"))
        }
        do {
            for stage in [derived, []] {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (blueprint, definition) in zip(blueprints, definitions) {
                        group.addTask {
                            _ = try await client.call(.patch, "/v1/blueprints/\(PortClient.encode(blueprint.identifier))",
                                                      body: without(definition, stage))
                        }
                    }
                    try await group.waitForAll()
                }
            }
        } catch {
            return .failure((error as? PortError) ?? PortError(method: "PATCH", path: "/v1/blueprints", message: "\(error)"))
        }
        return .success("created \(blueprints.count) blueprint(s) in Port")
    }

    /// `PATCH …/resync-state` (Ocean's spelling `intervalInMinuets` included).
    public func report(_ status: ResyncStatus, start: Date? = nil, end: Date? = nil) async throws(PortError) {
        var fields: [String] = ["\"status\":\"\(status.rawValue)\""]
        if status == .running { fields.append("\"lastResyncStart\":\(JSONValue.quoted(PortSink.iso(start ?? Date())))") }
        fields.append("\"lastResyncEnd\":" + (end.map { JSONValue.quoted(PortSink.iso($0)) } ?? "null"))
        if let interval = settings.scheduledResyncInterval {
            let next = (start ?? end ?? Date()).addingTimeInterval(Double(interval) * 60)
            fields.append("\"nextResync\":\(JSONValue.quoted(PortSink.iso(next)))")
            fields.append("\"intervalInMinuets\":\(interval)")
        } else {
            fields.append("\"nextResync\":null")
            fields.append("\"intervalInMinuets\":null")
        }
        _ = try await client.call(.patch, integrationPath + "/resync-state", body: "{" + fields.joined(separator: ",") + "}")
    }

    /// The mapping as Port holds it now (`integration.config`); nil when it is empty.
    public func fetchMapping() async throws -> PortAppConfig? {
        let stored = try await fetchIntegration()
        guard let config = stored?["config"], let members = config.objectValue, !members.isEmpty else { return nil }
        let mapping = try PortAppConfig.parse(config.text(), file: "Port mapping")
        return mapping.resources.isEmpty ? nil : mapping
    }
}
