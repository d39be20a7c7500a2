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
        // A run that returns ends the group as a graceful shutdown would, not as a failure.
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            // Tide reports through its own reporter; the group's own lines would be noise.
            logger: Logger(label: "tide.lifecycle", factory: { _ in SwiftLogNoOpLogHandler() })))
        try await group.run()
    }
}

/// The live service (already started) as a lifecycle service: on shutdown drained in order —
/// intake answers 503, queued events are applied, resyncs stop, the server closes.
struct LiveRun: Service {
    let service: LiveService
    let stopping: @Sendable () -> Void
    let stopped: @Sendable () -> Void

    func run() async throws {
        // Suspends until the group starts a graceful shutdown (or the task is cancelled).
        try? await gracefulShutdown()
        stopping()
        await service.shutdown()
        stopped()
    }
}

/// A run that ends by itself (a resync), with what to do when shutdown is asked for before that.
/// Its outcome, error included, is left in `result` as it is: the group would wrap the error.
struct FiniteRun<Value: Sendable>: Service {
    let body: @Sendable () async throws -> Value
    let onShutdown: @Sendable () -> Void
    let result: ResultBox<Value>

    func run() async throws {
        let outcome = await withGracefulShutdownHandler {
            do { return Result<Value, any Error>.success(try await body()) } catch { return .failure(error) }
        } onGracefulShutdown: {
            onShutdown()
        }
        result.set(outcome)
    }
}

/// Where a `FiniteRun` leaves its outcome for the caller of the group.
final class ResultBox<Value: Sendable>: Sendable {
    private let value = Locked<Result<Value, any Error>?>(nil)
    func set(_ new: Result<Value, any Error>) { value.withLock { $0 = new } }
    /// The outcome; a run that never finished (cancelled) is a `CancellationError`.
    func get() throws -> Value { try (value.current ?? .failure(CancellationError())).get() }
}
