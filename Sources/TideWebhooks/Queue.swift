import TideCore

/// A FIFO with one consumer. Bounded by its owner (the endpoint counts what all of a path's
/// queues hold), so pushing never waits and memory never grows past the path's `queueSize`.
final class WorkQueue<Element: Sendable>: Sendable {
    private struct State {
        var items: [Element] = []
        var head = 0
        var waiter: CheckedContinuation<Element?, Never>?
        var closed = false
    }
    private let state = Locked(State())

    func push(_ element: Element) {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.items.append(element)
            return nil
        }
        waiter?.resume(returning: element)
    }

    /// The next element; nil once closed and empty (the worker then ends: a drain).
    func pop() async -> Element? {
        await withCheckedContinuation { continuation in
            let ready: (Element?, Bool) = state.withLock { state in
                if state.head < state.items.count {
                    let element = state.items[state.head]
                    state.head += 1
                    if state.head > 64, state.head * 2 > state.items.count {
                        state.items.removeFirst(state.head)
                        state.head = 0
                    }
                    return (element, true)
                }
                if state.closed { return (nil, true) }
                state.waiter = continuation
                return (nil, false)
            }
            if ready.1 { continuation.resume(returning: ready.0) }
        }
    }

    /// No more pushes; the consumer gets what is left, then nil.
    func close() {
        let waiter = state.withLock { state -> CheckedContinuation<Element?, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}

/// What a queue said to an event offered at intake.
enum Admission: Sendable, Equatable {
    case accepted
    /// At capacity: 503 with Retry-After.
    case full
    /// The queue could not be reached (Redis down): 503, the event was not taken.
    case unavailable(String)
}

/// Where a webhook path's accepted events wait for the workers that apply them: intake hands an
/// event over (`admit`), workers take events one lane at a time, in order, apply them, and
/// acknowledge them (`run`). Two implementations: `LocalEventQueue`, in this process (the
/// default, bounded by the path's `queueSize`), and `RedisEventQueue`, Redis streams shared by
/// replicas, where an event is acknowledged only after it was applied.
protocol EventQueue: Sendable {
    /// Intake without waiting, on the server's event loop; nil when the hand-over has to wait for
    /// a server (then `admit` is called, off the event loop, and the answer waits for it).
    func admitNow(_ event: QueuedEvent, key: String) -> Admission?
    /// Whether `admitNow` always answers (the request is answered on the event loop).
    var answersAtOnce: Bool { get }
    /// Before the server listens: reach the queue's server and create what it needs.
    func prepare() async throws
    func admit(_ event: QueuedEvent, key: String) async -> Admission
    /// Starts the workers, one per lane (`lanes` of them, each with its own processor): each calls
    /// `apply` for its events, one at a time, in arrival order per key, and acknowledges each once
    /// `apply` returned.
    func start(apply: @escaping @Sendable (_ lane: Int, QueuedEvent) async -> Void) async -> [Task<Void, Never>]
    /// No more intake; the workers end (the local queue's after draining what it holds; the
    /// stream's after their current event: what is left stays in Redis for the other replicas).
    func closeIntake()
    /// Events waiting or in progress (for Redis: as last seen by this replica's intake).
    var depth: Int { get }
}

/// The in-process queue: one FIFO per worker, an event's lane chosen by a hash of its key, and one
/// bound over them all. Events are lost if the process dies (Ocean's `LocalQueue` as well).
final class LocalEventQueue: EventQueue {
    let lanes: [WorkQueue<QueuedEvent>]
    let capacity: Int
    private let count = Locked(0)

    init(workers: Int, capacity: Int) {
        lanes = (0..<max(1, workers)).map { _ in WorkQueue<QueuedEvent>() }
        self.capacity = capacity
    }

    var depth: Int { count.current }
    var answersAtOnce: Bool { true }
    func prepare() async throws {}

    func admitNow(_ event: QueuedEvent, key: String) -> Admission? {
        let admitted = count.withLock { count -> Bool in
            guard count < capacity else { return false }
            count += 1
            return true
        }
        guard admitted else { return .full }
        // One lane per key: the same entity's events go to the same worker, so they apply in order.
        lanes[Int(WebhookEndpoint.fnv1a(key) % UInt64(lanes.count))].push(event)
        return .accepted
    }

    func admit(_ event: QueuedEvent, key: String) async -> Admission { admitNow(event, key: key) ?? .full }

    func start(apply: @escaping @Sendable (_ lane: Int, QueuedEvent) async -> Void) async -> [Task<Void, Never>] {
        lanes.enumerated().map { index, lane in
            Task { [count] in
                while let event = await lane.pop() {
                    await apply(index, event)
                    count.withLock { $0 -= 1 }
                }
            }
        }
    }

    func closeIntake() { for lane in lanes { lane.close() } }
}
