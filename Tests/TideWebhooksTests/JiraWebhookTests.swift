import Foundation
import Testing
import TideCatalog
import TideEngine
import TideHTTP
import TideIntegration
import TideJQ
import TideModel
import TideTesting
@testable import TideWebhooks

/// The shipped Jira integration's webhooks against its recorded refetch responses.
@Suite struct JiraWebhookTests {
    static let jira = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("integrations/jira").path

    @Test func issueEventsAreRefetchedWithTheSelectorsJQLAndDeletesComeFromThePayload() async throws {
        let fixtures = try FixtureFile.load(contentsOf: Self.jira + "/fixtures/webhooks.yml")
        let server = try await FixtureServer.start(fixtures.fixtures)
        let integration = try Integration.load(directory: Self.jira)
        let secret = "jira-webhook-secret"
        let configuration = try ConfigurationResolver(
            overrides: ["jiraHost": server.baseURL, "atlassianUserEmail": "a@example.com", "atlassianUserToken": "t",
                        "webhookSecret": secret],
            environment: [:]).resolve(for: integration)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-jira-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let catalog = try Catalog(path: directory + "/catalog.sqlite")
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "jira", installationIdentifier: "jira-test"))
        let service = try LiveService(integration: integration, mapping: integration.defaultMapping!, configuration: configuration,
                                      sink: sink, settings: LiveSettings(host: "127.0.0.1", port: 0, listener: .webhooksOnly)) { true }
        try await service.start()
        let client = HTTPClient(configuration: .init(retry: .never))
        defer {
            Task {
                await service.shutdown()
                await client.shutdown()
                await server.stop()
            }
        }
        func send(_ body: String, signed: Bool = true) async throws -> Int {
            var headers: HTTPHeaders = ["Content-Type": "application/json"]
            if signed { headers.set("X-Hub-Signature", "sha256=" + Signatures.hmacSHA256Hex(Array(body.utf8), secret: secret)) }
            return try await client.send(HTTPRequest(method: .post, url: service.baseURL! + "/integration/webhook", headers: headers,
                                                     body: Array(body.utf8), throwsOnErrorStatus: false)).status
        }
        func issue(_ key: String) -> StoredEntity? { try? catalog.entity(blueprint: "jiraIssue", identifier: key) }

        #expect(try await send(#"{"webhookEvent": "jira:issue_updated", "issue": {"id": "10100", "key": "NW-101"}}"#, signed: false) == 401)
        #expect(try await send(#"{"webhookEvent": "jira:issue_updated", "issue": {"id": "10100", "key": "NW-101", "fields": {"summary": "stale"}}}"#) == 202)
        try await eventually("NW-101 refetched") { issue("NW-101") != nil }
        #expect(issue("NW-101")?.title?.text.contains("Zahlung per Rechnung") == true)

        // Filtered out by the JQL: the refetch finds nothing, so the issue is deleted.
        let nw999 = #"{"webhookEvent": "jira:issue_created", "issue": {"id": "10999", "key": "NW-999", "fields": {"summary": "x"}}}"#
        #expect(try await send(nw999) == 202)
        #expect(try await send(#"{"webhookEvent": "jira:issue_deleted", "issue": {"id": "10100", "key": "NW-101", "fields": {"summary": "gone"}}}"#) == 202)
        try await eventually("NW-101 deleted") { issue("NW-101") == nil }
        #expect(issue("NW-999") == nil)

        #expect(try await send(#"{"webhookEvent": "project_created", "project": {"id": "1", "key": "NEW", "name": "New", "self": "https://x.atlassian.net/rest/api/3/project/1"}}"#) == 202)
        #expect(try await send(#"{"webhookEvent": "user_created", "user": {"accountId": "u-1", "displayName": "Ada", "active": true}}"#) == 202)
        try await eventually("project and user written") {
            (try? catalog.entity(blueprint: "jiraProject", identifier: "NEW")) != nil && (try? catalog.entity(blueprint: "jiraUser", identifier: "u-1")) != nil
        }
        #expect(try await send(#"{"webhookEvent": "project_soft_deleted", "project": {"id": "1", "key": "NEW", "name": "New"}}"#) == 202)
        #expect(try await send(#"{"webhookEvent": "user_deleted", "user": {"accountId": "u-1"}}"#) == 202)
        try await eventually("project and user deleted") {
            (try? catalog.entity(blueprint: "jiraProject", identifier: "NEW")) == nil && (try? catalog.entity(blueprint: "jiraUser", identifier: "u-1")) == nil
        }
        // Matched on webhookEvent as Ocean does: anything else is accepted and ignored.
        #expect(try await send(#"{"webhookEvent": "comment_created"}"#) == 202)
        #expect(service.metrics.snapshot.ignored["/webhook"] == 1)
        // Every event so far finished (NW-999's refetch is not awaited above), so the counts below
        // are final and the next event processed is the one sent next.
        try await eventually("the earlier events finished") { service.endpoints.allSatisfy { $0.queueDepth == 0 } }
        #expect(service.metrics.snapshot.failed["/webhook"] == 0)  // present from the start, at zero
        #expect(server.requests.count == 2)

        // An issue event without a key is refused at intake and counted: no `key = null` search.
        #expect(try await send(#"{"webhookEvent": "jira:issue_updated"}"#) == 400)
        #expect(try await send(#"{"webhookEvent": "jira:issue_updated", "issue": {"id": "10200"}}"#) == 400)
        #expect(service.metrics.snapshot.rejected["/webhook"]?["no_record"] == 2)

        // A key that is itself JQL is quoted as one string literal, so it cannot widen the search.
        let widened = "APP-1 OR key = APP-2"
        let expectedJQL = #"((statusCategory != Done) OR (created >= -1w) OR (updated >= -1w)) AND key = "APP-1 OR key = APP-2""#
        server.add(Fixture("the quoted key", match: FixtureMatch(method: "POST", path: "/rest/api/3/search/jql",
                                                                 jsonBody: #"{"jql": "((statusCategory != Done) OR (created >= -1w) OR (updated >= -1w)) AND key = \"APP-1 OR key = APP-2\""}"#),
                           response: .json(#"{"issues": [], "isLast": true}"#)))
        let processed = service.metrics.snapshot.processed["/webhook", default: 0]
        #expect(try await send(#"{"webhookEvent": "jira:issue_updated", "issue": {"id": "10300", "key": "\#(widened)"}}"#) == 202)
        try await eventually("the quoted refetch") {
            service.metrics.snapshot.processed["/webhook", default: 0] + service.metrics.snapshot.failed["/webhook", default: 0] > processed
        }
        #expect(service.metrics.snapshot.failed["/webhook"] == 0)  // present from the start, at zero
        #expect(server.requests.count == 3)
        let sent = try #require(server.requests.last)
        let jql = try JSON(parsing: String(decoding: sent.body, as: UTF8.self))["jql"]?.stringValue
        #expect(jql == expectedJQL)
        #expect(issue("APP-1") == nil && issue("APP-2") == nil)
    }
}
