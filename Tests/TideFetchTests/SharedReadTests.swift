import Foundation
import Testing
import TideCore
import TideFetch
import TideHTTP
import TideTesting

/// A kind several readers need whole (the parent of two kinds, a resource of its own) is read
/// from the API once per resync: every reader gets every page in order, whether it starts before,
/// during or after the read, from memory or from the temporary file past the memory limit; a
/// failed read fails every reader.
@Suite struct SharedReadTests {
    static let kinds = """
        repo:
          request: {path: /repos}
          records: .values
          pagination: {type: offset, limit: 2}
        pull:
          parent: repo
          request: {path: "/repos/{{ .parent.id }}/pulls"}
          records: .values
        issue:
          parent: repo
          concurrency: 1
          request: {path: "/repos/{{ .parent.id }}/issues"}
          records: .values
        """

    static func fixtures(failing: Bool = false) -> [Fixture] {
        var fixtures = [
            Fixture(match: get("/repos", ["offset": "0"]), response: page([1, 2])),
            Fixture(match: get("/repos", ["offset": "2"]), response: failing ? TestResponse(status: 404, body: Array("{}".utf8)) : page([3, 4])),
            Fixture(match: get("/repos", ["offset": "4"]), response: page([5])),
        ]
        for repo in 1...5 {
            fixtures.append(Fixture(match: get("/repos/\(repo)/pulls"), response: page([repo * 10])))
            fixtures.append(Fixture(match: get("/repos/\(repo)/issues"), response: page([repo * 100, repo * 100 + 1])))
        }
        return fixtures
    }

    /// The repository resource's own read and the two children's parent listings (one side by
    /// side, one inside a plain fetcher), drained at once: their outcomes in that order.
    static func readAtOnce(_ harness: Harness) async throws -> [Outcome] {
        let repoReader = try #require(harness.session.sharedReader(of: "repo"))
        let sources = [UncheckedSendable<any PageSource>(repoReader), UncheckedSendable(try harness.resyncSource("pull")),
                       UncheckedSendable(try harness.resyncSource("issue"))]
        let collected = await withTaskGroup(of: (Int, UncheckedSendable<Outcome>).self) { group in
            for (index, source) in sources.enumerated() { group.addTask { (index, UncheckedSendable(await drain(source.value))) } }
            var outcomes: [Int: Outcome] = [:]
            for await (index, outcome) in group { outcomes[index] = outcome.value }
            return UncheckedSendable(outcomes)
        }.value
        return sources.indices.map { collected[$0]! }
    }

    @Test(arguments: [16 << 20, 1])
    func everyReaderGetsEveryPageFromOneRead(memoryLimit: Int) async throws {
        let harness = try await Harness.start(integrationYAML(kinds: Self.kinds), fixtures: Self.fixtures())
        harness.session.sharedReads.share(["repo"], memoryLimit: memoryLimit)
        let outcomes = try await Self.readAtOnce(harness)
        let (r, p, i) = (outcomes[0], outcomes[1], outcomes[2])
        // A reader that starts after the read finished still gets it all.
        let lateReader = try #require(harness.session.sharedReader(of: "repo"))
        let late = await drain(lateReader)
        #expect(r.error == nil && p.error == nil && i.error == nil && late.error == nil)
        #expect(r.ids == ["1", "2", "3", "4", "5"] && late.ids == r.ids)
        #expect(r.pages.map(\.number) == [1, 2, 3])
        #expect(p.ids.sorted() == ["10", "20", "30", "40", "50"])
        #expect(i.ids == ["100", "101", "200", "201", "300", "301", "400", "401", "500", "501"])
        let repoRequests = harness.server.requests.filter { $0.path == "/repos" }.count
        #expect(repoRequests == 3, "one read of three pages, not four reads: \(repoRequests)")
        #expect(harness.session.sharedReads.started == ["repo"])
        if memoryLimit == 1 {
            #expect(harness.session.sharedReads.bytesOnDisk > 0, "pages past the limit went to the file")
        } else {
            #expect(harness.session.sharedReads.bytesOnDisk == 0)
        }
        harness.session.sharedReads.close()
        await harness.stop()
    }

    /// The shared read fails on its second page: the resource and both children fail with it, at
    /// the same request, so nothing of them can be deleted.
    @Test func aFailedReadFailsEveryReader() async throws {
        let harness = try await Harness.start(integrationYAML(kinds: Self.kinds), fixtures: Self.fixtures(failing: true))
        harness.session.sharedReads.share(["repo"])
        let outcomes = try await Self.readAtOnce(harness)
        for outcome in outcomes {
            #expect(outcome.error?.request?.contains("/repos?offset=2") == true, "\(String(describing: outcome.error))")
        }
        #expect(outcomes[0].ids == ["1", "2"])
        #expect(outcomes[1].error?.whileFetchingParentsOf == "pull" && outcomes[2].error?.whileFetchingParentsOf == "issue")
        #expect(harness.server.requests.filter { $0.path == "/repos" }.count == 2)
        harness.session.sharedReads.close()
        await harness.stop()
    }

    /// Closed while a reader waits (the resync cancelled): the reader fails; it never sees an
    /// early end, which would read as "no more parents". The second page is held by the server
    /// until the test is done, so the reader is waiting whatever the machine's load.
    @Test func closingBeforeTheEndFailsAWaitingReader() async throws {
        let held = Locked(true)
        let server = try await TestHTTPServer.start { request in
            if request.queryValue("offset") == "2" {
                while held.current { try? await Task.sleep(for: .milliseconds(10)) }
            }
            return page([1, 2])
        }
        let integration = try loadIntegration(integrationYAML(kinds: Self.kinds))
        let config = ["host": jsonString(server.baseURL)]
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        let session = try FetchSession(integration: integration, config: config, client: client)
        session.sharedReads.share(["repo"])
        let reader = try #require(session.sharedReader(of: "repo"))
        let first = try await reader.next()
        #expect(first?.records.count == 2)
        try await eventually("the second page asked for") { server.requests.contains { $0.queryValue("offset") == "2" } }
        let closing = Task {
            try await Task.sleep(for: .milliseconds(100))
            session.sharedReads.close()
        }
        var failure: FetchError?
        do { _ = try await reader.next() } catch { failure = error }
        #expect(failure?.reason == .cancelled, "\(String(describing: failure))")
        _ = await closing.result
        held.withLock { $0 = false }
        await client.shutdown()
        await server.stop()
    }
}
