import Foundation
import Testing
import TideCatalog
import TideModel

/// The Port sink's on-disk record of what a resync produced.
@Suite struct EntityLedgerTests {
    @Test func recordsKeysAndRelationsAndFindsWhatWasNeverRecorded() throws {
        let ledger = try EntityLedger()
        try ledger.record([(EntityKey(blueprint: "issue", identifier: "A-1"), #"{"project": "A"}"#),
                           (EntityKey(blueprint: "issue", identifier: "A-2"), nil),
                           (EntityKey(blueprint: "project", identifier: "A"), nil)])
        // A later record replaces the relations of the same key.
        try ledger.record([(EntityKey(blueprint: "issue", identifier: "A-2"), #"{"project": "B"}"#)])
        #expect(ledger.count == 3)
        let asked = [EntityKey(blueprint: "issue", identifier: "A-1"), EntityKey(blueprint: "issue", identifier: "A-9"),
                     EntityKey(blueprint: "project", identifier: "A-1"), EntityKey(blueprint: "project", identifier: "A")]
        #expect(try ledger.unrecorded(asked) == [asked[1], asked[2]])
        #expect(try ledger.blueprintsWithRelations() == ["issue"])
        var seen: [String: String] = [:]
        try ledger.forEachWithRelations { key, relations in seen[key.identifier] = relations }
        #expect(seen == ["A-1": #"{"project": "A"}"#, "A-2": #"{"project": "B"}"#])
    }

    @Test func relationsAreReadBackPageByPageWithoutMissingAny() throws {
        let ledger = try EntityLedger()
        let keys = (0..<2_500).map { EntityKey(blueprint: $0 % 2 == 0 ? "a" : "b", identifier: "e\($0)") }
        try ledger.record(keys.map { ($0, #"{"r": "\#($0.identifier)"}"#) })
        var visited: [EntityKey] = []
        try ledger.forEachWithRelations { key, relations in
            #expect(relations.contains(key.identifier))
            visited.append(key)
        }
        #expect(visited.count == 2_500)
        #expect(Set(visited) == Set(keys))
        #expect(visited == visited.sorted())
    }

    @Test func theScratchFileGoesAwayWithTheLedger() throws {
        var ledger: EntityLedger? = try EntityLedger()
        try ledger?.record([(EntityKey(blueprint: "x", identifier: "1"), nil)])
        let path = try #require(ledger?.path)
        #expect(FileManager.default.fileExists(atPath: path))
        ledger = nil
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
