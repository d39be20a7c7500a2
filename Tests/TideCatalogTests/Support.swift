import Foundation
@testable import TideCatalog
import TideModel

/// A fresh folder under the system's temporary directory, removed when `body` returns.
func withTemporaryFolder<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("tide-catalog-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

func withTemporaryFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
    let folder = FileManager.default.temporaryDirectory
        .appendingPathComponent("tide-catalog-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try await body(folder)
}

/// The engines the catalog's behaviour tests run against: every test taking a `Backend` runs
/// once per engine, so both are held to one set of expectations.
enum Backend: String, CaseIterable, Sendable, CustomStringConvertible {
    case sqlite
    case postgresql
    var description: String { rawValue }
}

/// The PostgreSQL server of the tests: `TIDE_TEST_POSTGRES_URL`, which scripts/test.sh (through
/// scripts/with-postgres.sh) sets to a throwaway server on loopback.
enum TestPostgres {
    static var url: PostgreSQLURL? {
        ProcessInfo.processInfo.environment["TIDE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : PostgreSQLURL($0) }
    }

    /// Under CI (or when asked), a missing server fails the PostgreSQL tests rather than
    /// leaving them out.
    static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return !(environment["CI"] ?? "").isEmpty || !(environment["TIDE_TEST_REQUIRE_POSTGRES"] ?? "").isEmpty
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "TIDE_TEST_POSTGRES_URL is not set: run the tests through scripts/test.sh, or as scripts/with-postgres.sh swift test …"
        }
    }

    /// The server's URL, or an error when there is none.
    static func requireURL() throws -> PostgreSQLURL {
        guard let url else { throw Missing() }
        return url
    }

    /// A fresh schema name, so that tests running at once never see each other's tables.
    static func schemaName() -> String {
        "tide_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
    }

    /// The URL with `search_path` set to `schema`, as a user selects a schema for `--catalog`.
    static func url(schema: String) throws -> String {
        let base = try requireURL().value
        return base + (base.contains("?") ? "&" : "?") + "options=-csearch_path%3D" + schema
    }
}

/// Every engine there is a server for: PostgreSQL joins SQLite when TIDE_TEST_POSTGRES_URL is
/// set, and also when it is required but missing (so those tests fail, naming the variable).
let backends: [Backend] = TestPostgres.url != nil || TestPostgres.required ? Backend.allCases : [.sqlite]

/// A new, empty catalog of the given engine: a file in a temporary folder, or a schema of its
/// own in the test server's database, dropped afterwards.
func withCatalog<T>(_ backend: Backend = .sqlite, _ body: (Catalog) throws -> T) throws -> T {
    switch backend {
    case .sqlite:
        return try withTemporaryFolder { folder in
            let catalog = try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)
            return try body(catalog)
        }
    case .postgresql:
        let catalog = try Catalog(postgreSQL: try TestPostgres.requireURL(), schema: TestPostgres.schemaName())
        defer { try? catalog.dropSchema() }
        return try body(catalog)
    }
}

func withCatalogAsync<T>(_ backend: Backend, _ body: (Catalog) async throws -> T) async throws -> T {
    switch backend {
    case .sqlite:
        return try await withTemporaryFolder { folder in
            let catalog = try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)
            return try await body(catalog)
        }
    case .postgresql:
        let catalog = try Catalog(postgreSQL: try TestPostgres.requireURL(), schema: TestPostgres.schemaName())
        defer { try? catalog.dropSchema() }
        return try await body(catalog)
    }
}

/// Another connection to the catalog `catalog` is (the same file, or the same schema).
func reopen(_ catalog: Catalog, create: Bool = true) throws -> Catalog {
    if let postgres = catalog.connection as? PostgreSQLConnection {
        return try Catalog(postgreSQL: postgres.url, schema: postgres.schema, create: create)
    }
    return try Catalog(path: catalog.path, create: create)
}

/// An entity with a plain identifier; JSON-valued fields are given as JSON text.
func entity(_ identifier: String, _ blueprint: String = "service", title: String? = nil, icon: String? = nil,
            team: String? = nil, properties: String? = nil, relations: String? = nil) -> Entity {
    Entity(identifier: RawJSON("\"\(identifier)\""), blueprint: blueprint, title: title.map { RawJSON($0) },
           icon: icon.map { RawJSON($0) }, team: team.map { RawJSON($0) },
           properties: properties.map { RawJSON($0) }, relations: relations.map { RawJSON($0) })
}

/// An entity whose identifier is a search query (JSON text).
func searchEntity(_ query: String, _ blueprint: String = "service", properties: String? = nil) -> Entity {
    Entity(identifier: RawJSON(query), blueprint: blueprint, properties: properties.map { RawJSON($0) })
}

let jiraDatasource = Datasource(integrationType: "jira", integrationVersion: "0.1.0", installationIdentifier: "my-jira")

let t0 = Date(timeIntervalSince1970: 1_700_000_000)
let t1 = Date(timeIntervalSince1970: 1_700_000_100)
let t2 = Date(timeIntervalSince1970: 1_700_000_200)

extension Catalog {
    /// Upserts and returns the single result, for tests about one entity.
    func upsertOne(_ entity: Entity, datasource: String? = "test", merge: Bool = true, at time: Date = Date()) throws -> UpsertResult {
        let results = try upsert([entity], datasource: datasource, merge: merge, at: time)
        precondition(results.count == 1)
        return results[0]
    }
}
