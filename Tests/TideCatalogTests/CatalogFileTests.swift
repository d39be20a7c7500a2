import Foundation
import Testing
import TideCatalog
import TideJQ
import TideModel

@Suite struct CatalogFileTests {
    @Test(arguments: backends) func createsTheSchemaAndReopensWithTheData(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            #expect(try catalog.storedSchemaVersion() == Catalog.schemaVersion)
            _ = try catalog.upsertOne(entity("a", properties: #"{"x":1}"#))
            let reopened = try reopen(catalog, create: false)
            #expect(try reopened.storedSchemaVersion() == Catalog.schemaVersion)
            #expect(try reopened.entityCount() == 1)
            #expect(try reopened.integrityCheck() == "ok")
        }
    }

    @Test(arguments: backends) func aReaderSeesAnotherConnectionsCommits(_ backend: Backend) throws {
        try withCatalog(backend) { reader in
            let writer = try reopen(reader)
            _ = try writer.upsertOne(entity("a"))
            // A single-row read must not leave a snapshot open that hides later commits.
            #expect(try reader.entity(blueprint: "service", identifier: "a") != nil)
            _ = try writer.upsertOne(entity("b"))
            #expect(try reader.entityCount() == 2)
            #expect(try reader.entity(blueprint: "service", identifier: "b") != nil)
        }
    }

    @Test func defaultLocationCreatesTheTideFolder() throws {
        try withTemporaryFolder { folder in
            let catalog = try Catalog.openDefault(in: folder)
            #expect(catalog.path.hasSuffix(".tide/catalog.sqlite"))
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent(".tide/catalog.sqlite").path))
        }
    }

    @Test func missingFolderIsReportedWithThePath() throws {
        try withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("no/such/folder/c.sqlite").path
            let error = #expect(throws: CatalogError.self) { try Catalog(path: path) }
            #expect(error?.kind == .folderMissing)
            #expect(error?.description.contains(path) == true)
            #expect(error?.description.contains("does not exist") == true)
        }
    }

    @Test func aFileThatIsNotADatabaseIsRefusedAndLeftAlone() throws {
        try withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("notes.sqlite").path
            let text = String(repeating: "these are not the pages you are looking for\n", count: 200)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            let error = #expect(throws: CatalogError.self) { try Catalog(path: path) }
            #expect(error?.kind == .notADatabase)
            #expect(error?.description.hasPrefix(path) == true)
            #expect(try String(contentsOfFile: path, encoding: .utf8) == text, "the file must not be modified")
        }
    }

    @Test func aDirectoryIsNotADatabase() throws {
        try withTemporaryFolder { folder in
            let error = #expect(throws: CatalogError.self) { try Catalog(path: folder.path) }
            #expect(error?.kind == .notADatabase)
        }
    }

    @Test func missingFileIsNotCreatedWhenAskedNotTo() throws {
        try withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("c.sqlite").path
            let error = #expect(throws: CatalogError.self) { try Catalog(path: path, create: false) }
            #expect(error?.kind == .missing)
            #expect(!FileManager.default.fileExists(atPath: path))
        }
    }

    @Test func anotherApplicationsDatabaseIsRefused() throws {
        try withTemporaryFolder { folder in
            let path = folder.appendingPathComponent("other.sqlite").path
            // Make a Tide catalog, then mark it as some other application's.
            _ = try Catalog(path: path)
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            // The header's application_id lives at offset 68 (big-endian).
            bytes.replaceSubrange(68..<72, with: [0x12, 0x34, 0x56, 0x78])
            try bytes.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: CatalogError.self) { try Catalog(path: path) }
            #expect(error?.kind == .notACatalog)
        }
    }

    @Test(arguments: backends) func blueprintsAreUpsertedAndListedWithCounts(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let json = """
                [{"identifier":"service","title":"Service","schema":{"properties":{"lang":{"type":"string"}}},
                  "relations":{"owner":{"target":"team","many":false}}},
                 {"identifier":"team","title":"Team","schema":{"properties":{}}}]
                """
            try catalog.storeBlueprints(try Blueprint.list(fromJSON: json))
            try catalog.storeBlueprints([Blueprint(identifier: "team", title: "Teams")])
            _ = try catalog.upsert([entity("a"), entity("b"), entity("t", "team")], datasource: nil)
            let summaries = try catalog.blueprints()
            #expect(summaries.map(\.identifier) == ["service", "team"])
            #expect(summaries.map(\.entityCount) == [2, 1])
            #expect(summaries.map(\.title) == ["Service", "Teams"], "the second store replaced team's title")
            #expect(catalog.blueprint("service")?.relations["owner"]?.target == "team")
            // Definitions are read back when the catalog is reopened.
            let reopened = try reopen(catalog)
            #expect(reopened.blueprint("service")?.relations["owner"]?.target == "team")
        }
    }

    @Test(arguments: backends) func blueprintsBuiltInCodeKeepTheirRelationsWhenReopened(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            try catalog.storeBlueprints([Blueprint(identifier: "issue", title: "Issue",
                                                   relations: ["project": .init(target: "project", many: true)])])
            let reopened = try reopen(catalog)
            let issue = try #require(reopened.blueprint("issue"))
            #expect(issue.title == "Issue")
            #expect(issue.relations["project"] == .init(target: "project", many: true))
        }
    }

    @Test(arguments: backends) func blueprintsWithOnlyEntitiesAreListedAsUndefined(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsert([entity("a", "zeta"), entity("b", "zeta"), entity("c", "alpha")], datasource: nil)
            let summaries = try catalog.blueprints()
            #expect(summaries.map(\.identifier) == ["alpha", "zeta"])
            #expect(summaries.map(\.entityCount) == [1, 2])
            #expect(summaries.allSatisfy { !$0.isDefined && $0.title == nil })
        }
    }

    @Test(arguments: backends) func listingIsOrderedFilteredAndPaged(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsert((0..<10).map { entity("e\($0)") } + [entity("t", "team")], datasource: nil)
            let page = try catalog.entities(blueprint: "service", limit: 3, offset: 2)
            #expect(page.map(\.identifier) == ["e2", "e3", "e4"])
            #expect(try catalog.entities().count == 11)
            #expect(try catalog.entities(blueprint: "team").map(\.identifier) == ["t"])
            let parsed = try JSON(parsing: page[0].jsonText)
            #expect(parsed.objectMembers.map(\.key) == ["identifier", "title", "icon", "team", "blueprint", "properties",
                                                        "relations", "createdAt", "updatedAt", "$datasource"])
        }
    }

    @Test(arguments: backends) func deletesByIdentifierAndWholeBlueprint(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsert((0..<5).map { entity("e\($0)") } + [entity("e0", "team")], datasource: nil)
            #expect(try catalog.deleteEntities(blueprint: "service", identifiers: ["e1", "e3", "missing"]) == 2)
            #expect(try catalog.entities(blueprint: "service").map(\.identifier) == ["e0", "e2", "e4"])
            #expect(try catalog.deleteAllEntities(blueprint: "service") == 3)
            #expect(try catalog.entityCount(blueprint: "service") == 0)
            #expect(try catalog.entityCount(blueprint: "team") == 1, "other blueprints are untouched")
        }
    }
}
