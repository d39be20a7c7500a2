import Testing
import TideJQ
@testable import TideOceanFuzz

/// The comparison itself, on hand-made cases: a fuzzer that could not tell Tide from Ocean would
/// pass the corpus vacuously, so each kind of difference it must catch is shown caught, and every
/// record is counted as compared.
@Suite struct FuzzComparisonTests {
    /// A case as scripts/fuzz-mappings.py writes one: a resource, records (JSON text) and what
    /// Ocean made of each.
    static func fuzzCase(resource: String, records: [String], ocean: [String]) throws -> JSON {
        try JSON(parsing: """
            {"id": "hand", "resource": \(resource),
             "records": [\(records.map { JSON($0).serialized() }.joined(separator: ","))],
             "ocean": [\(ocean.joined(separator: ","))]}
            """)
    }

    static let resource = #"{"kind": "item", "selector": {"query": "true"}, "port": {"entity": {"mappings": {"identifier": ".key", "blueprint": "\"issue\""}}}}"#

    static func entity(_ identifier: String) -> String {
        #"{"itemsSkipped": false, "items": [{"outcome": "entity", "entity": {"identifier": "\#(identifier)", "blueprint": "issue"}, "misconfigured": []}]}"#
    }

    @Test func anAgreeingRecordIsComparedAndNoDifference() throws {
        var run = FuzzRun()
        run.compare(try Self.fuzzCase(resource: Self.resource, records: [#"{"key": "K"}"#, #"{"key": "L"}"#],
                                      ocean: [Self.entity("K"), Self.entity("L")]))
        #expect(run.compared == 2)
        #expect(run.timed == 2)
        #expect(run.differences.isEmpty, "\(run.differences.map(\.detail))")
    }

    @Test func aDifferentValueIsCaughtWithItsKey() throws {
        var run = FuzzRun()
        run.compare(try Self.fuzzCase(resource: Self.resource, records: [#"{"key": "K"}"#], ocean: [Self.entity("other")]))
        #expect(run.compared == 1)
        #expect(run.differences.map(\.detail) == [#"identifier: Ocean "other", Tide "K""#])
    }

    @Test func aDifferentOutcomeOrItemCountIsCaught() throws {
        var run = FuzzRun()
        let filtered = #"{"itemsSkipped": false, "items": [{"outcome": "filtered"}]}"#
        let none = #"{"itemsSkipped": false, "items": []}"#
        run.compare(try Self.fuzzCase(resource: Self.resource, records: [#"{"key": "K"}"#, #"{"key": "K"}"#], ocean: [filtered, none]))
        #expect(run.compared == 2)
        #expect(run.differences.count == 2)
        #expect(run.differences.first?.detail.hasPrefix("outcome: Ocean") == true)
        #expect(run.differences.last?.detail == "items: Ocean 0, Tide 1")
    }

    @Test func aMappingTideRejectsCountsEveryRecordAsADifference() throws {
        var run = FuzzRun()
        let rejected = #"{"kind": "item", "port": {"entity": {"mappings": {"identifier": ".key"}}}, "selector": {"query": 1, "x": []}, "enableDelete": "no"}"#
        run.compare(try Self.fuzzCase(resource: rejected, records: ["{}", "{}", "{}"], ocean: []))
        #expect(run.compared == 3)
        #expect(run.differences.count == 3)
        #expect(run.differences.allSatisfy { $0.detail.hasPrefix("Tide rejects the mapping") }, "\(run.differences.map(\.detail))")
    }

    @Test func anUnreadableRecordIsADifferenceNotASkip() throws {
        var run = FuzzRun()
        run.compare(try Self.fuzzCase(resource: Self.resource, records: ["{not json"], ocean: [Self.entity("K")]))
        #expect(run.compared == 1)
        #expect(run.differences.map(\.detail) == ["unreadable case"])
    }

    @Test func numbersCompareCanonicallyOnlyWhenTheyDiffer() throws {
        let literal = try JSON(parsing: #"{"n": 1.0, "s": "v1.50e2"}"#)
        let double = try JSON(parsing: #"{"n": 1, "s": "v150.0"}"#)
        #expect(FuzzCompare.sameWithNumbersCanonical(literal, double))
        // Equal values are not a known difference (nothing to absorb), and other text still differs.
        #expect(!FuzzCompare.sameWithNumbersCanonical(literal, literal))
        #expect(!FuzzCompare.sameWithNumbersCanonical(literal, try JSON(parsing: #"{"n": 1, "s": "w150.0"}"#)))
    }

    @Test func knownDifferencesMatchOnlyTheirOwnCase() throws {
        var matched = 0
        for known in OceanFuzz.knownDifferences {
            #expect(!known.reason.isEmpty)
            // None of them absorbs a plain disagreement on a string.
            #expect(!known.matches(JSON("a"), JSON("b")), "\(known.id) matches any difference")
            matched += 1
        }
        #expect(matched == OceanFuzz.knownDifferences.count && matched > 0)
        let blueprint = OceanFuzz.knownDifferences.first { $0.id == "blueprint-not-string" }
        let oceanKeptIt = try JSON(parsing: #"{"outcome": "entity", "entity": {"identifier": "K", "blueprint": 1}}"#)
        #expect(blueprint?.matches(oceanKeptIt, nil) == true)
        #expect(blueprint?.matches(try JSON(parsing: #"{"outcome": "entity", "entity": {"blueprint": "b"}}"#), nil) == false)
    }
}
