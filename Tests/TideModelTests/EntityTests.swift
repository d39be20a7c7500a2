import Testing
import TideJQ
import TideModel

/// An entity's JSON is what Ocean sends to Port: only mapped keys, in Ocean's order, nulls kept.
@Suite struct EntityTests {
    @Test func onlyMappedKeysAreWrittenInOceansOrder() throws {
        let bare = Entity(identifier: #""PROJ-1""#, blueprint: "jiraIssue")
        #expect(bare.jsonText() == #"{"identifier":"PROJ-1","blueprint":"jiraIssue"}"#)

        let full = Entity(identifier: #""PROJ-1""#, blueprint: "jiraIssue", title: .null, icon: #""Jira""#, team: #"["a"]"#,
                          properties: #"{"status":"Done"}"#, relations: #"{"project":"PROJ"}"#)
        let text = full.jsonText()
        #expect(text == #"{"identifier":"PROJ-1","title":null,"icon":"Jira","team":["a"],"blueprint":"jiraIssue","properties":{"status":"Done"},"relations":{"project":"PROJ"}}"#)
        // Valid JSON whose keys come back as written.
        let parsed = try JSON(parsing: text)
        #expect(parsed.objectMembers.map(\.key) == ["identifier", "title", "icon", "team", "blueprint", "properties", "relations"])
        #expect(parsed["title"]?.kind == .null)
    }

    @Test func aBlueprintNameWithQuotesStaysValidJSON() throws {
        let entity = Entity(identifier: #""x""#, blueprint: #"odd"name\"#)
        let parsed = try JSON(parsing: entity.jsonText())
        #expect(parsed["blueprint"]?.stringValue == #"odd"name\"#)
    }

    @Test func plainAndSearchIdentifiersAreTold() {
        let plain = Entity(identifier: #""a\"b""#, blueprint: "b")
        #expect(plain.identifierString == #"a"b"#)
        #expect(!plain.usesSearchIdentifier)
        let search = Entity(identifier: #"{"combinator":"and","rules":[]}"#, blueprint: "b")
        #expect(search.identifierString == nil)
        #expect(search.usesSearchIdentifier)
    }

    @Test func rawJSONRoundTrips() throws {
        let value = try JSON(parsing: #"{"b":[1,2.5,null],"a":"x"}"#)
        let raw = RawJSON(value)
        #expect(try raw.json() == value)
        #expect(RawJSON.null.text == "null" && RawJSON.emptyObject.text == "{}")
        #expect(throws: JSONParseError.self) { try RawJSON("{nope").json() }
    }

    @Test func theDatasourceIsOceansUserAgent() {
        let datasource = Datasource(integrationType: "jira", integrationVersion: "0.1.0", installationIdentifier: "my-jira")
        #expect(datasource.userAgent == "port-ocean/jira/0.1.0/my-jira/exporter")
        // Ownership ignores the version: a datasource starts with the prefix and ends with the suffix.
        #expect(datasource.userAgent.hasPrefix(datasource.prefix) && datasource.userAgent.hasSuffix(datasource.suffix))
        #expect(Datasource(integrationType: "jira", installationIdentifier: "x").integrationVersion == "0.0.0")
    }
}

@Suite struct BlueprintTests {
    static let blueprints = """
    [
      {"identifier": "jiraIssue", "title": "Jira Issue",
       "schema": {"properties": {"status": {"type": "string", "enum": ["Done", "To Do"]}, "url": {"type": "string", "format": "url"}},
                  "required": ["status"]},
       "relations": {"project": {"target": "jiraProject", "required": true}, "subtasks": {"target": "jiraIssue", "many": true}}},
      {"identifier": "jiraProject"}
    ]
    """

    @Test func aBlueprintsFileIsRead() throws {
        let list = try Blueprint.list(fromJSON: Self.blueprints)
        #expect(list.map(\.identifier) == ["jiraIssue", "jiraProject"])
        let issue = list[0]
        #expect(issue.title == "Jira Issue")
        #expect(Set(issue.properties.keys) == ["status", "url"])
        #expect(try issue.properties["status"]?.json()["enum"]?.arrayElements.count == 2)
        #expect(issue.requiredProperties == ["status"])
        #expect(issue.relations["project"] == Blueprint.Relation(target: "jiraProject", many: false, required: true))
        #expect(issue.relations["subtasks"] == Blueprint.Relation(target: "jiraIssue", many: true, required: false))
        // The definition is kept whole, for the sink that stores it.
        #expect(try issue.definition.json()["schema"]?["required"]?.arrayElements.count == 1)
        let project = list[1]
        #expect(project.title == nil && project.properties.isEmpty && project.relations.isEmpty)
    }

    @Test func brokenFilesSayWhatIsWrong() {
        let cases: [(String, String)] = [
            ("{nope", "not valid JSON"),
            (#"{"identifier": "a"}"#, "expected a JSON array of blueprints"),
            (#"[{"title": "no id"}]"#, #"a blueprint has no "identifier" string"#),
            (#"[{"identifier": ""}]"#, #"a blueprint has no "identifier" string"#),
            (#"[{"identifier": "a", "relations": {"r": {"many": true}}}]"#, #"relation "r" of blueprint "a" has no "target""#),
        ]
        var compared = 0
        for (text, message) in cases {
            do {
                _ = try Blueprint.list(fromJSON: text)
                Issue.record("\(text) was accepted")
            } catch {
                #expect(error.message.contains(message), "\(text): \(error.message)")
                compared += 1
            }
        }
        #expect(compared == cases.count)
    }
}
