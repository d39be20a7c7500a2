import Foundation
import Testing
import TideEngine
import TideHTTP
import TideIntegration
import TideTesting
@testable import TideWebhooks

/// The webhook service's refetches and the resyncs talk to the API through one budget per host:
/// the process's registry, where the refetches are live requests.
@Suite struct BudgetSharingTests {
    @Test func refetchesAndAResyncShareTheHostsBudget() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        h.thirdParty.set("a", name: "from the API")
        #expect(try await h.hmac(event("refetch", id: "a")).status == 202)
        try await eventually("a written") { h.title("a") != nil }
        // The service's client now holds the third party's budget in the shared registry.
        let budget = try #require(HostBudgetRegistry.shared.budget(for: h.thirdParty.server.baseURL))
        #expect(budget.stats.requests == 1)

        let resync = Resync(integration: h.integration, mapping: h.mapping, configuration: h.configuration, sink: h.sink)
        let summary = try await resync.run(observer: NoObserver())
        #expect(summary.succeeded)
        // The resync's one page went through the same budget as the refetch.
        #expect(budget.stats.requests == 2)
        #expect(budget.stats.inFlight == 0)
        #expect(budget.stats.maxConcurrency == h.integration.http.concurrency)
    }
}
