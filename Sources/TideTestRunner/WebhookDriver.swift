import Foundation
import TideCatalog
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping
import TideModel
import TideReplay
import TideWebhooks
import TideRuntime
import TideServer

/// Sends a case's `expect.webhooks` events through the webhook server `tide run` serves (a
/// `LiveService` on a loopback port), one at a time, and compares what each one wrote and deleted
/// with its expectation.
enum WebhookDriver {
    struct Outcome {
        var failures: [String] = []
        var sent = 0
    }

    /// - Parameter paths: the webhook path of each expectation, already resolved and checked.
    static func run(_ testCase: TestCase, paths: [String], integration original: Integration, mapping: PortAppConfig,
                    configuration: ResolvedConfiguration, catalog: Catalog, sink: CatalogSink) async -> Outcome {
        var outcome = Outcome()
        var integration = original
        // Refetch retries keep their number but not their waiting: a case should not sleep for
        // seconds to show that a refused refetch fails.
        for index in integration.webhooks.indices {
            integration.webhooks[index].retryInitialDelay = min(integration.webhooks[index].retryInitialDelay, 0.01)
            integration.webhooks[index].retryMaxDelay = min(integration.webhooks[index].retryMaxDelay, 0.05)
        }
        let recorder = RecordingSink(base: sink)
        let logs = Locked<[String]>([])
        var settings = LiveSettings(host: "127.0.0.1", port: 0, listener: .webhooksOnly)
        // The server refuses unsigned events unless told otherwise, as `tide run` does. A case that
        // configures no secret for a webhook (so nothing can be signed) runs as an operator passing
        // --allow-unsigned-webhooks would; a webhook with a secret still verifies every event.
        settings.allowUnsignedWebhooks = integration.webhooks.contains { definition in
            Verifier.make(definition.verify, configJSON: configuration.json).isEmpty
        }
        let service: LiveService
        do {
            let assembly = RunAssembly(integration: integration, mapping: mapping, configuration: configuration, sink: recorder)
            service = try assembly.liveService(settings: settings, log: { _, line in logs.withLock { $0.append(line) } },
                                               resync: { true })
        } catch {
            outcome.failures.append("the webhook server could not be set up: \(error)")
            return outcome
        }
        let base: String
        do {
            try await service.start()
            guard let url = service.baseURL else { throw HTTPServerError.noPort }
            base = url
        } catch {
            await service.shutdown()
            outcome.failures.append("the webhook server could not start on loopback: \(error)")
            return outcome
        }
        let client = HTTPClient(configuration: .init(retry: .never))

        for (index, expectation) in testCase.webhooks.enumerated() {
            let path = paths[index]
            guard let definition = integration.webhooks.first(where: { $0.path == path }) else { continue }
            let label = "\(expectation.location): webhook event \"\(expectation.name)\""
            var failures: [String] = []

            // The request, signed as the sender would sign it.
            var headers = HTTPHeaders(expectation.headers.map { ($0.name, $0.value) })
            if !headers.contains("Content-Type") { headers.add("Content-Type", "application/json") }
            var query = expectation.query
            if expectation.signed {
                for verifier in Verifier.make(definition.verify, configJSON: configuration.json) {
                    let credentials = verifier.credentials(for: expectation.body, id: "msg_tide_test_\(index + 1)")
                    for (name, value) in credentials.headers { headers.set(name, value) }
                    query += credentials.query.map { (name: $0.0, value: $0.1) }
                }
            }
            let url = base + "/integration" + path + queryString(query)

            let counts = { () -> Int in
                let snapshot = service.metrics.snapshot
                return snapshot.processed[path, default: 0] + snapshot.failed[path, default: 0]
            }
            let failedBefore = service.metrics.snapshot.failed[path, default: 0]
            let finishedBefore = counts()
            let logsBefore = logs.current.count
            _ = recorder.take()

            let response: HTTPResponse
            do {
                response = try await client.send(HTTPRequest(method: .post, url: url, headers: headers, body: expectation.body,
                                                             throwsOnErrorStatus: false))
            } catch {
                outcome.failures.append("\(label): the request could not be sent: \(error)")
                continue
            }
            outcome.sent += 1
            if response.status != expectation.status {
                failures.append("the server answered \(response.status) \(excerpt(response.text)), expected \(expectation.status)")
            }

            // Accepted: wait until a worker has applied it (or given up on it).
            var failure: String?
            if response.status == 202, response.text.contains(#""ok""#) {
                let deadline = ContinuousClock.now + .seconds(definition.timeout + 60)
                while counts() == finishedBefore, ContinuousClock.now < deadline {
                    try? await Task.sleep(for: .milliseconds(10))
                }
                if counts() == finishedBefore {
                    failures.append("the event was not processed within \(Int(definition.timeout + 60)) s")
                } else if service.metrics.snapshot.failed[path, default: 0] > failedBefore {
                    // The worker counts the failure before it logs why: wait for the line a moment.
                    let marker = "webhook \(path): event failed: "
                    let logged = ContinuousClock.now + .seconds(5)
                    var line = logs.current.dropFirst(logsBefore).last { $0.contains(marker) }
                    while line == nil, ContinuousClock.now < logged {
                        try? await Task.sleep(for: .milliseconds(10))
                        line = logs.current.dropFirst(logsBefore).last { $0.contains(marker) }
                    }
                    failure = line.map { String($0[$0.range(of: marker)!.upperBound...]) } ?? "failed (no reason was logged)"
                }
            }
            switch (expectation.error, failure) {
            case (let wanted?, let actual?):
                if !actual.contains(wanted) { failures.append("the event failed with \"\(actual)\", expected a failure containing \"\(wanted)\"") }
            case (let wanted?, nil):
                failures.append("expected the event to fail with \"\(wanted)\", but it did not fail")
            case (nil, let actual?):
                failures.append("processing the event failed: \(actual)")
            case (nil, nil):
                break
            }

            // Its effects.
            let effects = recorder.take()
            let written = effects.upserts.compactMap { key in try? catalog.entity(blueprint: key.blueprint, identifier: key.identifier) }
            let expected = expectation.upserts.compactMap { try? JSON(parsing: $0) }
            if let diff = EntityComparison.diff(expected: expected, actual: written,
                                                subset: expectation.subset ?? testCase.subset, listsAll: true) {
                failures.append("the upserts differ (- expected, + actual):\n\(diff)")
            }
            let deleted = Array(Set(effects.deletes)).sorted()
            let expectedDeletes = Array(Set(expectation.deletes)).sorted()
            if deleted != expectedDeletes {
                let diff = UnifiedDiff.render(expectedDeletes.map(\.description), deleted.map(\.description), from: "expected", to: "actual")
                failures.append("the deletes differ (- expected, + actual):\n\(diff)")
            }
            if !failures.isEmpty {
                outcome.failures.append("\(label):\n" + failures.map { "  " + $0.replacingOccurrences(of: "\n", with: "\n  ") }.joined(separator: "\n"))
            }
        }
        await service.shutdown()
        await client.shutdown()
        return outcome
    }

    static func queryString(_ query: [(name: String, value: String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+;")
        return "?" + query.map { pair in
            (pair.name.addingPercentEncoding(withAllowedCharacters: allowed) ?? pair.name) + "="
                + (pair.value.addingPercentEncoding(withAllowedCharacters: allowed) ?? pair.value)
        }.joined(separator: "&")
    }

    static func excerpt(_ text: String) -> String {
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= 200 ? flat : String(flat.prefix(200)) + "…"
    }
}

/// The catalog sink, noting the keys each event wrote and deleted. The entities themselves are
/// read back from the catalog, so they are compared as stored, as after a resync.
final class RecordingSink: EntitySink {
    let base: CatalogSink
    private let recorded = Locked<(upserts: [EntityKey], deletes: [EntityKey])>(([], []))

    init(base: CatalogSink) { self.base = base }

    /// What was recorded since the last call, in order, without repeats.
    func take() -> (upserts: [EntityKey], deletes: [EntityKey]) {
        let taken = recorded.withLock { state in
            defer { state = ([], []) }
            return state
        }
        var seen: Set<EntityKey> = []
        return (taken.upserts.filter { seen.insert($0).inserted }, taken.deletes)
    }

    func prepare(blueprints: [Blueprint]) async throws { try await base.prepare(blueprints: blueprints) }

    func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        let results = try await base.upsert(entities, options: options)
        let keys = results.compactMap { result in
            result.succeeded ? result.identifier.map { EntityKey(blueprint: result.blueprint, identifier: $0) } : nil
        }
        recorded.withLock { $0.upserts += keys }
        return results
    }

    func staleEntities(resyncStart: Date) async throws -> StaleEntities { try await base.staleEntities(resyncStart: resyncStart) }

    func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> {
        try await base.relationTargets(among: candidates, writtenSince: resyncStart)
    }

    func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int {
        recorded.withLock { $0.deletes += keys }
        return try await base.delete(keys, deleteDependents: deleteDependents)
    }
}
