import Foundation
import Testing
@testable import TideCatalog
import TideModel
import TideTesting

/// Several `tide` processes on one PostgreSQL catalog at once, as operators run them: the real
/// binary, its flags and TIDE_CATALOG.
@Suite(.enabled(if: TestPostgres.url != nil || TestPostgres.required, "needs TIDE_TEST_POSTGRES_URL (scripts/with-postgres.sh)"),
       .timeLimit(.minutes(3)))
struct PostgreSQLProcessTests {
    /// An empty schema for one test, dropped after it; `url` selects it.
    final class Schema: Sendable {
        let name = TestPostgres.schemaName()
        let url: String

        init(createTables: Bool) throws {
            url = try TestPostgres.url(schema: name)
            if createTables {
                _ = try Catalog(postgreSQL: try TestPostgres.requireURL(), schema: name)
            } else {
                try PostgreSQLConnection(url: try TestPostgres.requireURL(), schema: nil).execute("CREATE SCHEMA \(name)")
            }
        }

        deinit {
            try? PostgreSQLConnection(url: try TestPostgres.requireURL(), schema: nil).execute("DROP SCHEMA IF EXISTS \(name) CASCADE")
        }

        func catalog() throws -> Catalog { try Catalog.open(url, create: false) }
    }

    /// Processes opening one brand-new catalog at once: the tables are made once (under the
    /// advisory lock), and every process's batches land.
    @Test func importsStartingTogetherMigrateOnceAndAllLand() async throws {
        let schema = try Schema(createTables: false)
        let processes = 4, perProcess = 300
        let results = try await withThrowingTaskGroup(of: TideProcess.Result.self) { group in
            for process in 0..<processes {
                let lines = (0..<perProcess).map { #"{"identifier":"p\#(process)-\#($0)","blueprint":"svc","properties":{"n":\#($0)}}"# }
                group.addTask {
                    try await TideProcess.run(["catalog", "import", "--catalog", schema.url, "--batch-size", "50", "-"],
                                              stdin: Data((lines.joined(separator: "\n") + "\n").utf8))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        for result in results { #expect(result.status == 0, "\(result.stderr)") }
        let catalog = try schema.catalog()
        #expect(try catalog.entityCount() == processes * perProcess)
        #expect(try catalog.storedSchemaVersion() == Catalog.schemaVersion)
        let versions = try PostgreSQLConnection(url: try TestPostgres.requireURL(), schema: schema.name).rows("SELECT version FROM tide_schema")
        #expect(versions == [[.integer(Int64(Catalog.schemaVersion))]])
    }

    /// One `things` integration whose fixtures serve `ids`, 100 a page.
    static func integration(_ ids: [String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-pg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("fixtures"), withIntermediateDirectories: true)
        try """
        name: things
        http:
          baseUrl: http://127.0.0.1:9
        kinds:
          item:
            request: {path: /items}
            records: .values
            pagination: {type: offset, limit: 100}
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        try """
        resources:
          - kind: item
            selector: {query: 'true'}
            port:
              entity:
                mappings: {identifier: .id, title: .name, blueprint: '"thing"', properties: {name: .name}}
        """.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
        try #"[{"identifier":"thing","title":"Thing","schema":{"properties":{"name":{"type":"string"}}},"relations":{}}]"#
            .write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
        try serve(ids, from: folder)
        return folder
    }

    /// Rewrites the fixtures to serve `ids` (the last page is short, which ends pagination).
    static func serve(_ ids: [String], from folder: URL) throws {
        precondition(ids.count % 100 != 0)
        var index = ""
        for (page, start) in stride(from: 0, to: ids.count, by: 100).enumerated() {
            let values = ids[start..<min(start + 100, ids.count)].map { #"{"id":"\#($0)","name":"Name \#($0)"}"# }
            try #"{"values":[\#(values.joined(separator: ","))]}"#
                .write(to: folder.appendingPathComponent("fixtures/page-\(page).json"), atomically: true, encoding: .utf8)
            index += "- request: {path: /items, query: {offset: \(start), limit: 100}}\n  response: {body: page-\(page).json}\n"
        }
        try index.write(to: folder.appendingPathComponent("fixtures/fixtures.yml"), atomically: true, encoding: .utf8)
    }

    /// The identifiers the installation owns, sorted.
    func owned(by installation: String, in catalog: Catalog) throws -> [String] {
        let datasource = Datasource(integrationType: "things", integrationVersion: "", installationIdentifier: installation)
        return try catalog.ownedEntities(by: datasource).map(\.identifier).sorted()
    }

    /// Two installations of one integration resync into one PostgreSQL catalog at the same time,
    /// twice. The second time one of them has lost 200 records: its reconciliation deletes exactly
    /// those, and the other installation's entities — written at that very moment — all stay.
    @Test func twoInstallationsResyncingAtOnceKeepTheirOwnEntities() async throws {
        let schema = try Schema(createTables: false)
        let a = (0..<450).map { "a-\($0)" }, b = (0..<450).map { "b-\($0)" }
        let folderA = try Self.integration(a), folderB = try Self.integration(b)
        defer {
            try? FileManager.default.removeItem(at: folderA)
            try? FileManager.default.removeItem(at: folderB)
        }
        // One by --catalog, the other by TIDE_CATALOG, as operators may set it.
        func both() async throws -> (TideProcess.Result, TideProcess.Result) {
            async let first = TideProcess.run(["run", folderA.path, "--replay", "--catalog", schema.url],
                                              environment: ["OCEAN__INTEGRATION__IDENTIFIER": "inst-a"])
            async let second = TideProcess.run(["run", folderB.path, "--replay"],
                                               environment: ["OCEAN__INTEGRATION__IDENTIFIER": "inst-b", "TIDE_CATALOG": schema.url])
            return try await (first, second)
        }

        let (firstA, firstB) = try await both()
        #expect(firstA.status == 0, "\(firstA.stderr)")
        #expect(firstB.status == 0, "\(firstB.stderr)")
        #expect(!firstA.stderr.contains(try TestPostgres.requireURL().value), "the URL's password is printed")
        let catalog = try schema.catalog()
        #expect(try owned(by: "inst-a", in: catalog) == a.sorted())
        #expect(try owned(by: "inst-b", in: catalog) == b.sorted())

        // A's source lost 200 records; B's gained 100. Both resync at once again.
        try Self.serve(Array(a.prefix(250)), from: folderA)
        let bigger = (0..<550).map { "b-\($0)" }
        try Self.serve(bigger, from: folderB)
        let (secondA, secondB) = try await both()
        #expect(secondA.status == 0, "\(secondA.stderr)")
        #expect(secondB.status == 0, "\(secondB.stderr)")
        #expect(secondA.stderr.contains("Deleted 200 stale entities"), "\(secondA.stderr)")
        #expect(secondB.stderr.contains("Nothing stale to delete."), "\(secondB.stderr)")
        #expect(try owned(by: "inst-a", in: catalog) == Array(a.prefix(250)).sorted())
        #expect(try owned(by: "inst-b", in: catalog) == bigger.sorted())
        #expect(try catalog.entityCount() == 250 + 550)
    }

    /// `tide test` with a PostgreSQL URL runs every case in a throwaway schema there, webhook
    /// events included, and leaves no schema behind.
    @Test func tideTestRunsItsCasesInPostgreSQL() async throws {
        let root = #filePath.replacingOccurrences(of: "/Tests/TideCatalogTests/PostgreSQLProcessTests.swift", with: "")
        let url = try TestPostgres.requireURL()
        let result = try await TideProcess.run(["test", root + "/integrations/pagerduty", "--catalog", url.value])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("6 of 6 cases passed"), "\(result.stdout)")
        let connection = try PostgreSQLConnection(url: url, schema: nil)
        #expect(try connection.integer("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'tide\\_test\\_%'") == 0)
    }

    /// A server that cannot be reached stops `tide run` before anything is fetched, naming the
    /// server and never the password.
    @Test func anUnreachableServerStopsTheRunWithoutShowingThePassword() async throws {
        let password = "pw-\(UUID().uuidString)"
        let root = #filePath.replacingOccurrences(of: "/Tests/TideCatalogTests/PostgreSQLProcessTests.swift", with: "")
        let result = try await TideProcess.run(["run", root + "/integrations/jira", "--replay", "--catalog",
                                                "postgresql://tide:\(password)@127.0.0.1:1/tide"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("postgresql://tide:***@127.0.0.1:1/tide"), "\(result.stderr)")
        #expect(result.stderr.contains("port 1 failed"), "\(result.stderr)")
        #expect(!(result.stdout + result.stderr).contains(password))
    }
}
