import Foundation
import Testing
import TideCatalog
import TideJQ
import TideModel

/// What a search-query identifier came to.
enum Resolution: Equatable {
    case success(String)
    case failure(String)
}

@Suite struct SearchQueryTests {
    /// Three services and two teams, with definitions so relations have known targets.
    func seeded(_ backend: Backend, _ body: (Catalog) throws -> Void) throws {
        try withCatalog(backend) { catalog in
            try catalog.storeBlueprints([
                Blueprint(identifier: "service", relations: [
                    "owner": .init(target: "team"),
                    "members": .init(target: "team", many: true),
                ]),
                Blueprint(identifier: "team"),
            ])
            let results = try catalog.upsert([
                entity("svc-a", title: "\"Alpha\"", team: "\"platform\"",
                       properties: #"{"lang":"swift","tags":["x","y"],"stars":10,"url":"https://a.example","empty":""}"#),
                entity("svc-b", title: "\"Beta\"", properties: #"{"lang":"go","tags":[],"stars":3}"#),
                entity("svc-c", title: "\"Gamma\"", properties: #"{"lang":"swift","stars":7,"archived":true}"#),
                entity("team-1", "team", title: "\"Platform\"", properties: #"{"handle":"plat","size":4}"#),
                entity("team-2", "team", title: "\"Data\"", properties: #"{"handle":"data","size":4}"#),
            ], datasource: nil, at: t0)
            #expect(results.filter { !$0.succeeded }.isEmpty)
            try body(catalog)
        }
    }

    /// The identifier a search-query identifier resolves to, or the failure reason.
    func resolve(_ catalog: Catalog, _ rules: String, combinator: String = "and") throws -> Resolution {
        let query = #"{"combinator":"\#(combinator)","rules":\#(rules)}"#
        let result = try catalog.upsertOne(searchEntity(query, properties: #"{"touched":true}"#))
        if let reason = result.failureReason { return .failure(reason) }
        #expect(result.outcome == .updated, "a search identifier never creates")
        return .success(result.identifier ?? "")
    }

    @Test(arguments: backends) func identifierWithOneMatchUpdatesThatEntity(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            let result = try catalog.upsertOne(
                searchEntity(#"{"combinator":"and","rules":[{"property":"$title","operator":"=","value":"Beta"}]}"#,
                             properties: #"{"stars":4}"#), at: t1)
            #expect(result.outcome == .updated)
            #expect(result.identifier == "svc-b")
            let b = try #require(try catalog.entity(blueprint: "service", identifier: "svc-b"))
            #expect(sameJSON(b.properties, #"{"lang":"go","tags":[],"stars":4}"#))
            #expect(b.updatedAt == CatalogTime.milliseconds(t1))
            #expect(try catalog.entityCount(blueprint: "service") == 3)
        }
    }

    @Test(arguments: backends) func identifierWithNoMatchFailsAndCreatesNothing(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            let outcome = try resolve(catalog, #"[{"property":"$identifier","operator":"=","value":"svc-zzz"}]"#)
            guard case .failure(let reason) = outcome else { Issue.record("expected a failure, got \(outcome)"); return }
            #expect(reason.contains("matches no entity"))
            #expect(try catalog.entityCount(blueprint: "service") == 3)
        }
    }

    @Test(arguments: backends) func identifierWithSeveralMatchesFails(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            let outcome = try resolve(catalog, #"[{"property":"lang","operator":"=","value":"swift"}]"#)
            guard case .failure(let reason) = outcome else { Issue.record("expected a failure, got \(outcome)"); return }
            #expect(reason.contains("several"))
        }
    }

    @Test(arguments: backends) func identifierSearchStaysInTheEntitysBlueprint(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            // "team-1" exists, but in blueprint team, not service.
            let outcome = try resolve(catalog, #"[{"property":"$identifier","operator":"=","value":"team-1"}]"#)
            guard case .failure(let reason) = outcome else { Issue.record("resolved across blueprints: \(outcome)"); return }
            #expect(reason.contains("matches no entity"))
        }
    }

    @Test(arguments: backends, [
        (#"[{"property":"$identifier","operator":"in","value":["svc-c","nope"]}]"#, "svc-c"),
        (#"[{"property":"lang","operator":"=","value":"go"}]"#, "svc-b"),
        (#"[{"property":"stars","operator":">","value":8}]"#, "svc-a"),
        (#"[{"property":"stars","operator":"<=","value":3}]"#, "svc-b"),
        (#"[{"property":"archived","operator":"=","value":true}]"#, "svc-c"),
        (#"[{"property":"tags","operator":"contains","value":"y"}]"#, "svc-a"),
        (#"[{"property":"$title","operator":"contains","value":"amm"}]"#, "svc-c"),
        (#"[{"property":"$title","operator":"beginsWith","value":"Al"}]"#, "svc-a"),
        (#"[{"property":"url","operator":"endsWith","value":".example"}]"#, "svc-a"),
        (#"[{"property":"$team","operator":"=","value":"platform"}]"#, "svc-a"),
        (#"[{"property":"tags","operator":"isEmpty"},{"property":"archived","operator":"isEmpty"}]"#, "svc-b"),
        (#"[{"property":"tags","operator":"isNotEmpty"}]"#, "svc-a"),
        (#"[{"property":"lang","operator":"=","value":"swift"},{"property":"archived","operator":"!=","value":true}]"#, "svc-a"),
        (#"[{"property":"lang","operator":"notIn","value":["swift"]}]"#, "svc-b"),
        (#"[{"property":"$title","operator":"doesNotContains","value":"Gamm"},{"property":"lang","operator":"=","value":"swift"}]"#, "svc-a"),
        (#"[{"property":"url","operator":"doesNotBeginsWith","value":"https:"},{"property":"stars","operator":">=","value":7}]"#, "svc-c"),
        (#"[{"property":"tags","operator":"containsAny","value":["q","x"]}]"#, "svc-a"),
        (#"[{"property":"lang","operator":"=","value":"swift"},{"combinator":"or","rules":[{"property":"stars","operator":"=","value":7},{"property":"stars","operator":"=","value":99}]}]"#, "svc-c"),
    ])
    func operatorsSelectTheExpectedEntity(_ backend: Backend, rule: (String, String)) throws {
        let (rules, expected) = rule
        try seeded(backend) { catalog in
            let resolution = try resolve(catalog, rules)
            #expect(resolution == .success(expected))
        }
    }

    @Test(arguments: backends) func orCombinatorAndEmptyValues(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            // "empty" is "" on svc-a, absent on svc-b and svc-c: all three are empty → several.
            guard case .failure = try resolve(catalog, #"[{"property":"empty","operator":"isEmpty"}]"#) else {
                Issue.record("isEmpty should match absent and empty-string values alike")
                return
            }
            #expect(try resolve(catalog, #"[{"property":"$identifier","operator":"=","value":"nope"},{"property":"$title","operator":"=","value":"Gamma"}]"#,
                                combinator: "or") == .success("svc-c"))
        }
    }

    @Test(arguments: backends) func invalidQueriesFailTheEntityWithTheReason(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            guard case .failure(let reason) = try resolve(catalog, #"[{"property":"lang","operator":"near","value":"go"}]"#) else {
                Issue.record("an unknown operator must fail"); return
            }
            #expect(reason.contains("operator \"near\""))
            guard case .failure(let other) = try resolve(catalog, #"[{"property":"lang","operator":"in","value":"go"}]"#) else {
                Issue.record("in needs an array"); return
            }
            #expect(other.contains("array"))
        }
    }

    @Test(arguments: backends) func singleRelationResolvesToTheOneMatch(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            let result = try catalog.upsertOne(entity("svc-d", relations: """
                {"owner":{"combinator":"and","rules":[{"property":"handle","operator":"=","value":"plat"}]},"plain":"x"}
                """))
            #expect(result.outcome == .created)
            #expect(result.warnings.isEmpty)
            let d = try #require(try catalog.entity(blueprint: "service", identifier: "svc-d"))
            #expect(sameJSON(d.relations, #"{"owner":"team-1","plain":"x"}"#))
        }
    }

    @Test(arguments: backends) func singleRelationWithSeveralOrNoMatchesIsNullWithAWarning(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            let results = try catalog.upsert([
                entity("svc-d", relations: #"{"owner":{"combinator":"and","rules":[{"property":"size","operator":"=","value":4}]}}"#),
                entity("svc-e", relations: #"{"owner":{"combinator":"and","rules":[{"property":"size","operator":"=","value":5}]}}"#),
            ], datasource: nil)
            #expect(results.map(\.outcome) == [.created, .created])
            #expect(results[0].warnings.first?.contains("several") == true)
            #expect(results[1].warnings.first?.contains("no entity") == true)
            let d = try #require(try catalog.entity(blueprint: "service", identifier: "svc-d"))
            #expect(sameJSON(d.relations, #"{"owner":null}"#))
        }
    }

    @Test(arguments: backends) func manyRelationResolvesToEveryMatchInTheTargetBlueprint(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            // size = 4 matches both teams; services are not searched (target is team).
            let result = try catalog.upsertOne(entity("svc-d", relations: """
                {"members":{"combinator":"or","rules":[{"property":"size","operator":"=","value":4},{"property":"stars","operator":">","value":0}]}}
                """))
            #expect(result.succeeded)
            let d = try #require(try catalog.entity(blueprint: "service", identifier: "svc-d"))
            #expect(sameJSON(d.relations, #"{"members":["team-1","team-2"]}"#))
            // No match: an empty list, no warning.
            let none = try catalog.upsertOne(entity("svc-e", relations: #"{"members":{"combinator":"and","rules":[{"property":"size","operator":"=","value":9}]}}"#))
            #expect(none.warnings.isEmpty)
            let e = try #require(try catalog.entity(blueprint: "service", identifier: "svc-e"))
            #expect(sameJSON(e.relations, #"{"members":[]}"#))
        }
    }

    @Test(arguments: backends) func undefinedRelationSearchesEveryBlueprint(_ backend: Backend) throws {
        try seeded(backend) { catalog in
            let result = try catalog.upsertOne(entity("svc-d", relations: #"{"buddy":{"combinator":"and","rules":[{"property":"$title","operator":"=","value":"Data"}]}}"#))
            #expect(result.warnings.isEmpty)
            let d = try #require(try catalog.entity(blueprint: "service", identifier: "svc-d"))
            #expect(sameJSON(d.relations, #"{"buddy":"team-2"}"#))
        }
    }
}
