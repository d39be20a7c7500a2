import Testing
import TideJQ
import TideModel
@testable import TideMapping

/// `itemsToParse`, `itemsToParseName`, `itemsToParseTopLevelTransform` (reference §2.8).
@Suite struct ItemsToParseTests {
    let mappings = """
    identifier: .item.id
    blueprint: '"comment"'
    properties:
      issue: .key
      hasParentArray: .fields.comments != null
      name: .item.name
    """

    @Test func eachElementBecomesAnItemWithTheParentBesideIt() throws {
        let config = try config(mappings: mappings, extraPort: "itemsToParse: .fields.comments")
        let mapped = try map(config, [#"{"key": "P-1", "fields": {"comments": [{"id": "c1", "name": "x"}, {"id": "c2"}], "other": 1}}"#])
        #expect(mapped.lines == [
            #"{"identifier":"c1","blueprint":"comment","properties":{"issue":"P-1","hasParentArray":false,"name":"x"}}"#,
            #"{"identifier":"c2","blueprint":"comment","properties":{"issue":"P-1","hasParentArray":false,"name":null}}"#,
        ])
        #expect(mapped.report.records == 1)
        #expect(mapped.report.items == 2)
    }

    @Test func withoutTopLevelTransformTheParentKeepsTheArray() throws {
        let config = try config(mappings: mappings,
                                extraPort: "itemsToParse: .fields.comments\nitemsToParseTopLevelTransform: false")
        let entity = try map(config, [#"{"key": "P-1", "fields": {"comments": [{"id": "c1"}]}}"#]).only()
        #expect(entity["properties"]?["hasParentArray"]?.boolValue == true)
    }

    @Test func aCustomNameReplacesAParentKeyOfTheSameName() throws {
        let config = try config(mappings: "identifier: .key.id\nblueprint: '\"b\"'",
                                extraPort: "itemsToParse: .list\nitemsToParseName: key")
        let mapped = try map(config, [#"{"key": "parent", "list": [{"id": "child"}]}"#])
        #expect(mapped.entities.map(\.identifierString) == ["child"])
    }

    @Test func aSelectorSeesTheElementAndTheParent() throws {
        let config = try config(mappings: mappings, query: "'.item.id != \"skip\" and .key == \"P-1\"'",
                                extraPort: "itemsToParse: .fields.comments")
        let mapped = try map(config, [#"{"key": "P-1", "fields": {"comments": [{"id": "skip"}, {"id": "keep"}]}}"#])
        #expect(mapped.entities.map(\.identifierString) == ["keep"])
        #expect(mapped.filteredCount == 1)
    }

    @Test func aValueThatIsNotAListSkipsTheRecordWithAWarning() throws {
        let config = try config(mappings: mappings, extraPort: "itemsToParse: .fields.comments")
        let mapped = try map(config, [#"{"key": "P-1", "fields": {"comments": "nope"}}"#, #"{"key": "P-2"}"#])
        #expect(mapped.entities.isEmpty)
        #expect(mapped.report.itemsToParseWarnings.count == 2)
        #expect(mapped.report.itemsToParseWarnings.keys.contains { $0.contains("expected a list but got string") })
        #expect(mapped.report.itemsToParseWarnings.keys.contains { $0.contains("expected a list but got null") })
        #expect(mapped.errors.isEmpty)
    }

    @Test func anExpressionWithNoPathToDeleteSkipsTheRecordAsOceanDoes() throws {
        // Ocean deletes `.` from the parent when it finds no path, which gives null: the record is skipped.
        let config = try config(mappings: mappings, extraPort: "itemsToParse: '[.a, .b]'")
        let mapped = try map(config, [#"{"a": {"id": 1}, "b": {"id": 2}}"#])
        #expect(mapped.entities.isEmpty)
        #expect(mapped.report.itemsToParseWarnings.keys.first?.contains("removed the whole record") == true)
    }

    @Test func anEmptyListProducesNothing() throws {
        let config = try config(mappings: mappings, extraPort: "itemsToParse: .fields.comments")
        let mapped = try map(config, [#"{"key": "P-1", "fields": {"comments": []}}"#])
        #expect(mapped.outcomes.isEmpty)
        #expect(mapped.report.itemsToParseWarnings.isEmpty)
    }

    /// Cases checked against port-ocean 0.56.2's `extract_jq_deletion_path_revised`.
    @Test(arguments: [
        (".fields.comments", ".fields.comments"),
        (".a[0].b", ".a[0].b"),
        (".[\"x\"]", ".[\"x\"]"),
        (". as $root | .items", ".items"),
        ("$x | .items", ".items"),
        ("(.spec.list // [])", ".spec.list"),
        (".files | map(select(.ok))", ".files"),
        ("[.a, .b]", nil),
        ("map(.x)", nil),
    ] as [(String, String?)])
    func deletionPathFollowsOcean(expression: String, expected: String?) {
        #expect(ItemsExpander.deletionPath(expression) == expected)
    }
}
