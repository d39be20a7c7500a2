import Foundation
import Testing
import TideCatalog
import TideCore
import TideEngine
import TideHTTP
import TideIntegration
import TideModel
import TidePort
import TideTesting

/// A small `things` integration whose records a loopback server serves, `pageSize` per page.
final class Things: Sendable {
    let folder: URL
    let server: TestHTTPServer
    let records: Locked<[String]>
    let failing: Locked<Bool>

    init(pageSize: Int = 25, threshold: Double = 0.9, records: [String]) async throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-port-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        try """
        name: things
        version: 1.2.3
        configuration:
          - {name: host, type: url, required: true}
        http:
          baseUrl: "{{ .config.host }}"
          retry: {attempts: 1}
        kinds:
          item:
            request: {path: /items}
            records: .values
            pagination: {type: offset, limit: \(pageSize)}
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        try """
        entityDeletionThreshold: \(threshold)
        resources:
          - kind: item
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"thing"'
                  properties: {name: .name, size: .size}
        """.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
        try """
        [{"identifier": "thing", "title": "Thing",
          "schema": {"properties": {"name": {"type": "string"}, "size": {"type": "number"}}},
          "relations": {"owner": {"target": "thing", "many": false}}}]
        """.write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
        let records = Locked(records)
        let failing = Locked(false)
        self.records = records
        self.failing = failing
        server = try await TestHTTPServer.start { request in
            if failing.current { return .json(#"{"error":"boom"}"#, status: 500) }
            let offset = Int(request.queryValue("offset") ?? "0") ?? 0
            let limit = Int(request.queryValue("limit") ?? "25") ?? 25
            let all = records.current
            let page = all.dropFirst(offset).prefix(limit).map { id -> String in
                // A record whose id starts with "bad" carries a size of the wrong type.
                let size = id.hasPrefix("bad") ? "\"huge\"" : "1"
                return #"{"id":"\#(id)","name":"Name \#(id)","size":\#(size)}"#
            }
            return .json(#"{"values":[\#(page.joined(separator: ","))]}"#)
        }
    }

    func stop() async { await server.stop() }

    func integration() throws -> Integration { try Integration.load(directory: folder.path) }

    func configuration(_ integration: Integration) throws -> ResolvedConfiguration {
        try ConfigurationResolver(overrides: ["host": server.baseURL], environment: [:]).resolve(for: integration)
    }

    static func ids(_ count: Int, prefix: String = "t") -> [String] { (0..<count).map { String(format: "\(prefix)%03d", $0) } }
}

struct Silent: ResyncObserver {
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) {}
}

/// A fast retry policy for tests: Ocean's statuses, short waits.
let testRetry = RetryPolicy(maxAttempts: 10, retryableStatuses: [408, 429, 502, 503, 504], baseDelay: .milliseconds(5),
                            multiplier: 1.5, maxDelay: .milliseconds(50), jitter: .none, maxTotalWait: .seconds(30))

func portSettings(_ standIn: PortStandIn, identifier: String = "things-test") -> PortSettings {
    PortSettings(credentials: PortCredentials(clientID: standIn.options.clientID, clientSecret: standIn.options.clientSecret,
                                              baseURL: standIn.baseURL),
                 identifier: identifier, type: "things", version: "1.2.3")
}

/// The two sinks behind one interface, for the shared behaviour suite.
enum SinkKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case catalog, port
    var testDescription: String { rawValue }
}

/// A sink of either kind, with what a test needs to look inside it.
final class SinkHarness: Sendable {
    let sink: any EntitySink
    let standIn: PortStandIn?
    let catalogPath: String?

    init(_ kind: SinkKind) async throws {
        let datasource = Datasource(integrationType: "things", integrationVersion: "1.2.3", installationIdentifier: "things-test")
        switch kind {
        case .catalog:
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("tide-port-\(UUID().uuidString).sqlite").path
            catalogPath = path
            standIn = nil
            sink = CatalogSink(catalog: try Catalog(path: path), datasource: datasource)
        case .port:
            let standIn = try await PortStandIn.start()
            standIn.addBlueprint(json: """
            {"identifier": "thing", "schema": {"properties": {"name": {"type": "string"}, "size": {"type": "number"}}},
             "relations": {"owner": {"target": "thing", "many": false}}}
            """)
            self.standIn = standIn
            catalogPath = nil
            let client = PortClient(credentials: portSettings(standIn).credentials, datasource: datasource, retry: testRetry)
            sink = PortSink(client: client)
        }
    }

    func identifiers() throws -> [String] {
        if let standIn { return standIn.identifiers(blueprint: "thing") }
        return try Catalog(path: catalogPath!).entities(blueprint: "thing").map(\.identifier).sorted()
    }

    func stop() async {
        if let sink = sink as? PortSink { await sink.client.shutdown() }
        await standIn?.stop()
    }
}
