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
