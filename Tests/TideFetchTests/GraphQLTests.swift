import Foundation
import Testing
import TideCore
import TideFetch
import TideHTTP
import TideJQ
import TideTesting

/// GraphQL as a request: the query and variables as the JSON body, cursor connections as
/// pagination, and the errors array of a 200 as a failure.
@Suite struct GraphQLTests {
    static let kinds = """
    issue:
      request:
        path: /graphql
        graphql:
          query: |
            query($owner: String!, $first: Int!, $after: String) {
              repository(owner: $owner, name: "app") { issues(first: $first, after: $after) {
                nodes { number title } pageInfo { endCursor hasNextPage } } }
            }
          variables: {owner: "{{ .config.org }}", first: 2}
      records: .data.repository.issues.nodes
      pagination:
        type: graphql
        pageInfo: .data.repository.issues.pageInfo
    """

    /// Three pages over `after`, each request a POST of {query, variables}.
    static func server(errorsOnPage: Int? = nil) async throws -> TestHTTPServer {
        try await TestHTTPServer.start { request in
            let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            let variables = body["variables"] as? [String: Any] ?? [:]
            guard request.method == "POST", request.path == "/graphql", (body["query"] as? String)?.contains("pageInfo") == true,
                  variables["owner"] as? String == "acme", variables["first"] as? Int == 2 else {
                return TestResponse(status: 400, body: Array("bad request".utf8))
            }
            let page = ["c1": 2, "c2": 3][variables["after"] as? String ?? ""] ?? 1
            if page == errorsOnPage {
                return .json(#"{"data": null, "errors": [{"message": "Something went wrong while executing your query."}]}"#)
            }
            let numbers = page == 3 ? [5] : [page * 2 - 1, page * 2]
            let nodes = numbers.map { #"{"number": \#($0), "title": "Issue \#($0)"}"# }.joined(separator: ",")
            let next = page < 3 ? "\"c\(page)\"" : "null"
            return .json(#"{"data": {"repository": {"issues": {"nodes": [\#(nodes)], "pageInfo": {"endCursor": \#(next), "hasNextPage": \#(page < 3)}}}}}"#)
        }
    }

    func fetch(_ server: TestHTTPServer) async throws -> Outcome {
        let integration = try loadIntegration(integrationYAML(kinds: Self.kinds, configuration: "- {name: org, type: string}"))
        let config = ["host": jsonString(server.baseURL), "org": jsonString("acme")]
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        let session = try FetchSession(integration: integration, config: config, client: client)
        let fetcher = try KindFetcher(session: session, kind: "issue")
        // Partial parsing as a resync does: it must keep pageInfo and errors.
        fetcher.parseOnly(recordPaths: JSONProjection.analyzing(".number"))
        let outcome = await drain(fetcher)
        await client.shutdown()
        return outcome
    }

    @Test func cursorConnectionsArePaginatedThroughTheAfterVariable() async throws {
        let server = try await Self.server()
        let outcome = try await fetch(server)
        await server.stop()
        #expect(outcome.error == nil)
        #expect(outcome.pages.count == 3)
        let numbers = outcome.pages.flatMap(\.ids)
        #expect(numbers.count == 5)
        let afters = server.requests.map { request -> String in
            let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any]
            return ((body?["variables"] as? [String: Any])?["after"] as? String) ?? "-"
        }
        #expect(afters == ["-", "c1", "c2"])
    }

    @Test func anErrorsArrayWithStatus200FailsThePage() async throws {
        let server = try await Self.server(errorsOnPage: 2)
        let outcome = try await fetch(server)
        await server.stop()
        let error = try #require(outcome.error)
        #expect(error.reason == .unexpectedRecords)
        #expect(error.description.contains("Something went wrong while executing your query."), "\(error.description)")
        #expect(outcome.pages.count == 1)
    }
}
