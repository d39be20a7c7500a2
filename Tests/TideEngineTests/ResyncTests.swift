import Foundation
import Testing
import TideCatalog
import TideEngine
import TideIntegration
import TideMapping
import TideModel
import TideTesting

/// A small integration (`item` records, offset pagination, 2 per page) resynced from a real
/// loopback server into a real catalog file.
struct ThingsIntegration {
    let folder: URL
    let catalogPath: String

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-engine-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        catalogPath = folder.appendingPathComponent("catalog.sqlite").path
        try """
        name: things
        configuration:
          - {name: host, type: url, required: true}
          - {name: token, type: string, required: true, sensitive: true}
        http:
          baseUrl: "{{ .config.host }}"
          auth: {type: bearer, token: "{{ .config.token }}"}
          retry: {attempts: 2, maxWait: 1}
        kinds:
          item:
            request: {path: /items}
            records: .values
            pagination: {type: offset, limit: 2}
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        try mapping(threshold: 0.9)
        try """
        [{"identifier": "thing", "schema": {"properties": {"name": {"type": "string"}}},
          "relations": {"owner": {"target": "thing", "many": false}}}]
        """.write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
    }

    func mapping(threshold: Double, createMissingRelatedEntities: Bool = true, enableDelete: Bool? = nil) throws {
        try """
        entityDeletionThreshold: \(threshold)
        createMissingRelatedEntities: \(createMissingRelatedEntities)
        resources:
          - kind: item
            \(enableDelete.map { "enableDelete: \($0)" } ?? "")
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"thing"'
                  properties: {name: .name}
                  relations: {owner: .owner}
        """.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
    }

    /// Serves `ids` two per page; `failAt` makes that 0-based page answer 500.
    static func server(_ ids: [String], owners: [String: String] = [:], failAt: Int? = nil) async throws -> FixtureServer {
        var fixtures: [Served] = []
        var pages = stride(from: 0, to: ids.count, by: 2).map { Array(ids[$0..<min($0 + 2, ids.count)]) }
        // A full last page makes the client ask for the next offset, which answers empty.
        if ids.count % 2 == 0 { pages.append([]) }
        for (index, page) in pages.enumerated() {
            let values = page.map { id in
                #"{"id": "\#(id)", "name": "Name \#(id)", "owner": \#(owners[id].map { "\"\($0)\"" } ?? "null")}"#
            }
            let response: TestResponse = index == failAt
                ? .json(#"{"error": "boom"}"#, status: 500) : .json(#"{"values": [\#(values.joined(separator: ","))]}"#)
            fixtures.append(.init(offset: index * 2, response: response))
        }
        return try await FixtureServer.start(fixtures.map {
            TideTesting.Fixture(match: FixtureMatch(method: "GET", path: "/items", query: ["offset": "\($0.offset)", "limit": "2"]),
                                response: $0.response)
        })
    }

    struct Served { var offset: Int; var response: TestResponse }

    func resync(_ server: FixtureServer) async throws -> ResyncSummary {
        let integration = try Integration.load(directory: folder.path)
        let config = try ConfigurationResolver(overrides: ["host": server.baseURL, "token": "s3cret-token"], environment: [:])
            .resolve(for: integration)
        let catalog = try Catalog(path: catalogPath)
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "things", installationIdentifier: "test"))
        return try await Resync(integration: integration, mapping: integration.defaultMapping!, configuration: config,
                                sink: sink).run(observer: Silent())
    }

    func identifiers() throws -> [String] {
        try Catalog(path: catalogPath).entities(blueprint: "thing").map(\.identifier).sorted()
    }
}

struct Silent: ResyncObserver {
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) {}
}

@Suite struct ResyncTests {
    @Test func firstResyncWritesEveryPageAndDeletesNothing() async throws {
        let fixture = try ThingsIntegration()
        let server = try await ThingsIntegration.server(["a", "b", "c", "d", "e"])
        let summary = try await fixture.resync(server)
        await server.stop()
        #expect(summary.succeeded)
        #expect(summary.kinds.map(\.pages) == [3])
        #expect(summary.kinds.map(\.entities) == [5])
        #expect(summary.reconciliation == .nothingStale)
        #expect(try fixture.identifiers() == ["a", "b", "c", "d", "e"])
        #expect(server.requests.allSatisfy { $0.header("authorization") == "Bearer s3cret-token" })
    }

    @Test func aSecondResyncWithFewerRecordsDeletesExactlyTheStaleOnes() async throws {
        let fixture = try ThingsIntegration()
        let first = try await ThingsIntegration.server(["a", "b", "c", "d", "e"])
        _ = try await fixture.resync(first)
        await first.stop()
        let second = try await ThingsIntegration.server(["a", "b", "c", "e"])
        let summary = try await fixture.resync(second)
        await second.stop()
        #expect(summary.reconciliation == .deleted(count: 1, protected: 0))
        #expect(try fixture.identifiers() == ["a", "b", "c", "e"])
    }

    /// Ocean 0.56's `enableDelete: false`: the resource's stale entities stay; with it true (or
    /// unset) the same resync deletes them.
    @Test func aResourceWithEnableDeleteFalseKeepsItsStaleEntities() async throws {
        var deleted: [Reconciliation] = []
        for enableDelete in [false, true] {
            let fixture = try ThingsIntegration()
            let first = try await ThingsIntegration.server(["a", "b", "c", "d", "e"])
            _ = try await fixture.resync(first)
            await first.stop()
            try fixture.mapping(threshold: 0.9, enableDelete: enableDelete)
            let second = try await ThingsIntegration.server(["a", "b", "c"])
            let summary = try await fixture.resync(second)
            await second.stop()
            deleted.append(summary.reconciliation)
            #expect(try fixture.identifiers() == (enableDelete ? ["a", "b", "c"] : ["a", "b", "c", "d", "e"]))
        }
        #expect(deleted == [.deleted(count: 0, protected: 0, optedOut: 2), .deleted(count: 2, protected: 0, optedOut: 0)])
    }

    @Test func aFailureOnPageThreeKeepsPagesOneAndTwoAndDeletesNothing() async throws {
        let fixture = try ThingsIntegration()
        let full = try await ThingsIntegration.server(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
        _ = try await fixture.resync(full)
        await full.stop()
        // Five pages again, the third failing.
        let failing = try await ThingsIntegration.server(["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"], failAt: 2)
        let summary = try await fixture.resync(failing)
        await failing.stop()
        #expect(!summary.succeeded)
        #expect(summary.kinds.first?.pages == 2)
        #expect(summary.kinds.first?.failure?.contains("500") == true)
        #expect(summary.kinds.first?.failure?.contains("s3cret-token") == false)
        #expect(summary.reconciliation == .skippedAfterErrors)
        #expect(try fixture.identifiers() == ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"])
    }

    @Test func overTheThresholdNothingIsDeleted() async throws {
        let fixture = try ThingsIntegration()
        let first = try await ThingsIntegration.server(["a", "b", "c", "d"])
        _ = try await fixture.resync(first)
        await first.stop()
        try fixture.mapping(threshold: 0.5)
        let second = try await ThingsIntegration.server(["a"])
        let summary = try await fixture.resync(second)
        await second.stop()
        #expect(summary.reconciliation == .skippedOverThreshold(stale: 3, owned: 4, threshold: 0.5))
        #expect(try fixture.identifiers() == ["a", "b", "c", "d"])
    }

    @Test func aStaleEntityThatAKeptOnePointsAtIsKept() async throws {
        let fixture = try ThingsIntegration()
        let first = try await ThingsIntegration.server(["a", "b", "c"])
        _ = try await fixture.resync(first)
        await first.stop()
        let second = try await ThingsIntegration.server(["a", "b"], owners: ["a": "c"])
        let summary = try await fixture.resync(second)
        await second.stop()
        #expect(summary.reconciliation == .deleted(count: 0, protected: 1))
        #expect(try fixture.identifiers() == ["a", "b", "c"])

        try fixture.mapping(threshold: 0.9, createMissingRelatedEntities: false)
        let third = try await ThingsIntegration.server(["a", "b"], owners: ["a": "c"])
        let unprotected = try await fixture.resync(third)
        await third.stop()
        #expect(unprotected.reconciliation == .deleted(count: 1, protected: 0))
        #expect(try fixture.identifiers() == ["a", "b"])
    }
}
