import Foundation
import Testing
import TideHTTP
import TideJQ
import TideMapping
import TideModel
import TideTesting
import TideCore

/// The Jira integration's data files: the replay fixtures serve exactly the requests Tide's
/// Jira kinds send (docs/integration-format.md), and the default mapping fits the blueprints.
@Suite("Jira fixtures and blueprints", .timeLimit(.minutes(2)))
struct JiraFixturesTests {
    static let jira = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("integrations/jira")
    static let fixturesFile = jira.appendingPathComponent("fixtures/fixtures.yml").path
    static let mappingFile = jira.appendingPathComponent(".port/resources/port-app-config.yml").path
    static let blueprintsFile = jira.appendingPathComponent(".port/resources/blueprints.json").path
    /// Tide's Jira kinds all page 50 at a time (integration.yml).
    static let pageSize = 50

    // MARK: - Replay

    /// What a full resync of the three default kinds fetched, page by page.
    struct Replay {
        var projects: [[[String: Any]]] = []
        var issues: [[[String: Any]]] = []
        var users: [[[String: Any]]] = []
        var approximateCount: Int?
    }

    @Test func fixturesServeEveryPageOfEveryKind() async throws {
        let file = try FixtureFile.load(contentsOf: Self.fixturesFile)
        #expect(file.entries.count == 15)
        let server = try await FixtureServer.start(file.fixtures)
        let client = HTTPClient(configuration: .init(retry: .never))
        let replay: Replay
        do {
            replay = try await Self.resync(client: client, baseURL: server.baseURL)
        } catch {
            await client.shutdown()
            await server.stop()
            throw error
        }
        await client.shutdown()
        await server.stop()

        #expect(replay.projects.map(\.count) == [50, 50, 17])
        // 31 issues in 7 projects, NW's over two pages; 116 of the 117 projects count issues.
        #expect(replay.issues.map(\.count).reduce(0, +) == 31)
        #expect(replay.issues.count == 8)
        #expect(replay.approximateCount == 31, "the count the partitions must reach")
        #expect(replay.users.map(\.count) == [50, 23])
        #expect(server.unmatchedRequests.map { "\($0.method) \($0.uri)" } == [])
        #expect(server.unusedFixtures.map(\.name) == [])
        let expectedRequests = 3 + 116 + 1 + 1 + 2  // projects, partitions, NW page 2, count, users
        #expect(server.requests.count == expectedRequests)
        let emptyAnswer = "issues of a project with none that match"
        #expect(server.callCounts.filter { $0.key != emptyAnswer }.values.allSatisfy { $0 == 1 }, "each page is fetched once: \(server.callCounts)")
        #expect(server.callCounts[emptyAnswer] == 116 - 7)

        Self.checkConsistency(replay)
    }

    /// Walks each kind's pagination as Tide's engine does for integration.yml's Jira kinds.
    static func resync(client: HTTPClient, baseURL: String) async throws -> Replay {
        let mapping = try PortAppConfig.load(contentsOf: mappingFile)
        var replay = Replay()

        // project: offset; stops when `isLast` is true, or on a short or empty page.
        let expand = try selectorString(mapping, kind: "project", field: "expand") ?? "insight"
        var startAt = 0
        while true {
            let url = "\(baseURL)/rest/api/3/project/search?expand=\(expand)&startAt=\(startAt)&maxResults=\(pageSize)"
            let page = try object(try await client.send(HTTPRequest(url: url)))
            let values = try #require(page["values"] as? [[String: Any]], "project page at \(startAt) has no values")
            #expect(page["startAt"] as? Int == startAt)
            if values.isEmpty { break }
            replay.projects.append(values)
            if page["isLast"] as? Bool == true || values.count < pageSize { break }
            startAt += pageSize
            try #require(replay.projects.count < 10, "project pagination does not end")
        }

        // issue: one partition per project Jira counts issues in, `project = "KEY" AND (<jql>)`,
        // each a cursor in the body that stops when the token is missing or empty, or `isLast`.
        let jql = try #require(try selectorString(mapping, kind: "issue", field: "jql"))
        for project in replay.projects.joined() {
            let insight = project["insight"] as? [String: Any]
            guard (insight?["totalIssueCount"] as? Int ?? 1) > 0, let key = project["key"] as? String else { continue }
            var token: String?
            var pages = 0
            while true {
                var body: [String: Any] = ["jql": "project = \"\(key)\" AND (\(jql))", "fields": ["*all"], "maxResults": pageSize]
                if let token { body["nextPageToken"] = token }
                let json = String(decoding: try JSONSerialization.data(withJSONObject: body), as: UTF8.self)
                let page = try object(try await client.send(.json(url: "\(baseURL)/rest/api/3/search/jql", body: json,
                                                                  retryable: true)))
                let issues = try #require(page["issues"] as? [[String: Any]])
                #expect(issues.count <= pageSize, "Jira never returns more than maxResults")
                #expect(issues.allSatisfy { (($0["fields"] as? [String: Any])?["project"] as? [String: Any])?["key"] as? String == key },
                        "a partition holds its project's issues only")
                if issues.isEmpty { break }
                replay.issues.append(issues)
                pages += 1
                token = page["nextPageToken"] as? String
                if token?.isEmpty ?? true || page["isLast"] as? Bool == true { break }
                try #require(pages < 10, "issue pagination does not end")
            }
            #expect(token == nil, "the last issue page of \(key) carries no nextPageToken")
        }
        // The count that checks the partitions covered the whole search.
        let countBody = String(decoding: try JSONSerialization.data(withJSONObject: ["jql": jql]), as: UTF8.self)
        let count = try object(try await client.send(.json(url: "\(baseURL)/rest/api/3/search/approximate-count", body: countBody,
                                                           retryable: true)))
        replay.approximateCount = count["count"] as? Int

        // user: offset over a bare array; only a short or empty page ends it.
        startAt = 0
        while true {
            let url = "\(baseURL)/rest/api/3/users/search?startAt=\(startAt)&maxResults=\(pageSize)"
            let response = try await client.send(HTTPRequest(url: url))
            let users = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [[String: Any]],
                                     "users page at \(startAt) is not an array")
            if users.isEmpty { break }
            replay.users.append(users)
            if users.count < pageSize { break }
            startAt += pageSize
            try #require(replay.users.count < 10, "user pagination does not end")
        }
        return replay
    }

    static func object(_ response: HTTPResponse) throws -> [String: Any] {
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("application/json") == true)
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any],
                            "\(response.url) did not answer a JSON object")
    }

    /// A selector field of the default mapping's resource for `kind`, as the string it holds.
    static func selectorString(_ mapping: PortAppConfig, kind: String, field: String) throws -> String? {
        guard let json = mapping.resources(ofKind: kind).first?.selector.field(field) else { return nil }
        return try JSON(parsing: json).stringValue
    }

    /// The records point at each other the way the mapping's relations expect.
    static func checkConsistency(_ replay: Replay) {
        let projects = replay.projects.flatMap { $0 }
        let issues = replay.issues.flatMap { $0 }
        let users = replay.users.flatMap { $0 }
        let projectKeys = Set(projects.compactMap { $0["key"] as? String })
        let issueKeys = Set(issues.compactMap { $0["key"] as? String })
        let accountIDs = Set(users.compactMap { $0["accountId"] as? String })
        #expect(projectKeys.count == projects.count, "project keys are unique")
        #expect(issueKeys.count == issues.count, "issue keys are unique")
        #expect(accountIDs.count == users.count, "account ids are unique")

        var subtasksWithParent = 0
        var unassigned = 0
        for issue in issues {
            let key = issue["key"] as? String ?? "?"
            guard let fields = issue["fields"] as? [String: Any] else {
                Issue.record("\(key) has no fields")
                continue
            }
            let project = (fields["project"] as? [String: Any])?["key"] as? String
            #expect(project.map(projectKeys.contains) == true, "\(key): project \(project ?? "nil") is not served")
            for role in ["assignee", "reporter", "creator"] {
                if fields[role] is NSNull {
                    if role == "assignee" { unassigned += 1 } else { Issue.record("\(key) has no \(role)") }
                    continue
                }
                let account = (fields[role] as? [String: Any])?["accountId"] as? String
                #expect(account.map(accountIDs.contains) == true, "\(key): \(role) \(account ?? "nil") is not a served user")
            }
            for subtask in fields["subtasks"] as? [[String: Any]] ?? [] {
                #expect((subtask["key"] as? String).map(issueKeys.contains) == true, "\(key): subtask not served")
            }
            if let parent = fields["parent"] as? [String: Any] {
                let parentKey = parent["key"] as? String
                #expect(parentKey.map(issueKeys.contains) == true, "\(key): parent \(parentKey ?? "nil") not served")
                if (fields["issuetype"] as? [String: Any])?["subtask"] as? Bool == true { subtasksWithParent += 1 }
            }
        }
        // The hand-written cases generate.py promises.
        #expect(subtasksWithParent >= 3)
        #expect(unassigned > 0)
        #expect(users.contains { $0["emailAddress"] == nil }, "some users hide their email")
        #expect(Set(users.compactMap { $0["accountType"] as? String }) == ["atlassian", "app"])
        #expect(users.allSatisfy { ($0["avatarUrls"] as? [String: String])?["48x48"] != nil })
        #expect(projects.contains { ($0["name"] as? String)?.unicodeScalars.contains { !$0.isASCII } == true })
        #expect(projects.allSatisfy { ($0["insight"] as? [String: Any])?["totalIssueCount"] is Int })
    }

    // MARK: - Mapping and blueprints

    @Test func blueprintsCoverTheDefaultMapping() throws {
        let blueprints = try Blueprint.list(fromJSON: try String(contentsOfFile: Self.blueprintsFile, encoding: .utf8))
        #expect(blueprints.map(\.identifier) == ["jiraProject", "jiraUser", "jiraIssue"])
        let byID = Dictionary(uniqueKeysWithValues: blueprints.map { ($0.identifier, $0) })
        let mapping = try PortAppConfig.load(contentsOf: Self.mappingFile)

        var checked: Set<String> = []
        for resource in mapping.resources where ["project", "user", "issue"].contains(resource.kind) {
            let mapped = resource.port.entity
            guard case .expression(let expression)? = mapped.tree("blueprint"),
                  let identifier = try JSON(parsing: expression.source).stringValue else {
                Issue.record("the \(resource.kind) resource's blueprint is not a string literal")
                continue
            }
            let blueprint = try #require(byID[identifier], "no blueprint \(identifier) for kind \(resource.kind)")
            checked.insert(identifier)
            for name in Self.keys(mapped.tree("properties")) {
                #expect(blueprint.properties[name] != nil, "\(identifier) has no property \(name)")
            }
            for name in Self.keys(mapped.tree("relations")) {
                #expect(blueprint.relations[name] != nil, "\(identifier) has no relation \(name)")
            }
        }
        #expect(checked == ["jiraProject", "jiraUser", "jiraIssue"])

        let issue = try #require(byID["jiraIssue"])
        #expect(issue.relations["project"] == Blueprint.Relation(target: "jiraProject"))
        #expect(issue.relations["parentIssue"] == Blueprint.Relation(target: "jiraIssue"))
        #expect(issue.relations["subtasks"] == Blueprint.Relation(target: "jiraIssue", many: true))
        #expect(issue.relations["assignee"] == Blueprint.Relation(target: "jiraUser"))
        #expect(issue.relations["reporter"] == Blueprint.Relation(target: "jiraUser"))
        for blueprint in blueprints {
            #expect(blueprint.requiredProperties.isEmpty, "\(blueprint.identifier): Jira leaves any field empty")
            for (name, schema) in blueprint.properties {
                #expect(try schema.json()["type"]?.stringValue != nil, "\(blueprint.identifier).\(name) has no type")
            }
        }
    }

    /// Every served record maps, through the default mapping, to an entity whose property values
    /// have the blueprint's types and whose relations point at served entities.
    @Test func servedRecordsMapOntoTheBlueprints() throws {
        let blueprints = try Blueprint.list(fromJSON: try String(contentsOfFile: Self.blueprintsFile, encoding: .utf8))
        let byID = Dictionary(uniqueKeysWithValues: blueprints.map { ($0.identifier, $0) })
        let mapping = try PortAppConfig.load(contentsOf: Self.mappingFile)
        let folder = Self.jira.appendingPathComponent("fixtures")
        func records(_ files: [String], key: String?) throws -> [JSON] {
            try files.flatMap { name -> [JSON] in
                let page = try JSON(parsing: try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8))
                return (key.flatMap { page[$0] } ?? page).arrayElements
            }
        }
        let sources: [(kind: String, records: [JSON])] = [
            ("project", try records(["projects/startAt-0.json", "projects/startAt-50.json", "projects/startAt-100.json"],
                                    key: "values")),
            ("user", try records(["users/startAt-0.json", "users/startAt-50.json"], key: nil)),
            ("issue", try records(["issues/page-1.json", "issues/page-2.json", "issues/page-3.json"], key: "issues")),
        ]

        var entities: [String: [Entity]] = [:]
        var nulls: [String: Set<String>] = [:]
        for (kind, items) in sources {
            let resource = try #require(mapping.resources(ofKind: kind).first)
            let mapper = ResourceMapper(resource: resource)
            #expect(mapper.compileProblems.isEmpty)
            var report = MappingReport()
            for record in items {
                mapper.map(record: record, report: &report) { outcome in
                    if case .entity(let entity, _) = outcome {
                        entities[entity.blueprint, default: []].append(entity)
                    } else {
                        Issue.record("a \(kind) record did not map: \(outcome)")
                    }
                }
            }
            // Ocean reports a field that evaluates to null as a misconfiguration; here those are
            // the fixtures' deliberate nulls and missing keys, and nothing else may go wrong.
            let problems = report.misconfigurations.values.flatMap { $0.problems.keys }
            #expect(Set(problems).subtracting(["null"]).isEmpty, "\(kind): \(report.misconfigurations)")
            nulls[kind] = Set(report.misconfigurations.keys)
        }
        #expect(nulls["project"] == [])
        #expect(nulls["user"] == ["properties.emailAddress", "properties.locale", "properties.timeZone"])
        #expect(nulls["issue"] == ["properties.creator", "properties.priority", "properties.resolutionDate",
                                   "relations.assignee", "relations.parentIssue"])
        #expect(entities["jiraProject"]?.count == 117)
        #expect(entities["jiraUser"]?.count == 73)
        #expect(entities["jiraIssue"]?.count == 31)

        let identifiers = entities.mapValues { Set($0.compactMap(\.identifierString)) }
        for (blueprintID, list) in entities {
            let blueprint = try #require(byID[blueprintID])
            for entity in list {
                let name = "\(blueprintID) \(entity.identifierString ?? entity.identifier.text)"
                for (property, value) in try (entity.properties?.json().objectMembers ?? []) where !value.isNull {
                    let type = try blueprint.properties[property]?.json()["type"]?.stringValue
                    #expect(Self.has(value, type: type), "\(name): \(property) = \(value) is not a \(type ?? "?")")
                }
                for (relation, value) in try (entity.relations?.json().objectMembers ?? []) where !value.isNull {
                    let target = try #require(blueprint.relations[relation]).target
                    let keys = value.kind == .array ? value.arrayElements : [value]
                    for key in keys {
                        #expect(key.stringValue.map { identifiers[target]?.contains($0) == true } == true,
                                "\(name): \(relation) → \(key) is not a served \(target)")
                    }
                }
            }
        }
    }

    static func keys(_ tree: MappingTree?) -> [String] {
        guard case .object(let members)? = tree else { return [] }
        return members.map(\.key)
    }

    static func has(_ value: JSON, type: String?) -> Bool {
        switch type {
        case "string": value.kind == .string
        case "number": value.kind == .number
        case "boolean": value.kind == .bool
        case "array": value.kind == .array
        case "object": value.kind == .object
        default: false
        }
    }
}
