import Testing
import TideJQ
@testable import TideMapping
import TideModel

/// Issue 13: a field that raises costs no more than itself, and `try` inside a field (the
/// prelude's `tonumber` has one) is not handed the errors or `break`s of what follows it.
@Suite struct FieldGuardTests {
    @Test func tonumberParsesStringsInAMapping() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          n: .s | tonumber
          e: .e | tonumber
          spaced: .spaced | tonumber
          caught: .spaced | try tonumber catch "bad"
        """)
        let mapped = try map(config, [#"{"id": "1", "s": "1000", "e": "-1.5e1", "spaced": " 1"}"#])
        #expect(mapped.lines == [#"{"identifier":"1","blueprint":"b","properties":{"n":1000,"e":-15,"spaced":null,"caught":"bad"}}"#])
        #expect(mapped.report.misconfigurations["properties.spaced"]?.problems == ["error: string (\" 1\") cannot be parsed as a number": 1])
        #expect(mapped.report.misconfigurations["properties.n"] == nil)
    }

    /// Fields of the issue's shape: ordinary computed ones, plus one plain path that raises. The
    /// raising field is null, every other field maps, and the record takes about what its fields
    /// take one by one (it used to double with every field: 20 fields ran into the watchdog).
    @Test func oneRaisingFieldAmongManyCostsLinearTime() throws {
        var lines = ["identifier: .id", "blueprint: '\"b\"'", "properties:"]
        let count = 24
        for index in 0..<count { lines.append("  f\(index): \(index % 2 == 0 ? ".list | map(.name)" : ".a | tostring")") }
        lines.append("  bad: .list.name")
        let config = try config(mappings: lines.joined(separator: "\n"))
        let record = #"{"id": "r", "a": 5, "list": [{"name": "x"}, {"name": "y"}]}"#
        // Before the fix this record ran into the watchdog (an item error) long before 5 s.
        let mapper = ResourceMapper(resource: config.resources[0], options: MappingOptions(timeout: .seconds(5)))
        var report = MappingReport()
        let outcome = mapper.mapItem(try json(record), report: &report)
        guard case .entity(let entity, _) = outcome else { Issue.record("not an entity: \(outcome)"); return }
        let properties = try JSON(parsing: entity.jsonText())["properties"]
        #expect(properties?["bad"]?.isNull == true)
        var mappedFields = 0
        for index in 0..<count {
            let expected = index % 2 == 0 ? #"["x","y"]"# : #""5""#
            #expect(properties?["f\(index)"]?.serialized() == expected)
            mappedFields += 1
        }
        #expect(mappedFields == count)
        #expect(report.misconfigurations.keys.sorted() == ["properties.bad"])
    }

    /// The report keeps fields that raised apart from fields that were null: the first are
    /// mistakes to fix, the second often fields the API leaves out.
    @Test func theReportSeparatesFieldsThatFailedFromFieldsThatWereNull() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          broken: .name.first
          absent: .resolution
        """)
        let mapped = try map(config, [#"{"id": "1", "name": "Ada"}"#, #"{"id": "2", "name": "Bo", "resolution": "done"}"#])
        let text = mapped.report.humanText(title: "t")
        let lines = text.split(separator: "\n").map(String.init)
        let failed = try #require(lines.firstIndex { $0.hasPrefix("fields that failed") })
        let null = try #require(lines.firstIndex { $0.hasPrefix("fields that gave null") })
        #expect(failed < null)
        let failedSection = lines[failed..<null].joined(separator: "\n")
        let nullSection = lines[null...].joined(separator: "\n")
        #expect(failedSection.contains("properties.broken") && failedSection.contains("×2  error: Cannot index string"))
        #expect(!failedSection.contains("properties.absent"))
        #expect(nullSection.contains("properties.absent") && nullSection.contains("×1  null"))
        #expect(!nullSection.contains("properties.broken"))
    }
}
