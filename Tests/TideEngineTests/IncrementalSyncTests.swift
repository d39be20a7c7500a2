import Foundation
import Testing
import TideCatalog
import TideEngine
import TideFetch
import TideIntegration
import TideMapping
import TideModel
import TideReplay
import TideTesting

/// Incremental passes from a real loopback API into a real catalog: a full resync leaves a cursor
/// per partition, an incremental pass asks each partition for what changed since its cursor (less
/// the lookback), writes it, deletes nothing, and moves the cursors only when nothing failed.
struct IncrementalThings {
    let folder: URL
    let catalogPath: String
    static let datasource = Datasource(integrationType: "things", installationIdentifier: "test")

    /// `item` records, one partition per region (`/regions/<r>/items?since=…`); `gadget` records
    /// of a kind that is not incremental.
    init(selector: String = "{query: 'true'}") throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-incremental-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        catalogPath = folder.appendingPathComponent("catalog.sqlite").path
        try """
        name: things
        configuration:
          - {name: host, type: url, required: true}
        http:
          baseUrl: "{{ .config.host }}"
          retry: {attempts: 1, maxWait: 1}
        kinds:
          item:
            request:
              path: "/regions/{{ .partition }}/items"
              query: {since: "{{ .cursor.since }}", minutes: "{{ .cursor.minutesAgo }}"}
            records: .values
            partitions: {values: '["eu", "us"]', complete: true}
            incremental: {lookback: 60}
          gadget:
            request: {path: /gadgets}
            records: .values
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        try """
        resources:
          - kind: item
            selector: \(selector)
            port:
              entity:
                mappings: {identifier: .id, title: .name, blueprint: '"thing"'}
          - kind: gadget
            selector: {query: 'true'}
            port:
              entity:
                mappings: {identifier: .id, title: .name, blueprint: '"gadget"'}
        """.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
        try #"[{"identifier": "thing"}, {"identifier": "gadget"}]"#
            .write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
    }

    /// Each region answers its `whole` records without `since`, its `changed` ones with it;
    /// `failing` regions answer 500 to every request with `since`.
    static func server(whole: [String: [String]], changed: [String: [String]] = [:], failing: Set<String> = []) async throws -> TestHTTPServer {
        @Sendable func page(_ ids: [String], suffix: String = "") -> TestResponse {
            .json(#"{"values": [\#(ids.map { #"{"id": "\#($0)", "name": "Name \#($0)\#(suffix)"}"# }.joined(separator: ","))]}"#)
        }
        return try await TestHTTPServer.start { request in
            if request.path == "/gadgets" { return page(["g1"]) }
            let parts = request.path.split(separator: "/")
            guard parts.count == 3, parts[0] == "regions", let ids = whole[String(parts[1])] else { return .json("{}", status: 404) }
            let region = String(parts[1])
            guard request.query.contains(where: { $0.name == "since" }) else { return page(ids) }
            if failing.contains(region) { return .json(#"{"error": "boom"}"#, status: 500) }
            return page(changed[region] ?? [], suffix: " (changed)")
        }
    }

    func catalog() throws -> Catalog { try Catalog(path: catalogPath) }

    func resync(_ server: TestHTTPServer, mode: Resync.Mode = .full, at time: Date? = nil) async throws -> ResyncSummary {
        let integration = try Integration.load(directory: folder.path)
        let config = try ConfigurationResolver(overrides: ["host": server.baseURL], environment: [:]).resolve(for: integration)
        let sink = CatalogSink(catalog: try catalog(), datasource: Self.datasource)
        var resync = Resync(integration: integration, mapping: integration.defaultMapping!, configuration: config, sink: sink)
        resync.mode = mode
        resync.cursors = sink
        resync.cursorTime = time
        return try await resync.run(observer: Silent())
    }

    func cursors() throws -> [String: Date] {
        let mapping = try Integration.load(directory: folder.path).defaultMapping!
        return try catalog().syncCursors(of: Self.datasource, resource: "item[0]", selector: mapping.resources[0].cursorSelector)
    }

    func titles(_ blueprint: String = "thing") throws -> [String] {
        try catalog().entities(blueprint: blueprint).map { "\($0.identifier): \($0.title?.text ?? "")" }.sorted()
    }

    /// The query of each request to `path`, in order.
    static func queries(_ server: TestHTTPServer, _ path: String) -> [[String: String]] {
        server.requests.filter { $0.path == path }.map { request in
            Dictionary(request.query.map { ($0.name, $0.value ?? "") }) { $1 }
        }
    }
}

@Suite struct IncrementalSyncTests {
    static let regions = ["eu": ["e1", "e2", "e3"], "us": ["u1", "u2"]]

    /// A full resync saves a cursor per partition at its start; an incremental pass an hour later
    /// asks each partition for what changed since (less the lookback), writes it, deletes nothing
    /// of what it did not see, leaves the kind without `incremental` alone, and moves the cursors.
    @Test func aFullResyncLeavesCursorsThatAnIncrementalPassReadsFrom() async throws {
        let things = try IncrementalThings()
        let full = try await IncrementalThings.server(whole: Self.regions)
        let before = Date()
        let first = try await things.resync(full)
        await full.stop()
        #expect(first.succeeded && first.mode == .full)
        #expect(IncrementalThings.queries(full, "/regions/eu/items") == [[:]], "a full resync renders .cursor null: no since")
        let saved = try things.cursors()
        #expect(saved.keys.sorted() == ["\"eu\"", "\"us\""])
        let start = try #require(saved["\"eu\""])
        #expect(abs(start.timeIntervalSince(before)) < 60, "the cursor is the resync's start")
        #expect(try things.titles().count == 5)

        let later = start.addingTimeInterval(3600)
        let changes = try await IncrementalThings.server(whole: ["eu": ["e1"], "us": []], changed: ["eu": ["e2"]])
        let pass = try await things.resync(changes, mode: .incremental, at: later)
        await changes.stop()
        #expect(pass.succeeded && pass.mode == .incremental)
        #expect(pass.reconciliation == .incrementalPass)
        let since = Date(timeIntervalSince1970: (start.timeIntervalSince1970 - 60).rounded(.down)).formatted(.iso8601)
        let eu = IncrementalThings.queries(changes, "/regions/eu/items")
        #expect(eu == [["since": since, "minutes": "61"]], "\(eu): an hour and the minute of lookback")
        #expect(IncrementalThings.queries(changes, "/regions/us/items").first?["since"] == since)
        #expect(IncrementalThings.queries(changes, "/gadgets").isEmpty, "gadget has no incremental: not read")
        #expect(pass.kinds.map(\.notIncremental) == [false, true])
        #expect(pass.kinds.first?.cursorsSaved == 2)
        // e2 updated; e3, u1 and u2 are no longer listed by the whole read, yet nothing is deleted.
        #expect(try things.titles() == ["e1: \"Name e1\"", "e2: \"Name e2 (changed)\"", "e3: \"Name e3\"", "u1: \"Name u1\"", "u2: \"Name u2\""])
        #expect(try things.titles("gadget") == ["g1: \"Name g1\""], "written by the full resync, untouched")
        #expect(try things.cursors() == ["\"eu\"": later, "\"us\"": later])
    }

    /// A partition failing in an incremental pass fails the kind: no cursor moves (not even the
    /// partition that was read), so the next pass asks again from the same point.
    @Test func aFailedPassLeavesEveryCursorWhereItWas() async throws {
        let things = try IncrementalThings()
        let full = try await IncrementalThings.server(whole: Self.regions)
        _ = try await things.resync(full)
        await full.stop()
        let saved = try things.cursors()
        #expect(saved.count == 2)
        let failing = try await IncrementalThings.server(whole: Self.regions, changed: ["eu": ["e1"]], failing: ["us"])
        let pass = try await things.resync(failing, mode: .incremental, at: Date().addingTimeInterval(600))
        await failing.stop()
        #expect(!pass.succeeded)
        #expect(pass.kinds.first?.failure?.contains("/regions/us/items") == true, "\(pass.kinds.first?.failure ?? "")")
        #expect(pass.kinds.first?.cursorsSaved == 0)
        #expect(try things.cursors() == saved)
        #expect(try things.titles().count == 5)
    }

    /// A partition no pass has completed (a region added since) has no cursor: it is read whole,
    /// and gets one.
    @Test func aRunWithoutACursorIsReadWhole() async throws {
        let things = try IncrementalThings()
        let mapping = try Integration.load(directory: things.folder.path).defaultMapping!
        let then = Date(timeIntervalSince1970: 1_800_000_000)
        try things.catalog().saveSyncCursors(of: IncrementalThings.datasource, resource: "item[0]",
                                             selector: mapping.resources[0].cursorSelector, runs: ["\"eu\""], start: then)
        let server = try await IncrementalThings.server(whole: Self.regions, changed: ["eu": ["e1"]])
        let pass = try await things.resync(server, mode: .incremental, at: then.addingTimeInterval(120))
        await server.stop()
        #expect(pass.succeeded)
        #expect(IncrementalThings.queries(server, "/regions/eu/items") == [["since": "2027-01-15T07:59:00Z", "minutes": "3"]])
        #expect(IncrementalThings.queries(server, "/regions/us/items") == [[:]], "us: read whole")
        #expect(try things.titles() == ["e1: \"Name e1 (changed)\"", "u1: \"Name u1\"", "u2: \"Name u2\""])
        #expect(try things.cursors().count == 2)
    }

    /// Cursors belong to the resource's selector: the same resource under another selector starts
    /// without them (what it selects now was never read whole), and saving drops the old ones.
    @Test func aChangedSelectorStartsWithoutCursors() async throws {
        let before = try IncrementalThings(selector: "{query: 'true'}")
        let full = try await IncrementalThings.server(whole: Self.regions)
        _ = try await before.resync(full)
        await full.stop()
        #expect(try before.cursors().count == 2)
        let changed = try IncrementalThings(selector: "{query: '.id != \"e3\"'}")
        try? FileManager.default.removeItem(atPath: changed.catalogPath)
        try FileManager.default.copyItem(atPath: before.catalogPath, toPath: changed.catalogPath)
        #expect(try changed.cursors().isEmpty)
        let server = try await IncrementalThings.server(whole: Self.regions)
        _ = try await changed.resync(server, mode: .incremental, at: Date())
        await server.stop()
        #expect(IncrementalThings.queries(server, "/regions/eu/items") == [[:]], "read whole under the new selector")
        let old = try Integration.load(directory: before.folder.path).defaultMapping!.resources[0].cursorSelector
        #expect(try changed.catalog().syncCursors(of: IncrementalThings.datasource, resource: "item[0]", selector: old).isEmpty,
                "the old selector's cursors are gone")
        #expect(try changed.cursors().count == 2)
    }
}
