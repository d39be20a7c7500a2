import Testing
import TideYAML

// Speed is measured in Benchmarks/, not here; these check that large input is read correctly.
@Suite struct LargeDocumentTests {
    /// A port-app-config-shaped document of about 1 MB.
    static func largeDocument() -> String {
        var text = "deleteDependentEntities: true\ncreateMissingRelatedEntities: false\nresources:\n"
        var index = 0
        while text.utf8.count < 1_000_000 {
            text += """
              - kind: issue\(index)
                selector:
                  query: 'true'
                  jql: "project = P\(index) AND status != Done"
                port:
                  entity:
                    mappings:
                      identifier: .key
                      title: .fields.summary
                      blueprint: '"jiraIssue"'
                      properties:
                        url: (.self | split("/") | .[:3] | join("/")) + "/browse/" + .key
                        status: .fields.status.name
                        count: \(index)
                        ratio: \(Double(index) / 8)
                      relations:
                        project: .fields.project.key
                    description: |
                      A longer literal block for issue \(index),
                      spanning a couple of lines.

            """
            index += 1
        }
        return text
    }

    @Test func oneMegabyteDocumentParsesCompletely() throws {
        let text = Self.largeDocument()
        let root: YAMLNode? = try load(text)
        let resources = try #require(root?["resources"]?.items)
        #expect(resources.count > 1_500)
        #expect(resources[7]["port"]?["entity"]?["mappings"]?["properties"]?["count"]?.value == .int(7))
        #expect(resources[7]["port"]?["entity"]?["mappings"]?["blueprint"]?.scalar?.text == "\"jiraIssue\"")
    }
}

@Suite struct ConcurrencyTests {
    /// Each parse owns its libyaml parser, so documents load in parallel without interference.
    @Test func parsesConcurrently() async throws {
        let texts = (0..<16).map { "id: \($0)\nitems: [" + Array(repeating: "x", count: 2_000).joined(separator: ", ") + "]\n" }
        let ids = try await withThrowingTaskGroup(of: Int?.self) { group in
            for text in texts {
                group.addTask {
                    let root = try YAML.parse(text, file: "t.yml")
                    return root["items"]?.items?.count == 2_000 ? root["id"]?.value.flatMap { value in
                        if case .int(let id) = value { return id } else { return nil }
                    } : nil
                }
            }
            var ids: [Int] = []
            for try await id in group { ids.append(try #require(id)) }
            return ids.sorted()
        }
        #expect(ids == Array(0..<16))
    }
}
