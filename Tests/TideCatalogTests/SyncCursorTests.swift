import Foundation
import Testing
@testable import TideCatalog
import TideModel

/// Incremental sync's cursors in the catalog, in both engines: per installation, resource and
/// run; replaced under a new selector; and a catalog of schema 1 migrated to hold them.
@Suite struct SyncCursorTests {
    static let jira = Datasource(integrationType: "jira", installationIdentifier: "prod")
    static let other = Datasource(integrationType: "jira", installationIdentifier: "staging")

    @Test(arguments: backends) func cursorsAreKeptPerInstallationResourceAndRun(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let t1 = Date(timeIntervalSince1970: 1_800_000_000.123), t2 = t1.addingTimeInterval(900)
            try catalog.saveSyncCursors(of: Self.jira, resource: "issue[2]", selector: "{}", runs: ["\"DATA\"", "\"NW\""], start: t1)
            try catalog.saveSyncCursors(of: Self.jira, resource: "issue[2]", selector: "{}", runs: ["\"NW\""], start: t2)
            try catalog.saveSyncCursors(of: Self.other, resource: "issue[2]", selector: "{}", runs: ["\"DATA\""], start: t2)
            try catalog.saveSyncCursors(of: Self.jira, resource: "project[0]", selector: "{}", runs: [""], start: t2)
            let read = try catalog.syncCursors(of: Self.jira, resource: "issue[2]", selector: "{}")
            #expect(read.count == 2)
            // Milliseconds survive, as the entities' times do.
            #expect(read["\"DATA\""].map { CatalogTime.milliseconds($0) } == CatalogTime.milliseconds(t1))
            #expect(read["\"NW\""].map { CatalogTime.milliseconds($0) } == CatalogTime.milliseconds(t2))
            #expect(try catalog.syncCursors(of: Self.other, resource: "issue[2]", selector: "{}").keys.sorted() == ["\"DATA\""])
            #expect(try catalog.syncCursors(of: Self.jira, resource: "project[0]", selector: "{}").keys.sorted() == [""])
            // Another connection sees them (committed).
            #expect(try reopen(catalog).syncCursors(of: Self.jira, resource: "issue[2]", selector: "{}").count == 2)
        }
    }

    @Test(arguments: backends) func aNewSelectorReplacesTheResourcesCursors(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let t = Date(timeIntervalSince1970: 1_800_000_000)
            try catalog.saveSyncCursors(of: Self.jira, resource: "issue[2]", selector: #"{"jql":"a"}"#, runs: ["\"DATA\"", "\"NW\""], start: t)
            #expect(try catalog.syncCursors(of: Self.jira, resource: "issue[2]", selector: #"{"jql":"b"}"#).isEmpty)
            try catalog.saveSyncCursors(of: Self.jira, resource: "issue[2]", selector: #"{"jql":"b"}"#, runs: ["\"OPS\""], start: t)
            #expect(try catalog.syncCursors(of: Self.jira, resource: "issue[2]", selector: #"{"jql":"a"}"#).isEmpty)
            #expect(try catalog.syncCursors(of: Self.jira, resource: "issue[2]", selector: #"{"jql":"b"}"#).keys.sorted() == ["\"OPS\""])
        }
    }

    /// A catalog written by a Tide of schema 1 (no cursor table) opens migrated, entities kept.
    @Test(arguments: backends) func aSchemaOneCatalogIsMigrated(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsertOne(entity("a"))
            if catalog.connection is PostgreSQLConnection {
                try catalog.connection.execute("DROP TABLE sync_cursors; UPDATE tide_schema SET version = 1")
            } else {
                try catalog.connection.execute("DROP TABLE sync_cursors; PRAGMA user_version = 1")
            }
            #expect(try catalog.storedSchemaVersion() == 1)
            let reopened = try reopen(catalog)
            #expect(try reopened.storedSchemaVersion() == 2)
            #expect(try reopened.entityCount() == 1)
            try reopened.saveSyncCursors(of: Self.jira, resource: "issue[2]", selector: "{}", runs: [""], start: Date())
            #expect(try reopened.syncCursors(of: Self.jira, resource: "issue[2]", selector: "{}").count == 1)
        }
    }
}
