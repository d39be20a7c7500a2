import Foundation
import Testing
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideTesting

/// The shipped Jira integration, fetched from a loopback server that answers as Jira Cloud does.
@Suite struct JiraTests {
    static let directory = #filePath.replacingOccurrences(of: "Tests/TideFetchTests/JiraTests.swift", with: "integrations/jira")

    func harness(_ fixtures: [Fixture]) async throws -> (FetchSession, HTTPClient, FixtureServer) {
        let server = try await FixtureServer.start(fixtures)
        let integration = try Integration.load(directory: Self.directory)
        let config = ["jiraHost": jsonString(server.baseURL), "atlassianUserEmail": jsonString("me@example.com"),
                      "atlassianUserToken": jsonString("atl-token-1")]
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        let session = try FetchSession(integration: integration, config: config, client: client)
        return (session, client, server)
    }

    static let basic = "Basic " + Data("me@example.com:atl-token-1".utf8).base64EncodedString()

    @Test func projectsPageByStartAtUntilIsLast() async throws {
        func projects(_ range: Range<Int>, isLast: Bool) -> TestResponse {
            let values = range.map { #"{"id": "\#($0)", "key": "P\#($0)"}"# }.joined(separator: ",")
            return .json(#"{"values": [\#(values)], "isLast": \#(isLast)}"#)
        }
        let path = "/rest/api/3/project/search"
        let (session, client, server) = try await harness([
            Fixture(match: get(path, ["startAt": "0", "maxResults": "50", "expand": "insight"], headers: ["Authorization": Self.basic]),
                    response: projects(0..<50, isLast: false)),
            Fixture(match: get(path, ["startAt": "50", "maxResults": "50", "expand": "insight"], headers: ["Authorization": Self.basic]),
                    response: projects(50..<100, isLast: true)),
        ])
        let outcome = await drain(try KindFetcher(session: session, kind: "project"))
        #expect(outcome.error == nil)
        #expect(outcome.pages.map(\.ids.count) == [50, 50])
        #expect(server.requests.count == 2)
        #expect(server.requests.first?.header("Accept") == "application/json")
        await client.shutdown()
        await server.stop()
    }

    @Test func issuesSearchWithNextPageTokenInTheBody() async throws {
        let search = "/rest/api/3/search/jql"
        let (session, client, server) = try await harness([
            Fixture(match: FixtureMatch(method: "POST", path: search, jsonBody: #"{"nextPageToken": "n2"}"#),
                    response: .json(#"{"issues": [{"id": "3"}], "isLast": true}"#)),
            Fixture(match: FixtureMatch(method: "POST", path: search, headers: ["Authorization": Self.basic],
                                        jsonBody: #"{"jql": "project = ABC", "fields": ["key", "summary"], "maxResults": 50}"#),
                    response: .json(#"{"issues": [{"id": "1"}, {"id": "2"}], "nextPageToken": "n2", "isLast": false}"#)),
        ])
        let fetcher = try KindFetcher(session: session, kind: "issue",
                                      selector: ["jql": jsonString("  project = ABC "), "fields": jsonString("key, summary")])
        let outcome = await drain(fetcher)
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2", "3"])
        // Two distinct pages were asked for (a loaded machine may retry one after a timeout).
        #expect(Set(server.requests.map(\.bodyText)).count == 2)
        #expect(server.unmatchedRequests.isEmpty)
        await client.shutdown()
        await server.stop()
    }
}
