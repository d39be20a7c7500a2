import Foundation
import Testing
import TideTesting

/// `tide run` against an API that answers badly, through the real binary and a real catalog: a
/// resync that did not clearly succeed deletes nothing, and no answer makes it print a secret.
@Suite(.timeLimit(.minutes(3)))
struct HostileAPITests {
    static let jira = RunCommandTests.jira

    let folder: URL
    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-hostile-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    var catalog: String { folder.appendingPathComponent("catalog.sqlite").path }

    func count(_ blueprint: String) async throws -> Int {
        try await TideProcess.run(["catalog", "entities", "--blueprint", blueprint, "--catalog", catalog]).lines.count
    }

    func run(against server: FixtureServer, token: String = "tok-0123456789abcdef") async throws -> TideProcess.Result {
        try await TideProcess.run(["run", Self.jira, "--catalog", catalog,
                                   "--config", "jiraHost=\(server.baseURL)",
                                   "--config", "atlassianUserEmail=owner@example.com", "--config", "atlassianUserToken=\(token)"])
    }

    @Test func answersWith200ButNoRecordsDeleteNothing() async throws {
        let seeded = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog])
        #expect(seeded.status == 0, "\(seeded.stderr)")
        let before = [try await count("jiraProject"), try await count("jiraIssue"), try await count("jiraUser")]
        #expect(before.allSatisfy { $0 > 10 })

        // Each kind gets a 200 that is not its list: a missing key (projects, which the issue kind
        // also reads for its partitions), an empty body (users).
        let server = try await FixtureServer.start([
            Fixture(match: FixtureMatch(method: "GET", path: "/rest/api/3/project/search"), response: .json(#"{"isLast": true}"#)),
            Fixture(match: FixtureMatch(method: "GET", path: "/rest/api/3/users/search"), response: TestResponse(status: 200, body: [])),
        ])
        let result = try await run(against: server)
        await server.stop()
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("Deleted nothing"), "\(result.stderr)")
        #expect(result.stderr.contains("GET \(server.baseURL)/rest/api/3/project/search"), "\(result.stderr)")
        #expect(result.stderr.contains("kind \"project\" (partitions of \"issue\")"), "\(result.stderr)")
        var after = [try await count("jiraProject"), try await count("jiraIssue"), try await count("jiraUser")]
        #expect(after == before)

        // The projects answer (one of them); the issue search answers Jira's invalid-JQL 200.
        let second = try await FixtureServer.start([
            Fixture(match: FixtureMatch(method: "GET", path: "/rest/api/3/project/search"),
                    response: .json(#"{"isLast": true, "values": [{"id": "1", "key": "NW", "name": "Northwind", "self": "https://x/rest/api/3/project/1"}]}"#)),
            Fixture(match: FixtureMatch(method: "POST", path: "/rest/api/3/search/jql"),
                    response: .json(#"{"errorMessages": ["The JQL is invalid"], "errors": {}}"#)),
            Fixture(match: FixtureMatch(method: "POST", path: "/rest/api/3/search/approximate-count"), response: .json(#"{"count": 1}"#)),
            Fixture(match: FixtureMatch(method: "GET", path: "/rest/api/3/users/search"), response: TestResponse(status: 200, body: [])),
        ])
        let again = try await run(against: second)
        await second.stop()
        #expect(again.status == 1, "\(again.stderr)")
        #expect(again.stderr.contains("The JQL is invalid"), "\(again.stderr)")
        #expect(again.stderr.contains("Deleted nothing"), "\(again.stderr)")
        after = [try await count("jiraProject"), try await count("jiraIssue"), try await count("jiraUser")]
        #expect(after == before, "one project answered, yet none of the others is deleted while other kinds failed")
    }

    @Test func anErrorBodyEchoingTheCredentialShowsNoPartOfIt() async throws {
        let token = "tok-\(UUID().uuidString)"
        let basic = Data("owner@example.com:\(token)".utf8).base64EncodedString()
        var compared = 0
        // The credential lands across the 500-byte cut of the error excerpt at several offsets.
        for padding in [440, 470, 490, 499] {
            let body = String(repeating: "x", count: padding) + "Authorization: Basic " + basic + " (echoed)"
            let server = try await FixtureServer.start([
                Fixture(match: FixtureMatch(path: "/rest/api/3/project/search"), response: .text(body, status: 400)),
                Fixture(match: FixtureMatch(path: "/rest/api/3/search/jql"), response: .text(body, status: 400)),
                Fixture(match: FixtureMatch(path: "/rest/api/3/users/search"), response: .text(body, status: 400)),
            ])
            let result = try await run(against: server, token: token)
            await server.stop()
            #expect(result.status == 1)
            let output = result.stdout + result.stderr
            for length in 8...basic.count { #expect(!output.contains(basic.prefix(length)), "padding \(padding)") }
            #expect(!output.contains(token))
            compared += 1
        }
        #expect(compared == 4)
    }

    /// A one-letter token is a secret too, but masking it inside every word would corrupt the
    /// entities: the dry run's output is the same as with a long token, and every line is JSON.
    @Test func aShortSecretDoesNotCorruptTheDryRun() async throws {
        let long = try await TideProcess.run(["run", Self.jira, "--replay", "--dry-run", "--config", "atlassianUserToken=tok-\(UUID().uuidString)"])
        let short = try await TideProcess.run(["run", Self.jira, "--replay", "--dry-run", "--config", "atlassianUserToken=e"])
        #expect(long.status == 0 && short.status == 0, "\(short.stderr)")
        #expect(short.lines.count > 50)
        // Resources run side by side, so their pages interleave in any order.
        #expect(short.lines.sorted() == long.lines.sorted())
        var parsed = 0
        for line in short.lines where (try? JSONSerialization.jsonObject(with: Data(line.utf8))) is [String: Any] { parsed += 1 }
        #expect(parsed == short.lines.count)
        #expect(short.stderr.contains("shorter than 8 characters"))
        #expect(!short.stderr.contains("***"), "\(short.stderr)")
    }

    /// A mapping that builds a huge value is stopped at the memory limit, not when the machine
    /// runs out: the field fails, the other items map.
    @Test func aMappingPastTheMemoryLimitIsStopped() async throws {
        let mapping = folder.appendingPathComponent("memory.yml")
        try """
        resources:
          - kind: x
            selector: {query: "true"}
            port:
              entity:
                mappings:
                  identifier: .id
                  blueprint: '"x"'
                  properties:
                    big: '[range(1e9) | {n: ., pad: "a value that makes each element a few hundred bytes"}] | length'
        """.write(to: mapping, atomically: true, encoding: .utf8)
        let result = try await TideProcess.run(["map", "--mapping", mapping.path, "--kind", "x", "-"],
                                               stdin: Data(#"[{"id": "1"}, {"id": "2"}]"#.utf8),
                                               environment: ["TIDE_MAX_MEMORY_MB": "160"])
        #expect(result.status == 1, "\(result.stderr)")
        #expect(result.stderr.contains("passed its memory limit of 160 MB"), "\(result.stderr)")
    }

    @Test func usageErrorsAndUnwritableCatalogsSayWhatToDo() async throws {
        let jobs = try await TideProcess.run(["run", Self.jira, "--replay", "--jobs", "-1"])
        #expect(jobs.status == 2)
        #expect(jobs.stderr.contains("--jobs takes a number of threads, 1 or more; got -1"), "\(jobs.stderr)")
        // The request budget's flags and variables are read alike, and named when unreadable.
        let rate = try await TideProcess.run(["run", Self.jira, "--replay", "--rate-limit", "lots"])
        #expect(rate.status == 2)
        #expect(rate.stderr.contains(#"--rate-limit takes requests per time, such as 20/s"#), "\(rate.stderr)")
        let concurrency = try await TideProcess.run(["run", Self.jira, "--replay", "--concurrency", "0"])
        #expect(concurrency.status == 2)
        #expect(concurrency.stderr.contains(#"--concurrency takes a number of requests in flight, 1 to 256; got "0""#), "\(concurrency.stderr)")
        let variable = try await TideProcess.run(["run", Self.jira, "--replay", "--dry-run"], environment: ["TIDE_HTTP_RATE_LIMIT": "fast"])
        #expect(variable.status == 2)
        #expect(variable.stderr.contains("TIDE_HTTP_RATE_LIMIT: takes requests per time"), "\(variable.stderr)")
        let overridden = try await TideProcess.run(["run", Self.jira, "--replay", "--dry-run", "--concurrency", "2", "--rate-limit", "100/s"],
                                                   environment: ["TIDE_HTTP_RATE_LIMIT": "none"])
        #expect(overridden.status == 0, "\(overridden.stderr)")
        // A folder that cannot be made (its parent is a file), as an unwritable directory would be.
        let blocked = folder.appendingPathComponent("file")
        try Data().write(to: blocked)
        let catalog = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", blocked.path + "/sub/catalog.sqlite"])
        #expect(catalog.status == 2)
        #expect(catalog.stderr.contains("cannot create the catalog's folder"), "\(catalog.stderr)")
        #expect(catalog.stderr.contains("--catalog PATH"))
        #expect(!catalog.stderr.contains("NSCocoaErrorDomain"))
    }
}
