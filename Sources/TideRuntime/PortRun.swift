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
    /// Where incremental sync's cursors are kept (a local file: Port has no place for them).
    public let cursors: (any CursorStore)?

    public init(integration: Integration, configuration: ResolvedConfiguration, settings: PortSettings,
                client: PortClient? = nil, mappingOptions: MappingOptions = MappingOptions(), cursors: (any CursorStore)? = nil) {
        self.cursors = cursors
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
    public func run(observer: any ResyncObserver, reportAbortOnSignal: Bool = false, mode: Resync.Mode = .full) async throws -> Outcome {
        guard reportAbortOnSignal else { return try await runOnce(observer: observer, mode: mode) }
        let lifecycle = self.lifecycle
        let box = ResultBox<Outcome>()
        let run = FiniteRun(body: { try await self.runOnce(observer: observer, mode: mode) }, onShutdown: {
            Task {
                try? await lifecycle.report(.aborted, end: Date())
                exit(130)
            }
        }, result: box)
        try await Lifecycle.run(run)
        return try box.get()
    }

    private func runOnce(observer: any ResyncObserver, mode: Resync.Mode) async throws -> Outcome {
        for note in try await lifecycle.start() { observer.note(note) }
        let start = Date()
        // Port's resync state describes full resyncs: an incremental pass leaves it alone, as
        // Ocean's does.
        let reports = mode == .full
        func report(_ state: PortIntegrationLifecycle.ResyncStatus, start: Date? = nil, end: Date? = nil) async throws {
            guard reports else { return }
            try await lifecycle.report(state, start: start, end: end)
        }
        try await report(.running, start: start)
        let mapping: PortAppConfig?
        do { mapping = try await lifecycle.fetchMapping() } catch {
            try? await report(.failed, end: Date())
            throw error
        }
        guard let mapping else {
            observer.note("the mapping in Port for \(settings.identifier) is empty, so the resync was skipped (as Ocean skips it); set one in Port's data sources page")
            try await report(.completed, end: Date())
            return .skippedEmptyMapping
        }
        var resync = Resync(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                            mappingOptions: mappingOptions)
        resync.mode = mode
        resync.cursors = cursors
        let summary: ResyncSummary
        do { summary = try await resync.run(observer: observer) } catch {
            try? await report(.failed, end: Date())
            throw error
        }
        for failure in sink.deleteFailures.prefix(5) { observer.note("a delete failed: \(failure)") }
        // Ocean reports failed when a kind had errors (reconciliation then did not run).
        try await report(summary.succeeded ? .completed : .failed, end: Date())
        return .finished(summary)
    }
}

