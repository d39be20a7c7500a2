import Foundation
import Testing
import TideHTTP
import TideReplay

@Suite("Fixture server", .timeLimit(.minutes(3)))
struct FixtureServerTests {
    @Test func unmatchedRequestsGet404AndAreListed() async throws {
        let fixtures = try await FixtureServer.start([
            Fixture("projects", match: FixtureMatch(method: "GET", path: "/rest/api/3/project/search"),
                    response: .json(#"{"values":[]}"#)),
            Fixture("unused", match: FixtureMatch(path: "/never"), response: .json("{}")),
        ])
        let client = HTTPClient(configuration: .init(retry: .fast))
        let ok = try await client.send(HTTPRequest(url: fixtures.url("/rest/api/3/project/search?startAt=0")))
        #expect(ok.text == #"{"values":[]}"#)

        var request = HTTPRequest(method: .post, url: fixtures.url("/rest/api/3/nothing?x=1"), body: Array(#"{"a":1}"#.utf8))
        request.throwsOnErrorStatus = false
        let missing = try await client.send(request)
        #expect(missing.status == 404)
        #expect(missing.text.contains(#""path":"\/rest\/api\/3\/nothing""#) || missing.text.contains(#""path":"/rest/api/3/nothing""#))
        #expect(missing.text.contains(#""method":"POST""#))
        #expect(missing.text.contains("no fixture matched"))
        #expect(fixtures.unmatchedRequests.map(\.path) == ["/rest/api/3/nothing"])
        #expect(fixtures.unusedFixtures.map(\.name) == ["unused"])
        #expect(fixtures.callCounts["projects"] == 1)
        await client.shutdown()
        await fixtures.stop()
    }

    @Test func sequencesAnswerInTurnAndRetriesSeeThem() async throws {
        let fixtures = try await FixtureServer.start([
            Fixture(match: FixtureMatch(method: "GET", path: "/issues"), responses: [
                TestResponse(status: 503, headers: [TestHeader("Retry-After", "0")]),
                .json(#"{"page":1}"#),
                .json(#"{"page":2}"#),
            ]),
        ])
        let client = HTTPClient(configuration: .init(retry: .fast))
        let first = try await client.send(HTTPRequest(url: fixtures.url("/issues")))
        #expect(first.text == #"{"page":1}"#)
        #expect(first.timing.attempts == 2)
        #expect(try await client.send(HTTPRequest(url: fixtures.url("/issues"))).text == #"{"page":2}"#)
        // The last response repeats.
        #expect(try await client.send(HTTPRequest(url: fixtures.url("/issues"))).text == #"{"page":2}"#)
        #expect(fixtures.unmatchedRequests.isEmpty)
        await client.shutdown()
        await fixtures.stop()
    }

    @Test func exhaustedFixturesFallThrough() async throws {
        let fixtures = try await FixtureServer.start([
            Fixture(match: FixtureMatch(path: "/once"), responses: [.text("first")], repeatsLast: false),
            Fixture(match: FixtureMatch(path: "/once"), response: .text("later")),
        ])
        let client = HTTPClient(configuration: .init(retry: .fast))
        #expect(try await client.send(HTTPRequest(url: fixtures.url("/once"))).text == "first")
        #expect(try await client.send(HTTPRequest(url: fixtures.url("/once"))).text == "later")
        #expect(try await client.send(HTTPRequest(url: fixtures.url("/once"))).text == "later")
        await client.shutdown()
        await fixtures.stop()
    }

    @Test func queryHeaderAndJSONBodySubsets() async throws {
        let fixtures = try await FixtureServer.start([
            Fixture("page 2", match: FixtureMatch(method: "POST", path: "/rest/api/3/search/jql",
                                                  jsonBody: #"{"nextPageToken":"abc","fields":["summary"]}"#),
                    response: .json(#"{"issues":[2]}"#)),
            Fixture("page 1", match: FixtureMatch(method: "POST", path: "/rest/api/3/search/jql",
                                                  headers: ["x-tenant": "t1"], jsonBody: #"{"jql":"project = A"}"#),
                    response: .json(#"{"issues":[1],"nextPageToken":"abc"}"#)),
            Fixture("offset", match: FixtureMatch(path: "/rest/api/3/project/search", query: ["startAt": "50"]),
                    response: .json(#"{"startAt":50}"#)),
        ])
        let client = HTTPClient(configuration: .init(retry: .fast))
        let page1 = try await client.send(.json(url: fixtures.url("/rest/api/3/search/jql"),
                                                body: #"{"jql":"project = A","maxResults":50,"fields":["summary"]}"#,
                                                headers: ["X-Tenant": "t1"], retryable: true))
        #expect(page1.text == #"{"issues":[1],"nextPageToken":"abc"}"#)
        let page2 = try await client.send(.json(url: fixtures.url("/rest/api/3/search/jql"),
                                                body: #"{"jql":"project = A","fields":["summary"],"nextPageToken":"abc"}"#))
        #expect(page2.text == #"{"issues":[2]}"#)
        let offset = try await client.send(HTTPRequest(url: fixtures.url("/rest/api/3/project/search?maxResults=50&startAt=50")))
        #expect(offset.text == #"{"startAt":50}"#)

        var wrong = HTTPRequest(url: fixtures.url("/rest/api/3/project/search?startAt=0"))
        wrong.throwsOnErrorStatus = false
        #expect(try await client.send(wrong).status == 404)
        #expect(fixtures.unmatchedRequests.count == 1)
        #expect(fixtures.unusedFixtures.isEmpty)
        await client.shutdown()
        await fixtures.stop()
    }

    @Test func matcherRules() {
        let request = RecordedRequest(method: "post", uri: "/a%20b?x=1&x=2&q=hello+world",
                                      headers: [TestHeader("Content-Type", "application/json")],
                                      body: Array(#"{"a":{"b":[1,true,null]},"c":"d"}"#.utf8))
        #expect(request.path == "/a b")
        #expect(request.queryValue("q") == "hello world")
        #expect(FixtureMatch(method: "POST", path: "/a b", query: ["x": "2"]).matches(request))
        #expect(!FixtureMatch(method: "GET", path: "/a b").matches(request))
        #expect(FixtureMatch(path: "/a b", headers: ["content-type": "application/json"]).matches(request))
        #expect(FixtureMatch(path: "/a b", jsonBody: #"{"a":{"b":[1,true,null]}}"#).matches(request))
        #expect(!FixtureMatch(path: "/a b", jsonBody: #"{"a":{"b":[1,1,null]}}"#).matches(request))
        #expect(!FixtureMatch(path: "/a b", jsonBody: #"{"a":{"b":[1]}}"#).matches(request))
        #expect(!FixtureMatch(path: "/a b", jsonBody: #"{"z":1}"#).matches(request))
    }
}

@Suite("Test server", .timeLimit(.minutes(3)))
struct TestServerTests {
    @Test func countsConnectionsAndCloses() async throws {
        let server = try await TestHTTPServer.start { request in
            var response = TestResponse.text("bye")
            response.closeConnection = request.path == "/close"
            return response
        }
        #expect(server.port > 0)
        let client = HTTPClient(configuration: .init(retry: .fast))
        _ = try await client.send(HTTPRequest(url: server.url("/close")))
        _ = try await client.send(HTTPRequest(url: server.url("/close")))
        #expect(server.connectionsAccepted == 2)
        #expect(server.requests.map(\.sequence) == [1, 2])
        #expect(server.requestsInFlight == 0)
        await client.shutdown()
        await server.stop()
    }
}
