import Foundation
import TideCore
import TideEngine
import TideIntegration
import TideMapping
import TideModel
import TidePort
import TideHTTP

/// One `tide run` against Port, in Ocean's order: start-up (token, integration, blueprints),
/// resync-state running, the mapping from Port, the resync, resync-state completed or failed.
public struct PortRun: Sendable {
    public enum Outcome: Sendable {
        /// Port holds an empty mapping: nothing was fetched, written or deleted.
        case skippedEmptyMapping
        case finished(ResyncSummary)
    }

    public let integration: Integration
    public let configuration: ResolvedConfiguration
    public let settings: PortSettings
    public let client: PortClient
    public let sink: PortSink
    public let lifecycle: PortIntegrationLifecycle
    public let mappingOptions: MappingOptions

    public init(integration: Integration, configuration: ResolvedConfiguration, settings: PortSettings,
                client: PortClient? = nil, mappingOptions: MappingOptions = MappingOptions()) {
        var integration = integration
        integration.version = settings.version
        self.integration = integration
        self.configuration = configuration
        self.settings = settings
        let client = client ?? PortClient(credentials: settings.credentials, datasource: settings.datasource)
        self.client = client
        sink = PortSink(client: client)
        lifecycle = PortIntegrationLifecycle(client: client, settings: settings, integration: integration)
        self.mappingOptions = mappingOptions
    }

    /// Ocean's POLLING check: `GET /v1/integration/{id}/resync-request`, true when Port holds a
    /// request newer than the last one seen (the first request seen counts as new).
    public func resyncRequestWatcher() -> @Sendable () async -> Bool {
        let client = self.client
        let path = "/v1/integration/\(PortClient.encode(settings.identifier))/resync-request"
        let seen = Locked<String?>(nil)
        return {
            guard let response = try? await client.call(.get, path, accepting: [404]), response.isSuccess,
                  let updated = JSONValue.parse(response.text)?["request"]?["updatedAt"]?.stringValue else { return false }
            return seen.withLock { last in
                defer { last = updated }
                return last.map { updated > $0 } ?? true
            }
        }
    }

    /// Runs once. With `reportAbortOnSignal`, SIGINT/SIGTERM during the resync report `aborted`
    /// to Port before the process exits with 130, as Ocean does on shutdown.
    public func run(observer: any ResyncObserver, reportAbortOnSignal: Bool = false) async throws -> Outcome {
        guard reportAbortOnSignal else { return try await runOnce(observer: observer) }
        let lifecycle = self.lifecycle
        let box = ResultBox<Outcome>()
        let run = FiniteRun(body: { try await self.runOnce(observer: observer) }, onShutdown: {
            Task {
                try? await lifecycle.report(.aborted, end: Date())
                exit(130)
            }
        }, result: box)
        try await Lifecycle.run(run)
        guard let outcome = box.current else { throw CancellationError() }
        return outcome
    }

    private func runOnce(observer: any ResyncObserver) async throws -> Outcome {
        for note in try await lifecycle.start() { observer.note(note) }
        let start = Date()
        try await lifecycle.report(.running, start: start)
        let mapping: PortAppConfig?
        do { mapping = try await lifecycle.fetchMapping() } catch {
            try? await lifecycle.report(.failed, end: Date())
            throw error
        }
        guard let mapping else {
            observer.note("the mapping in Port for \(settings.identifier) is empty, so the resync was skipped (as Ocean skips it); set one in Port's data sources page")
            try await lifecycle.report(.completed, end: Date())
            return .skippedEmptyMapping
        }
        let resync = Resync(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                            mappingOptions: mappingOptions)
        let summary: ResyncSummary
        do { summary = try await resync.run(observer: observer) } catch {
            try? await lifecycle.report(.failed, end: Date())
            throw error
        }
        for failure in sink.deleteFailures.prefix(5) { observer.note("a delete failed: \(failure)") }
        // Ocean reports failed when a kind had errors (reconciliation then did not run).
        try await lifecycle.report(summary.succeeded ? .completed : .failed, end: Date())
        return .finished(summary)
    }
}

