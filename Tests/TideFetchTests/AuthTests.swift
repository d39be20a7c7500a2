import Foundation
import Testing
import TideFetch
import TideJQ
import TideTesting

@Suite struct AuthTests {
    static let settings = """
    - name: user
      type: string
    - name: key
      type: string
      sensitive: true
    - name: mode
      type: string
    """
    static let kinds = """
    item:
      request: {path: /items}
      records: .values
    """

    func fetch(auth: String, fixtures: [Fixture], config: [String: String]) async throws -> (Outcome, FixtureServer) {
        let yaml = integrationYAML(kinds: Self.kinds, http: auth, configuration: Self.settings)
        let harness = try await Harness.start(yaml, fixtures: fixtures, config: config)
        let outcome = try await harness.fetchAll("item")
        await harness.stop()
        return (outcome, harness.server)
    }

    @Test func basic() async throws {
        let auth = """
        auth:
          type: basic
          username: "{{ .config.user }}"
          password: "{{ .config.key }}"
        """
        let expected = "Basic " + Data("me@x.io:p4ss word".utf8).base64EncodedString()
        let (outcome, _) = try await fetch(auth: auth, fixtures: [
            Fixture(match: get("/items", headers: ["Authorization": expected]), response: page([1])),
        ], config: ["user": jsonString("me@x.io"), "key": jsonString("p4ss word")])
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1"])
    }

    @Test func bearer() async throws {
        let auth = """
        auth: {type: bearer, token: "{{ .config.key }}"}
        """
        let (outcome, _) = try await fetch(auth: auth, fixtures: [
            Fixture(match: get("/items", headers: ["Authorization": "Bearer tok-123"]), response: page([1])),
        ], config: ["key": jsonString("tok-123")])
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1"])
    }

    @Test func apiKeyInAHeader() async throws {
        let auth = """
        auth: {type: apiKey, name: X-Api-Key, value: "Token {{ .config.key }}"}
        """
        let (outcome, server) = try await fetch(auth: auth, fixtures: [
            Fixture(match: get("/items", headers: ["X-Api-Key": "Token k-1"]), response: page([1])),
        ], config: ["key": jsonString("k-1")])
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1"])
        #expect(server.requests.first?.header("Authorization") == nil)
    }

    @Test func apiKeyInTheQueryIsRedactedFromThePageRequest() async throws {
        let auth = """
        auth: {type: apiKey, name: apiKey, value: "{{ .config.key }}", in: query}
        """
        let (outcome, server) = try await fetch(auth: auth, fixtures: [
            Fixture(match: get("/items", ["apiKey": "k/1 2"]), response: page([1])),
        ], config: ["key": jsonString("k/1 2")])
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1"])
        #expect(server.requests.first?.uri == "/items?apiKey=k%2F1%202")
        let logged = try #require(outcome.pages.first?.request)
        #expect(logged.hasPrefix("GET http://127.0.0.1:"))
        #expect(!logged.contains("k%2F1") && !logged.contains("k/1"))
    }

    @Test func whenChoosesTheFirstMatchingScheme() async throws {
        let auth = """
        auth:
          - when: .config.mode == "token"
            type: bearer
            token: "{{ .config.key }}"
          - type: apiKey
            name: X-Key
            value: "{{ .config.key }}"
        """
        let fixtures = [
            Fixture(match: get("/items", headers: ["Authorization": "Bearer sek"]), response: page([1])),
            Fixture(match: get("/items", headers: ["X-Key": "sek"]), response: page([2])),
        ]
        let (token, _) = try await fetch(auth: auth, fixtures: fixtures, config: ["key": jsonString("sek"), "mode": jsonString("token")])
        #expect(token.ids == ["1"])
        let (key, _) = try await fetch(auth: auth, fixtures: fixtures, config: ["key": jsonString("sek"), "mode": jsonString("key")])
        #expect(key.ids == ["2"])
    }

    static let login = """
    auth:
      type: login
      request:
        path: /oauth/token
        form:
          grant_type: client_credentials
          client_id: "{{ .config.user }}"
          client_secret: "{{ .config.key }}"
      token: .access_token
      expiresIn: .expires_in
    """

    static func token(_ value: String, expiresIn: Int, delay: Duration? = nil) -> TestResponse {
        var response = TestResponse.json("{\"access_token\": \"\(value)\", \"expires_in\": \(expiresIn)}")
        response.delay = delay
        return response
    }

    static let loginMatch = FixtureMatch(method: "POST", path: "/oauth/token")
    static let loginConfig = ["user": jsonString("client-1"), "key": jsonString("client-secret-9")]

    /// OAuth 2.0's client credentials grant: the form RFC 6749 §4.4 gives, the token sent as a
    /// bearer token, an empty scope left out.
    @Test func oauth2ClientCredentials() async throws {
        for (clientAuth, expectedBody, expectedAuthorization) in [
            ("body", "grant_type=client_credentials&client_id=client-1&client_secret=client-secret-9&audience=https%3A%2F%2Fapi", nil as String?),
            ("basic", "grant_type=client_credentials&audience=https%3A%2F%2Fapi",
             "Basic " + Data("client-1:client-secret-9".utf8).base64EncodedString()),
        ] {
            let auth = """
            auth:
              type: oauth2
              tokenUrl: "{{ .config.mode }}/oauth/token"
              clientId: "{{ .config.user }}"
              clientSecret: "{{ .config.key }}"
              scope: ""
              params: {audience: "https://api"}
              clientAuth: \(clientAuth)
            """
            let yaml = integrationYAML(kinds: Self.kinds, http: auth, configuration: Self.settings)
            let server = try await FixtureServer.start([
                Fixture(match: Self.loginMatch, response: Self.token("token-7", expiresIn: 3600)),
                Fixture(match: get("/items", headers: ["Authorization": "Bearer token-7"]), response: page([1])),
            ])
            var config = Self.loginConfig
            config["mode"] = jsonString(server.baseURL)
            let harness = try await Harness.start(yaml, server: server, config: config)
            let outcome = try await harness.fetchAll("item")
            #expect(outcome.error == nil, "\(clientAuth)")
            #expect(outcome.ids == ["1"])
            let login = try #require(harness.server.requests.first { $0.path == "/oauth/token" })
            #expect(login.method == "POST")
            #expect(login.bodyText == expectedBody, "\(clientAuth)")
            #expect(login.header("Authorization") == expectedAuthorization)
            #expect(harness.server.unmatchedRequests.isEmpty)
            await harness.stop()
        }
    }

    /// The refresh token grant (RFC 6749 §6), renewed on a 401 like every login.
    @Test func oauth2RefreshTokenRenewsOnA401() async throws {
        let auth = """
        auth:
          type: oauth2
          grant: refreshToken
          tokenUrl: "{{ .config.mode }}/oauth/token"
          clientId: "{{ .config.user }}"
          refreshToken: "{{ .config.key }}"
          scope: read:items
        """
        let yaml = integrationYAML(kinds: Self.kinds, http: auth, configuration: Self.settings)
        let server = try await FixtureServer.start([
            Fixture(match: Self.loginMatch, responses: [Self.token("token-1", expiresIn: 3600), Self.token("token-2", expiresIn: 3600)]),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-1"]), response: .json(#"{"error": "expired"}"#, status: 401)),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-2"]), response: page([4])),
        ])
        var config = Self.loginConfig
        config["mode"] = jsonString(server.baseURL)
        let harness = try await Harness.start(yaml, server: server, config: config)
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["4"])
        let logins = harness.server.requests.filter { $0.path == "/oauth/token" }
        #expect(logins.count == 2)
        #expect(logins.first?.bodyText == "grant_type=refresh_token&refresh_token=client-secret-9&client_id=client-1&scope=read%3Aitems")
        await harness.stop()
    }

    @Test func loginRenewsTheTokenShortlyBeforeItExpires() async throws {
        let kinds = """
        item:
          request: {path: /items}
          records: .values
          pagination: {type: cursor, cursor: .next, param: c}
        """
        let yaml = integrationYAML(kinds: kinds, http: Self.login, configuration: Self.settings)
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: Self.loginMatch, responses: [Self.token("token-1", expiresIn: 1), Self.token("token-2", expiresIn: 3600)]),
            Fixture(match: get("/items", ["c": "a"], headers: ["Authorization": "Bearer token-2"]), response: page([2])),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-1"]), response: page([1], extra: #""next": "a""#)),
        ], config: Self.loginConfig)
        let fetcher = try harness.fetcher("item")
        let first = try await fetcher.next()
        #expect(first?.records.count == 1)
        // A one-second token is renewed 0.1 s before it expires.
        try await Task.sleep(for: .milliseconds(950))
        let second = try await fetcher.next()
        #expect(second?.records.first?["id"]?.numberValue == 2)
        #expect(try await fetcher.next() == nil)
        #expect(harness.server.callCounts[Self.loginMatch.description] == 2)
        let login = try #require(harness.server.requests.first)
        #expect(login.bodyText == "grant_type=client_credentials&client_id=client-1&client_secret=client-secret-9")
        #expect(login.header("Content-Type") == "application/x-www-form-urlencoded")
        #expect(harness.server.unmatchedRequests.isEmpty)
        await harness.stop()
    }

    @Test func a401RenewsTheTokenOnceAndResendsOnce() async throws {
        let yaml = integrationYAML(kinds: Self.kinds, http: Self.login, configuration: Self.settings)
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: Self.loginMatch, responses: [Self.token("token-1", expiresIn: 3600), Self.token("token-2", expiresIn: 3600)]),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-1"]), response: .json(#"{"error": "revoked"}"#, status: 401)),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-2"]), response: page([1])),
        ], config: Self.loginConfig)
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1"])
        #expect(harness.server.requests.map(\.path) == ["/oauth/token", "/items", "/oauth/token", "/items"])
        await harness.stop()
    }

    @Test func a401AfterRenewalIsAnErrorNotALoop() async throws {
        let yaml = integrationYAML(kinds: Self.kinds, http: Self.login, configuration: Self.settings)
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: Self.loginMatch, responses: [Self.token("token-1", expiresIn: 3600), Self.token("token-2", expiresIn: 3600)]),
            Fixture(match: get("/items"), response: .json(#"{"error": "no access"}"#, status: 401)),
        ], config: Self.loginConfig)
        let outcome = try await harness.fetchAll("item")
        let error = try #require(outcome.error)
        #expect(error.reason == .http)
        #expect(error.status == 401)
        #expect(error.hint?.contains("credentials") == true)
        #expect(harness.server.requests.count == 4)
        await harness.stop()
    }

    @Test func concurrentLoginsAndRenewalsCoalesce() async throws {
        let kinds = """
        a:
          request: {path: /items}
          records: .values
        b:
          request: {path: /items}
          records: .values
        """
        let yaml = integrationYAML(kinds: kinds, http: Self.login, configuration: Self.settings)
        let harness = try await Harness.start(yaml, fixtures: [
            Fixture(match: Self.loginMatch, responses: [Self.token("token-1", expiresIn: 3600, delay: .milliseconds(200)),
                                                        Self.token("token-2", expiresIn: 3600, delay: .milliseconds(200))]),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-1"]),
                    response: TestResponse(status: 401, body: Array("expired".utf8), delay: .milliseconds(50))),
            Fixture(match: get("/items", headers: ["Authorization": "Bearer token-2"]), response: page([7])),
        ], config: Self.loginConfig)
        let session = harness.session
        // Each task makes its own fetcher: fetchers and their JSON never cross tasks.
        let results = await withTaskGroup(of: [String].self) { group in
            for kind in ["a", "b", "a", "b"] {
                group.addTask {
                    guard let fetcher = try? KindFetcher(session: session, kind: kind) else { return ["init failed"] }
                    let outcome = await drain(fetcher)
                    return outcome.error.map { [String(describing: $0)] } ?? outcome.ids
                }
            }
            var all: [[String]] = []
            for await result in group { all.append(result) }
            return all
        }
        #expect(results == [["7"], ["7"], ["7"], ["7"]])
        #expect(harness.server.callCounts[Self.loginMatch.description] == 2)
        await harness.stop()
    }
}
