import Foundation
import TideCore


/// At most `limit` holders at once; the rest wait in FIFO order. Waiters that are cancelled leave
/// the queue (and never take a slot).
final class FIFOSemaphore: Sendable {
    private struct State {
        var available: Int
        var waiters: [(id: UInt64, continuation: CheckedContinuation<Bool, Never>)] = []
        var nextID: UInt64 = 0
    }
    private let state: Locked<State>

    init(limit: Int) { state = Locked(State(available: max(1, limit))) }

    /// Takes a slot; returns false (without a slot) if the task was cancelled while waiting.
    func acquire() async -> Bool {
        if Task.isCancelled { return false }
        let id: UInt64? = state.withLock { state in
            if state.available > 0, state.waiters.isEmpty {
                state.available -= 1
                return nil
            }
            state.nextID += 1
            return state.nextID
        }
        guard let id else { return true }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let resumeNow: Bool? = state.withLock { state in
                    if Task.isCancelled { return false }
                    // A release may have happened between the two critical sections.
                    if state.available > 0, state.waiters.isEmpty {
                        state.available -= 1
                        return true
                    }
                    state.waiters.append((id, continuation))
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index).continuation
            }
            waiter?.resume(returning: false)
        }
    }

    func release() {
        let next = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            if state.waiters.isEmpty {
                state.available += 1
                return nil
            }
            return state.waiters.removeFirst().continuation
        }
        next?.resume(returning: true)
    }
}

/// A proactive rate limit: `requests` per `interval`, as a token bucket that starts full and
/// refills continuously. Callers reserve the next free instant in arrival order and sleep until
/// then, so the limit holds across every task sharing the client.
public struct RateLimit: Sendable, Hashable {
    public var requests: Int
    public var interval: Duration
    public init(requests: Int, per interval: Duration) {
        self.requests = max(1, requests)
        self.interval = interval
    }
}

final class TokenBucket: Sendable {
    private struct State {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }
    private let limit: RateLimit
    private let state: Locked<State>

    init(_ limit: RateLimit) {
        self.limit = limit
        state = Locked(State(tokens: Double(limit.requests), updated: .now))
    }

    /// How long the caller must wait before sending; the token is taken now. The balance may go
    /// negative, which is how later callers queue behind earlier ones.
    func reserve() -> Duration {
        let perToken = limit.interval / limit.requests
        return state.withLock { state in
            let now = ContinuousClock.now
            let refill = (now - state.updated).seconds / perToken.seconds
            state.tokens = min(Double(limit.requests), state.tokens + refill)
            state.updated = now
            state.tokens -= 1
            return state.tokens >= 0 ? .zero : .seconds(-state.tokens * perToken.seconds)
        }
    }

    /// Gives back a token reserved by a caller that was cancelled before sending.
    func refund() {
        state.withLock { $0.tokens = min(Double(limit.requests), $0.tokens + 1) }
    }
}
