import Foundation
import Testing
import TideCore
import TideRedis
import TideTesting
import TideWebhooks

/// Only one replica resyncs at a time: `ResyncController`s of two replicas share the resync lease
/// in Redis (`RedisResyncGate`), as `tide run --events redis://…` sets them up.
@Suite(.enabled(if: TestRedis.enabled)) struct ResyncLeaseTests {
    final class Counter: Sendable {
        let state = Locked((started: 0, finished: 0, release: false))
    }

    static func controller(_ settings: RedisEventSettings, _ counter: Counter, lines: Locked<[String]>) -> ResyncController {
        ResyncController(metrics: WebhookMetrics(), log: { _, line in lines.withLock { $0.append(line) } },
                         gate: RedisResyncGate(settings: settings)) {
            counter.state.withLock { $0.started += 1 }
            while !counter.state.current.release { try await Task.sleep(for: .milliseconds(20)) }
            counter.state.withLock { $0.finished += 1 }
            return true
        }
    }

    @Test func oneReplicaResyncsAndTheLeaseIsTakenOverAfterItsHolderDies() async throws {
        let url = try TestRedis.requireURL()
        let namespace = TestRedis.namespace("resync")
        let ttl = 1.0
        let a = RedisEventSettings(url: url, namespace: namespace, visibilityTimeout: ttl, consumer: "replica-a")
        let b = RedisEventSettings(url: url, namespace: namespace, visibilityTimeout: ttl, consumer: "replica-b")
        let lines = Locked<[String]>([])
        let countA = Counter(), countB = Counter()
        let controllerA = Self.controller(a, countA, lines: lines)
        let controllerB = Self.controller(b, countB, lines: lines)
        let lease = RedisLease(key: a.resyncLeaseKey, token: "observer", ttl: ttl)
        let observer = RedisConnection(url: url)

        // A resyncs, for several times the lease's time to live: it keeps renewing it, so B's
        // triggers meanwhile are skipped.
        await controllerA.trigger("start")
        try await eventually("A's resync started") { countA.state.current.started == 1 }
        for _ in 0..<3 {
            await controllerB.trigger("scheduled")
            await controllerB.waitIdle()
            #expect(try await lease.holder(on: observer) == "replica-a")
            try await Task.sleep(for: .milliseconds(600))
        }
        #expect(countB.state.current.started == 0)
        #expect(lines.current.filter { $0.contains("skipped: another replica holds the resync lease") }.count == 3)
        // A ends: the lease is released at once, and B's next trigger runs.
        countA.state.withLock { $0.release = true }
        await controllerA.waitIdle()
        #expect(try await lease.holder(on: observer) == nil)
        countB.state.withLock { $0.release = true }
        await controllerB.trigger("scheduled")
        await controllerB.waitIdle()
        #expect(countB.state.current.finished == 1)

        // A replica dies holding the lease (takes it, never renews or releases it): others skip
        // until the time to live is over, then one takes it.
        let dead = RedisResyncGate(settings: RedisEventSettings(url: url, namespace: namespace, visibilityTimeout: ttl, consumer: "replica-dead"))
        #expect(await dead.enter())
        await controllerB.trigger("scheduled")
        await controllerB.waitIdle()
        #expect(countB.state.current.started == 1)
        try await eventually("the dead replica's lease expired") { try await lease.holder(on: observer) == nil }
        await controllerB.trigger("scheduled")
        await controllerB.waitIdle()
        #expect(countB.state.current.started == 2 && countB.state.current.finished == 2)
        #expect(lines.current.filter { $0.contains("skipped") }.count == 4)
    }
}

