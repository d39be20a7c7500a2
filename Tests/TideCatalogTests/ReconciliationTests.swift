import Foundation
import Testing
import TideCatalog
import TideModel

@Suite struct ReconciliationTests {
    @Test(arguments: backends) func ownedEntitiesMatchPrefixAndSuffixAndAreFilteredByBefore(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let mine = jiraDatasource.userAgent
            let myOtherVersion = Datasource(integrationType: "jira", integrationVersion: "0.2.0",
                                            installationIdentifier: "my-jira").userAgent
            _ = try catalog.upsert([entity("old-1"), entity("old-2", "team")], datasource: mine, at: t0)
            _ = try catalog.upsert([entity("old-3")], datasource: myOtherVersion, at: t0)
            _ = try catalog.upsert([entity("fresh")], datasource: mine, at: t2)
            _ = try catalog.upsert([entity("theirs")], datasource: "port-ocean/jira/0.1.0/other-jira/exporter", at: t0)
            _ = try catalog.upsert([entity("gh")], datasource: "port-ocean/github/0.1.0/my-jira/exporter", at: t0)
            _ = try catalog.upsert([entity("manual")], datasource: nil, at: t0)

            let all = try catalog.ownedEntities(by: jiraDatasource)
            #expect(all.map(\.description) == ["service/fresh", "service/old-1", "service/old-3", "team/old-2"])
            let stale = try catalog.ownedEntities(by: jiraDatasource, updatedBefore: t1)
            #expect(stale.map(\.description) == ["service/old-1", "service/old-3", "team/old-2"])
            // "before" is strict: an entity updated exactly at the resync start is not stale.
            #expect(try catalog.ownedEntities(by: jiraDatasource, updatedBefore: t2).contains(EntityKey(blueprint: "service", identifier: "fresh")) == false)
        }
    }

    @Test(arguments: backends) func rewritingAnEntityTakesOwnership(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsertOne(entity("a"), datasource: "port-ocean/jira/0.1.0/other/exporter", at: t0)
            #expect(try catalog.ownedEntities(by: jiraDatasource).isEmpty)
            _ = try catalog.upsertOne(entity("a"), datasource: jiraDatasource.userAgent, at: t1)
            #expect(try catalog.ownedEntities(by: jiraDatasource).map(\.identifier) == ["a"])
        }
    }

    @Test(arguments: backends) func relationTargetsUseDefinitionsAndFallBackToIdentifiers(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            try catalog.storeBlueprints([
                Blueprint(identifier: "issue", relations: ["project": .init(target: "project"),
                                                            "subtasks": .init(target: "issue", many: true)]),
                Blueprint(identifier: "project"),
                Blueprint(identifier: "person"),
            ])
            _ = try catalog.upsert([
                entity("p1", "project"), entity("bob", "person"), entity("p1", "person"),
                entity("i1", "issue", relations: #"{"project":"p1","subtasks":["i2","i3"],"assignee":"bob","none":null}"#),
                entity("i2", "issue", relations: #"{"project":null}"#),
                entity("i4", "issue", relations: #"{"project":"p9"}"#),
            ], datasource: nil)
            let targets = try catalog.relationTargets(of: [EntityKey(blueprint: "issue", identifier: "i1"),
                                                           EntityKey(blueprint: "issue", identifier: "i2")])
            #expect(targets == [
                EntityKey(blueprint: "project", identifier: "p1"),
                EntityKey(blueprint: "issue", identifier: "i2"),
                EntityKey(blueprint: "issue", identifier: "i3"),
                // "assignee" is not defined: every stored "bob", whatever its blueprint.
                EntityKey(blueprint: "person", identifier: "bob"),
            ])
            // A defined relation points at its target even when that entity is missing.
            #expect(try catalog.relationTargets(of: [EntityKey(blueprint: "issue", identifier: "i4")])
                    == [EntityKey(blueprint: "project", identifier: "p9")])
        }
    }

    /// Reconciliation lists stale entities, then deletes them; in a shared catalog others write
    /// in between. What another installation took over, or a replica of this one rewrote, since
    /// the listing must survive the delete.
    @Test(arguments: backends) func staleDeletesSpareWhatOthersWroteSinceTheListing(_ backend: Backend) async throws {
        try await withCatalogAsync(backend) { catalog in
            let other = Datasource(integrationType: "jira", integrationVersion: "0.1.0", installationIdentifier: "other-jira")
            let mine = CatalogSink(catalog: catalog, datasource: jiraDatasource)
            let replica = CatalogSink(catalog: try reopen(catalog), datasource: jiraDatasource)
            let theirs = CatalogSink(catalog: try reopen(catalog), datasource: other)
            _ = try catalog.upsert([entity("taken"), entity("rewritten"), entity("gone")], datasource: jiraDatasource, at: t0)

            let stale = try await mine.staleEntities(resyncStart: t1)
            #expect(stale.keys.map(\.identifier) == ["gone", "rewritten", "taken"])
            // Between the listing and the delete: another installation takes one over, a replica
            // of this installation writes another.
            _ = try await theirs.upsert([entity("taken")], options: WriteOptions())
            _ = try await replica.upsert([entity("rewritten")], options: WriteOptions())

            let deleted = try await mine.deleteStale(stale.keys, resyncStart: t1, deleteDependents: false)
            #expect(deleted == 1)
            #expect(try catalog.entities().map(\.identifier) == ["rewritten", "taken"])
            #expect(try catalog.entity(blueprint: "service", identifier: "taken")?.datasource == other.userAgent)
        }
    }

    /// A second process of a shared catalog stores a blueprint this one has not seen: its
    /// entities are accepted once the definitions are read again, not refused as unknown.
    @Test(arguments: backends) func blueprintsStoredElsewhereAreSeen(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            try catalog.storeBlueprints([Blueprint(identifier: "service")])
            let elsewhere = try reopen(catalog)
            try elsewhere.storeBlueprints([Blueprint(identifier: "team")])
            let results = try catalog.upsert([entity("t1", "team"), entity("x", "nope")], datasource: nil)
            #expect(results[0].outcome == .created)
            #expect(results[1].failureReason?.contains("blueprint \"nope\" is not in the catalog") == true)
        }
    }
}
