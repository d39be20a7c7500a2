import Foundation
import Testing
import TideFetch
import TideHTTP
import TideTesting

/// What a hostile or broken API can do to a fetch, each against real loopback servers: a 200 that
/// is not the list the kind expects, next links and redirects to other origins, values that try to
/// change a request's path or split its headers.
@Suite("Hostile responses", .timeLimit(.minutes(3)))
struct HostileResponseTests {
    // MARK: A 200 without the records

    /// Bodies that answer 200 but are not the list `records: .values` expects.
    static let notAList: [(name: String, body: TestResponse)] = [
        ("a 0-byte body", TestResponse(status: 200, body: [])),
        ("a body that is null", .json("null")),
        ("a missing key", .json(#"{"isLast": true}"#)),
        ("Jira's invalid-JQL answer", .json(#"{"errorMessages": ["The JQL is invalid"], "errors": {}}"#)),
        ("an object where the list goes", .json(#"{"values": {"id": 1}}"#)),
        ("a scalar where the list goes", .json(#"{"values": "none"}"#)),
    ]

    @Test func aPageWhoseRecordsAreNotAListFailsTheKind() async throws {
        let kind = """
        item:
          request: {path: /items}
          records: .values
        """
        var compared = 0
        for (name, body) in Self.notAList {
            let harness = try await Harness.start(integrationYAML(kinds: kind), fixtures: [Fixture(match: get("/items"), response: body)])
            let outcome = try await harness.fetchAll("item")
            let error = try #require(outcome.error, "\(name) was taken as a page")
            #expect(error.reason == .unexpectedRecords, "\(name)")
            #expect(outcome.pages.isEmpty, "\(name)")
            #expect(error.description.contains("GET \(harness.server.baseURL)/items"), "\(name): \(error)")
            #expect(error.description.contains("nothing of kind \"item\" is deleted"), "\(name): \(error)")
            #expect(error.hint != nil)
            compared += 1
            await harness.stop()
        }
        #expect(compared == Self.notAList.count)
    }

    @Test func theWholeBodyAsRecordsMustBeAnArrayUnlessTheKindReadsOneItem() async throws {
        let kinds = """
        list:
          request: {path: /list}
        one:
          request: {path: /one}
          objectIsOneRecord: true
        """
        let errorBody = TestResponse.json(#"{"errorMessages": ["You do not have permission"]}"#)
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/list"), response: errorBody),
            Fixture(match: get("/one"), response: .json(#"{"id": "only"}"#)),
        ])
        let list = try await harness.fetchAll("list")
        #expect(list.error?.reason == .unexpectedRecords)
        #expect(list.error?.hint?.contains("objectIsOneRecord: true") == true)
        let one = try await harness.fetchAll("one")
        #expect(one.error == nil)
        #expect(one.ids == ["only"])
        await harness.stop()
    }

    @Test func aStreamOfRecordsMayHoldOneOrNone() async throws {
        let kinds = """
        item:
          request: {path: /items}
          records: .values[]
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/items"), responses: [.json(#"{"values": [{"id": 7}]}"#), .json(#"{"values": []}"#),
                                                      .json(#"{"other": 1}"#)]),
        ])
        let one = try await harness.fetchAll("item")
        #expect(one.error == nil)
        #expect(one.ids == ["7"])
        let none = try await harness.fetchAll("item")
        #expect(none.error == nil)
        #expect(none.ids.isEmpty)
        // Iterating a missing list is jq's own error: still a failed page.
        let missing = try await harness.fetchAll("item")
        #expect(missing.error?.reason == .evaluation)
        await harness.stop()
    }

    @Test func nullMeansEmptyOnlyWhenTheKindSaysSo() async throws {
        let kinds = """
        item:
          request: {path: /items}
          records: .values
          nullIsEmpty: true
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/items"), responses: [TestResponse(status: 204, body: []), .json(#"{"values": {"id": 1}}"#)]),
        ])
        let empty = try await harness.fetchAll("item")
        #expect(empty.error == nil)
        #expect(empty.ids.isEmpty)
        // Null is allowed; an object still is not.
        let object = try await harness.fetchAll("item")
        #expect(object.error?.reason == .unexpectedRecords)
        await harness.stop()
    }

    // MARK: Credentials stay on their origin

    static let secretKinds = """
    item:
      request: {path: /items}
      records: .values
      pagination: {type: nextUrl, next: .next}
    """
    static let secretHTTP = """
    headers:
      X-Team-Token: "team {{ .config.teamToken }}"
    auth: {type: apiKey, name: X-Api-Key, value: "{{ .config.apiKey }}"}
    """
    static let secretSettings = """
    - name: apiKey
      sensitive: true
    - name: teamToken
      sensitive: true
    """
    static let secrets = ["apiKey": jsonString("key-0123456789abcdef"), "teamToken": jsonString("team-0123456789abcdef")]

    static func sawACredential(_ request: RecordedRequest) -> Bool {
        request.header("Authorization") != nil || request.header("X-Api-Key") != nil || request.header("X-Team-Token") != nil
            || request.uri.contains("0123456789abcdef")
    }

    @Test func aNextLinkToAnotherOriginIsRefusedBeforeAnyByteIsSent() async throws {
        let other = try await FixtureServer.start([Fixture(match: get("/steal"), response: .json(#"{"values": [{"id": 9}]}"#))])
        let harness = try await Harness.start(
            integrationYAML(kinds: Self.secretKinds, http: Self.secretHTTP, configuration: Self.secretSettings),
            fixtures: [Fixture(match: get("/items"), response: .json(#"{"values": [{"id": 1}], "next": "\#(other.url("/steal"))"}"#))],
            config: Self.secrets)
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.ids == ["1"])
        let error = try #require(outcome.error)
        #expect(error.httpError?.kind == .refusedOrigin)
        #expect(error.description.contains(other.url("/steal")))
        #expect(error.hint?.contains("http.allowedHosts") == true)
        #expect(other.requests.isEmpty)
        // The API's own origin did get the credentials.
        let first = try #require(harness.server.requests.first)
        #expect(first.header("X-Api-Key") == "key-0123456789abcdef")
        #expect(first.header("X-Team-Token") == "team team-0123456789abcdef")
        await harness.stop()
        await other.stop()
    }

    @Test func anAllowedHostIsFollowedWithoutCredentials() async throws {
        let other = try await FixtureServer.start([Fixture(match: get("/more"), response: .json(#"{"values": [{"id": 2}]}"#))])
        let http = Self.secretHTTP + "\nallowedHosts: [\"\(other.baseURL)\"]"
        let harness = try await Harness.start(
            integrationYAML(kinds: Self.secretKinds, http: http, configuration: Self.secretSettings),
            fixtures: [Fixture(match: get("/items"), response: .json(#"{"values": [{"id": 1}], "next": "\#(other.url("/more"))"}"#))],
            config: Self.secrets)
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1", "2"])
        let sent = try #require(other.requests.first)
        #expect(!Self.sawACredential(sent), "\(sent.headers)")
        #expect(other.requests.count == 1)
        await harness.stop()
        await other.stop()
    }

    @Test func redirectsToAnotherOriginAreRefusedOrStrippedNeverFollowedWithCredentials() async throws {
        let other = try await FixtureServer.start([Fixture(match: get("/landing"), response: .json(#"{"values": [{"id": 3}]}"#))])
        let redirect = TestResponse(status: 302, headers: [TestHeader("Location", other.url("/landing"))], body: [])
        var compared = 0
        for allowed in [false, true] {
            let http = Self.secretHTTP + (allowed ? "\nallowedHosts: [\"\(other.baseURL)\"]" : "")
            let harness = try await Harness.start(
                integrationYAML(kinds: Self.secretKinds, http: http, configuration: Self.secretSettings),
                fixtures: [Fixture(match: get("/items"), response: redirect)], config: Self.secrets)
            let before = other.requests.count
            let outcome = try await harness.fetchAll("item")
            if allowed {
                #expect(outcome.error == nil)
                #expect(outcome.ids == ["3"])
                let sent = try #require(other.requests.last)
                #expect(!Self.sawACredential(sent), "\(sent.headers)")
            } else {
                #expect(outcome.error?.httpError?.kind == .refusedOrigin)
                #expect(other.requests.count == before)
            }
            compared += 1
            await harness.stop()
        }
        #expect(compared == 2)
        await other.stop()
    }

    @Test func aSameOriginRedirectKeepsItsCredentials() async throws {
        let kinds = """
        item:
          request: {path: /old}
          records: .values
        """
        let harness = try await Harness.start(
            integrationYAML(kinds: kinds, http: Self.secretHTTP, configuration: Self.secretSettings),
            fixtures: [
                Fixture(match: get("/new"), response: .json(#"{"values": [{"id": 4}]}"#)),
            ], config: Self.secrets)
        harness.server.add(Fixture(match: get("/old"), response: TestResponse(status: 301, headers: [TestHeader("Location", "/new")], body: [])))
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["4"])
        let landed = try #require(harness.server.requests.last)
        #expect(landed.path == "/new")
        #expect(landed.header("X-Api-Key") == "key-0123456789abcdef")
        await harness.stop()
    }

    // MARK: Values cannot change a request

    @Test func aValueInThePathIsOneSegmentAndNullIsAnError() async throws {
        let kinds = """
        project:
          request: {path: /projects}
          records: .values
        child:
          parent: project
          request: {path: "/projects/{{ .parent.key }}/children"}
          records: .values
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/projects"), response: .json(#"{"values": [{"id": 1, "key": "../../admin?x=1#"}, {"id": 2}]}"#)),
            Fixture(match: get("/projects/../../admin?x=1#/children"), response: .json(#"{"values": [{"id": 10}]}"#)),
        ])
        let outcome = try await harness.fetchAll("child")
        #expect(outcome.ids == ["10"])
        let sent = try #require(harness.server.requests.first { $0.uri.contains("children") })
        #expect(sent.uri == "/projects/..%2F..%2Fadmin%3Fx%3D1%23/children")
        // The second project has no key: an error naming the null, not a request to /projects/null/….
        let error = try #require(outcome.error)
        #expect(error.description.contains("null"))
        #expect(!harness.server.requests.contains { $0.uri.contains("null") })
        await harness.stop()
    }

    @Test func aHeaderValueWithALineBreakIsNeverSent() async throws {
        let kinds = """
        item:
          request: {path: /items}
          records: .values
        """
        let harness = try await Harness.start(
            integrationYAML(kinds: kinds, http: Self.secretHTTP, configuration: Self.secretSettings),
            fixtures: [Fixture(match: get("/items"), response: .json(#"{"values": []}"#))],
            config: ["apiKey": jsonString("key\r\nX-Injected: 1"), "teamToken": jsonString("team-0123456789abcdef")])
        let outcome = try await harness.fetchAll("item")
        let error = try #require(outcome.error)
        #expect(error.httpError?.kind == .invalidHeader)
        #expect(harness.server.requests.isEmpty)
        #expect(!error.description.contains("X-Injected"))
        await harness.stop()
    }
}
