import Testing
import TideJQ
import TideModel
@testable import TideMapping
import TideCore

/// Ocean's entity-processor semantics (reference §2), one behaviour per test.
@Suite struct EntityMappingTests {
    @Test func mapsFieldsInOceansKeyOrderAndOnlyThoseWritten() throws {
        let config = try config(mappings: """
        relations:
          owner: .owner
        properties:
          url: .url
        blueprint: '"service"'
        identifier: .id
        """)
        let mapped = try map(config, [#"{"id": "a", "url": "u", "owner": "o"}"#])
        // No title/icon/team were written, so none is sent; the order is Ocean's, not the file's.
        #expect(mapped.lines == [#"{"identifier":"a","blueprint":"service","properties":{"url":"u"},"relations":{"owner":"o"}}"#])
    }

    @Test func writtenFieldThatIsNullIsSentAsNullAndReported() throws {
        let config = try config(mappings: """
        identifier: .id
        title: .missing
        blueprint: '"service"'
        properties:
          gone: .nothing.here
        """)
        let mapped = try map(config, [#"{"id": "a"}"#])
        #expect(mapped.lines == [#"{"identifier":"a","title":null,"blueprint":"service","properties":{"gone":null}}"#])
        #expect(mapped.report.misconfigurations["title"]?.problems == ["null": 1])
        #expect(mapped.report.misconfigurations["properties.gone"]?.problems == ["null": 1])
        #expect(mapped.report.misconfigurations["title"]?.expression.location?.line == 10)
    }

    @Test func onlyTheFirstOutputIsUsedAndNoOutputIsNull() throws {
        let config = try config(mappings: """
        identifier: .ids[]
        blueprint: '"b"'
        properties:
          none: empty
          firstOfMany: 1, 2, 3
          selected: .ids[] | select(. == "z")
        """)
        let entity = try map(config, [#"{"ids": ["x", "y"]}"#]).only()
        #expect(entity["identifier"]?.stringValue == "x")
        #expect(entity["properties"]?["none"]?.isNull == true)
        #expect(entity["properties"]?["firstOfMany"]?.numberValue == 1)
        #expect(entity["properties"]?["selected"]?.isNull == true)
    }

    @Test func aFieldErrorIsNullPlusAMisconfigurationNeverAFailedItem() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          broken: .id.deeper
          thrown: error("custom")
        """)
        let mapped = try map(config, [#"{"id": "a"}"#])
        let entity = try mapped.only()
        #expect(entity["properties"]?["broken"]?.isNull == true)
        #expect(mapped.errors.isEmpty)
        #expect(mapped.report.misconfigurations["properties.broken"]?.problems.keys.first?.hasPrefix("error: Cannot index string") == true)
        #expect(mapped.report.misconfigurations["properties.thrown"]?.problems == ["error: custom": 1])
    }

    @Test func aFieldThatDoesNotCompileIsNullForEveryRecord() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          bad: .a | | .b
          good: .id
        """)
        let mapped = try map(config, [#"{"id": "a"}"#, #"{"id": "b"}"#])
        #expect(mapped.entities.count == 2)
        #expect(try mapped.only2()["properties"]?["good"]?.stringValue == "b")
        let problems = mapped.report.misconfigurations["properties.bad"]?.problems ?? [:]
        #expect(problems.count == 1)
        #expect(problems.values.first == 2)
        #expect(problems.keys.first?.contains("does not compile: syntax error") == true, "\(problems)")
    }

    @Test func falsyValuesArePreservedInProperties() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          zero: 0
          no: "false"
          empty: '""'
          list: '[]'
          object: '{}'
        """)
        let entity = try map(config, [#"{"id": "a"}"#]).only()
        #expect(entity["properties"]?.serialized() == #"{"zero":0,"no":false,"empty":"","list":[],"object":{}}"#)
    }

    @Test(arguments: [
        (#""""#, "\"\""), ("0", "0"), ("false", "false"), ("null", "null"), ("[]", "[]"), ("{}", "{}"),
    ])
    func falsyIdentifierSkipsTheItem(identifier: String, shown: String) throws {
        let config = try config(mappings: """
        identifier: '\(identifier)'
        blueprint: '"b"'
        """)
        let mapped = try map(config, ["{}"])
        #expect(mapped.entities.isEmpty)
        #expect(mapped.skipped == ["identifier evaluated to \(shown)"])
        #expect(mapped.report.skippedCount == 1)
    }

    @Test func falsyOrNonStringBlueprintSkipsTheItem() throws {
        let empty = try map(config(mappings: "identifier: .id\nblueprint: .bp"), [#"{"id": "a", "bp": ""}"#])
        #expect(empty.skipped == [#"blueprint evaluated to """#])
        let number = try map(config(mappings: "identifier: .id\nblueprint: .bp"), [#"{"id": "a", "bp": 7}"#])
        #expect(number.skipped == ["blueprint evaluated to 7, not a string"])
    }

    @Test func truthyNonStringIdentifiersAreKeptAsOceanSendsThem() throws {
        let mapped = try map(config(mappings: "identifier: .n\nblueprint: '\"b\"'"), [#"{"n": 42}"#])
        #expect(mapped.lines == [#"{"identifier":42,"blueprint":"b"}"#])
    }

    @Test func searchQueryIdentifierTeamAndRelationsEvaluateEveryLeaf() throws {
        let config = try config(mappings: """
        identifier:
          combinator: '"and"'
          rules:
            - property: '"$identifier"'
              operator: '"="'
              value: .id
        blueprint: '"b"'
        team:
          combinator: '"or"'
          rules:
            - property: '"handle"'
              operator: .op
              value: .team
        relations:
          owner:
            combinator: '"and"'
            rules:
              - property: '"email"'
                operator: '"="'
                value: .email
              - combinator: '"or"'
                rules:
                  - property: '"$title"'
                    operator: '"in"'
                    value: '[.a, .b]'
        """)
        let mapped = try map(config, [#"{"id": "x", "op": "=", "team": "t", "email": "e@x", "a": 1, "b": 2}"#])
        let entity = try mapped.only()
        #expect(entity["identifier"]?.serialized() == #"{"combinator":"and","rules":[{"property":"$identifier","operator":"=","value":"x"}]}"#)
        #expect(entity["team"]?.serialized() == #"{"combinator":"or","rules":[{"property":"handle","operator":"=","value":"t"}]}"#)
        #expect(entity["relations"]?["owner"]?.serialized()
                == #"{"combinator":"and","rules":[{"property":"email","operator":"=","value":"e@x"},{"combinator":"or","rules":[{"property":"$title","operator":"in","value":[1,2]}]}]}"#)
        #expect(mapped.entities[0].usesSearchIdentifier)
    }

    @Test func aNullLeafInsideASearchQueryIsReportedWithItsPath() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        relations:
          team:
            combinator: '"and"'
            rules:
              - property: '"handle"'
                operator: '"="'
                value: .nope
        """)
        let mapped = try map(config, [#"{"id": "a"}"#])
        #expect(mapped.report.misconfigurations["relations.team.rules[0].value"]?.problems == ["null": 1])
    }

    @Test func iconAndScalarTeamBecomePythonStringsAsPydanticMakesThem() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        icon: .icon
        team: .team
        """)
        let cases: [(String, String, String)] = [
            (#"{"id":"a","icon":5,"team":true}"#, #""5""#, #""True""#),
            (#"{"id":"a","icon":1.5,"team":false}"#, #""1.5""#, #""False""#),
            (#"{"id":"a","icon":"Jira","team":["t1","t2"]}"#, #""Jira""#, #"["t1","t2"]"#),
            (#"{"id":"a","icon":null,"team":null}"#, "null", "null"),
        ]
        for (record, icon, team) in cases {
            let entity = try map(config, [record]).only()
            #expect(entity["icon"]?.serialized() == icon, "\(record)")
            #expect(entity["team"]?.serialized() == team, "\(record)")
        }
    }

    @Test func aRecordThatIsNotAnObjectIsAnItemError() throws {
        let mapped = try map(config(mappings: "identifier: .id\nblueprint: '\"b\"'"), ["42", #"["x"]"#])
        #expect(mapped.errors == ["the record is a number, not an object", "the record is a array, not an object"])
    }

    @Test func environmentAccessCanBeSwitchedOff() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          home: env.HOME
          viaVariable: $ENV.HOME
        """)
        let open = try map(config, [#"{"id": "a"}"#]).only()
        #expect(open["properties"]?["home"]?.stringValue?.isEmpty == false)
        #expect(open["properties"]?["viaVariable"]?.stringValue == open["properties"]?["home"]?.stringValue)
        let closed = try map(config, [#"{"id": "a"}"#], options: MappingOptions(allowEnvironment: false)).only()
        #expect(closed["properties"]?["home"]?.isNull == true)
        #expect(closed["properties"]?["viaVariable"]?.isNull == true)
    }

    @Test func anEvaluationThatNeverEndsIsAnItemErrorAndTheNextRecordStillMaps() throws {
        let config = try config(mappings: """
        identifier: .id
        blueprint: '"b"'
        properties:
          spin: 'if .spin then (def f: f; f) else 1 end'
        """)
        let mapped = try map(config, [#"{"id": "a", "spin": true}"#, #"{"id": "b", "spin": false}"#],
                             options: MappingOptions(timeout: .milliseconds(200)))
        #expect(mapped.errors.count == 1)
        #expect(mapped.errors.first?.contains("stopped after running") == true)
        #expect(mapped.entities.map(\.identifierString) == ["b"])
    }

    @Test func commentsAndLocalDefinitionsInsideAnExpressionWork() throws {
        let config = try config(mappings: """
        identifier: |
          def up: ascii_upcase; # a local helper
          .id | up
        blueprint: '"b"'
        """)
        #expect(try map(config, [#"{"id": "abc"}"#]).entities.first?.identifierString == "ABC")
    }
}

extension Mapped {
    /// The last entity, parsed.
    func only2() throws -> JSON { try JSON(parsing: entities.last!.jsonText()) }
}
