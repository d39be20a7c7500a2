import Foundation
import TideCore
import Testing
import TideCatalog
import TideEngine
import TideIntegration
import TideMapping
import TideModel
import TideTesting

/// The resync's speed paths (partial parsing of responses, pages mapped on several threads while
/// the next one is fetched) must not change a single entity, error or misconfiguration.
@Suite struct PipelineTests {
    /// 3 pages of 100 awkward records: wrong types where the mapping expects objects, missing
    /// fields, escapes, unicode, numbers libjq prints specially, records that are not objects.
    static func page(_ number: Int, pages: Int) -> String {
        var records: [String] = []
        for index in 0..<100 {
            let id = number * 100 + index
            let fields: String
            switch id % 9 {
            case 0: fields = #""just a string""#
            case 1: fields = #"{"summary": null, "status": 7, "labels": ["a", "b\"c"], "extra": {"deep": [1, 2, {"x": "}"}]}}"#
            case 2: fields = #"{"summary": "naïve \u00e9 ✓ \ud83d\ude00", "status": {"name": "Done", "id": 3}, "subtasks": [{"key": "S-1"}, {"key": null}, 5]}"#
            case 3: fields = #"{"summary": "big", "points": 1e1000, "neg": -0, "exact": 100000000000000000001, "status": {"name": ["list"]}}"#
            case 4: fields = #"{"status": {"name": "Open"}, "status": {"name": "Reopened"}, "labels": "not-a-list"}"#
            case 5: fields = "null"
            case 6: fields = #"{"summary": "tabs\tand\nnewlines", "assignee": {"accountId": "u-\#(id % 5)", "avatarUrls": {"48x48": "x"}}}"#
            default: fields = #"{"summary": "Issue \#(id)", "status": {"name": "In Progress"}, "labels": [], "subtasks": []}"#
            }
            if id % 50 == 49 {
                records.append(#""not an object \#(id)""#)
            } else {
                records.append(#"{"key": "K-\#(id)", "self": "https://example.atlassian.net/rest/api/3/issue/\#(id)", "fields": \#(fields), "ignored": {"blob": "\#(String(repeating: "z", count: 200))"}}"#)
            }
        }
        let next = number + 1 < pages ? #""page-\#(number + 1)""# : "null"
        return #"{"issues": [\#(records.joined(separator: ", "))], "nextPageToken": \#(next), "isLast": \#(number + 1 == pages)}"#
    }

    static let integration = """
    name: odd
    configuration:
      - {name: host, type: url, required: true}
    http:
      baseUrl: "{{ .config.host }}"
    kinds:
      issue:
        selector:
          label: {type: string, description: Unread by the request; resources that set it read the kind on their own.}
        request: {path: /search}
        records: .issues
        pagination: {type: cursor, cursor: .nextPageToken, param: pageToken, stop: .isLast}
    """

    static let mapping = """
    resources:
      - kind: issue
        selector: {query: '(.fields.status.name? // "") != "Closed"'}
        port:
          entity:
            mappings:
              identifier: .key
              title: .fields.summary
              blueprint: '"oddIssue"'
              properties:
                url: (.self | split("/") | .[:3] | join("/")) + "/browse/" + .key
                status: .fields.status.name
                labels: .fields.labels
                labelCount: .fields.labels | length
                points: .fields.points
                neg: .fields.neg
                exact: .fields.exact
                text: '"\\(.key): \\(.fields.summary // "none")"'
                statusKeys: .fields.status | keys? // []
                asText: .fields.extra | tojson
              relations:
                subtasks: .fields.subtasks | map(.key)
                assignee: .fields.assignee.accountId
    """

    struct Outcome: Equatable {
        var entities: [String]
        var records = 0, entityCount = 0, errors = 0
        var misconfigurations: [String: [String: Int]]
    }

    static func run(threads: Int, partialParsing: Bool) async throws -> Outcome {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-pipeline-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        try integration.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        try mapping.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
        try #"[{"identifier": "oddIssue", "schema": {"properties": {}}, "relations": {}}]"#
            .write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
        let server = try await TestHTTPServer.start { request in
            let number = Int(request.queryValue("pageToken")?.dropFirst(5) ?? "0") ?? 0
            return .json(page(number, pages: 3))
        }
        let integration = try Integration.load(directory: folder.path)
        let config = try ConfigurationResolver(overrides: ["host": server.baseURL], environment: [:]).resolve(for: integration)
        let catalog = try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "odd", installationIdentifier: "t"))
        let summary = try await Resync(integration: integration, mapping: integration.defaultMapping!, configuration: config, sink: sink,
                                       mappingOptions: MappingOptions(threads: threads, partialParsing: partialParsing))
            .run(observer: Silent())
        await server.stop()
        let kind = summary.kinds[0]
        #expect(kind.failure == nil)
        #expect(kind.pages == 3)
        let entities = try catalog.entities(blueprint: "oddIssue").map { entity in
            [entity.identifier, entity.title?.text ?? "-", entity.properties.text, entity.relations.text].joined(separator: " | ")
        }
        return Outcome(entities: entities.sorted(), records: kind.report.records, entityCount: kind.entities,
                       errors: kind.report.errorCount,
                       misconfigurations: kind.report.misconfigurations.mapValues { $0.problems })
    }

    @Test func partialParsingAndThreadsChangeNothing() async throws {
        let reference = try await Self.run(threads: 1, partialParsing: false)
        // The records really are awkward: some fail, some fields are misconfigured.
        #expect(reference.records == 300)
        #expect(reference.errors > 6)
        #expect(reference.entityCount > 200)
        #expect(reference.misconfigurations["properties.status"] != nil)
        #expect(reference.misconfigurations["properties.url"] == nil)
        for (threads, partial) in [(1, true), (2, true), (4, true), (3, false)] {
            let outcome = try await Self.run(threads: threads, partialParsing: partial)
            #expect(outcome == reference, "threads \(threads), partial parsing \(partial)")
        }
    }

    /// Resources fetched side by side give what one after the other gives: the same entities in
    /// every blueprint, the same per-kind counts in mapping order, the same reconciliation. (Each
    /// sets its own selector value, so each reads the kind itself rather than sharing one read.)
    @Test func resourcesSideBySideChangeNothing() async throws {
        let mapping = """
        resources:
          - kind: issue
            selector: {query: 'true', label: a}
            port: {entity: {mappings: {identifier: .key, blueprint: '"oddIssue"', title: .fields.summary}}}
          - kind: issue
            selector: {query: '(.fields.status.name? // "") == "In Progress"', label: b}
            port: {entity: {mappings: {identifier: .key, blueprint: '"oddDoing"', properties: {status: .fields.status.name}}}}
          - kind: issue
            selector: {query: 'true', label: c}
            port: {entity: {mappings: {identifier: '.key + "-copy"', blueprint: '"oddCopy"', relations: {assignee: .fields.assignee.accountId}}}}
        """
        func run(_ width: Int) async throws -> [String] {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-side-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
            try Self.integration.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
            try mapping.write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
            try #"[{"identifier": "oddIssue", "schema": {"properties": {}}, "relations": {}}, {"identifier": "oddDoing", "schema": {"properties": {}}, "relations": {}}, {"identifier": "oddCopy", "schema": {"properties": {}}, "relations": {}}]"#
                .write(to: folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
            // The first request is held until another one arrives (at most 5 s), so that side by
            // side the resources' requests overlap however loaded the machine is; one after the
            // other, nothing else arrives and it is answered after the 5 s.
            let inFlight = Locked(0), first = Locked(true)
            let server = try await TestHTTPServer.start { request in
                inFlight.withLock { $0 += 1 }
                defer { inFlight.withLock { $0 -= 1 } }
                if first.withLock({ state in defer { state = false }; return state }) {
                    let deadline = ContinuousClock.now + .seconds(5)
                    while inFlight.current < 2, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(5)) }
                }
                return TestResponse.json(Self.page(Int(request.queryValue("pageToken")?.dropFirst(5) ?? "0") ?? 0, pages: 3))
            }
            let integration = try Integration.load(directory: folder.path)
            let config = try ConfigurationResolver(overrides: ["host": server.baseURL], environment: [:]).resolve(for: integration)
            let catalog = try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path)
            let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "odd", installationIdentifier: "t"))
            var resync = Resync(integration: integration, mapping: integration.defaultMapping!, configuration: config, sink: sink)
            resync.resourcesAtOnce = width
            let summary = try await resync.run(observer: Silent())
            if width > 1 { #expect(server.maxConcurrentRequests > 1, "the resources' requests overlapped") }
            await server.stop()
            var lines = summary.kinds.map { "\($0.label) pages \($0.pages) records \($0.records) entities \($0.entities) errors \($0.report.errorCount)" }
            lines.append("\(summary.reconciliation)")
            for blueprint in ["oddIssue", "oddDoing", "oddCopy"] {
                lines += try catalog.entities(blueprint: blueprint).map { entity in
                    [blueprint, entity.identifier, entity.title?.text ?? "-", entity.properties.text, entity.relations.text].joined(separator: " | ")
                }.sorted()
            }
            return lines
        }
        let oneByOne = try await run(1)
        let sideBySide = try await run(3)
        #expect(oneByOne.count > 500)
        #expect(oneByOne.prefix(3).map { $0.prefix(8) } == ["issue[0]", "issue[1]", "issue[2]"])
        #expect(sideBySide == oneByOne)
    }
}
