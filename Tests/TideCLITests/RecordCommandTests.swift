import Foundation
import Testing
import TideCore
import TideTesting

/// `tide record` as a user runs it: a "live" API on loopback with more pages than the recording
/// keeps, credentials in a header and in the query, e-mail addresses and names in the bodies.
/// The recording must hold no secret and no scrubbed value in any written byte, in any encoding,
/// and `tide test` must pass on what it wrote.
@Suite(.timeLimit(.minutes(3)))
struct RecordCommandTests {
    static let token = "tok-live-7f3a9c2e81d4b6"
    static let apiKey = "key-live-51c8e0a9d2f7"

    static let users: [(id: String, email: String, name: String)] = [
        ("u1", "ada.lovelace@acme-corp.test", "Ada Lovelace"), ("u2", "grace.hopper@acme-corp.test", "Grace Hopper"),
        ("u3", "alan.turing@acme-corp.test", "Alan Turing"), ("u4", "edsger.dijkstra@acme-corp.test", "Edsger Dijkstra"),
        ("u5", "barbara.liskov@acme-corp.test", "Barbara Liskov"),
    ]
    static let projects = ["ALPHA", "BRAVO", "CHARLIE", "DELTA", "ECHO"]
    static let repos = ["api", "web", "infra", "docs", "mobile", "data"]

    let folder: URL
    var integration: URL { folder.appendingPathComponent("acme") }

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-record-\(UUID().uuidString)")
        let resources = folder.appendingPathComponent("acme/.port/resources")
        try FileManager.default.createDirectory(at: resources, withIntermediateDirectories: true)
        try Self.integrationYAML.write(to: folder.appendingPathComponent("acme/integration.yml"), atomically: true, encoding: .utf8)
        try Self.mappingYAML.write(to: resources.appendingPathComponent("port-app-config.yml"), atomically: true, encoding: .utf8)
        try Self.blueprintsJSON.write(to: resources.appendingPathComponent("blueprints.json"), atomically: true, encoding: .utf8)
    }

    /// Offset (users), cursor (projects), Link header with absolute URLs (repos), page numbers
    /// with a total read ahead, partitioned by project with a count (issues), and a parent (members).
    static let integrationYAML = """
        name: acme
        configuration:
          - {name: apiUrl, type: url, required: true}
          - {name: token, type: string, required: true, sensitive: true}
          - {name: apiKey, type: string, required: true, sensitive: true}
        http:
          baseUrl: "{{ .config.apiUrl }}"
          auth: {type: bearer, token: "{{ .config.token }}"}
        kinds:
          user:
            request: {path: /users}
            records: .users
            pagination: {type: offset, limit: 2}
          project:
            request: {path: /projects}
            records: .values
            pagination: {type: cursor, cursor: .next, param: cursor}
          repo:
            request:
              path: /repos
              headers: {X-Api-Key: "{{ .config.apiKey }}"}
            records: .
            pagination: {type: linkHeader}
          issue:
            request:
              method: POST
              path: /search
              body: {project: "{{ .partition }}"}
            records: .issues
            pagination: {type: page, size: 2, total: .pages, in: body}
            partitions:
              fromKind: project
              value: .key
              count:
                request: {method: POST, path: /search/count, body: {all: true}}
                value: .total
          member:
            parent: repo
            request: {path: "/repos/{{ .parent.name }}/members"}
            records: 'map(. + {repo: $parent.name})'
        record:
          scrub:
            - key: login
        """

    static let mappingYAML = """
        resources:
          - kind: user
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .displayName
                  blueprint: '"acmeUser"'
                  properties: {email: .emailAddress}
          - kind: project
            selector: {query: 'true'}
            port:
              entity:
                mappings: {identifier: .key, title: .name, blueprint: '"acmeProject"'}
          - kind: repo
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: .name
                  blueprint: '"acmeRepo"'
                  properties: {owner: .owner.emailAddress}
          - kind: issue
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: .id
                  title: .summary
                  blueprint: '"acmeIssue"'
                  relations: {project: .project}
          - kind: member
            selector: {query: 'true'}
            port:
              entity:
                mappings:
                  identifier: '.repo + "-" + .id'
                  title: .displayName
                  blueprint: '"acmeMember"'
                  properties: {email: .emailAddress, login: .login}
        """

    static let blueprintsJSON = """
        [{"identifier": "acmeUser", "schema": {"properties": {"email": {"type": "string"}}}},
         {"identifier": "acmeProject", "schema": {"properties": {}}},
         {"identifier": "acmeRepo", "schema": {"properties": {"owner": {"type": "string"}}}},
         {"identifier": "acmeIssue", "schema": {"properties": {}}, "relations": {"project": {"target": "acmeProject"}}},
         {"identifier": "acmeMember", "schema": {"properties": {"email": {"type": "string"}, "login": {"type": "string"}}}}]
        """

    /// The live API, below /api/v1: every kind has more pages than two, and refuses a wrong token.
    static func liveAPI(requests: Locked<[String]>) async throws -> TestHTTPServer {
        try await TestHTTPServer.start { request in
            requests.withLock { $0.append("\(request.method) \(request.uri)") }
            guard request.header("Authorization") == "Bearer \(token)" else {
                return .json(#"{"error": "bad token"}"#, status: 401)
            }
            let path = request.path.hasPrefix("/api/v1") ? String(request.path.dropFirst(7)) : request.path
            func json(_ value: Any, headers: [TestHeader] = []) -> TestResponse {
                let data = try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
                return TestResponse(status: 200, headers: [TestHeader("Content-Type", "application/json")] + headers, body: Array(data))
            }
            func user(_ index: Int) -> [String: Any] {
                let user = users[index]
                return ["id": user.id, "emailAddress": user.email, "displayName": user.name, "login": user.email.components(separatedBy: "@")[0],
                        "avatarUrls": ["48x48": "https://avatars.acme-corp.test/\(user.id)?email=\(user.email)"]]
            }
            switch path {
            case "/users":
                let offset = Int(request.queryValue("offset") ?? "0") ?? 0
                let limit = Int(request.queryValue("limit") ?? "2") ?? 2
                let page = (offset..<min(offset + limit, users.count)).map(user)
                return json(["users": page, "echo": "Bearer \(token)"])
            case "/projects":
                let start = Int(request.queryValue("cursor") ?? "0") ?? 0
                let values = projects[start..<min(start + 2, projects.count)].map { ["key": $0, "name": "Project \($0.capitalized)", "lead": user(0)] }
                var body: [String: Any] = ["values": values, "trace": Data(token.utf8).base64EncodedString()]
                body["next"] = start + 2 < projects.count ? String(start + 2) : NSNull()
                return json(body)
            case "/repos":
                guard request.header("X-Api-Key") == apiKey else { return .json(#"{"error": "no key"}"#, status: 403) }
                let page = Int(request.queryValue("page") ?? "1") ?? 1
                let slice = repos[((page - 1) * 2)..<min(page * 2, repos.count)]
                let body = slice.enumerated().map { offset, name in ["name": name, "owner": user(offset)] as [String: Any] }
                var headers: [TestHeader] = []
                if page * 2 < repos.count {
                    let base = "http://127.0.0.1:\(request.header("Host")?.split(separator: ":").last ?? "")/api/v1/repos"
                    headers.append(TestHeader("Link", "<\(base)?page=\(page + 1)&sig=\(apiKey)>; rel=\"next\", <\(base)?page=3>; rel=\"last\""))
                }
                return json(body, headers: headers)
            case "/search/count":
                return json(["total": projects.count * 6])
            case "/search":
                let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
                let project = body["project"] as? String ?? "ALL"
                let page = body["page"] as? Int ?? 1
                let issues = (0..<2).map { index in
                    ["id": "\(project)-\(page * 10 + index)", "summary": "Issue \(index) on page \(page)", "project": project,
                     "reporter": user(index)] as [String: Any]
                }
                return json(["issues": issues, "pages": 3])
            default:
                if path.hasPrefix("/repos/"), path.hasSuffix("/members") {
                    return json([user(1), user(2)])
                }
                return .json(#"{"error": "no such path"}"#, status: 404)
            }
        }
    }

    /// Every form a secret or scrubbed value could take in a file.
    static func forms(_ value: String) -> [String] {
        let base64 = Data(value.utf8).base64EncodedString()
        let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
        let escaped = value.replacingOccurrences(of: "/", with: "\\/")
        return [value, base64, String(base64.reversed().drop { $0 == "=" }.reversed()), encoded, escaped]
    }

    static func writtenFiles(below folder: URL) -> [URL] {
        let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        return (walker?.allObjects as? [URL] ?? []).filter { !$0.hasDirectoryPath }
    }

    func record(_ server: TestHTTPServer, _ extra: [String] = [], token: String = Self.token) async throws -> TideProcess.Result {
        try await TideProcess.run(["record", integration.path, "--config", "apiUrl=\(server.baseURL)/api/v1",
                                   "--config", "apiKey=\(Self.apiKey)", "--pages", "2"] + extra,
                                  environment: ["OCEAN__INTEGRATION__CONFIG__TOKEN": token])
    }

    @Test func aRecordingHoldsNoSecretOrPersonalDataAndReplaysGreen() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let requests = Locked<[String]>([])
        let server = try await Self.liveAPI(requests: requests)
        let result = try await record(server)
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")

        // Every pagination run was cut at two pages: no third page was asked of the live API.
        let sent = requests.current
        #expect(!sent.contains { $0.contains("offset=4") }, "\(sent)")
        #expect(!sent.contains { $0.contains("cursor=4") }, "\(sent)")
        #expect(!sent.contains { $0.contains("page=3") }, "\(sent)")

        let fixtures = integration.appendingPathComponent("fixtures/recorded")
        let files = Self.writtenFiles(below: fixtures) + [integration.appendingPathComponent("tests/recorded.yml")]
        #expect(files.count >= 10, "\(files)")
        var sensitive: [String] = [Self.token, Self.apiKey]
        for user in Self.users {
            sensitive += [user.email, user.name, user.email.components(separatedBy: "@")[0]]
        }
        var compared = 0
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            for value in sensitive {
                for form in Self.forms(value) {
                    compared += 1
                    #expect(!text.contains(form), "\(file.lastPathComponent) holds \(form)")
                }
            }
        }
        #expect(compared == files.count * sensitive.count * 5)

        // The fixtures say which runs were cut, and how each ends under replay.
        let index = try String(contentsOf: fixtures.appendingPathComponent("fixtures.yml"), encoding: .utf8)
        #expect(index.contains("truncated"))
        #expect(index.contains("the next link is removed"), "\(index)")
        #expect(index.contains("the next page's .next is null"), "\(index)")
        #expect(index.contains("it answers the next request with no records"), "\(index)")
        #expect(index.contains("total lowered to 2"), "\(index)")
        #expect(index.contains("count lowered to 16"), "\(index)")
        let config = try String(contentsOf: fixtures.appendingPathComponent("config.yml"), encoding: .utf8)
        #expect(config.contains("recorded-token-placeholder") && config.contains("recorded-apiKey-placeholder"), "\(config)")

        // One address, one fake: Ada's e-mail has the same replacement in users and in projects.
        let usersBody = try String(contentsOf: fixtures.appendingPathComponent("bodies/users-1.json"), encoding: .utf8)
        let projectsBody = try String(contentsOf: fixtures.appendingPathComponent("bodies/projects-1.json"), encoding: .utf8)
        let fake = try #require(usersBody.firstMatch(of: /user-[0-9a-f]{8}@example\.com/)).output
        #expect(projectsBody.contains(String(fake)))
        // A URL stays a URL, the base64 form of the token is masked, and the echoed credential is a placeholder.
        #expect(usersBody.contains("https://example.com/scrubbed/"), "\(usersBody)")
        #expect(projectsBody.contains(#""trace": "***""#), "\(projectsBody)")
        #expect(usersBody.contains("Bearer recorded-token-placeholder"), "\(usersBody)")

        // `tide test` passes on the recording, with the counts the truncated runs give.
        let test = try await TideProcess.run(["test", integration.path])
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.lines.last == "1 of 1 case passed", "\(test.stdout)")
        let testCase = try String(contentsOf: integration.appendingPathComponent("tests/recorded.yml"), encoding: .utf8)
        for count in [#""acmeUser": 4"#, #""acmeProject": 4"#, #""acmeRepo": 4"#, #""acmeIssue": 16"#, #""acmeMember": 8"#] {
            #expect(testCase.contains(count), "\(count) in \(testCase)")
        }

        // A second recording does not overwrite the first without --force.
        let again = try await record(server)
        #expect(again.status == 1)
        #expect(again.stderr.contains("exists"), "\(again.stderr)")
    }

    @Test func aFailingLiveRequestNamesItAndWritesNothing() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try await Self.liveAPI(requests: Locked([]))
        let result = try await record(server, token: "tok-wrong-000000000000")
        await server.stop()
        #expect(result.status == 1)
        #expect(result.stderr.contains("401"), "\(result.stderr)")
        #expect(result.stderr.contains("GET \(server.baseURL)/api/v1/users"), "\(result.stderr)")
        #expect(result.stderr.contains("nothing was written"), "\(result.stderr)")
        #expect(!result.stderr.contains("tok-wrong-000000000000"))
        #expect(!FileManager.default.fileExists(atPath: integration.appendingPathComponent("fixtures").path))
        #expect(!FileManager.default.fileExists(atPath: integration.appendingPathComponent("tests").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: integration.path).filter { $0.hasPrefix(".tide-record") }
        #expect(leftovers.isEmpty)
    }
}
