import Foundation
import Logging
import TideCore
import TideEngine

/// The run's `SecretStore`, once the configuration is known, applied to every line Tide prints.
/// (Logging starts before the configuration is read, so the store is plugged in later.)
final class SecretBox: Sendable {
    private let store = Locked(SecretStore())

    /// Makes `store` the one every line is redacted with (the configuration's, shared with the
    /// fetcher, which adds tokens to it as it learns them).
    func use(_ store: SecretStore) { self.store.withLock { $0 = store } }

    func add(_ values: [String]) { store.withLock { $0 }.add(values) }

    var redactor: Redactor { store.withLock { $0 }.redactor }

    func redact(_ text: String) -> String { redactor.redact(text) }
}

/// swift-log set up for the CLI: lines on standard error, as text or JSON, secrets masked.
enum TideLogging {
    nonisolated(unsafe) private static var done = false

    static func bootstrap(format: LogFormat, secrets: SecretBox) {
        guard !done else { return }
        done = true
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: format, secrets: secrets)
        }
    }
}

struct LineLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    let secrets: SecretBox
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = ProcessInfo.processInfo.environment["TIDE_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let message = secrets.redact("\(event.message)")
        let line: String
        switch format {
        case .text:
            let fields = merged.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            line = "\(event.level.rawValue.uppercased()) \(message)\(secrets.redact(fields))"
        case .json:
            var object: [String: String] = ["level": event.level.rawValue, "message": message, "logger": label,
                                            "time": ISO8601DateFormatter().string(from: Date())]
            for (key, value) in merged { object[key] = secrets.redact("\(value)") }
            let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
            line = String(decoding: data, as: UTF8.self)
        }
        Terminal.error(line)
    }
}

/// Shows each kind's progress: a live line on a terminal, log lines otherwise.
final class ProgressDisplay: ResyncObserver, @unchecked Sendable {
    private let interactive: Bool
    private let logger = Logger(label: "tide.resync")
    private let lock = NSLock()
    private var lastDraw = ContinuousClock.now

    init(interactive: Bool) { self.interactive = interactive }

    func kindStarted(_ progress: KindProgress) {
        if interactive { draw(progress, force: true) } else { logger.info("\(progress.label): fetching") }
    }

    func pageWritten(_ progress: KindProgress) {
        if interactive {
            draw(progress, force: false)
        } else if progress.pages % 20 == 0 {
            logger.info("\(progress.label): \(progress.pages) pages, \(progress.records) records, \(progress.entities) entities")
        }
    }

    func kindFinished(_ progress: KindProgress) {
        if interactive {
            draw(progress, force: true)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        let line = "\(progress.label): \(progress.pages) pages, \(progress.records) records, \(progress.entities) entities, "
            + "\(progress.report.skippedCount) skipped, \(progress.report.errorCount + progress.writeFailures) errors"
        if let failure = progress.failure {
            logger.error("\(line); failed: \(failure)")
        } else if !interactive {
            logger.info("\(line)")
        }
    }

    func note(_ message: String) { logger.warning("\(message)") }

    private func draw(_ progress: KindProgress, force: Bool) {
        lock.withLock {
            let now = ContinuousClock.now
            guard force || now - lastDraw > .milliseconds(100) else { return }
            lastDraw = now
            let seconds = max(0.001, Double((now - progress.started).components.seconds)
                              + Double((now - progress.started).components.attoseconds) / 1e18)
            let rate = Int(Double(progress.records) / seconds)
            let text = "\r\u{1B}[2K\(progress.label)  pages \(progress.pages)  records \(progress.records)  entities \(progress.entities)"
                + "  skipped \(progress.report.skippedCount)  errors \(progress.report.errorCount + progress.writeFailures)  \(rate)/s"
            FileHandle.standardError.write(Data(text.utf8))
        }
    }
}

/// The table printed when a resync ends.
enum SummaryTable {
    static func render(_ summary: ResyncSummary, catalog: String?) -> String {
        let header = ["kind", "pages", "records", "entities", "skipped", "filtered", "errors", "time"]
        var rows = summary.kinds.map { kind -> [String] in
            [kind.label, "\(kind.pages)", "\(kind.records)", "\(kind.entities)", "\(kind.report.skippedCount)",
             "\(kind.report.filtered)", "\(kind.report.errorCount + kind.writeFailures + (kind.failure == nil ? 0 : 1))",
             seconds(kind.elapsed)]
        }
        rows.insert(header, at: 0)
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        var lines = rows.map { row in
            row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }.joined(separator: "  ")
        }
        lines.insert(String(repeating: "─", count: lines[0].count), at: 1)
        for kind in summary.kinds {
            if let failure = kind.failure { lines.append("✗ \(kind.label) failed: \(failure)") }
            if kind.report.errorCount > 0 || !kind.report.misconfigurations.isEmpty || kind.report.skippedCount > 0 {
                lines.append(kind.report.humanText(title: "  \(kind.label) mapping", indent: 2))
            }
        }
        switch summary.reconciliation {
        case .deleted(let count, let protected):
            lines.append("Deleted \(count) stale entit\(count == 1 ? "y" : "ies")"
                         + (protected > 0 ? " (kept \(protected) that other entities still point at)" : "") + ".")
        case .nothingStale: lines.append("Nothing stale to delete.")
        case .skippedAfterErrors:
            lines.append("Deleted nothing: the resync had errors, so what is missing may still exist. Fix the errors above and run again.")
        case .skippedOverThreshold(let stale, let owned, let threshold):
            lines.append("Deleted nothing: \(stale) of \(owned) owned entities are stale, more than entityDeletionThreshold (\(threshold)) allows.")
        case .dryRun: lines.append("Dry run: nothing was written or deleted.")
        }
        let verdict = summary.succeeded ? "Resync completed" : "Resync failed"
        lines.append("\(verdict) in \(seconds(summary.elapsed))" + (catalog.map { "; catalog: \($0)" } ?? "") + ".")
        return lines.joined(separator: "\n")
    }

    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.2fs", value)
    }
}
