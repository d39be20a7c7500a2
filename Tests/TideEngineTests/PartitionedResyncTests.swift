import Foundation
import Testing
import TideCatalog
import TideEngine
import TideFetch
import TideIntegration
import TideMapping
import TideModel
import TideTesting

/// Resyncs of a kind read as partitions, from a real loopback server into a real catalog: the
/// same entities whatever the concurrency, nothing deleted after a failing partition, and stale
/// entities kept when the partitions may not cover every record.
struct PartitionedThings {
    let folder: URL
    let catalogPath: String

    /// `item` records read one partition per region (`/regions/<r>/items`, 2 per page).
    init(concurrency: Int, coverage: String = "complete: true", responses: String = "[]") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-partitions-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        catalogPath = folder.appendingPathComponent("catalog.sqlite").path
        try """
        name: things
        configuration:
          - {name: host, type: url, required: true}
        http:
          baseUrl: "{{ .config.host }}"
          retry: {attempts: 2, maxWait: 1}
        kinds:
          item:
            request: {path: "/regions/{{ .partition }}/items"}
            records: .values
            pagination: {type: offset, limit: 2}
            concurrency: \(concurrency)
            responses: \(responses)
            partitions:
              values: '["eu", "us", "ap"]'
              \(coverage)
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        try """
        entityDeletionThreshold: 0.9
        resources:
          - kind: item
            selector: {query: '.name != "skip"'}
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .name
                  blueprint: '"thing"'
                  properties: {name: .name, size: .size.value}
        """.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
        try """
        [{"identifier": "thing", "schema": {"properties": {"name": {"type": "string"}, "size": {"type": "number"}}}}]
        """.write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
    }

    /// Each region's ids, two per page with a delay so that partitions overlap; `failing` regions
    /// answer 500 on their second page.
    static func server(_ regions: [String: [String]], failing: Set<String> = [], forbidden: Set<String> = [],
                       errorBody: Set<String> = []) async throws -> FixtureServer {
        var fixtures: [TideTesting.Fixture] = []
        for region in errorBody {
            fixtures.append(TideTesting.Fixture(match: FixtureMatch(method: "GET", path: "/regions/\(region)/items"),
                                                response: .json(#"{"ok": false, "error": "not_allowed", "values": []}"#)))
        }
        for region in forbidden {
            fixtures.append(TideTesting.Fixture(match: FixtureMatch(method: "GET", path: "/regions/\(region)/items"),
                                                response: TestResponse(status: 403, body: Array(#"{"message": "forbidden"}"#.utf8))))
        }
        for (region, ids) in regions where !forbidden.contains(region) && !errorBody.contains(region) {
            var pages = stride(from: 0, to: ids.count, by: 2).map { Array(ids[$0..<min($0 + 2, ids.count)]) }
            if ids.count % 2 == 0 { pages.append([]) }
            for (index, page) in pages.enumerated() {
                let values = page.map { id -> String in
                    // Some records give a null size (reported as a misconfigured field), one is filtered out.
                    let name = id == "u2" ? "skip" : "Name \(id)"
                    let size = id.hasSuffix("1") ? "null" : #"{"value": 3}"#
                    return #"{"id": "\#(id)", "name": "\#(name)", "size": \#(size)}"#
                }
                var response: TestResponse = failing.contains(region) && index == 1
                    ? .json(#"{"error": "boom"}"#, status: 500) : .json(#"{"values": [\#(values.joined(separator: ","))]}"#)
                response.delay = .milliseconds(30)
                fixtures.append(TideTesting.Fixture(match: FixtureMatch(method: "GET", path: "/regions/\(region)/items",
                                                                        query: ["offset": "\(index * 2)"]), response: response))
            }
        }
        return try await FixtureServer.start(fixtures)
    }

    static let regions = ["eu": ["e1", "e2", "e3", "e4", "e5"], "us": ["u1", "u2", "u3"], "ap": ["a1", "a2", "a3", "a4"]]

    func resync(_ server: FixtureServer) async throws -> ResyncSummary {
        let integration = try Integration.load(directory: folder.path)
        let config = try ConfigurationResolver(overrides: ["host": server.baseURL], environment: [:]).resolve(for: integration)
        let sink = CatalogSink(catalog: try Catalog(path: catalogPath), datasource: Datasource(integrationType: "things", installationIdentifier: "test"))
        return try await Resync(integration: integration, mapping: integration.defaultMapping!, configuration: config, sink: sink)
            .run(observer: Silent())
    }

    func entities() throws -> [String] {
        try Catalog(path: catalogPath).entities(blueprint: "thing").map { "\($0.identifier) \($0.properties.text)" }.sorted()
    }
}

@Suite struct PartitionedResyncTests {
    /// One partition at a time or four at once: the same entities, the same report.
    @Test func theSameEntitiesAndReportAtEveryConcurrency() async throws {
        var outcomes: [(entities: [String], records: Int, filtered: Int, nulls: Int)] = []
        for concurrency in [1, 4] {
            let fixture = try PartitionedThings(concurrency: concurrency)
            let server = try await PartitionedThings.server(PartitionedThings.regions)
            let summary = try await fixture.resync(server)
            let overlapped = server.maxConcurrentRequests
            await server.stop()
            #expect(summary.succeeded)
            if concurrency == 1 { #expect(overlapped == 1) } else { #expect(overlapped > 1, "partitions overlapped") }
            let kind = try #require(summary.kinds.first)
            #expect(kind.runs?.finished == 3 && kind.runs?.listed == true)
            outcomes.append((try fixture.entities(), kind.records, kind.report.filtered, kind.report.misconfigurations.values.map(\.total).reduce(0, +)))
        }
        #expect(outcomes.count == 2)
        #expect(outcomes[0].entities.count == 11, "12 records, one filtered by the selector")
        #expect(outcomes[0].entities == outcomes[1].entities)
        #expect(outcomes[0].records == 12 && outcomes[1].records == 12)
        #expect(outcomes[0].filtered == 1 && outcomes[1].filtered == 1)
        #expect(outcomes[0].nulls == outcomes[1].nulls && outcomes[0].nulls == 3, "e1, a1 and u1 give a null size")
    }

    /// A partition that fails on its second page fails the kind: nothing of it is deleted, even
    /// entities that only the failed partition held.
    @Test func aFailingPartitionDeletesNothing() async throws {
        let fixture = try PartitionedThings(concurrency: 4)
        let full = try await PartitionedThings.server(PartitionedThings.regions)
        _ = try await fixture.resync(full)
        await full.stop()
        let before = try fixture.entities()
        var shrunk = PartitionedThings.regions
        shrunk["eu"] = ["e1", "e2", "e3"]
        shrunk["ap"] = ["a1"]
        let failing = try await PartitionedThings.server(shrunk, failing: ["eu"])
        let summary = try await fixture.resync(failing)
        await failing.stop()
        #expect(!summary.succeeded)
        #expect(summary.kinds.first?.failure?.contains("/regions/eu/items") == true, "\(summary.kinds.first?.failure ?? "")")
        #expect(summary.reconciliation == .skippedAfterErrors)
        #expect(try fixture.entities() == before)
        #expect(before.count == 11)
    }

    /// Partitions that may not cover every record (no count, not stated complete) never let
    /// reconciliation delete; stated complete, the same resync deletes the stale ones.
    @Test func partitionsOfUnknownCoverageKeepStaleEntities() async throws {
        var reconciliations: [Reconciliation] = []
        for coverage in ["", "complete: true"] {
            let fixture = try PartitionedThings(concurrency: 2, coverage: coverage)
            let full = try await PartitionedThings.server(PartitionedThings.regions)
            _ = try await fixture.resync(full)
            await full.stop()
            var shrunk = PartitionedThings.regions
            shrunk["ap"] = ["a1", "a2"]
            let second = try await PartitionedThings.server(shrunk)
            let summary = try await fixture.resync(second)
            await second.stop()
            reconciliations.append(summary.reconciliation)
            #expect(try fixture.entities().count == (coverage.isEmpty ? 11 : 9))
        }
        #expect(reconciliations == [.deleted(count: 0, protected: 0, optedOut: 2), .deleted(count: 2, protected: 0, optedOut: 0)])
    }

    /// A region a `responses` rule skips (403) holds unknown records: nothing of the resource is
    /// deleted as stale this time, though the rest of the kind was read; without the rule, the 403
    /// fails the kind.
    @Test func aSkippedPartitionKeepsTheResourcesStaleEntities() async throws {
        var outcomes: [(succeeded: Bool, reconciliation: Reconciliation, skipped: Int)] = []
        for rule in ["[{status: [403], action: skip}]", "[]"] {
            let fixture = try PartitionedThings(concurrency: 4, responses: rule)
            let full = try await PartitionedThings.server(PartitionedThings.regions)
            _ = try await fixture.resync(full)
            await full.stop()
            var shrunk = PartitionedThings.regions
            shrunk["eu"] = ["e1", "e2", "e3"]
            let second = try await PartitionedThings.server(shrunk, forbidden: ["ap"])
            let summary = try await fixture.resync(second)
            await second.stop()
            outcomes.append((summary.succeeded, summary.reconciliation, summary.kinds.first?.skippedRuns ?? -1))
            #expect(try fixture.entities().count == 11, "nothing deleted with rule \(rule)")
        }
        #expect(outcomes.count == 2)
        #expect(outcomes[0].succeeded && outcomes[0].skipped == 1)
        #expect(outcomes[0].reconciliation == .deleted(count: 0, protected: 0, optedOut: 6), "e4, e5 and a1–a4 kept")
        #expect(!outcomes[1].succeeded && outcomes[1].reconciliation == .skippedAfterErrors)
    }

    /// A `when` rule reads the body through partial parsing (which keeps what the rule reads, not
    /// only what the mapping reads): an error answered with 200 fails the kind, nothing deleted.
    @Test func anErrorBodyRuleSeesThroughPartialParsing() async throws {
        let fixture = try PartitionedThings(concurrency: 2, responses: "[{when: .ok == false, action: fail}]")
        let full = try await PartitionedThings.server(PartitionedThings.regions)
        _ = try await fixture.resync(full)
        await full.stop()
        let second = try await PartitionedThings.server(PartitionedThings.regions, errorBody: ["us"])
        let summary = try await fixture.resync(second)
        await second.stop()
        #expect(!summary.succeeded)
        #expect(summary.kinds.first?.failure?.contains("responses[0]") == true, "\(summary.kinds.first?.failure ?? "")")
        #expect(summary.reconciliation == .skippedAfterErrors)
        #expect(try fixture.entities().count == 11)
    }
}
