import Foundation
import Testing
import TideCore
import TideTesting
import TideWebhooks

/// Incremental passes take turns with full resyncs in one `ResyncController`: never two at once,
/// a pending full resync is not displaced by an incremental pass, and a pending incremental pass
/// gives way to a full resync asked for after it.
@Suite struct IncrementalScheduleTests {
    final class Runs: Sendable {
        let state = Locked((order: [String](), running: 0, most: 0, release: false))
        func body(_ name: String) -> ResyncController.Run {
            { [self] in
                state.withLock { $0.order.append(name); $0.running += 1; $0.most = max($0.most, $0.running) }
                while !state.current.release { try await Task.sleep(for: .milliseconds(10)) }
                state.withLock { $0.running -= 1 }
                return true
            }
        }
    }

    @Test func passesTakeTurnsAndAFullResyncPendingWins() async throws {
        let runs = Runs()
        let metrics = WebhookMetrics()
        let controller = ResyncController(metrics: metrics, log: { _, _ in }, run: runs.body("full"), incremental: runs.body("incremental"))
        await controller.trigger("start")
        try await eventually("the full resync started") { runs.state.current.order == ["full"] }
        // While it runs: an incremental pass is left pending, then a full resync replaces it, and
        // a later incremental trigger does not displace the full one.
        await controller.trigger("scheduled", incremental: true)
        await controller.trigger("request")
        await controller.trigger("scheduled", incremental: true)
        runs.state.withLock { $0.release = true }
        await controller.waitIdle()
        #expect(runs.state.current.order == ["full", "full"])
        #expect(runs.state.current.most == 1)
        // With nothing running, an incremental trigger runs the incremental pass, counted apart.
        await controller.trigger("scheduled", incremental: true)
        await controller.waitIdle()
        #expect(runs.state.current.order == ["full", "full", "incremental"])
        let counts = metrics.snapshot
        #expect(counts.resyncsStarted == 2 && counts.resyncsSucceeded == 2)
        #expect(counts.incrementalPasses["started"] == 1 && counts.incrementalPasses["succeeded"] == 1)
        #expect(metrics.render(depths: [:]).contains(#"tide_incremental_passes_total{outcome="succeeded"} 1"#))
    }

    /// Without an incremental run (incremental sync not enabled) an incremental trigger does nothing.
    @Test func anIncrementalTriggerWithoutAnIncrementalRunIsIgnored() async throws {
        let runs = Runs()
        runs.state.withLock { $0.release = true }
        let controller = ResyncController(metrics: WebhookMetrics(), log: { _, _ in }, run: runs.body("full"))
        await controller.trigger("scheduled", incremental: true)
        await controller.waitIdle()
        #expect(runs.state.current.order.isEmpty)
        await controller.trigger("start")
        await controller.waitIdle()
        #expect(runs.state.current.order == ["full"])
    }
}
