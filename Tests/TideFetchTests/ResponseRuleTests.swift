import Foundation
import Testing
import TideCore
import TideFetch
import TideHTTP
import TideJQ
import TideTesting

/// `responses` rules: what a status or an error body means before records are read.
@Suite struct ResponseRuleTests {
    static func kinds(rules: String, concurrency: Int = 4) -> String {
        """
        project:
          request: {path: /projects}
          records: .values
        mergeRequest:
          parent: project
          concurrency: \(concurrency)
          request:
            path: "/projects/{{ .parent.key }}/merge_requests"
          records: .values
          responses:
        \(rules.indented(4))
        """
    }

    static let fixtures = [
        Fixture(match: get("/projects"), response: .json(#"{"values": [{"key": "A"}, {"key": "B"}, {"key": "C"}]}"#)),
        Fixture(match: get("/projects/A/merge_requests"), response: page([1, 2])),
        Fixture(match: get("/projects/B/merge_requests"), response: TestResponse(status: 403, body: Array(#"{"message": "403 Forbidden"}"#.utf8))),
        Fixture(match: get("/projects/C/merge_requests"), response: page([3])),
    ]

    /// A parent the API refuses (merge requests disabled on one project) is skipped, not the kind,
    /// one after the other and side by side alike.
    @Test func aSkippedStatusEndsOnlyItsRun() async throws {
        for concurrency in [1, 4] {
            let harness = try await Harness.start(integrationYAML(kinds: Self.kinds(rules: "- {status: [403], action: skip}", concurrency: concurrency)),
                                                  fixtures: Self.fixtures)
            let outcome = await drain(try harness.resyncSource("mergeRequest"))
            #expect(outcome.error == nil, "concurrency \(concurrency)")
            #expect(outcome.ids.sorted() == ["1", "2", "3"])
            var skipped: [String] = []
            let source = try harness.resyncSource("mergeRequest")
            while let page = try await source.next() { if let reason = page.skipped { skipped.append(reason + " " + page.request) } }
            #expect(skipped.count == 1)
            #expect(skipped.first?.contains("403") == true && skipped.first?.contains("/projects/B/") == true, "\(skipped)")
            await harness.stop()
        }
    }

    /// Without a rule, the same 403 fails the kind as before.
    @Test func withoutARuleTheStatusFailsTheKind() async throws {
        let harness = try await Harness.start(integrationYAML(kinds: Self.kinds(rules: "- {status: [404], action: skip}")), fixtures: Self.fixtures)
        let outcome = await drain(try harness.resyncSource("mergeRequest"))
        #expect(outcome.error?.status == 403)
        await harness.stop()
    }

    /// A 200 whose body says it failed fails the page; or, told so, skips the run.
    @Test func anErrorBodyWithStatus200() async throws {
        let fixtures = [
            Fixture(match: get("/projects"), response: .json(#"{"values": [{"key": "A"}, {"key": "B"}]}"#)),
            Fixture(match: get("/projects/A/merge_requests"), response: page([1])),
            Fixture(match: get("/projects/B/merge_requests"), response: .json(#"{"ok": false, "error": "not_allowed", "values": []}"#)),
        ]
        var outcomes: [String: Outcome] = [:]
        for action in ["fail", "skip"] {
            let harness = try await Harness.start(integrationYAML(kinds: Self.kinds(rules: "- {when: .ok == false, action: \(action)}")), fixtures: fixtures)
            outcomes[action] = await drain(try harness.resyncSource("mergeRequest"))
            await harness.stop()
        }
        let failed = try #require(outcomes["fail"]?.error)
        #expect(failed.description.contains("responses[0]") && failed.description.contains("not_allowed"), "\(failed.description)")
        #expect(outcomes["skip"]?.error == nil)
        #expect(outcomes["skip"]?.ids == ["1"])
    }

    /// A status a rule retries is sent again, as http.retry.statuses are.
    @Test func aRetriedStatusIsSentAgain() async throws {
        let attempts = Locked(0)
        let server = try await TestHTTPServer.start { request in
            if request.path == "/projects" { return .json(#"{"values": [{"key": "A"}]}"#) }
            let attempt = attempts.withLock { count in
                count += 1
                return count
            }
            return attempt == 1 ? TestResponse(status: 409, body: Array("busy".utf8)) : page([7])
        }
        let integration = try loadIntegration(integrationYAML(kinds: Self.kinds(rules: "- {status: [409], action: retry}")))
        let config = ["host": jsonString(server.baseURL)]
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        let session = try FetchSession(integration: integration, config: config, client: client)
        let outcome = await drain(try KindFetcher.forResync(compiled: CompiledKind(session: session, kind: "mergeRequest"), selector: [:]))
        await client.shutdown()
        await server.stop()
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["7"])
        #expect(attempts.current == 2)
    }
}
