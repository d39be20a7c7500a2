import Foundation
import TideCore
import TideIntegration
import TideJQ
import TideModel
import TidePort
import TideWebhooks

/// The whole environment a run reads, parsed once: Ocean's `OCEAN__…` and `APPLICATION__…`
/// settings as Ocean (pydantic-settings) reads them, and Tide's own `TIDE_…` operator settings.
/// Every command, the test runner and the webhook service take their settings from here, so no two
/// places can read one variable differently.
///
/// Ocean's rules: names are case-insensitive; `__` nests (`OCEAN__EVENT_LISTENER__TYPE`); a
/// nested model may also come whole as JSON (`OCEAN__EVENT_LISTENER='{"type":"POLLING"}'`), and a
/// nested variable overrides the same key of the JSON. The integration type is lower-cased, and
/// so is the default identifier `my-<type>-integration`.
public struct OceanEnvironment: Sendable {
    /// `OCEAN__INTEGRATION__TYPE`, lower-cased; nil when unset (the integration's name is used).
    public var integrationType: String?
    /// `OCEAN__INTEGRATION__IDENTIFIER`, as given.
    public var integrationIdentifier: String?
    /// `OCEAN__EVENT_LISTENER` (`type`), nil when unset.
    public var eventListener: EventListenerType?
    /// `OCEAN__EVENT_LISTENER` (`interval`), seconds between POLLING checks (Ocean's default 60).
    public var pollingInterval: Double = 60
    /// `OCEAN__SCHEDULED_RESYNC_INTERVAL`, in minutes.
    public var scheduledResyncMinutes: Int?
    /// `OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED` (false): with ONCE, run an incremental pass
    /// instead of a full resync (Ocean's incremental CronJob); with a live listener, incremental
    /// passes every `incrementalSyncMinutes` between the full resyncs.
    public var incrementalSyncEnabled = false
    /// `OCEAN__INTEGRATION__INCREMENTAL_SYNC_INTERVAL` (15): minutes, written `15`, `15m` or `1h`.
    public var incrementalSyncMinutes = 15
    /// `OCEAN__BASE_URL`: where third parties reach this server.
    public var baseURL: String?
    /// `APPLICATION__PORT` (8000).
    public var applicationPort: Int = 8000
    /// `OCEAN__PORT__CLIENT_ID`, `OCEAN__PORT__CLIENT_SECRET`, `OCEAN__PORT__BASE_URL`: set when both
    /// credentials are.
    public var port: PortCredentials?
    /// `OCEAN__INITIALIZE_PORT_RESOURCES` (true).
    public var initializePortResources = true
    /// `OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS` (true).
    public var allowJQEnvironment = true

    /// `TIDE_ALLOW_UNSIGNED_WEBHOOKS`: serve webhooks without a secret (false).
    public var allowUnsignedWebhooks = false
    /// `TIDE_CONTROL_TOKEN`: the bearer token `POST /resync` needs.
    public var controlToken: String?
    /// `TIDE_MAX_CONNECTIONS`: the webhook server's connection cap.
    public var maxConnections: Int?
    /// `TIDE_CATALOG`: the catalog when `--catalog` is not given: a file path, or a
    /// `postgresql://` URL for a catalog that many processes share.
    public var catalog: String?
    /// `TIDE_EVENTS`: a `redis://` URL; live events go through Redis streams shared by replicas.
    public var events: String?
    /// `TIDE_STATE`: the file that keeps incremental sync's cursors when the sink is Port.
    public var state: String?
    /// `TIDE_LOG_LEVEL` (trace … critical).
    public var logLevel: String?
    /// `TIDE_MAX_MEMORY_MB`: the process's resident memory at which running jq evaluations are
    /// stopped (1024; 0 turns the check off).
    public var maxMemoryMB: Int?
    /// `TIDE_HTTP_CONCURRENCY` and `TIDE_HTTP_RATE_LIMIT`: the operator's request budget per API
    /// host, over the integration's `http.concurrency` and `http.rateLimit`.
    public var http = HTTPOverrides()

    public init() {}

    /// - Throws: a diagnostic naming each variable whose value cannot be read (a listener type
    ///   Tide does not know, a number that is not one, malformed JSON).
    public init(_ environment: [String: String]) throws(Diagnostics) {
        let reader = Reader(environment)
        var problems: [Diagnostic] = []
        func fail(_ name: String, _ message: String) {
            problems.append(Diagnostic(at: nil, "\(name): \(message)", rule: "environment"))
        }

        integrationType = reader.string(["integration", "type"]).map { $0.lowercased() }
        integrationIdentifier = reader.string(["integration", "identifier"])
        if let type = reader.string(["event_listener", "type"]) {
            if let known = EventListenerType(rawValue: type.uppercased()) { eventListener = known } else {
                fail("OCEAN__EVENT_LISTENER__TYPE", "\"\(type)\" is not a listener Tide runs (\(EventListenerType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }
        if let text = reader.string(["event_listener", "interval"]) {
            if let value = Double(text), value > 0 { pollingInterval = value } else { fail("OCEAN__EVENT_LISTENER__INTERVAL", "takes a number of seconds, got \"\(text)\"") }
        }
        if let text = reader.string(["scheduled_resync_interval"]) {
            if let value = Int(text), value > 0 { scheduledResyncMinutes = value } else { fail("OCEAN__SCHEDULED_RESYNC_INTERVAL", "takes a number of minutes, got \"\(text)\"") }
        }
        if let text = reader.string(["integration", "incremental_sync_interval"]) {
            if let minutes = Self.minutes(text) { incrementalSyncMinutes = minutes } else {
                fail("OCEAN__INTEGRATION__INCREMENTAL_SYNC_INTERVAL", "takes minutes, written 15, 15m or 1h; got \"\(text)\"")
            }
        }
        baseURL = reader.string(["base_url"])
        if let text = reader.string(["port"], prefix: "application") {
            if let value = Int(text), (0...65535).contains(value) { applicationPort = value } else { fail("APPLICATION__PORT", "takes a port number, got \"\(text)\"") }
        }
        if let id = reader.string(["port", "client_id"]), let secret = reader.string(["port", "client_secret"]) {
            port = PortCredentials(clientID: id, clientSecret: secret, baseURL: reader.string(["port", "base_url"]) ?? PortCredentials.defaultBaseURL)
        }
        func flag(_ path: [String], _ name: String, into value: inout Bool) {
            guard let text = reader.string(path) else { return }
            if let parsed = Self.bool(text) { value = parsed } else { fail(name, "takes true or false, got \"\(text)\"") }
        }
        flag(["initialize_port_resources"], "OCEAN__INITIALIZE_PORT_RESOURCES", into: &initializePortResources)
        flag(["integration", "incremental_sync_enabled"], "OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED", into: &incrementalSyncEnabled)
        flag(["allow_environment_variables_jq_access"], "OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS", into: &allowJQEnvironment)

        if let text = reader.tide("ALLOW_UNSIGNED_WEBHOOKS") {
            if let parsed = Self.bool(text) { allowUnsignedWebhooks = parsed } else { fail("TIDE_ALLOW_UNSIGNED_WEBHOOKS", "takes true or false, got \"\(text)\"") }
        }
        controlToken = reader.tide("CONTROL_TOKEN")
        if let text = reader.tide("MAX_CONNECTIONS") {
            if let value = Int(text), value >= 1 { maxConnections = value } else { fail("TIDE_MAX_CONNECTIONS", "takes a number of connections, 1 or more; got \"\(text)\"") }
        }
        catalog = Self.catalog(in: reader)
        events = reader.tide("EVENTS")
        state = reader.tide("STATE")
        logLevel = reader.tide("LOG_LEVEL")
        if let text = reader.tide("MAX_MEMORY_MB") {
            if let value = Int(text), value >= 0 { maxMemoryMB = value } else { fail("TIDE_MAX_MEMORY_MB", "takes a number of megabytes (0: no limit); got \"\(text)\"") }
        }
        if let text = reader.tide("HTTP_CONCURRENCY") {
            do { http.concurrency = try HTTPOverrides.concurrency(text) } catch { fail("TIDE_HTTP_CONCURRENCY", error.description) }
        }
        if let text = reader.tide("HTTP_RATE_LIMIT") {
            do { http.rateLimit = try HTTPOverrides.rate(text) } catch { fail("TIDE_HTTP_RATE_LIMIT", error.description) }
        }
        if !problems.isEmpty { throw Diagnostics(problems) }
    }

    /// `TIDE_CATALOG` alone, for the commands that read nothing else of the environment (`tide
    /// catalog …`, `tide test`), so an unrelated unreadable variable does not stop them.
    public static func catalog(in environment: [String: String]) -> String? { catalog(in: Reader(environment)) }

    private static func catalog(in reader: Reader) -> String? { reader.tide("CATALOG") }

    /// Puts the process-wide limits this environment sets in force (jq's memory limit).
    public func applyLimits() {
        JQLimits.memoryLimitBytes = maxMemoryMB.map { $0 << 20 } ?? JQLimits.defaultMemoryLimitBytes
    }

    /// The process's own environment.
    public static func current() throws(Diagnostics) -> OceanEnvironment { try OceanEnvironment(ProcessInfo.processInfo.environment) }

    /// pydantic's boolean words; nil for anything else.
    static func bool(_ text: String) -> Bool? {
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes", "on", "t", "y": true
        case "false", "0", "no", "off", "f", "n": false
        default: nil
        }
    }

    /// Minutes as Ocean's intervals are written: `15`, `15m`, `2h`, `1d`; nil for anything else
    /// (and for 0).
    static func minutes(_ text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [Character: Int] = ["m": 1, "h": 60, "d": 1440]
        var digits = Substring(trimmed), factor = 1
        if let last = trimmed.last, let unit = units[last] {
            digits = trimmed.dropLast()
            factor = unit
        }
        guard !digits.isEmpty, digits.allSatisfy(\.isASCII), let number = Int(digits), number > 0,
              number <= Int.max / 1440 else { return nil }
        return number * factor
    }

    // MARK: What a run derives from it

    /// The installation's type: the variable, else the integration's name, lower-cased as Ocean does.
    public func type(of integration: Integration) -> String { integrationType ?? integration.name.lowercased() }

    /// The installation's identifier: the variable, else `my-<type>-integration`.
    public func identifier(of integration: Integration) -> String {
        integrationIdentifier ?? "my-\(type(of: integration))-integration"
    }

    /// Who owns what this installation writes: the same for the catalog and for Port.
    public func datasource(for integration: Integration) -> Datasource {
        Datasource(integrationType: type(of: integration), integrationVersion: integration.version,
                   installationIdentifier: identifier(of: integration))
    }

    /// Port's settings for this installation; nil without both Port credentials.
    public func portSettings(for integration: Integration) -> PortSettings? {
        guard let port else { return nil }
        return PortSettings(credentials: port, identifier: identifier(of: integration), type: type(of: integration),
                            version: integration.version, initializePortResources: initializePortResources,
                            scheduledResyncInterval: scheduledResyncMinutes,
                            eventListener: (eventListener ?? .polling).rawValue)
    }

    /// Looks variables up Ocean's way.
    struct Reader {
        /// Names lower-cased; the first spelling wins when two differ only in case.
        let values: [String: String]

        init(_ environment: [String: String]) {
            values = Dictionary(environment.map { ($0.key.lowercased(), $0.value) }) { first, _ in first }
        }

        /// `PREFIX__A__B`, else key `b` of the JSON object in `PREFIX__A`; empty counts as unset.
        func string(_ path: [String], prefix: String = "ocean") -> String? {
            let name = ([prefix] + path).joined(separator: "__")
            if let value = values[name], !value.isEmpty { return value }
            guard path.count > 1 else { return nil }
            let parent = ([prefix] + path.dropLast()).joined(separator: "__")
            guard let text = values[parent], let object = JSONValue.parse(text), let member = object[path[path.count - 1]] else { return nil }
            if let string = member.stringValue { return string.isEmpty ? nil : string }
            if case .null = member { return nil }
            return member.text()
        }

        func tide(_ name: String) -> String? {
            values["tide_" + name.lowercased()].flatMap { $0.isEmpty ? nil : $0 }
        }
    }
}
