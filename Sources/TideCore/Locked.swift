import Synchronization

/// A value behind a lock, for the small pieces of state shared between tasks and the threads Tide
/// does not own (libcurl's, SwiftNIO's), where an actor hop is not possible.
///
/// Tide's one lock family: a thin class over Synchronization's `Mutex`, so that it can be shared
/// by reference (a `Mutex` cannot be copied) and used where `NSLock` or a bare `Mutex` once was.
public final class Locked<Value>: @unchecked Sendable {
    // The value is only reached under the mutex, which is what `@unchecked` promises; the box
    // spares `Mutex`'s `sending` checks, which cannot see that guarantee for a generic value.
    private let mutex: Mutex<UncheckedSendable<Value>>

    public init(_ value: Value) { mutex = Mutex(UncheckedSendable(value)) }

    public func withLock<R, E: Error>(_ body: (inout Value) throws(E) -> R) throws(E) -> R {
        try mutex.withLock { (box: inout UncheckedSendable<Value>) throws(E) -> UncheckedSendable<R> in
            UncheckedSendable(try body(&box.value))
        }.value
    }

    /// A copy of the value as it is now.
    public var current: Value { withLock { $0 } }
}
