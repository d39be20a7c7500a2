import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TideCatalog
import TideCore
import TideEngine
import TideHTTP
import TideIntegration
import TideMapping
import TideModel
import TideTesting
@testable import TideWebhooks

/// A small integration whose webhooks cover every verification scheme, against a third party
/// played by a `TestHTTPServer`.
enum Hooks {
    static let secret = "s3cret-token"
    static let controlToken = "ctl-t0ken-not-real"
    static let standardSecret = "whsec_" + Data("current-key".utf8).base64EncodedString()
    static let oldStandardSecret = "whsec_" + Data("rotated-out-key".utf8).base64EncodedString()

    static let integration = """
    name: hooks
    configuration:
      - {name: baseUrl, type: url, required: true}
      - {name: secret, type: string, sensitive: true}
      - {name: standardSecret, type: string, sensitive: true}
      - {name: oldStandardSecret, type: string, sensitive: true}
    http:
      baseUrl: "{{ .config.baseUrl }}"
    kinds:
      item:
        selector:
          id: {type: string, description: One item only (live events).}
        request:
          path: /items
          query:
            id: "{{ .selector.id }}"
        records: .items
    webhooks:
      - path: /hmac
        verify: {type: hmac, secret: "{{ .config.secret }}", header: X-Hub-Signature-256, prefix: "sha256="}
        retry: {attempts: 4, initialDelay: 0.05, maxDelay: 0.2}
        events: &events
          - {name: deleted, match: .payload.action == "deleted", kinds: [item], item: .payload.item, action: delete}
          - {name: updated, match: .payload.action == "updated", kinds: [item], item: .payload.item}
          - name: refetch
            match: .payload.action == "refetch"
            kinds: [item]
            item: .payload.item
            action: refetch
            refetch: {id: .item.id}
      - path: /rotating
        verify: {type: hmac, secret: "{{ .config.secret }}", header: X-PagerDuty-Signature, prefix: "v1=", separator: ","}
        events: *events
      - path: /sha1
        verify: {type: hmac, secret: "{{ .config.secret }}", header: X-Hub-Signature, prefix: "sha1=", algorithm: sha1}
        events: *events
      - path: /standard
        verify: {type: standardWebhooks, secrets: ["{{ .config.standardSecret }}", "{{ .config.oldStandardSecret }}"], tolerance: 300}
        events: *events
      - path: /token-header
        verify: {type: token, secret: "{{ .config.secret }}", header: X-Token}
        events: *events
      - path: /token-query
        verify: {type: token, secret: "{{ .config.secret }}", query: token}
        events: *events
      - path: /small
        maxBodyBytes: 64
        verify: {type: token, secret: "{{ .config.secret }}", header: X-Token}
        events: *events
      - path: /slow
        queueSize: 2
        workers: 1
        verify: {type: token, secret: "{{ .config.secret }}", header: X-Token}
        events: *events
    """

    static let mapping = """
    entityDeletionThreshold: 1
    resources:
      - kind: item
        selector:
          query: .status != "archived"
        port:
          entity:
            mappings:
              identifier: .id
              title: .name
              blueprint: '"item"'
              properties:
                status: .status
    """

    static let blueprints = """
    [{"identifier": "item", "title": "Item", "schema": {"properties": {"status": {"type": "string"}}, "required": []}, "relations": {}}]
    """

    static func directory() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-hooks-\(UUID().uuidString)").path
        let resources = directory + "/.port/resources"
        try FileManager.default.createDirectory(atPath: resources, withIntermediateDirectories: true)
        try integration.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
        try mapping.write(toFile: resources + "/port-app-config.yml", atomically: true, encoding: .utf8)
        try blueprints.write(toFile: resources + "/blueprints.json", atomically: true, encoding: .utf8)
        return directory
    }
}

/// The third party: items by id, with scripted failures and delays.
final class ThirdParty: Sendable {
    struct State {
        var items: [String: String] = [:]
        var failuresLeft: [String: Int] = [:]
        var delays: [String: Duration] = [:]
        var requests: [String: Int] = [:]
    }
    let state = Locked(State())
    let server: TestHTTPServer

    init() async throws {
        let state = self.state
        server = try await TestHTTPServer.start { request in
            let id = request.queryValue("id") ?? "*"
            let (fail, delay, body) = state.withLock { s -> (Bool, Duration?, String) in
                s.requests[id, default: 0] += 1
                if let left = s.failuresLeft[id], left > 0 {
                    s.failuresLeft[id] = left - 1
                    return (true, nil, "")
                }
                let items = id == "*" ? s.items.keys.sorted().compactMap { s.items[$0] } : [s.items[id]].compactMap { $0 }
                return (false, s.delays[id], #"{"items": ["# + items.joined(separator: ",") + "]}")
            }
            if fail { return .json(#"{"error": "boom"}"#, status: 500) }
            var response = TestResponse.json(body)
            response.delay = delay
            return response
        }
    }

    func set(_ id: String, name: String, status: String = "open") {
        state.withLock { $0.items[id] = #"{"id": "\#(id)", "name": "\#(name)", "status": "\#(status)"}"# }
    }
}

/// Opens once; whoever waits on it before then waits (cancellation ends the wait).
final class Gate: Sendable {
    private let state = Locked((open: false, arrived: 0))
    func release() { state.withLock { $0.open = true } }
    /// How many waits have begun.
    var arrived: Int { state.current.arrived }
    func wait() async throws {
        state.withLock { $0.arrived += 1 }
        while !state.current.open { try await Task.sleep(for: .milliseconds(10)) }
    }
}

/// The catalog sink, with upserts held at a gate: an event stays in progress until the test says.
struct GatedSink: EntitySink {
    let base: CatalogSink
    let gate: Gate
    func prepare(blueprints: [Blueprint]) async throws { try await base.prepare(blueprints: blueprints) }
    func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        try await gate.wait()
        return try await base.upsert(entities, options: options)
    }
    func staleEntities(resyncStart: Date) async throws -> StaleEntities { try await base.staleEntities(resyncStart: resyncStart) }
    func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> {
        try await base.relationTargets(among: candidates, writtenSince: resyncStart)
    }
    func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int { try await base.delete(keys, deleteDependents: deleteDependents) }
}

/// A running LiveService with a catalog sink, and a sender.
struct Harness {
    let service: LiveService
    let catalog: Catalog
    let thirdParty: ThirdParty
    let client: HTTPClient
    let integration: Integration
    let mapping: PortAppConfig
    let configuration: ResolvedConfiguration
    let sink: CatalogSink
    let logs: Locked<[(level: LiveLogLevel, line: String)]>

    /// - Parameters:
    ///   - secret: the webhooks' secret; nil configures none.
    ///   - resyncGate: each resync waits at it before reading the third party.
    ///   - sinkGate: live events' upserts wait at it.
    ///   - adjust: settings beyond the defaults (control token `Hooks.controlToken`).
    static func start(listener: EventListenerType = .webhooksOnly, resyncDelay: Duration? = nil, secret: String? = Hooks.secret,
                      resyncGate: Gate? = nil, sinkGate: Gate? = nil,
                      adjust: (inout LiveSettings) -> Void = { _ in }) async throws -> Harness {
        let thirdParty = try await ThirdParty()
        if let resyncDelay { thirdParty.state.withLock { $0.delays["*"] = resyncDelay } }
        let directory = try Hooks.directory()
        let integration = try Integration.load(directory: directory)
        var overrides = ["baseUrl": thirdParty.server.baseURL]
        if let secret {
            overrides["secret"] = secret
            overrides["standardSecret"] = Hooks.standardSecret
            overrides["oldStandardSecret"] = Hooks.oldStandardSecret
        }
        let configuration = try ConfigurationResolver(overrides: overrides, environment: [:]).resolve(for: integration)
        let catalog = try Catalog(path: directory + "/catalog.sqlite")
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "hooks", installationIdentifier: "hooks-test"))
        let mapping = integration.defaultMapping!
        let resync = Resync(integration: integration, mapping: mapping, configuration: configuration, sink: sink)
        var settings = LiveSettings(host: "127.0.0.1", port: 0, listener: listener)
        settings.controlToken = Hooks.controlToken
        adjust(&settings)
        let logs = Locked<[(level: LiveLogLevel, line: String)]>([])
        let service = try LiveService(integration: integration, mapping: mapping, configuration: configuration,
                                      sink: sinkGate.map { GatedSink(base: sink, gate: $0) } ?? sink,
                                      settings: settings, log: { level, line in logs.withLock { $0.append((level, line)) } }) {
            try await resyncGate?.wait()
            return try await resync.run(observer: NoObserver()).succeeded
        }
        try await service.start()
        return Harness(service: service, catalog: catalog, thirdParty: thirdParty,
                       client: HTTPClient(configuration: .init(retry: .never)), integration: integration, mapping: mapping,
                       configuration: configuration, sink: sink, logs: logs)
    }

    func stop() async {
        await service.shutdown()
        await client.shutdown()
        await thirdParty.server.stop()
    }

    var base: String { service.baseURL! }

    func post(_ path: String, body: String, headers: HTTPHeaders = [:], query: String = "") async throws -> HTTPResponse {
        var headers = headers
        headers.set("Content-Type", "application/json")
        return try await client.send(HTTPRequest(method: .post, url: base + path + query, headers: headers, body: Array(body.utf8),
                                                 throwsOnErrorStatus: false))
    }

    func get(_ path: String) async throws -> HTTPResponse {
        try await client.send(HTTPRequest(url: base + path, throwsOnErrorStatus: false))
    }

    /// POST /resync with the control token (or `token`; nil sends no Authorization).
    func resync(token: String? = Hooks.controlToken) async throws -> HTTPResponse {
        try await post("/resync", body: "", headers: token.map { ["Authorization": "Bearer " + $0] } ?? [:])
    }

    /// A body signed for /hmac.
    func hmac(_ body: String) async throws -> HTTPResponse {
        try await post("/integration/hmac", body: body,
                       headers: ["X-Hub-Signature-256": "sha256=" + Signatures.hmacSHA256Hex(Array(body.utf8), secret: Hooks.secret)])
    }

    func token(_ path: String, _ body: String) async throws -> HTTPResponse {
        try await post("/integration" + path, body: body, headers: ["X-Token": Hooks.secret])
    }

    func title(_ id: String) -> String? {
        guard let stored = try? catalog.entity(blueprint: "item", identifier: id) else { return nil }
        return stored.title.map { $0.text.trimmingCharacters(in: CharacterSet(charactersIn: "\"")) } ?? "<no title>"
    }

    var processed: Int { service.metrics.snapshot.processed.values.reduce(0, +) + service.metrics.snapshot.failed.values.reduce(0, +) }
}

struct NoObserver: ResyncObserver {
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) {}
}

func event(_ action: String, id: String, name: String = "n", status: String = "open") -> String {
    #"{"action": "\#(action)", "item": {"id": "\#(id)", "name": "\#(name)", "status": "\#(status)"}}"#
}

/// An integration written to a throwaway folder (integration.yml, the mapping, one blueprint),
/// loaded, configured against `host`, and served by a real webhook service that writes to a real
/// catalog: what the tests of one webhook behaviour need around it.
struct ServedIntegration {
    let integration: Integration
    let configuration: ResolvedConfiguration
    let catalog: Catalog
    let sink: CatalogSink
    let service: LiveService
    let client: HTTPClient

    static func start(name: String, integration yaml: String, mapping: String, blueprint: String,
                      config: [String: String]) async throws -> ServedIntegration {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-\(name)-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/.port/resources", withIntermediateDirectories: true)
        try yaml.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
        try mapping.write(toFile: directory + "/.port/resources/port-app-config.yml", atomically: true, encoding: .utf8)
        try #"[{"identifier": "\#(blueprint)", "schema": {"properties": {}}}]"#
            .write(toFile: directory + "/.port/resources/blueprints.json", atomically: true, encoding: .utf8)
        let integration = try Integration.load(directory: directory)
        let configuration = try ConfigurationResolver(overrides: config, environment: [:]).resolve(for: integration)
        let catalog = try Catalog(path: directory + "/catalog.sqlite")
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: name, installationIdentifier: "\(name)-test"))
        let service = try LiveService(integration: integration, mapping: integration.defaultMapping!, configuration: configuration,
                                      sink: sink, settings: LiveSettings(host: "127.0.0.1", port: 0, listener: .webhooksOnly)) { true }
        try await service.start()
        return ServedIntegration(integration: integration, configuration: configuration, catalog: catalog, sink: sink,
                                 service: service, client: HTTPClient(configuration: .init(retry: .never)))
    }

    /// POSTs `body` to the integration's `/webhook` with `headers`; the status.
    func post(_ body: String, headers: HTTPHeaders) async throws -> Int {
        var headers = headers
        headers.set("Content-Type", "application/json")
        return try await client.send(HTTPRequest(method: .post, url: service.baseURL! + "/integration/webhook", headers: headers,
                                                 body: Array(body.utf8), throwsOnErrorStatus: false)).status
    }

    func stop() async {
        await service.shutdown()
        await client.shutdown()
    }
}
