import Foundation
import TideCore

/// A stand-in for Port's REST API on loopback: the routes Ocean (and Tide's Port sink) call,
/// with Port's response shapes and validation errors, in-memory state, and a call log.
///
/// Entities get `$datasource` from the writing request's User-Agent, and `updatedAt` from the
/// time they were written, so `datasource-entities` with `before` answers as Port does.
public final class PortStandIn: Sendable {
    public struct Options: Sendable {
        public var clientID = "client-id"
        public var clientSecret = "client-secret"
        /// Seconds a token lives (`expiresIn`).
        public var tokenLifetime = 3600
        /// A token stops working after this many authorised requests, if set.
        public var tokenMaxUses: Int?
        /// Bodies larger than this answer 413.
        public var maxBodyBytes = 1 << 20
        /// Keep every HTTP request for inspection; benchmarks turn this off to keep memory flat.
        public var recordsRequests = true
        public init() {}
    }

    /// An entity as the stand-in stores it.
    public struct StoredEntity: Sendable {
        public var identifier: String
        public var blueprint: String
        public var title: String?
        public var properties: [String: StandInJSON]
        public var relations: [String: StandInJSON]
        public var datasource: String?
        public var createdAt: Date
        public var updatedAt: Date
        /// How many times a write touched it.
        public var writes: Int
    }

    struct State {
        var tokens: [String: (issued: Date, uses: Int)] = [:]
        var integrations: [String: [String: StandInJSON]] = [:]
        var blueprints: [String: [String: StandInJSON]] = [:]
        var entities: [String: [String: StoredEntity]] = [:]
        var calls: [String] = []
        var resyncStates: [String] = []
        var pending429 = 0
        var retryAfter = "0"
        var failingBlueprints: Set<String> = []
        var tokenCount = 0
        /// The latest resync request (as Port's UI makes one), by integration.
        var resyncRequests: [String: String] = [:]
    }

    public let server: TestHTTPServer
    public let options: Options
    let state: Locked<State>

    private init(server: TestHTTPServer, options: Options, state: Locked<State>) {
        self.server = server
        self.options = options
        self.state = state
    }

    public static func start(options: Options = Options()) async throws -> PortStandIn {
        let state = Locked(State())
        let box = Locked<PortStandIn?>(nil)
        let server = try await TestHTTPServer.start(recordsRequests: options.recordsRequests) { request in
            guard let standIn = box.current else { return .json(#"{"ok":false}"#, status: 503) }
            return standIn.handle(request)
        }
        let standIn = PortStandIn(server: server, options: options, state: state)
        box.withLock { $0 = standIn }
        return standIn
    }

    public func stop() async { await server.stop() }
    public var baseURL: String { server.baseURL }

    // MARK: Inspection and set-up

    /// `METHOD /path` of every call, in arrival order.
    public var calls: [String] { state.current.calls }
    public var resyncStates: [String] { state.current.resyncStates }
    public var tokensIssued: Int { state.current.tokenCount }
    public func entities(blueprint: String) -> [StoredEntity] {
        (state.current.entities[blueprint] ?? [:]).values.sorted { $0.identifier < $1.identifier }
    }
    public func identifiers(blueprint: String) -> [String] { entities(blueprint: blueprint).map(\.identifier) }
    public var blueprintIdentifiers: [String] { state.current.blueprints.keys.sorted() }
    public func integration(_ id: String) -> StandInJSON? { state.current.integrations[id].map(StandInJSON.object) }
    public func clearCalls() { state.withLock { $0.calls = [] } }

    /// Replaces an installation's mapping (`integration.config`), as a user editing it in Port.
    public func setMapping(_ id: String, json: String) {
        state.withLock { $0.integrations[id]?["config"] = StandInJSON.parse(json) ?? .object([:]) }
    }
    /// The next `count` authorised calls answer 429 with `Retry-After`.
    public func rateLimit(next count: Int, retryAfter: String = "0") {
        state.withLock { $0.pending429 = count; $0.retryAfter = retryAfter }
    }
    /// Every token issued so far stops working.
    public func expireTokens() { state.withLock { $0.tokens = [:] } }
    /// Creating these blueprints answers 422.
    public func failBlueprintCreation(_ identifiers: Set<String>) { state.withLock { $0.failingBlueprints = identifiers } }

    /// Records a resync request for integration `id`, as pressing "Resync" in Port does.
    public func requestResync(_ id: String, at time: Date = Date()) {
        let text = ISO8601DateFormatter().string(from: time)
        state.withLock { $0.resyncRequests[id] = text }
    }
    public func addBlueprint(json: String) {
        guard let object = StandInJSON.parse(json)?.objectValue, let id = object["identifier"]?.stringValue else { return }
        state.withLock { $0.blueprints[id] = object }
    }

    // MARK: Routing

    func handle(_ request: RecordedRequest) -> TestResponse {
        state.withLock { $0.calls.append("\(request.method) \(request.path)") }
        let path = request.path
        if request.method == "POST" && path == "/v1/auth/access_token" { return token(request) }
        if let refusal = authorise(request) { return refusal }
        if request.body.count > options.maxBodyBytes {
            return Self.error(413, "request_too_large", "Request body is larger than \(options.maxBodyBytes) bytes")
        }
        let body = request.body.isEmpty ? StandInJSON.null : (StandInJSON.parse(request.bodyText) ?? .null)
        let parts = Array(path.split(separator: "/").map(String.init).dropFirst())
        /// The `*` segments of `pattern` when method and path match it.
        func route(_ method: String, _ pattern: String) -> [String]? {
            let wanted = pattern.split(separator: "/").map(String.init)
            guard request.method == method, wanted.count == parts.count else { return nil }
            var captured: [String] = []
            for (want, part) in zip(wanted, parts) {
                if want == "*" { captured.append(part) } else if want != part { return nil }
            }
            return captured
        }
        if route("POST", "integration") != nil { return createIntegration(body) }
        if let id = route("GET", "integration/*")?.first { return getIntegration(id) }
        if let id = route("PATCH", "integration/*")?.first { return patchIntegration(id, body) }
        if let id = route("PATCH", "integration/*/config")?.first {
            return patchIntegration(id, .object(["config": body["config"] ?? .object([:])]))
        }
        if let id = route("PATCH", "integration/*/resync-state")?.first { return resyncState(id, body) }
        if let id = route("GET", "integration/*/resync-request")?.first {
            guard let updated = state.withLock({ $0.resyncRequests[id] }) else {
                return Self.error(404, "not_found", "Integration \(id) has no resync request")
            }
            return Self.ok(["request": .object(["id": .string("request-\(id)"), "updatedAt": .string(updated)])])
        }
        if route("POST", "blueprints/entities/datasource-entities") != nil { return datasourceEntities(body) }
        if let id = route("GET", "blueprints/*")?.first { return getBlueprint(id) }
        if route("POST", "blueprints") != nil { return createBlueprint(body) }
        if let id = route("PATCH", "blueprints/*")?.first { return patchBlueprint(id, body) }
        if let id = route("DELETE", "blueprints/*")?.first {
            state.withLock { $0.blueprints[id] = nil; $0.entities[id] = nil }
            return .json(#"{"ok":true}"#)
        }
        if let bp = route("POST", "blueprints/*/entities/bulk")?.first { return bulkUpsert(bp, body, request) }
        if let bp = route("POST", "blueprints/*/entities")?.first { return singleUpsert(bp, body, request) }
        if let bp = route("POST", "blueprints/*/bulk/entities/delete")?.first { return bulkDelete(bp, body) }
        if route("POST", "entities/search") != nil { return search(body, request) }
        return Self.error(404, "not_found", "Route \(request.method) \(path) not found")
    }

    static func error(_ status: Int, _ error: String, _ message: String, headers: [TestHeader] = []) -> TestResponse {
        .json(StandInJSON.object(["ok": .bool(false), "error": .string(error), "message": .string(message)]).text(sorted: true), status: status,
              headers: headers)
    }

    static func ok(_ members: [String: StandInJSON], status: Int = 200) -> TestResponse {
        var members = members
        members["ok"] = .bool(true)
        return .json(StandInJSON.object(members).text(sorted: true), status: status)
    }

    func token(_ request: RecordedRequest) -> TestResponse {
        let body = StandInJSON.parse(request.bodyText)
        guard body?["clientId"]?.stringValue == options.clientID, body?["clientSecret"]?.stringValue == options.clientSecret else {
            return Self.error(401, "unauthorized", "Invalid client credentials")
        }
        let token = "tok-" + UUID().uuidString
        state.withLock { $0.tokens[token] = (Date(), 0); $0.tokenCount += 1 }
        return Self.ok(["accessToken": .string(token), "expiresIn": .number(Double(options.tokenLifetime)), "tokenType": .string("Bearer")])
    }

    func authorise(_ request: RecordedRequest) -> TestResponse? {
        let header = request.header("Authorization") ?? ""
        let token = header.hasPrefix("Bearer ") ? String(header.dropFirst(7)) : ""
        return state.withLock { state -> TestResponse? in
            guard let entry = state.tokens[token],
                  Date().timeIntervalSince(entry.issued) < Double(options.tokenLifetime),
                  options.tokenMaxUses.map({ entry.uses < $0 }) ?? true else {
                return Self.error(401, "unauthorized", "Token expired or invalid")
            }
            state.tokens[token]?.uses += 1
            if state.pending429 > 0 {
                state.pending429 -= 1
                return Self.error(429, "too_many_requests", "Rate limit exceeded", headers: [TestHeader("Retry-After", state.retryAfter)])
            }
            return nil
        }
    }

    // MARK: Integrations

    func createIntegration(_ body: StandInJSON) -> TestResponse {
        guard let id = body["installationId"]?.stringValue else { return Self.error(422, "invalid_request", "installationId is required") }
        return state.withLock { state in
            if state.integrations[id] != nil { return Self.error(409, "identifier_taken", "Integration \(id) already exists") }
            var integration = body.objectValue ?? [:]
            integration["identifier"] = .string(id)
            integration["arePortResourcesInitialized"] = .bool(false)
            if integration["config"] == nil { integration["config"] = .object([:]) }
            state.integrations[id] = integration
            return Self.ok(["integration": .object(integration)])
        }
    }

    func getIntegration(_ id: String) -> TestResponse {
        guard let integration = state.current.integrations[id] else {
            return Self.error(404, "not_found", "Integration with identifier \"\(id)\" was not found")
        }
        return Self.ok(["integration": .object(integration)])
    }

    func patchIntegration(_ id: String, _ body: StandInJSON) -> TestResponse {
        state.withLock { state in
            guard var integration = state.integrations[id] else {
                return Self.error(404, "not_found", "Integration with identifier \"\(id)\" was not found")
            }
            for (key, value) in body.objectValue ?? [:] { integration[key] = value }
            state.integrations[id] = integration
            return Self.ok(["integration": .object(integration)])
        }
    }

    func resyncState(_ id: String, _ body: StandInJSON) -> TestResponse {
        state.withLock { state in
            guard var integration = state.integrations[id] else {
                return Self.error(404, "not_found", "Integration with identifier \"\(id)\" was not found")
            }
            var resync = body.objectValue ?? [:]
            resync["updatedAt"] = .string(Self.iso(Date()))
            integration["resyncState"] = .object(resync)
            state.integrations[id] = integration
            state.resyncStates.append(body["status"]?.stringValue ?? "?")
            return Self.ok(["integration": .object(integration)])
        }
    }

    // MARK: Blueprints

    func getBlueprint(_ id: String) -> TestResponse {
        guard let blueprint = state.current.blueprints[id] else {
            return Self.error(404, "not_found", "Blueprint with identifier \"\(id)\" was not found")
        }
        return Self.ok(["blueprint": .object(blueprint)])
    }

    func createBlueprint(_ body: StandInJSON) -> TestResponse {
        guard let id = body["identifier"]?.stringValue else { return Self.error(422, "invalid_request", "identifier is required") }
        return state.withLock { state in
            if state.failingBlueprints.contains(id) { return Self.error(422, "invalid_request", "Blueprint \(id) is invalid") }
            if state.blueprints[id] != nil { return Self.error(409, "identifier_taken", "Blueprint \(id) already exists") }
            state.blueprints[id] = body.objectValue ?? [:]
            return Self.ok(["blueprint": body])
        }
    }

    func patchBlueprint(_ id: String, _ body: StandInJSON) -> TestResponse {
        state.withLock { state in
            guard var blueprint = state.blueprints[id] else {
                return Self.error(404, "not_found", "Blueprint with identifier \"\(id)\" was not found")
            }
            for (key, value) in body.objectValue ?? [:] { blueprint[key] = value }
            state.blueprints[id] = blueprint
            return Self.ok(["blueprint": .object(blueprint)])
        }
    }

    // MARK: Entities

    struct Refusal: Error {
        var status: Int, code: String, message: String
        init(status: Int, code: String, _ message: String) { self.status = status; self.code = code; self.message = message }
    }

    struct WriteFlags {
        var merge: Bool
        var createMissing: Bool
        init(_ request: RecordedRequest) {
            merge = request.queryValue("merge") == "true"
            createMissing = request.queryValue("create_missing_related_entities") != "false"
        }
    }

    /// Validates and writes one entity; the error is Port's (status, code, message).
    func write(_ entity: StandInJSON, blueprint: String, flags: WriteFlags, datasource: String?,
               into state: inout State) -> Result<(String, Bool), Refusal> {
        guard let schema = state.blueprints[blueprint] else {
            return .failure(Refusal(status: 404, code: "not_found", "Blueprint with identifier \"\(blueprint)\" was not found"))
        }
        var identifier = entity["identifier"]?.stringValue
        if identifier == nil, let rules = entity["identifier"]?["rules"]?.arrayValue {
            // A search identifier: `$identifier =` rules are what the stand-in resolves.
            let wanted = rules.first { $0["property"]?.stringValue == "$identifier" }?["value"]?.stringValue
            if let wanted, state.entities[blueprint]?[wanted] != nil { identifier = wanted } else {
                return .failure(Refusal(status: 404, code: "not_found", "No entity matched the search identifier"))
            }
        }
        guard let identifier, !identifier.isEmpty else { return .failure(Refusal(status: 422, code: "invalid_request", "identifier is required")) }
        let propertySchemas = schema["schema"]?["properties"]?.objectValue ?? [:]
        for (name, value) in entity["properties"]?.objectValue ?? [:] where !value.isNull {
            guard let definition = propertySchemas[name] else {
                return .failure(Refusal(status: 422, code: "schema_mismatch", "The property \"\(name)\" is not defined in blueprint \"\(blueprint)\""))
            }
            if let type = definition["type"]?.stringValue, !value.matches(type: type) {
                return .failure(Refusal(status: 422, code: "schema_mismatch", "The value of property \"\(name)\" must be of type \(type)"))
            }
        }
        let relationDefinitions = schema["relations"]?.objectValue ?? [:]
        var missing: [(String, String)] = []
        for (name, value) in entity["relations"]?.objectValue ?? [:] where !value.isNull {
            guard let target = relationDefinitions[name]?["target"]?.stringValue else {
                return .failure(Refusal(status: 422, code: "schema_mismatch", "The relation \"\(name)\" is not defined in blueprint \"\(blueprint)\""))
            }
            let targets = value.arrayValue?.compactMap(\.stringValue) ?? [value.stringValue].compactMap { $0 }
            for id in targets where state.entities[target]?[id] == nil && !(target == blueprint && id == identifier) {
                missing.append((target, id))
            }
        }
        if !missing.isEmpty && !flags.createMissing {
            let (target, id) = missing[0]
            return .failure(Refusal(status: 422, code: "missing_related_entity", "The related entity \"\(id)\" of blueprint \"\(target)\" does not exist"))
        }
        let now = Date()
        for (target, id) in missing where state.entities[target]?[id] == nil {
            state.entities[target, default: [:]][id] = StoredEntity(identifier: id, blueprint: target, title: nil, properties: [:],
                                                                  relations: [:], datasource: datasource, createdAt: now, updatedAt: now, writes: 1)
        }
        let existing = state.entities[blueprint]?[identifier]
        var stored = existing ?? StoredEntity(identifier: identifier, blueprint: blueprint, title: nil, properties: [:], relations: [:],
                                              datasource: datasource, createdAt: now, updatedAt: now, writes: 0)
        let properties = entity["properties"]?.objectValue ?? [:]
        let relations = entity["relations"]?.objectValue ?? [:]
        if flags.merge {
            for (key, value) in properties { stored.properties[key] = value }
            for (key, value) in relations { stored.relations[key] = value }
        } else {
            stored.properties = properties
            stored.relations = relations
        }
        if let title = entity["title"] { stored.title = title.stringValue }
        stored.datasource = datasource
        stored.updatedAt = now
        stored.writes += 1
        state.entities[blueprint, default: [:]][identifier] = stored
        return .success((identifier, existing == nil))
    }

    func bulkUpsert(_ blueprint: String, _ body: StandInJSON, _ request: RecordedRequest) -> TestResponse {
        let flags = WriteFlags(request)
        let datasource = request.header("User-Agent")
        return state.withLock { state in
            guard state.blueprints[blueprint] != nil else {
                return Self.error(404, "not_found", "Blueprint with identifier \"\(blueprint)\" was not found")
            }
            var written: [StandInJSON] = []
            var errors: [StandInJSON] = []
            for (index, entity) in (body["entities"]?.arrayValue ?? []).enumerated() {
                switch write(entity, blueprint: blueprint, flags: flags, datasource: datasource, into: &state) {
                case .success(let (identifier, created)):
                    written.append(.object(["index": .number(Double(index)), "identifier": .string(identifier), "created": .bool(created)]))
                case .failure(let refusal):
                    let (status, code, message) = (refusal.status, refusal.code, refusal.message)
                    errors.append(.object(["index": .number(Double(index)),
                                           "identifier": entity["identifier"]?.stringValue.map(StandInJSON.string) ?? .string("unknown"),
                                           "statusCode": .number(Double(status)), "error": .string(code), "message": .string(message)]))
                }
            }
            return Self.ok(["entities": .array(written), "errors": .array(errors)], status: errors.isEmpty ? 200 : 207)
        }
    }

    func singleUpsert(_ blueprint: String, _ body: StandInJSON, _ request: RecordedRequest) -> TestResponse {
        let flags = WriteFlags(request)
        let datasource = request.header("User-Agent")
        return state.withLock { state in
            switch write(body, blueprint: blueprint, flags: flags, datasource: datasource, into: &state) {
            case .success(let (identifier, created)):
                return Self.ok(["entity": .object(["identifier": .string(identifier), "blueprint": .string(blueprint)])],
                               status: created ? 201 : 200)
            case .failure(let refusal):
                    let (status, code, message) = (refusal.status, refusal.code, refusal.message)
                return Self.error(status, code, message)
            }
        }
    }

    func bulkDelete(_ blueprint: String, _ body: StandInJSON) -> TestResponse {
        state.withLock { state in
            var deleted: [StandInJSON] = []
            for id in body["entities"]?.arrayValue?.compactMap(\.stringValue) ?? [] where state.entities[blueprint]?[id] != nil {
                state.entities[blueprint]?[id] = nil
                deleted.append(.string(id))
            }
            return Self.ok(["deletedEntities": .array(deleted)])
        }
    }

    func datasourceEntities(_ body: StandInJSON) -> TestResponse {
        let prefix = body["datasource_prefix"]?.stringValue ?? ""
        let suffix = body["datasource_suffix"]?.stringValue ?? ""
        let limit = Int(body["limit"]?.numberValue ?? 5000)
        let before = body["before"]?.stringValue.flatMap(Self.parseISO)
        let from = Int(body["from"]?.stringValue ?? "") ?? 0
        let all = state.current.entities.values.flatMap(\.values)
            .filter { entity in
                guard let datasource = entity.datasource, datasource.hasPrefix(prefix), datasource.hasSuffix(suffix) else { return false }
                return before.map { entity.updatedAt < $0 } ?? true
            }
            .sorted { ($0.blueprint, $0.identifier) < ($1.blueprint, $1.identifier) }
        let page = all.dropFirst(from).prefix(limit)
        let next: StandInJSON = from + page.count < all.count ? .string(String(from + page.count)) : .null
        return Self.ok(["entities": .array(page.map { .object(["identifier": .string($0.identifier), "blueprint": .string($0.blueprint)]) }),
                        "next": next])
    }

    func search(_ body: StandInJSON, _ request: RecordedRequest) -> TestResponse {
        let rules = body["rules"]?.arrayValue ?? []
        let includes = request.query.filter { $0.name == "include" }.compactMap(\.value)
        let matches = state.current.entities.values.flatMap(\.values).filter { entity in
            rules.allSatisfy { rule in
                let property = rule["property"]?.stringValue ?? ""
                let op = rule["operator"]?.stringValue ?? ""
                let actual: String? = property == "$identifier" ? entity.identifier
                    : property == "$blueprint" ? entity.blueprint : property == "$datasource" ? entity.datasource : nil
                switch op {
                case "=": return actual == rule["value"]?.stringValue
                case "in": return (rule["value"]?.arrayValue ?? []).contains { $0.stringValue == actual }
                case "contains": return actual.map { $0.contains(rule["value"]?.stringValue ?? "") } ?? false
                default: return false
                }
            }
        }
        let found: [StandInJSON] = matches.sorted { $0.identifier < $1.identifier }.map { entity in
            var object: [String: StandInJSON] = ["identifier": .string(entity.identifier), "blueprint": .string(entity.blueprint)]
            if includes.isEmpty || includes.contains("title") { object["title"] = entity.title.map(StandInJSON.string) ?? .null }
            let wantedProperties = includes.filter { $0.hasPrefix("properties.") }.map { String($0.dropFirst(11)) }
            let wantedRelations = includes.filter { $0.hasPrefix("relations.") }.map { String($0.dropFirst(10)) }
            object["properties"] = .object(includes.isEmpty ? entity.properties : entity.properties.filter { wantedProperties.contains($0.key) })
            object["relations"] = .object(includes.isEmpty ? entity.relations : entity.relations.filter { wantedRelations.contains($0.key) })
            return .object(object)
        }
        return Self.ok(["entities": .array(found)])
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// Python's `isoformat()` (microseconds, `+00:00`) and the usual `Z` forms.
    static func parseISO(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        for format in ["yyyy-MM-dd'T'HH:mm:ss.SSSSSSXXXXX", "yyyy-MM-dd'T'HH:mm:ss.SSSXXXXX", "yyyy-MM-dd'T'HH:mm:ssXXXXX"] {
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}

/// The stand-in's JSON (TideCore's plain value; TideTesting does not link libjq).
public typealias StandInJSON = JSONValue

extension JSONValue {
    /// A blueprint property's JSON-schema `type`.
    func matches(type: String) -> Bool {
        switch (type, self) {
        case ("string", .string), ("boolean", .bool), ("array", .array), ("object", .object), ("number", .number): return true
        default: return false
        }
    }
}
