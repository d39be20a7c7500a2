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
}
