import Foundation
import TideCatalog
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

/// A new catalog in a temporary folder.
func withCatalog<T>(_ body: (Catalog) throws -> T) throws -> T {
    try withTemporaryFolder { folder in
        let catalog = try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)
        return try body(catalog)
    }
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
