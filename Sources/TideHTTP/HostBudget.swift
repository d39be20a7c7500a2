import Foundation
import TideCore

/// A proactive rate limit: `requests` per `interval`, as a token bucket that starts full and
/// refills continuously, so a burst of `requests` may go at once and the long-run rate holds.
public struct RateLimit: Sendable, Hashable {
    public var requests: Int
    public var interval: Duration
    public init(requests: Int, per interval: Duration) {
        self.requests = max(1, requests)
        self.interval = interval
    }
}

/// Whose request it is, which decides who is served first when a host's budget is short.
public enum RequestPriority: String, Sendable, Hashable, CaseIterable {
    /// A resync's pages: served after live work, and never from the share kept for it.
    case bulk
    /// A live event's work (webhook refetches, webhook registration): served first.
    case live
}

/// The request budget of one origin (scheme, host and port), shared by every client, kind,
/// partition and webhook refetch that talks to it, so that together they stay within what the
/// API allows instead of each assuming it has the API to itself.
///
/// A budget holds a **concurrency limit** (requests in flight) and, when one is configured, a
/// **rate** (a token bucket: `requests` per `interval`, starting full). Both adapt to the API:
/// - A 429 or 503 (or a 403 that says it is a rate limit, as GitHub's) halves them (once per
///   round of requests: the answers to requests sent before the last cut do not cut again), and
///   its `Retry-After` (or else its rate-limit reset) pauses the whole host until then, at most
///   `Limits.maxPause`.
/// - Every response's quota headers (`X-RateLimit-Remaining`/`-Reset`, the IETF `RateLimit`
///   fields; see `ServerQuota`) are followed before the limit is hit: once less than half the
///   server's window is left, bulk requests are spread over the time until it resets, and none is
///   sent when nothing is left.
/// - Each success grows them back additively (a slot per round of successes; a twentieth of the
///   ceiling per second of successes), never above the configured ceiling.
///
/// **Live share.** While a live client is registered (a webhook service runs), `liveShare` of the
/// concurrency, of the token bucket and of the server's quota is kept for live requests: bulk
/// requests stop short of it, live requests may use everything, and waiting live requests are
/// always served before waiting bulk ones. A saturating resync therefore cannot starve webhook
/// refetches (Ocean's GitHub integration deadlocked its webhooks that way).
///
/// Waiters are served in priority order, then in arrival order; a cancelled waiter leaves the
/// queue without taking anything.
public final class HostBudget: Sendable {
    /// The ceilings a budget adapts under.
    public struct Limits: Sendable, Hashable {
        /// Requests in flight at once, at most.
        public var concurrency: Int
        /// Requests started per interval, at most; nil for none (429s then cut the concurrency
        /// alone, and quota headers still pace the requests).
        public var rate: RateLimit?
        /// The fraction of concurrency, rate and server quota kept for live requests while a live
        /// client is registered (0 keeps nothing; live requests are still served first).
        public var liveShare: Double
        /// The longest a server's `Retry-After` pauses the host.
        public var maxPause: Duration
        /// Whether 429s, 503s and quota headers change the limits; off, they stay at the ceiling.
        public var adaptive: Bool

        public init(concurrency: Int, rate: RateLimit? = nil, liveShare: Double = 0.1,
                    maxPause: Duration = .seconds(120), adaptive: Bool = true) {
            self.concurrency = max(1, concurrency)
            self.rate = rate
            self.liveShare = min(max(0, liveShare.isFinite ? liveShare : 0), 0.9)
            self.maxPause = max(.zero, maxPause)
            self.adaptive = adaptive
        }
    }

    /// The budget as it stands, for live displays and run summaries.
    public struct Stats: Sendable, Hashable {
        /// `scheme://host:port`.
        public var origin: String
        /// Requests allowed in flight now (adapted), and the ceiling.
        public var concurrency: Int
        public var maxConcurrency: Int
        /// Requests allowed per second now (adapted), and the ceiling; nil: no rate limit.
        public var requestsPerSecond: Double?
        public var maxRequestsPerSecond: Double?
        /// Requests in flight now, and how many of them are live.
        public var inFlight: Int
        public var liveInFlight: Int
        /// Requests waiting for the budget now.
        public var waiting: Int
        /// Time requests spent waiting for the budget, summed over every request.
        public var waited: Duration
        /// Requests the budget let through (each attempt counts).
        public var requests: Int
        /// Answers 429 or 503.
        public var throttled: Int
        /// Times the limits were cut.
        public var backoffs: Int
        /// Times the host was paused on the server's word (`Retry-After`).
        public var pauses: Int
        /// How much longer the host stays paused; zero when it is not.
        public var pausedFor: Duration
        /// The server's last word on requests left in its window (less what was sent since), when
        /// it says.
        public var serverRemaining: Int?
        /// When the server's window resets, when it says.
        public var serverResetIn: Duration?
    }

    /// What `acquire` hands out: the right to send one attempt. Give it back with `finish`.
    public struct Permit: Sendable {
        public let priority: RequestPriority
        /// The round of cuts it was granted in: an answer from an older round does not cut again.
        let epoch: Int
        /// The number of permits granted before it, to tell how many were sent after it.
        let sequence: Int
        /// When it was granted, to tell an answer from a server window that has since ended.
        let granted: ContinuousClock.Instant
    }

    public let origin: String
    private let lanes: LiveLanes
    private let state: Locked<State>

    init(origin: String, limits: Limits, lanes: LiveLanes) {
        self.origin = origin
        self.lanes = lanes
        state = Locked(State(limits: limits))
    }

    /// The ceilings, as the last client configured for this origin set them.
    public var limits: Limits { state.withLock { $0.limits } }

    /// New ceilings: what was learnt is kept, within them.
    func update(_ limits: Limits) {
        let granted = state.withLock { state -> [Waiter] in
            guard state.limits != limits else { return [] }
            state.configure(limits)
            return pump(&state)
        }
        resume(granted)
    }

    public var stats: Stats {
        state.withLock { state in
            let now = ContinuousClock.now
            state.refresh(now)
            return Stats(origin: origin, concurrency: state.slots, maxConcurrency: state.limits.concurrency,
                         requestsPerSecond: state.rate, maxRequestsPerSecond: state.limits.rate.map(State.perSecond),
                         inFlight: state.inFlight[.bulk, default: 0] + state.inFlight[.live, default: 0],
                         liveInFlight: state.inFlight[.live, default: 0],
                         waiting: state.waiters.count, waited: state.waited, requests: state.granted,
                         throttled: state.throttled, backoffs: state.backoffs, pauses: state.pauses,
                         pausedFor: state.pausedUntil.map { max(.zero, $0 - now) } ?? .zero,
                         serverRemaining: state.quota?.remaining,
                         serverResetIn: state.quota.map { max(.zero, $0.resetAt - now) })
        }
    }

    /// Waits for the budget to allow one more request of `priority`; nil when the task was
    /// cancelled while waiting (nothing was taken).
    public func acquire(_ priority: RequestPriority) async -> Permit? {
        if Task.isCancelled { return nil }
        let arrived = ContinuousClock.now
        let reserve = reserving
        // The common case takes one lock and no continuation: nobody waits and the budget allows it.
        enum Outcome { case granted(Permit), queued(UInt64) }
        let outcome = state.withLock { state -> Outcome in
            if state.waiters.isEmpty {
                state.refresh(arrived)
                if case .go = state.verdict(for: priority, now: arrived, reserving: reserve) {
                    return .granted(state.grant(priority, now: arrived))
                }
            }
            state.nextID += 1
            return .queued(state.nextID)
        }
        let id: UInt64
        switch outcome {
        case .granted(let permit): return permit
        case .queued(let queued): id = queued
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Permit?, Never>) in
                let granted = state.withLock { state -> [Waiter] in
                    if Task.isCancelled { return [Waiter(id: id, priority: priority, arrived: arrived, continuation: continuation, permit: nil)] }
                    state.waiters.append(Waiter(id: id, priority: priority, arrived: arrived, continuation: continuation))
                    return pump(&state)
                }
                resume(granted)
            }
        } onCancel: {
            let removed = state.withLock { state -> [Waiter] in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return [] }
                var waiter = state.waiters.remove(at: index)
                waiter.permit = nil
                // The waiter may have been the one holding others back.
                return [waiter] + pump(&state)
            }
            resume(removed)
        }
    }

    /// Gives a permit back, learning from the attempt's answer: `status` and `headers` of the
    /// response, or nil when none came (a connection failure, a timeout, a cancelled attempt),
    /// which teaches nothing.
    public func finish(_ permit: Permit, status: Int?, headers: HTTPHeaders?) {
        let now = ContinuousClock.now
        let quota = headers.flatMap { ServerQuota.read($0) }
        let throttled = status.map { Self.throttles($0, headers: headers ?? [:], quota: quota) } ?? false
        // The delay a throttling answer asks for, read the way the retry policy reads it.
        let asked = throttled ? headers.flatMap { RetryPolicy.serverDelay(in: $0) } : nil
        let granted = state.withLock { state -> [Waiter] in
            state.inFlight[permit.priority, default: 0] -= 1
            state.refresh(now)
            if throttled { state.throttled += 1 }
            if let status, state.limits.adaptive {
                if let quota { state.learn(quota, permit: permit, now: now) }
                if throttled {
                    state.backOff(permit: permit)
                    if let asked, asked > .zero { state.pause(until: now + min(asked, state.limits.maxPause)) }
                } else if status < 500 {
                    state.grow()
                }
            }
            return pump(&state)
        }
        resume(granted)
    }

    /// Whether an answer asks for less: 429 Too Many Requests, 503 Service Unavailable, and a 403
    /// that says it is a rate limit (GitHub answers its limits with 403 and either `Retry-After`
    /// or no requests left).
    static func throttles(_ status: Int, headers: HTTPHeaders, quota: ServerQuota?) -> Bool {
        if status == 429 || status == 503 { return true }
        return status == 403 && (headers.contains("Retry-After") || quota?.remaining == 0)
    }

    // MARK: Scheduling

    private struct Waiter {
        let id: UInt64
        let priority: RequestPriority
        let arrived: ContinuousClock.Instant
        let continuation: CheckedContinuation<Permit?, Never>
        var permit: Permit?
    }

    /// The live share is kept only while a live client may need it.
    private var reserving: Bool { lanes.open }

    /// Grants every waiter that may go now, in priority then arrival order, and arms a timer for
    /// the earliest instant the next one may; returns the granted (and dropped) waiters, to be
    /// resumed outside the lock.
    private func pump(_ state: inout State) -> [Waiter] {
        let now = ContinuousClock.now
        state.refresh(now)
        let reserve = reserving
        var done: [Waiter] = []
        while let index = state.nextWaiter() {
            let priority = state.waiters[index].priority
            switch state.verdict(for: priority, now: now, reserving: reserve) {
            case .go: break
            case .until(let instant):
                arm(&state, at: instant)
                return done
            case .afterARelease:
                return done
            }
            var waiter = state.waiters.remove(at: index)
            waiter.permit = state.grant(priority, now: now)
            state.waited += now - waiter.arrived
            done.append(waiter)
        }
        return done
    }

    private func arm(_ state: inout State, at instant: ContinuousClock.Instant) {
        if let armed = state.timer, armed <= instant { return }
        state.timer = instant
        Task { [self] in
            try? await Task.sleep(until: instant, clock: .continuous)
            let granted = self.state.withLock { state -> [Waiter] in
                if state.timer == instant { state.timer = nil }
                return pump(&state)
            }
            resume(granted)
        }
    }

    private func resume(_ waiters: [Waiter]) {
        for waiter in waiters { waiter.continuation.resume(returning: waiter.permit) }
    }

    // MARK: State

    private struct State {
        var limits: Limits
        /// The adapted concurrency limit, 1…ceiling (fractional so that growth can be additive).
        var concurrency: Double
        /// The adapted rate in requests per second; nil: none.
        var rate: Double?
        /// The token bucket's seconds of burst: the configured interval.
        var burstSeconds: Double
        var tokens: Double
        var refilled: ContinuousClock.Instant
        var pausedUntil: ContinuousClock.Instant?
        /// The server's current window as far as we know it.
        struct Window {
            /// Requests left: the server's word, less what was sent since.
            var remaining: Int
            var resetAt: ContinuousClock.Instant
            /// The window's size: told, or the most ever seen left.
            var limit: Int
            /// The lowest count the server gave in this window, and when we learnt it.
            var lowest: Int
            var lowestLearnt: ContinuousClock.Instant
        }
        var quota: Window?
        var largestRemaining = 0
        /// When the last server window we knew of ended: answers to requests sent before then
        /// describe that window, not the current one.
        var windowStart: ContinuousClock.Instant?
        var lastBulkStart: ContinuousClock.Instant?
        var inFlight: [RequestPriority: Int] = [:]
        var waiters: [Waiter] = []
        var nextID: UInt64 = 0
        var timer: ContinuousClock.Instant?
        var epoch = 0
        var granted = 0
        var waited = Duration.zero
        var throttled = 0
        var backoffs = 0
        var pauses = 0

        init(limits: Limits) {
            self.limits = limits
            concurrency = Double(limits.concurrency)
            rate = limits.rate.map(Self.perSecond)
            burstSeconds = limits.rate.map { $0.interval.seconds } ?? 1
            tokens = limits.rate.map { Double($0.requests) } ?? 1
            refilled = .now
        }

        static func perSecond(_ limit: RateLimit) -> Double { Double(limit.requests) / max(limit.interval.seconds, 1e-9) }

        mutating func configure(_ new: Limits) {
            let old = limits
            limits = new
            concurrency = min(concurrency, Double(new.concurrency))
            if old.concurrency < new.concurrency, concurrency >= Double(old.concurrency) { concurrency = Double(new.concurrency) }
            if new.rate != old.rate {
                rate = new.rate.map(Self.perSecond)
                burstSeconds = new.rate.map { $0.interval.seconds } ?? 1
                tokens = min(tokens, capacity)
            }
        }

        var slots: Int { max(1, Int(concurrency)) }
        var capacity: Double { max(1, (rate ?? 0) * burstSeconds) }

        /// Slots bulk requests leave free for live ones.
        func reservedSlots(_ reserving: Bool) -> Int {
            guard reserving, limits.liveShare > 0, slots > 1 else { return 0 }
            return min(slots - 1, max(1, Int((Double(slots) * limits.liveShare).rounded(.up))))
        }

        func reservedTokens(_ reserving: Bool) -> Double {
            guard reserving, limits.liveShare > 0, capacity >= 2 else { return 0 }
            return min(capacity - 1, max(1, capacity * limits.liveShare))
        }

        func reservedQuota(_ reserving: Bool) -> Int {
            guard reserving, limits.liveShare > 0, let quota, quota.limit > 1 else { return 0 }
            return max(1, Int((Double(quota.limit) * limits.liveShare).rounded(.up)))
        }

        mutating func refresh(_ now: ContinuousClock.Instant) {
            if let rate, now > refilled {
                tokens = min(capacity, tokens + (now - refilled).seconds * rate)
            }
            if now > refilled { refilled = now }
            if let until = pausedUntil, until <= now { pausedUntil = nil }
            if let quota, quota.resetAt <= now {
                self.quota = nil
                windowStart = quota.resetAt
            }
        }

        /// The first waiter to consider: the oldest live one, else the oldest bulk one. A bulk
        /// waiter never passes a live one: whatever holds the live one back holds bulk back too.
        func nextWaiter() -> Int? {
            waiters.firstIndex { $0.priority == .live } ?? waiters.indices.first
        }

        enum Verdict {
            /// It may start now.
            case go
            /// Not before this instant (a pause, the bucket, the server's window).
            case until(ContinuousClock.Instant)
            /// Not before a request in flight finishes.
            case afterARelease
        }

        func verdict(for priority: RequestPriority, now: ContinuousClock.Instant, reserving: Bool) -> Verdict {
            if let pausedUntil { return .until(pausedUntil) }
            let live = inFlight[.live, default: 0], bulk = inFlight[.bulk, default: 0]
            if live + bulk >= slots { return .afterARelease }
            if priority == .bulk, bulk >= slots - reservedSlots(reserving) { return .afterARelease }
            if let rate {
                let needed = 1 + (priority == .bulk ? reservedTokens(reserving) : 0)
                if tokens < needed { return .until(now + .seconds((needed - tokens) / rate)) }
            }
            if let quota {
                let kept = priority == .bulk ? reservedQuota(reserving) : 0
                if quota.remaining <= kept { return .until(quota.resetAt) }
                // Past half the server's window, bulk requests are spread over the time left, the
                // last one a spacing before the reset: a request sent at the very end of the window
                // may be counted in the next one (the server's clock is not ours), and overfill it.
                if priority == .bulk, quota.remaining * 2 <= quota.limit, let last = lastBulkStart {
                    let spacing = (quota.resetAt - now) / (quota.remaining - kept + 1)
                    if last + spacing > now { return .until(last + spacing) }
                }
            }
            return .go
        }

        mutating func grant(_ priority: RequestPriority, now: ContinuousClock.Instant) -> Permit {
            if rate != nil { tokens -= 1 }
            if quota != nil { quota!.remaining -= 1 }
            if priority == .bulk { lastBulkStart = now }
            inFlight[priority, default: 0] += 1
            let permit = Permit(priority: priority, epoch: epoch, sequence: granted, granted: now)
            granted += 1
            return permit
        }

        mutating func learn(_ told: ServerQuota, permit: Permit, now: ContinuousClock.Instant) {
            // A reset already past, or an answer about a window that ended after the request was
            // sent (with resets in whole seconds it would look like a fresh window).
            guard told.reset > .zero, windowStart.map({ permit.granted >= $0 }) ?? true else { return }
            let resetAt = now + min(told.reset, .seconds(3600))
            largestRemaining = max(largestRemaining, told.remaining)
            let limit = max(told.limit ?? largestRemaining, 1)
            // Requests sent after this one may already have been counted: assume they were.
            let fresh = Window(remaining: max(0, told.remaining - (granted - permit.sequence - 1)), resetAt: resetAt,
                               limit: limit, lowest: told.remaining, lowestLearnt: now)
            guard var window = quota else {
                quota = fresh
                return
            }
            // A request sent after we learnt the window's lowest count reached the server after that
            // count was made: in the same window it would be told less. Told more, the server's
            // window has turned, whatever its reset said (resets in whole seconds are rounded).
            if told.remaining > window.lowest, permit.granted > window.lowestLearnt {
                quota = fresh
                return
            }
            // The same window: every request sent since is already subtracted, so an answer only
            // lowers the count when someone else spent the quota too (another client with the same
            // account); the earliest reset is the closest to the truth (servers round resets up).
            window.remaining = min(window.remaining, told.remaining)
            window.resetAt = min(window.resetAt, resetAt)
            window.limit = limit
            if told.remaining < window.lowest { window.lowest = told.remaining; window.lowestLearnt = now }
            quota = window
        }

        /// Halves concurrency and rate, once per round: answers to requests sent before the last
        /// cut were already accounted for by it.
        mutating func backOff(permit: Permit) {
            guard permit.epoch == epoch else { return }
            epoch += 1
            backoffs += 1
            concurrency = max(1, concurrency / 2)
            // Without a rate, fewer requests in flight is what lowers the rate: none is invented.
            if let current = rate { rate = max(Self.minimumRate, current / 2) }
            tokens = min(tokens, capacity)
        }

        /// Additive growth on success: a slot per round of successes, and a twentieth of the
        /// rate's ceiling per second of successes.
        mutating func grow() {
            let ceiling = Double(limits.concurrency)
            if concurrency < ceiling { concurrency = min(ceiling, concurrency + 1 / concurrency) }
            guard let current = rate, let top = limits.rate.map(Self.perSecond), current < top else { return }
            rate = min(top, current + top / 20 / max(current, Self.minimumRate))
        }

        mutating func pause(until instant: ContinuousClock.Instant) {
            if let pausedUntil, pausedUntil >= instant { return }
            pausedUntil = instant
            pauses += 1
            // The bucket does not fill while paused: the host resumes gently, not with a burst.
            tokens = min(tokens, 1)
            refilled = instant
        }

        static let minimumRate = 0.05
    }
}

/// Whether live clients are registered, shared by the budgets of one registry.
final class LiveLanes: Sendable {
    private let count = Locked(0)
    var open: Bool { count.withLock { $0 > 0 } }
    func change(by delta: Int) { count.withLock { $0 += delta } }
}

/// Budgets by origin. `shared` is the process's: every client configured with it takes its
/// requests to one origin from one budget. A budget lives while a client holds it; the last
/// client configured for an origin sets its ceilings.
public final class HostBudgetRegistry: Sendable {
    /// The process-wide registry that resyncs and the webhook service share.
    public static let shared = HostBudgetRegistry()

    private struct Entry { weak var budget: HostBudget? }
    private let budgets = Locked<[String: Entry]>([:])
    let lanes = LiveLanes()

    public init() {}

    /// The budget of `origin` (`scheme://host:port`), made with `limits` if there is none, or set
    /// to them if there is.
    public func budget(for origin: String, limits: HostBudget.Limits) -> HostBudget {
        let (budget, existing) = budgets.withLock { entries -> (HostBudget, Bool) in
            if let budget = entries[origin]?.budget { return (budget, true) }
            entries = entries.filter { $0.value.budget != nil }
            let budget = HostBudget(origin: origin, limits: limits, lanes: lanes)
            entries[origin] = Entry(budget: budget)
            return (budget, false)
        }
        if existing { budget.update(limits) }
        return budget
    }

    /// The budget of `origin`, if a client holds one.
    public func budget(for origin: String) -> HostBudget? { budgets.withLock { $0[origin]?.budget } }

    /// Every budget a client holds, by origin.
    public var stats: [HostBudget.Stats] {
        budgets.withLock { $0.values.compactMap(\.budget) }.map(\.stats).sorted { $0.origin < $1.origin }
    }

    /// Keeps the live share of every budget here while the returned lane is held (a webhook
    /// service's client holds one for its life).
    func openLiveLane() -> LiveLane { LiveLane(lanes) }
}

/// A live client's claim on the live share; released when dropped.
final class LiveLane: Sendable {
    private let lanes: LiveLanes
    init(_ lanes: LiveLanes) {
        self.lanes = lanes
        lanes.change(by: 1)
    }
    deinit { lanes.change(by: -1) }
}
