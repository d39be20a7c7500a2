import Foundation
import TideJQ

/// One resource's cursors for an incremental pass: when each of its runs (the kind read whole,
/// one partition, one parent record) was last read whole, as templates see it in `.cursor`.
///
/// Run keys: `""` for the kind read in one run, the partition's value as JSON text, or what the
/// kind's `incremental.key` gives for a parent record (as JSON text).
public struct SyncCursors: Sendable, Equatable {
    /// The start of the last pass that completed each run.
    public var starts: [String: Date]
    /// Seconds taken off a start in `.cursor.since`.
    public var lookback: Int
    /// When this pass started: the value saved for the runs it completes, and what
    /// `.cursor.minutesAgo` counts from.
    public var passStart: Date

    public init(starts: [String: Date], lookback: Int, passStart: Date) {
        self.starts = starts
        self.lookback = lookback
        self.passStart = passStart
    }

    /// `.cursor` for a run: null when the run has no key or no pass completed it yet (it is read
    /// whole then, as a full resync reads it).
    public func cursor(forRun key: String?) -> JSON {
        guard let key, let start = starts[key] else { return .null }
        return Self.cursor(lastSyncStart: start, lookback: lookback, passStart: passStart)
    }

    /// `{lastSyncStart, since, sinceEpoch, minutesAgo}`: ISO 8601 times in UTC, seconds since
    /// 1970, and whole minutes from `since` to the pass's start rounded up, for APIs that filter
    /// by a relative time (Jira's `updated >= -15m`, which does not depend on the user's time zone).
    public static func cursor(lastSyncStart: Date, lookback: Int, passStart: Date) -> JSON {
        let since = lastSyncStart.addingTimeInterval(-Double(lookback))
        let epoch = since.timeIntervalSince1970.rounded(.down)
        // Whole seconds first: a cursor an exact number of minutes back must not round up a minute
        // for a fraction of a nanosecond.
        let seconds = passStart.timeIntervalSince(since).rounded()
        let minutes = max(1, Int((seconds / 60).rounded(.up)))
        return JSON(orderedObject: [
            ("lastSyncStart", JSON(iso8601(lastSyncStart))),
            ("since", JSON(iso8601(since))),
            ("sinceEpoch", JSON(epoch)),
            ("minutesAgo", JSON(Double(minutes))),
        ])
    }

    static func iso8601(_ date: Date) -> String {
        Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down)).formatted(.iso8601)
    }
}
