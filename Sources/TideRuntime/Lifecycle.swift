import Foundation
import Logging
import ServiceLifecycle
import TideCore
import UnixSignals
import TideWebhooks

/// How a run stops: swift-service-lifecycle's `ServiceGroup` owns SIGTERM and SIGINT and turns
/// them into a graceful shutdown that each run below answers in its own task (a drain, an
/// "aborted" report to Port) rather than inside a signal handler.
enum Lifecycle {
    /// Runs `service` until it returns or, on SIGTERM/SIGINT, until it has shut down gracefully.
    static func run(_ service: some Service) async throws {
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            // Tide reports through its own reporter; the group's own lines would be noise.
            logger: Logger(label: "tide.lifecycle", factory: { _ in SwiftLogNoOpLogHandler() })))
        try await group.run()
    }
}

/// The live service as a lifecycle service: started, then on shutdown drained in order —
/// intake answers 503, queued events are applied, resyncs stop, the server closes.
struct LiveRun: Service {
    let service: LiveService
    let stopping: @Sendable () -> Void
    let stopped: @Sendable () -> Void

    func run() async throws {
        try await service.start()
        // Suspends until the group starts a graceful shutdown (or the task is cancelled).
        try? await gracefulShutdown()
        stopping()
        await service.shutdown()
        stopped()
    }
}

/// A run that ends by itself (a resync), with what to do when shutdown is asked for before that.
struct FiniteRun<Result: Sendable>: Service {
    let body: @Sendable () async throws -> Result
    let onShutdown: @Sendable () -> Void
    let result: ResultBox<Result>

    func run() async throws {
        let value = try await withGracefulShutdownHandler {
            try await body()
        } onGracefulShutdown: {
            onShutdown()
        }
        result.set(value)
    }
}

/// Where a `FiniteRun` leaves its result for the caller of the group.
final class ResultBox<Value: Sendable>: Sendable {
    private let value = Locked<Value?>(nil)
    func set(_ new: Value) { value.withLock { $0 = new } }
    var current: Value? { value.current }
}
