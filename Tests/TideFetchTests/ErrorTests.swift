import Foundation
import Testing
import TideCore
import TideFetch
import TideHTTP
import TideJQ
import TideTesting

@Suite struct ErrorTests {
    static let item = """
    item:
      request: {path: /items}
      records: .values
    """

    @Test func malformedJSONNamesTheRequestAndTheParseMessage() async throws {
        let harness = try await Harness.start(integrationYAML(kinds: Self.item), fixtures: [
            Fixture(match: get("/items"), response: .text("<html>Login required</html>")),
        ])
        let outcome = try await harness.fetchAll("item")
        let error = try #require(outcome.error)
        #expect(error.reason == .malformedJSON)
        let text = String(describing: error)
        #expect(text.contains(#"kind "item", page 1: GET \#(harness.server.baseURL)/items"#))
        #expect(text.contains("not valid JSON"))
        #expect(text.contains("<html>Login required</html>"))
        #expect(error.hint != nil)
        await harness.stop()
    }

    @Test func recordsThatAreNotAnArrayNameTheKindAndPage() async throws {
        let kind = """
        item:
          request: {path: /items}
          records: .count
        """
        let harness = try await Harness.start(integrationYAML(kinds: kind), fixtures: [
            Fixture(match: get("/items"), response: .json(#"{"count": 5}"#)),
        ])
        let outcome = try await harness.fetchAll("item")
        let error = try #require(outcome.error)
        #expect(error.reason == .unexpectedRecords)
        #expect(error.kind == "item" && error.page == 1)
        #expect(error.description.contains(#"records ".count" gave a number, not a list of records"#))
        #expect(error.description.contains(#"the response began: {"count": 5}"#))
        await harness.stop()
    }

    @Test func aFailureOnPage3Of5KeepsPages1And2() async throws {
        let kind = """
        item:
          request: {path: /items}
          records: .values
          pagination: {type: offset, offsetParam: startAt, limit: 1, total: .total}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kind), fixtures: [
            Fixture(match: get("/items", ["startAt": "0"]), response: page([1], extra: #""total": 5"#)),
            Fixture(match: get("/items", ["startAt": "1"]), response: page([2], extra: #""total": 5"#)),
            Fixture(match: get("/items", ["startAt": "2"]), response: .json(#"{"errorMessages": ["boom"]}"#, status: 500)),
            Fixture(match: get("/items", ["startAt": "3"]), response: page([4], extra: #""total": 5"#)),
            Fixture(match: get("/items", ["startAt": "4"]), response: page([5], extra: #""total": 5"#)),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.ids == ["1", "2"])
        let error = try #require(outcome.error)
        #expect(error.reason == .http)
        #expect(error.page == 3)
        #expect(error.status == 500)
        let text = error.description
        #expect(text.contains(#"kind "item", page 3: GET"#))
        #expect(text.contains("/items?startAt=2&limit=1 → 500"))
        #expect(text.contains("boom"))
        #expect(text.contains("hint:"))
        // Page 1 told the total, so pages 2–5 went ahead of their turn; page 3's failure ends the
        // kind and drops what came after it (those requests may or may not have left by then).
        let offsets = harness.server.requests.compactMap { $0.queryValue("startAt") }
        #expect(["0", "1", "2"].allSatisfy { offset in offsets.filter { $0 == offset }.count == 1 })
        #expect((3...5).contains(offsets.count))
        await harness.stop()
    }

    @Test func retriesOn429And503HonourRetryAfterThroughTheSessionsClient() async throws {
        let kinds = """
        item:
          request: {path: /items}
          records: .values
        search:
          request: {method: POST, path: /search, retryable: true, body: {q: 1}}
          records: .values
        write:
          request: {method: POST, path: /write}
          records: .values
        """
        let busy = [TestHeader("Retry-After", "0")]
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/items"), responses: [.json("{}", status: 429, headers: busy), .json("{}", status: 503, headers: busy), page([1])]),
            Fixture(match: FixtureMatch(method: "POST", path: "/search"), responses: [.json("{}", status: 503, headers: busy), page([2])]),
            Fixture(match: FixtureMatch(method: "POST", path: "/write"), responses: [.json("{}", status: 503, headers: busy), page([3])]),
        ])
        #expect(harness.client.configuration.retry.maxAttempts == 3)
        #expect(harness.client.configuration.retry.maxTotalWait == .seconds(5))
        let items = try await harness.fetchAll("item")
        #expect(items.error == nil)
        #expect(items.ids == ["1"])
        let search = try await harness.fetchAll("search")
        #expect(search.ids == ["2"])
        // A POST not marked retryable is sent once.
        let write = try await harness.fetchAll("write")
        #expect(write.error?.status == 503)
        #expect(harness.server.requests.map(\.path) == ["/items", "/items", "/items", "/search", "/search", "/write"])
        await harness.stop()
    }

    @Test func sensitiveValuesNeverAppearInErrors() async throws {
        let secret = "sup3r-s3cret/value"
        let settings = """
        - name: key
          type: string
          sensitive: true
        """
        let kinds = """
        echo:
          request: {path: /echo}
          records: .values
        html:
          request: {path: /html}
          records: .values
        missing:
          request: {path: "/missing/{{ .config.key }}"}
          records: .values
        """
        let http = """
        auth: {type: apiKey, name: k, value: "{{ .config.key }}", in: query}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds, http: http, configuration: settings), fixtures: [
            Fixture(match: get("/echo"), response: .json("{\"error\": \"key \(secret) is not valid\"}", status: 401)),
            Fixture(match: get("/html"), response: .text("<p>your key: \(secret)</p>")),
        ], config: ["key": jsonString(secret)])
        var descriptions: [String] = []
        for kind in ["echo", "html", "missing"] {
            let outcome = try await harness.fetchAll(kind)
            let error = try #require(outcome.error)
            descriptions.append(String(describing: error))
            descriptions.append("\(error.request ?? "") \(error.message) \(error.bodyExcerpt ?? "") \(error.httpError.map { "\($0)" } ?? "")")
        }
        for text in descriptions {
            #expect(!text.contains(secret), "leaked in: \(text)")
            #expect(!text.contains("sup3r-s3cret%2Fvalue"), "leaked encoded in: \(text)")
        }
        #expect(descriptions[0].contains("401"))
        #expect(descriptions[0].contains("***"))
        await harness.stop()
    }

    @Test func aLoginTokenObtainedAtRunTimeIsRedactedToo() async throws {
        let http = """
        auth:
          type: login
          request: {path: /login, body: {user: me}}
          token: .token
        """
        let harness = try await Harness.start(integrationYAML(kinds: Self.item, http: http), fixtures: [
            Fixture(match: FixtureMatch(method: "POST", path: "/login", jsonBody: #"{"user": "me"}"#), response: .json(#"{"token": "rt-81f2a9"}"#)),
            Fixture(match: get("/items"), response: .json(#"{"detail": "bad request for Bearer rt-81f2a9"}"#, status: 400)),
        ])
        let outcome = try await harness.fetchAll("item")
        let error = try #require(outcome.error)
        #expect(error.status == 400)
        #expect(!String(describing: error).contains("rt-81f2a9"))
        #expect(String(describing: error).contains("bad request for ***"))
        #expect(!harness.session.redactor.redact("rt-81f2a9").contains("rt-81f2a9"))
        await harness.stop()
    }

    @Test func aFailedLoginIsALoginError() async throws {
        let http = """
        auth:
          type: login
          request: {path: /login}
          token: .token
        """
        let harness = try await Harness.start(integrationYAML(kinds: Self.item, http: http), fixtures: [
            Fixture(match: FixtureMatch(method: "POST", path: "/login"), response: .json(#"{"error": "bad password"}"#, status: 403)),
        ])
        let outcome = try await harness.fetchAll("item")
        let error = try #require(outcome.error)
        #expect(error.reason == .login)
        #expect(error.status == 403)
        #expect(error.description.contains("login request failed"))
        #expect(error.description.contains("POST \(harness.server.baseURL)/login"))
        await harness.stop()
    }

    @Test func compileErrorsAreReportedTogetherWithPositions() async throws {
        let kinds = """
        item:
          request: {path: "/items/{{ .a | | }}"}
          records: .values | |
          pagination:
            type: cursor
            cursor: .next[
            param: c
        """
        let server = try await FixtureServer.start([])
        do {
            _ = try await Harness.start(integrationYAML(kinds: kinds), server: server)
            Issue.record("expected diagnostics")
        } catch let error as Diagnostics {
            #expect(error.items.count == 3)
            #expect(error.items.allSatisfy { $0.location?.line != nil })
            #expect(error.description.contains("records of kind \"item\""))
            #expect(error.description.contains("pagination.cursor of kind \"item\""))
        }
        await server.stop()
    }

    @Test func aMissingRequiredValueAndAnUnknownKindAreDiagnostics() async throws {
        let integration = try loadIntegration(integrationYAML(kinds: Self.item))
        let client = HTTPClient(configuration: .init(for: integration))
        #expect(throws: Diagnostics.self) { try FetchSession(integration: integration, config: [:], client: client) }
        let session = try FetchSession(integration: integration, config: ["host": jsonString("http://127.0.0.1:1")], client: client)
        do {
            _ = try KindFetcher(session: session, kind: "itme")
            Issue.record("expected diagnostics")
        } catch {
            #expect(error.description.contains(#"did you mean "item""#))
        }
        await client.shutdown()
    }
}
