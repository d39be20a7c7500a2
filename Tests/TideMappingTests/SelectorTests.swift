import Testing
import TideJQ
import TideModel
@testable import TideMapping

/// `selector.query` must give a JSON boolean (reference §2.4); anything else is a per-item error.
@Suite struct SelectorTests {
    let mappings = "identifier: .id\nblueprint: '\"b\"'"

    @Test func trueKeepsFalseFilters() throws {
        let mapped = try map(config(mappings: mappings, query: "'.keep'"),
                             [#"{"id": "a", "keep": true}"#, #"{"id": "b", "keep": false}"#])
        #expect(mapped.entities.map(\.identifierString) == ["a"])
        #expect(mapped.filteredCount == 1)
        #expect(mapped.report.filtered == 1)
        #expect(mapped.errors.isEmpty)
    }

    @Test(arguments: [
        (#"{"id": "a", "keep": "true"}"#, #"got "true" of type string"#),
        (#"{"id": "a", "keep": 1}"#, "got 1 of type number"),
        (#"{"id": "a", "keep": null}"#, "got null of type null"),
    ])
    func nonBooleanIsAnErrorWithoutTruthiness(record: String, expected: String) throws {
        let mapped = try map(config(mappings: mappings, query: "'.keep'"), [record])
        #expect(mapped.entities.isEmpty)
        #expect(mapped.errors.count == 1)
        #expect(mapped.errors.first?.contains("Expected boolean value for selector query .keep") == true)
        #expect(mapped.errors.first?.contains(expected) == true, "\(mapped.errors)")
    }

    @Test func runtimeErrorAndNoOutputAreErrors() throws {
        let failing = try map(config(mappings: mappings, query: "'.id.x == 1'"), [#"{"id": "a"}"#])
        #expect(failing.errors.first?.contains("failed: Cannot index string") == true, "\(failing.errors)")
        let silent = try map(config(mappings: mappings, query: "empty"), [#"{"id": "a"}"#])
        #expect(silent.errors.first?.contains("produced no output") == true)
        #expect(silent.report.errorCount == 1)
    }

    @Test func aSimplePathSelectorThatRaisesIsStillAnItemErrorAndOthersMap() throws {
        // Plain paths run unguarded for speed; a record on which one raises is mapped again guarded.
        let mapped = try map(config(mappings: mappings + "\ntitle: .meta.name", query: "'.meta.keep'"),
                             [#"{"id": "a", "meta": "text"}"#, #"{"id": "b", "meta": {"keep": true, "name": "B"}}"#])
        #expect(mapped.errors.count == 1)
        #expect(mapped.errors.first?.contains("failed: Cannot index string") == true, "\(mapped.errors)")
        #expect(mapped.lines == [#"{"identifier":"b","title":"B","blueprint":"b"}"#])
    }

    @Test func onlyTheFirstOutputCounts() throws {
        let mapped = try map(config(mappings: mappings, query: "'true, \"x\"'"), [#"{"id": "a"}"#])
        #expect(mapped.entities.count == 1)
    }

    @Test func aSelectorThatDoesNotCompileFailsEveryItem() throws {
        let mapped = try map(config(mappings: mappings, query: "'.a =='"), [#"{"id": "a"}"#, #"{"id": "b"}"#])
        #expect(mapped.errors.count == 2)
        #expect(mapped.errors.first?.contains("does not compile") == true)
    }

    @Test func fieldsAreNotEvaluatedForFilteredRecords() throws {
        // A failing field would be reported if it ran; Ocean skips mapping when the selector is false.
        let config = try config(mappings: mappings + "\nproperties:\n  boom: error(\"x\")", query: "'false'")
        let mapped = try map(config, [#"{"id": "a"}"#])
        #expect(mapped.report.misconfigurations.isEmpty)
        #expect(mapped.filteredCount == 1)
    }

    @Test func parseAllMapsFilteredRecordsAndMarksThem() throws {
        let mapped = try map(config(mappings: mappings, query: "'.keep'"),
                             [#"{"id": "a", "keep": false}"#], options: MappingOptions(parseAll: true))
        guard case .entity(let entity, let passed)? = mapped.outcomes.first else {
            Issue.record("expected an entity, got \(mapped.outcomes)")
            return
        }
        #expect(entity.identifierString == "a")
        #expect(!passed)
        #expect(mapped.report.entitiesFailingSelector == 1)
    }
}

/// Ocean rewrites single-quoted jq strings before compiling (reference §2.2). Expected values
/// were produced with Ocean's own regular expression in Python.
@Suite struct QuoteRewriteTests {
    @Test(arguments: [
        ("'jiraIssue'", "\"jiraIssue\""),
        (".a == 'x'", ".a == \"x\""),
        ("'a' 'b'", "\"a\" 'b\""),
        ("'it''s'", "\"it''s\""),
        (" 'x' ", " \"x\" "),
        (".name | test('^a')", ".name | test('^a')"),
        ("'", "\""),
        ("' '", "\" '"),
        ("\"already\"", "\"already\""),
    ])
    func matchesOceansRegularExpression(source: String, expected: String) {
        #expect(JQExpression(source).oceanProgram == expected)
    }

    @Test func aSingleQuotedLiteralMapsLikeOcean() throws {
        let config = try config(mappings: "identifier: .id\nblueprint: \"'service'\"")
        #expect(try map(config, [#"{"id": "a"}"#]).entities.first?.blueprint == "service")
    }
}
