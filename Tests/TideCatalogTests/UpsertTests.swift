import Foundation
import Testing
import TideCatalog
import TideJQ
import TideModel

/// JSON text compared by value (key order and spacing do not matter).
func sameJSON(_ a: RawJSON?, _ b: String) -> Bool {
    guard let a, let left = try? JSON(parsing: a.text), let right = try? JSON(parsing: b) else { return false }
    return left == right
}

@Suite struct UpsertTests {
    @Test(arguments: backends) func insertsNewEntitiesWithEveryField(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let results = try catalog.upsert([
                entity("a", title: "\"A\"", icon: "\"Jira\"", team: "\"platform\"",
                       properties: #"{"status":"open","n":1}"#, relations: #"{"owner":"t1"}"#),
                entity("b"),
            ], datasource: jiraDatasource.userAgent, at: t0)
            #expect(results.map(\.outcome) == [.created, .created])
            #expect(results.map(\.identifier) == ["a", "b"])
            let a = try #require(try catalog.entity(blueprint: "service", identifier: "a"))
            #expect(a.title == "\"A\"")
            #expect(a.icon == "\"Jira\"")
            #expect(a.team == "\"platform\"")
            #expect(sameJSON(a.properties, #"{"status":"open","n":1}"#))
            #expect(sameJSON(a.relations, #"{"owner":"t1"}"#))
            #expect(a.datasource == "port-ocean/jira/0.1.0/my-jira/exporter")
            #expect(a.createdAt == 1_700_000_000_000 && a.updatedAt == 1_700_000_000_000)
            let b = try #require(try catalog.entity(blueprint: "service", identifier: "b"))
            #expect(b.title == nil && b.icon == nil && b.team == nil)
            #expect(b.properties == "{}" && b.relations == "{}")
            #expect(try catalog.entityCount() == 2)
        }
    }

    @Test(arguments: backends) func mergeKeepsStoredKeysAndUnmappedFields(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsertOne(entity("a", title: "\"A\"", icon: "\"Old\"", team: "\"t\"",
                                             properties: #"{"x":1,"y":2}"#, relations: #"{"r1":"p","r2":"q"}"#), at: t0)
            let result = try catalog.upsertOne(entity("a", title: "\"A2\"", properties: #"{"y":20,"z":30}"#,
                                                      relations: #"{"r2":null}"#), merge: true, at: t1)
            #expect(result.outcome == .updated)
            let a = try #require(try catalog.entity(blueprint: "service", identifier: "a"))
            #expect(sameJSON(a.properties, #"{"x":1,"y":20,"z":30}"#))
            #expect(sameJSON(a.relations, #"{"r1":"p","r2":null}"#))
            #expect(a.title == "\"A2\"")
            #expect(a.icon == "\"Old\"", "icon not mapped: kept")
            #expect(a.team == "\"t\"", "team not mapped: kept")
        }
    }

    @Test(arguments: backends) func mergeWithoutPropertiesKeepsThemAndExplicitNullTitleClearsIt(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsertOne(entity("a", title: "\"A\"", properties: #"{"x":1}"#), at: t0)
            _ = try catalog.upsertOne(entity("a", title: "null"), merge: true, at: t1)
            let a = try #require(try catalog.entity(blueprint: "service", identifier: "a"))
            #expect(sameJSON(a.properties, #"{"x":1}"#))
            #expect(a.title == nil, "a mapped title that evaluated to null replaces the stored one")
        }
    }

    @Test(arguments: backends) func replaceClearsUnmappedFields(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsertOne(entity("a", title: "\"A\"", icon: "\"I\"", team: "\"t\"",
                                             properties: #"{"x":1,"y":2}"#, relations: #"{"r":"p"}"#), at: t0)
            let result = try catalog.upsertOne(entity("a", properties: #"{"y":3}"#), merge: false, at: t1)
            #expect(result.outcome == .updated)
            let a = try #require(try catalog.entity(blueprint: "service", identifier: "a"))
            #expect(sameJSON(a.properties, #"{"y":3}"#))
            #expect(a.relations == "{}")
            #expect(a.title == nil && a.icon == nil && a.team == nil)
        }
    }

    @Test(arguments: backends) func createdAtIsKeptUpdatedAtAndDatasourceMove(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            _ = try catalog.upsertOne(entity("a"), datasource: "writer-1", at: t0)
            _ = try catalog.upsertOne(entity("a"), datasource: "writer-2", at: t1)
            let a = try #require(try catalog.entity(blueprint: "service", identifier: "a"))
            #expect(a.createdAt == CatalogTime.milliseconds(t0))
            #expect(a.updatedAt == CatalogTime.milliseconds(t1))
            #expect(a.datasource == "writer-2")
            #expect(a.jsonText.contains(#""createdAt":"2023-11-14T22:13:20.000Z""#))
            #expect(a.jsonText.contains(#""updatedAt":"2023-11-14T22:15:00.000Z""#))
        }
    }

    @Test(arguments: backends) func sameIdentifierInTwoBlueprintsIsTwoEntities(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let results = try catalog.upsert([entity("x", "service"), entity("x", "team")], datasource: nil)
            #expect(results.map(\.outcome) == [.created, .created])
            #expect(try catalog.entityCount() == 2)
        }
    }

    @Test(arguments: backends) func badEntitiesFailAloneAndTheRestIsWritten(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let numberIdentifier = Entity(identifier: "42", blueprint: "service")
            let results = try catalog.upsert([
                entity("good-1"),
                numberIdentifier,
                entity(""),
                entity("no-blueprint", ""),
                entity("bad-properties", properties: "[1,2]"),
                entity("broken-json", properties: #"{"x":"#),
                entity("good-2"),
            ], datasource: nil)
            #expect(results.map(\.succeeded) == [true, false, false, false, false, false, true])
            #expect(results[1].failureReason?.contains("must be a string or a search query") == true)
            #expect(results[2].failureReason?.contains("empty") == true)
            #expect(results[3].failureReason?.contains("no blueprint") == true)
            #expect(results[4].failureReason?.contains("must be a JSON object") == true)
            #expect(results[5].failureReason?.contains("not valid JSON") == true)
            #expect(try catalog.entityCount() == 2)
        }
    }

    @Test(arguments: backends) func unknownBlueprintsAreRefusedOnceBlueprintsAreStored(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            // No definitions yet: anything goes.
            #expect(try catalog.upsertOne(entity("a", "anything")).outcome == .created)
            try catalog.storeBlueprints([Blueprint(identifier: "service", title: "Service")])
            let results = try catalog.upsert([entity("b", "service"), entity("c", "nope")], datasource: nil)
            #expect(results[0].outcome == .created)
            #expect(results[1].failureReason?.contains("blueprint \"nope\" is not in the catalog") == true)
        }
    }

    @Test(arguments: backends) func escapedIdentifiersRoundTrip(_ backend: Backend) throws {
        try withCatalog(backend) { catalog in
            let tricky = Entity(identifier: RawJSON(JSON("a\"b\\c/é").serialized()), blueprint: "service")
            let result = try catalog.upsertOne(tricky)
            #expect(result.identifier == "a\"b\\c/é")
            let stored = try #require(try catalog.entity(blueprint: "service", identifier: "a\"b\\c/é"))
            let parsed = try JSON(parsing: stored.jsonText)
            #expect(parsed["identifier"]?.stringValue == "a\"b\\c/é")
        }
    }

    @Test(arguments: backends) func aBatchSeesItsOwnEarlierEntities(_ backend: Backend) throws {
        // Within one transaction, the second write of a key merges into the first.
        try withCatalog(backend) { catalog in
            let results = try catalog.upsert([entity("a", properties: #"{"x":1}"#), entity("a", properties: #"{"y":2}"#)],
                                             datasource: nil)
            #expect(results.map(\.outcome) == [.created, .updated])
            let a = try #require(try catalog.entity(blueprint: "service", identifier: "a"))
            #expect(sameJSON(a.properties, #"{"x":1,"y":2}"#))
        }
    }
}
