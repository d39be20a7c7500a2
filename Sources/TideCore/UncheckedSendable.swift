/// Carries a value that is not `Sendable` (libjq values, a fetcher owning jq programs) to another
/// thread or task when the code guarantees a single user at a time: the sender stops touching it
/// before the receiver starts, and gets it back only after the receiver finished (a join, an await).
/// Each use says why that holds.
public struct UncheckedSendable<Value>: @unchecked Sendable {
    public var value: Value
    public init(_ value: Value) { self.value = value }
}
