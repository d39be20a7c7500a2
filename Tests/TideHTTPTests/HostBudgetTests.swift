import Foundation
import Testing
import TideCore
import TideHTTP
import TideTesting

/// Counts what a loopback server sees: requests in flight at once (per path), arrivals in order.
final class Tally: Sendable {
    struct Arrival: Sendable {
        var path: String
        var at: ContinuousClock.Instant
        /// Requests to /bulk received before this one.
        var bulkBefore: Int
    }
    private struct State {
        var inFlight: [String: Int] = [:]
        var maxInFlight: [String: Int] = [:]
        var arrivals: [Arrival] = []
    }
    private let state = Locked(State())

    /// Holds the request for `hold` while counting it in flight; returns the arrival.
    @discardableResult
    func handle(_ path: String, hold: Duration) async -> Arrival {
        let arrival = state.withLock { state -> Arrival in
            let arrival = Arrival(path: path, at: .now, bulkBefore: state.arrivals.filter { $0.path == "/bulk" }.count)
            state.arrivals.append(arrival)
            state.inFlight[path, default: 0] += 1
            state.maxInFlight[path] = max(state.maxInFlight[path, default: 0], state.inFlight[path, default: 0])
            return arrival
        }
        if hold > .zero { try? await Task.sleep(for: hold) }
        state.withLock { $0.inFlight[path, default: 0] -= 1 }
        return arrival
    }

    func maxInFlight(_ path: String) -> Int { state.withLock { $0.maxInFlight[path, default: 0] } }
    func resetMaximum(_ path: String) { state.withLock { $0.maxInFlight[path] = $0.inFlight[path, default: 0] } }
    func arrivals(_ path: String) -> [Arrival] { state.withLock { $0.arrivals.filter { $0.path == path } } }
    var total: Int { state.withLock { $0.arrivals.count } }
}

/// Sends `count` requests at once from `client` and waits for them all; returns their statuses.
func burst(_ client: HTTPClient, _ url: String, count: Int) async throws -> [Int] {
    try await withThrowingTaskGroup(of: Int.self) { group in
        for _ in 0..<count {
            group.addTask {
                var request = HTTPRequest(url: url)
                request.throwsOnErrorStatus = false
                return try await client.send(request).status
            }
        }
        var statuses: [Int] = []
        for try await status in group { statuses.append(status) }
        return statuses
    }
}

@Suite("Request budget per host", .timeLimit(.minutes(3)))
struct HostBudgetTests {
    /// A 429 storm halves the concurrency once per round of requests (the other answers of a round
    /// were sent before the cut and do not cut again), then successes grow it back, one slot per
    /// round, to the ceiling and never past it.
    @Test func a429StormBacksOffThenRecoversToTheCeiling() async throws {
        let storm = Locked(true)
        let tally = Tally()
        try await withServer(client: .init(maxConcurrentRequests: 8, retry: .never), handler: { request in
            await tally.handle(request.path, hold: .milliseconds(20))
            return storm.current ? TestResponse(status: 429, headers: [TestHeader("Retry-After", "0")]) : .text("ok")
        }) { server, client in
            // Eight sent at once, eight 429s: one cut, not eight.
            let round = try await burst(client, server.url("/storm"), count: 8)
            #expect(round == Array(repeating: 429, count: 8))
            let once = try #require(client.budgetStats.first)
            #expect(once.backoffs == 1, "\(once)")
            #expect(once.concurrency == 4)
            // Two more rounds: 4 → 2 → 1, and no lower.
            for _ in 0..<2 {
                let statuses = try await burst(client, server.url("/storm"), count: 8)
                #expect(statuses == Array(repeating: 429, count: 8))
            }
            let stormed = try #require(client.budgetStats.first)
            #expect(stormed.throttled == 24)
            #expect(stormed.backoffs >= 3, "\(stormed)")
            #expect(stormed.concurrency == 1)
            #expect(stormed.maxConcurrency == 8)

            // The storm ends: a slot per round of successes, 1 + 2 + … + 7 = 28 of them to get back to 8.
            storm.withLock { $0 = false }
            tally.resetMaximum("/calm")
            let first = try await burst(client, server.url("/calm"), count: 8)
            #expect(first.allSatisfy { $0 == 200 })
            // Right after the storm the budget is still cut (1, then 2 after a success, 3 after two
            // more, …): the eight did not go out at once.
            #expect(tally.maxInFlight("/calm") <= 4, "in flight: \(tally.maxInFlight("/calm"))")
            let rest = try await burst(client, server.url("/calm"), count: 72)
            #expect(rest.allSatisfy { $0 == 200 })
            let calm = try #require(client.budgetStats.first)
            #expect(calm.concurrency == 8, "\(calm)")
            #expect(calm.backoffs == stormed.backoffs)
            #expect(calm.requests == 24 + 80)
            #expect(tally.maxInFlight("/calm") <= 8)
            #expect(calm.inFlight == 0)
            #expect(calm.waited > .zero)
        }
    }

    /// A configured rate is halved by a 429 too, and grows back on successes, never above it.
    @Test func aConfiguredRateIsHalvedAndGrowsBackWithinItsCeiling() async throws {
        let storm = Locked(true)
        let limit = RateLimit(requests: 200, per: .seconds(1))
        try await withServer(client: .init(maxConcurrentRequests: 4, rateLimit: limit, retry: .never), handler: { _ in
            storm.current ? TestResponse(status: 503) : .text("ok")
        }) { server, client in
            _ = try await burst(client, server.url("/r"), count: 1)
            let cut = try #require(client.budgetStats.first?.requestsPerSecond)
            #expect(cut == 100)
            storm.withLock { $0 = false }
            _ = try await burst(client, server.url("/r"), count: 40)
            let grown = try #require(client.budgetStats.first)
            let rate = try #require(grown.requestsPerSecond)
            #expect(rate > 100 && rate <= 200, "\(grown)")
            #expect(grown.maxRequestsPerSecond == 200)
            #expect(grown.throttled == 1)
        }
    }

    /// A Retry-After pauses the whole host: a request another client sends meanwhile waits for the
    /// pause to end before it reaches the server.
    @Test func retryAfterPausesTheWholeHost() async throws {
        let tally = Tally()
        let answered = Locked(0)
        let registry = HostBudgetRegistry()
        var configuration = HTTPClient.Configuration(retry: .never)
        configuration.budgets = registry
        let other = HTTPClient(configuration: configuration)
        try await withServer(client: configuration, handler: { request in
            await tally.handle(request.path, hold: .zero)
            let first = answered.withLock { count -> Bool in defer { count += 1 }; return count == 0 }
            return first ? TestResponse(status: 429, headers: [TestHeader("Retry-After", "1")]) : .text("ok")
        }) { server, client in
            var request = HTTPRequest(url: server.url("/first"))
            request.throwsOnErrorStatus = false
            let limited = try await client.send(request)
            #expect(limited.status == 429)
            let throttledAt = try #require(tally.arrivals("/first").first).at

            let next = try await other.send(HTTPRequest(url: server.url("/next")))
            #expect(next.status == 200)
            let arrival = try #require(tally.arrivals("/next").first)
            #expect(arrival.at - throttledAt >= .milliseconds(950), "the second request reached the server \(arrival.at - throttledAt) after the 429")
            #expect(next.timing.queued >= .milliseconds(900))
            let stats = try #require(registry.stats.first)
            #expect(stats.pauses == 1)
            #expect(stats.throttled == 1)
            #expect(stats.requests == 2)
            #expect(registry.stats.count == 1)
        }
        await other.shutdown()
    }

    /// GitHub answers its rate limits with 403: with `Retry-After` (a secondary limit) the host is
    /// paused and the budget cut like a 429; a plain 403 (no access) teaches nothing.
    @Test func aRateLimit403PausesTheHostAndAPlain403DoesNot() async throws {
        try await withServer(client: .init(maxConcurrentRequests: 8, retry: .never), handler: sequence([
            .json(#"{"message":"Not Found"}"#, status: 403),
            // Seconds enough that a loaded machine still finds the pause running when it asks again.
            .json(#"{"message":"You have exceeded a secondary rate limit"}"#, status: 403, headers: [TestHeader("Retry-After", "4")]),
            .text("ok"),
        ])) { server, client in
            _ = try await burst(client, server.url("/forbidden"), count: 1)
            let plain = try #require(client.budgetStats.first)
            #expect(plain.throttled == 0 && plain.pauses == 0 && plain.concurrency == 8)
            _ = try await burst(client, server.url("/limited"), count: 1)
            let limited = try #require(client.budgetStats.first)
            #expect(limited.throttled == 1)
            #expect(limited.pauses == 1)
            #expect(limited.concurrency == 4)
            let paused = try #require(client.budgetStats.first).pausedFor
            let next = try await client.send(HTTPRequest(url: server.url("/after")))
            // It waited out what was left of the pause when it was sent.
            #expect(paused > .seconds(1))
            #expect(next.timing.queued >= paused - .milliseconds(500), "waited \(next.timing.queued) of \(paused)")
        }
    }

    /// A pause is capped by the longest the client would wait for a retry: a server asking for an
    /// hour does not stop the host for an hour.
    @Test func aPauseIsCappedByTheRetryWaitLimit() async throws {
        var policy = RetryPolicy.never
        policy.maxTotalWait = .seconds(1)
        try await withServer(client: .init(retry: policy), handler: sequence([
            TestResponse(status: 429, headers: [TestHeader("Retry-After", "3600")]), .text("ok"),
        ])) { server, client in
            let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/hour"))))
            #expect(error.status == 429)
            let paused = try #require(client.budgetStats.first).pausedFor
            #expect(paused <= .seconds(1) && paused > .zero, "paused for \(paused)")
            let next = try await client.send(HTTPRequest(url: server.url("/after")))
            #expect(next.status == 200)
        }
    }

    /// The server's quota, in each dialect, is followed before it runs out: with 9 of 10 left,
    /// 9 more requests go and the rest wait for the window to reset, so the server never has to
    /// refuse one.
    @Test(arguments: QuotaServer.Dialect.allCases)
    func quotaHeadersHoldRequestsBackBeforeTheLimit(_ dialect: QuotaServer.Dialect) async throws {
        // A window long enough that a loaded machine (the whole suite at once on 2 cores) does not
        // see it turn between the first answer and the check that follows it.
        let quota = QuotaServer(limit: 10, window: .seconds(4), dialect: dialect)
        try await withServer(client: .init(maxConcurrentRequests: 20, retry: .never), handler: { _ in
            quota.answer()
        }) { server, client in
            let first = try await burst(client, server.url("/q"), count: 1)
            #expect(first == [200])
            #expect(try #require(client.budgetStats.first).serverRemaining == 9)
            let statuses = try await burst(client, server.url("/q"), count: 19)
            #expect(statuses.filter { $0 == 429 }.count == 0, "\(dialect): the server refused \(quota.refused) requests")
            #expect(statuses.count == 19)
            #expect(quota.refused == 0)
            #expect(quota.windowsUsed >= 2)
            let stats = try #require(client.budgetStats.first)
            #expect(stats.throttled == 0)
            #expect(stats.waited > .zero)
        }
    }

    /// With a live client registered, bulk requests leave a slot free: live requests sent while a
    /// resync saturates the host go at once instead of queuing behind every bulk request.
    @Test func liveRequestsAreServedWhileBulkSaturatesTheConcurrency() async throws {
        let tally = Tally()
        let registry = HostBudgetRegistry()
        var bulkConfiguration = HTTPClient.Configuration(maxConcurrentRequests: 4, retry: .never)
        bulkConfiguration.budgets = registry
        var liveConfiguration = bulkConfiguration
        liveConfiguration.priority = .live
        let live = HTTPClient(configuration: liveConfiguration)
        try await withServer(client: bulkConfiguration, handler: { request in
            await tally.handle(request.path, hold: .milliseconds(request.path == "/bulk" ? 100 : 0))
            return .text("ok")
        }) { server, bulk in
            let resync = Task { try await burst(bulk, server.url("/bulk"), count: 40) }
            while tally.arrivals("/bulk").count < 3 { try await Task.sleep(for: .milliseconds(5)) }
            for _ in 0..<3 {
                let response = try await live.send(HTTPRequest(url: server.url("/live")))
                #expect(response.status == 200)
            }
            let statuses = try await resync.value
            #expect(statuses.count == 40)
            // One of the four slots was kept for live requests.
            #expect(tally.maxInFlight("/bulk") == 3)
            for arrival in tally.arrivals("/live") {
                #expect(arrival.bulkBefore < 20, "a live request waited for \(arrival.bulkBefore) of 40 bulk requests")
            }
            let stats = try #require(registry.stats.first)
            #expect(stats.requests == 43)
            #expect(stats.maxConcurrency == 4)
        }
        await live.shutdown()
    }

    /// Without a live client, nothing is kept: a resync has every slot.
    @Test func withoutALiveClientBulkTakesEverySlot() async throws {
        let tally = Tally()
        try await withServer(client: .init(maxConcurrentRequests: 4, retry: .never), handler: { request in
            await tally.handle(request.path, hold: .milliseconds(50))
            return .text("ok")
        }) { server, client in
            _ = try await burst(client, server.url("/bulk"), count: 16)
            #expect(tally.maxInFlight("/bulk") == 4)
        }
    }

    /// The token bucket keeps a share for live requests too: while bulk requests drain a rate of
    /// 10/s, a live request finds a token at once.
    @Test func liveRequestsFindATokenWhileBulkSaturatesTheRate() async throws {
        let tally = Tally()
        let registry = HostBudgetRegistry()
        var bulkConfiguration = HTTPClient.Configuration(maxConcurrentRequests: 16, rateLimit: RateLimit(requests: 5, per: .milliseconds(500)),
                                                         retry: .never)
        bulkConfiguration.budgets = registry
        var liveConfiguration = bulkConfiguration
        liveConfiguration.priority = .live
        let live = HTTPClient(configuration: liveConfiguration)
        try await withServer(client: bulkConfiguration, handler: { request in
            await tally.handle(request.path, hold: .zero)
            return .text("ok")
        }) { server, bulk in
            let resync = Task { try await burst(bulk, server.url("/bulk"), count: 30) }
            while tally.arrivals("/bulk").count < 8 { try await Task.sleep(for: .milliseconds(5)) }
            let response = try await live.send(HTTPRequest(url: server.url("/live")))
            #expect(response.status == 200)
            let arrival = try #require(tally.arrivals("/live").first)
            #expect(arrival.bulkBefore < 20, "the live request waited for \(arrival.bulkBefore) of 30 bulk requests")
            _ = try await resync.value
            #expect(tally.arrivals("/bulk").count == 30)
        }
        await live.shutdown()
    }

    /// Two clients of one registry to one origin share one budget: together they never have more
    /// requests in flight than the limit, and the budget counts both.
    @Test func twoClientsToOneHostShareOneBudget() async throws {
        let tally = Tally()
        let registry = HostBudgetRegistry()
        var configuration = HTTPClient.Configuration(maxConcurrentRequests: 3, retry: .never)
        configuration.budgets = registry
        let second = HTTPClient(configuration: configuration)
        try await withServer(client: configuration, handler: { request in
            await tally.handle("/any", hold: .milliseconds(30))
            return .text("ok")
        }) { server, first in
            async let a = burst(first, server.url("/a"), count: 30)
            async let b = burst(second, server.url("/b"), count: 30)
            let statuses = try await a + b
            #expect(statuses.count == 60)
            #expect(tally.maxInFlight("/any") <= 3, "in flight at once: \(tally.maxInFlight("/any"))")
            #expect(tally.maxInFlight("/any") >= 2)
            let shared = try #require(registry.stats.first)
            #expect(registry.stats.count == 1)
            #expect(shared.requests == 60)
            #expect(first.budget(for: server.url("/x")) === second.budget(for: server.url("/y")))
        }
        await second.shutdown()
    }

    /// Clients with budgets of their own (the default) do not share them.
    @Test func clientsWithoutARegistryKeepTheirOwnBudgets() async throws {
        let tally = Tally()
        let second = HTTPClient(configuration: .init(maxConcurrentRequests: 2, retry: .never))
        try await withServer(client: .init(maxConcurrentRequests: 2, retry: .never), handler: { _ in
            await tally.handle("/any", hold: .milliseconds(50))
            return .text("ok")
        }) { server, first in
            async let a = burst(first, server.url("/a"), count: 10)
            async let b = burst(second, server.url("/b"), count: 10)
            _ = try await a + b
            #expect(first.budget(for: server.url("/")) !== second.budget(for: server.url("/")))
            #expect(tally.maxInFlight("/any") <= 4)
        }
        await second.shutdown()
    }

    /// A request cancelled while it waits for the budget leaves the queue and takes nothing.
    @Test func aCancelledWaiterTakesNothing() async throws {
        let release = Locked(false)
        try await withServer(client: .init(maxConcurrentRequests: 1, retry: .never), handler: { _ in
            while !release.current { try? await Task.sleep(for: .milliseconds(5)) }
            return .text("ok")
        }) { server, client in
            let holder = Task { try await client.send(HTTPRequest(url: server.url("/hold"))) }
            while server.requests.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
            let waiter = Task { await client.expectFailure(HTTPRequest(url: server.url("/wait"))) }
            while client.budgetStats.first?.waiting != 1 { try await Task.sleep(for: .milliseconds(5)) }
            waiter.cancel()
            let error = try #require(await waiter.value)
            #expect(error.kind == .cancelled)
            #expect(error.attempts == 0)
            release.withLock { $0 = true }
            _ = try await holder.value
            let stats = try #require(client.budgetStats.first)
            #expect(stats.waiting == 0)
            #expect(stats.inFlight == 0)
            #expect(stats.requests == 1)
            #expect(server.requests.count == 1)
        }
    }
}

/// A server with a fixed quota per window that says what is left in one of the dialects APIs use,
/// and refuses (429) what is over it.
final class QuotaServer: Sendable {
    enum Dialect: String, CaseIterable, Sendable, CustomTestStringConvertible {
        /// X-RateLimit-Remaining with the reset as a Unix time (GitHub).
        case xEpoch
        /// X-RateLimit-Remaining with the reset in seconds.
        case xSeconds
        /// RateLimit-Remaining / RateLimit-Reset (the IETF draft's first form).
        case ietfFields
        /// RateLimit: limit=…, remaining=…, reset=… (draft 07).
        case ietfDraft7
        /// RateLimit: "default";r=…;t=… with RateLimit-Policy (drafts 08 and later).
        case ietfStructured
        var testDescription: String { rawValue }
    }

    let limit: Int
    let window: Duration
    let dialect: Dialect
    private let state = Locked((start: ContinuousClock.Instant?.none, index: -1, used: 0, refused: 0, windows: 0))

    init(limit: Int, window: Duration, dialect: Dialect) {
        self.limit = limit
        self.window = window
        self.dialect = dialect
    }

    var refused: Int { state.withLock { $0.refused } }
    var windowsUsed: Int { state.withLock { $0.windows } }

    func answer() -> TestResponse {
        let now = ContinuousClock.now
        let (allowed, remaining, left) = state.withLock { state -> (Bool, Int, Duration) in
            let start = state.start ?? now
            state.start = start
            let index = Int((now - start) / window)
            if index != state.index { state.index = index; state.used = 0; state.windows += 1 }
            let left = start + window * (index + 1) - now
            guard state.used < limit else { state.refused += 1; return (false, 0, left) }
            state.used += 1
            return (true, limit - state.used, left)
        }
        // Whole seconds, rounded up, as the headers carry them: never earlier than the real reset.
        let seconds = Int(left.components.seconds) + (left.components.attoseconds > 0 ? 1 : 0)
        var headers: [TestHeader]
        switch dialect {
        case .xEpoch:
            let reset = Date().timeIntervalSince1970 + Double(seconds)
            headers = [TestHeader("X-RateLimit-Limit", "\(limit)"), TestHeader("X-RateLimit-Remaining", "\(remaining)"),
                       TestHeader("X-RateLimit-Reset", "\(Int(reset.rounded(.up)))")]
        case .xSeconds:
            headers = [TestHeader("X-RateLimit-Remaining", "\(remaining)"), TestHeader("X-RateLimit-Reset", "\(seconds)")]
        case .ietfFields:
            headers = [TestHeader("RateLimit-Limit", "\(limit)"), TestHeader("RateLimit-Remaining", "\(remaining)"),
                       TestHeader("RateLimit-Reset", "\(seconds)")]
        case .ietfDraft7:
            headers = [TestHeader("RateLimit", "limit=\(limit), remaining=\(remaining), reset=\(seconds)"),
                       TestHeader("RateLimit-Policy", "\(limit);w=1")]
        case .ietfStructured:
            headers = [TestHeader("RateLimit-Policy", #""default";q=\#(limit);w=1"#),
                       TestHeader("RateLimit", #""default";r=\#(remaining);t=\#(seconds)"#)]
        }
        if !allowed { headers.append(TestHeader("Retry-After", "\(max(1, seconds))")) }
        return allowed ? .text("ok", headers: headers) : TestResponse(status: 429, headers: headers)
    }
}

@Suite("Server quota headers")
struct ServerQuotaTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func xRateLimitInSecondsEpochsAndDates() {
        #expect(ServerQuota.read(["X-RateLimit-Remaining": "12", "X-RateLimit-Reset": "30", "X-RateLimit-Limit": "100"], now: now)
                == ServerQuota(remaining: 12, reset: .seconds(30), limit: 100))
        // GitHub: a Unix time.
        #expect(ServerQuota.read(["x-ratelimit-remaining": "4999", "x-ratelimit-reset": "1700003600"], now: now)
                == ServerQuota(remaining: 4999, reset: .seconds(3600)))
        // Jira: an ISO 8601 timestamp.
        #expect(ServerQuota.read(["X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "2023-11-14T22:14:20Z"], now: now)
                == ServerQuota(remaining: 0, reset: .seconds(60)))
        // A count without a reset cannot be paced against.
        #expect(ServerQuota.read(["X-RateLimit-Remaining": "3"], now: now) == nil)
        #expect(ServerQuota.read([:], now: now) == nil)
    }

    @Test func ietfFieldsOfEveryDraft() {
        #expect(ServerQuota.read(["RateLimit-Limit": "100, 100;w=60", "RateLimit-Remaining": "40", "RateLimit-Reset": "20"], now: now)
                == ServerQuota(remaining: 40, reset: .seconds(20), limit: 100))
        #expect(ServerQuota.read(["RateLimit": "limit=10, remaining=4, reset=7", "RateLimit-Policy": "10;w=10"], now: now)
                == ServerQuota(remaining: 4, reset: .seconds(7), limit: 10))
        #expect(ServerQuota.read(["RateLimit": #""default";r=50;t=30"#, "RateLimit-Policy": #""default";q=100;w=60"#], now: now)
                == ServerQuota(remaining: 50, reset: .seconds(30), limit: 100))
        // Several quotas: the one closest to running out binds, with its own policy.
        let two: HTTPHeaders = ["RateLimit": #""burst";r=90;t=1, "day";r=5;t=3600"#,
                                "RateLimit-Policy": #""burst";q=100;w=1, "day";q=1000;w=86400"#]
        #expect(ServerQuota.read(two, now: now) == ServerQuota(remaining: 5, reset: .seconds(3600), limit: 1000))
        // The structured form wins over the older fields when both are sent.
        let both: HTTPHeaders = ["RateLimit": #""default";r=2;t=5"#, "X-RateLimit-Remaining": "900", "X-RateLimit-Reset": "60"]
        #expect(ServerQuota.read(both, now: now)?.remaining == 2)
    }
}
