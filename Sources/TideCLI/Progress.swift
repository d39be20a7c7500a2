import ArgumentParser
import Foundation
import Logging
import TideCore
import TideEngine
import TideFetch
import TideHTTP
import TideJQ
import TideMapping

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

    /// - Parameter level: `--log-level`, else `TIDE_LOG_LEVEL` (read by the caller); nil: info.
    static func bootstrap(format: LogFormat, level: Logger.Level? = nil, secrets: SecretBox) {
        guard !done else { return }
        done = true
        // Reports that are not log calls (findings, errors, the summary) follow the same format.
        Terminal.style.withLock { $0 = Terminal.Style(format: format, secrets: secrets) }
        let level = level ?? .info
        LoggingSystem.bootstrap { label in
            LineLogHandler(label: label, format: format, secrets: secrets, logLevel: level)
        }
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}

/// A structured field of a log line: numbers stay numbers in JSON.
enum LogField: Sendable, Equatable, CustomStringConvertible {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    /// Already JSON (an object or array), placed as it is after its strings are masked.
    case json(String)

    var description: String {
        switch self {
        case .string(let text), .json(let text): text
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .bool(let value): "\(value)"
        }
    }

    /// swift-log metadata as a field: Int, Double and Bool values given with `.stringConvertible` stay numbers.
    init(_ value: Logger.MetadataValue) {
        switch value {
        case .stringConvertible(let value as Int): self = .int(value)
        case .stringConvertible(let value as Double): self = .double(value)
        case .stringConvertible(let value as Bool): self = .bool(value)
        default: self = .string("\(value)")
        }
    }

    var metadata: Logger.MetadataValue {
        switch self {
        case .string(let text), .json(let text): .string(text)
        case .int(let value): .stringConvertible(value)
        case .double(let value): .stringConvertible(value)
        case .bool(let value): .stringConvertible(value)
        }
    }
}

/// One log line as JSON, in Elastic Common Schema's field names (ecs-logging): `@timestamp` (UTC,
/// milliseconds), `log.level`, `message`, `log.logger`, `ecs.version`, `service.*`, then the
/// event's own fields (`tide.kind`, `http.request.method`, `url.full`…), dotted, as ECS allows.
/// `time`, `level` and `logger`, the names of the first JSON lines, are kept for existing scripts.
enum ECSLine {
    static let ecsVersion = "8.11.0"

    static func render(level: Logger.Level, message: String, logger: String, fields: [String: LogField],
                       secrets: SecretBox, at date: Date = Date()) -> String {
        let redactor = secrets.redactor
        let message = redactor.redact(message)
        var head: [(String, LogField)] = [
            ("@timestamp", .string(timestamp(date))), ("log.level", .string(level.rawValue)), ("message", .string(message)),
            ("log.logger", .string(logger)), ("ecs.version", .string(ecsVersion)),
            ("service.name", .string("tide")), ("service.version", .string(TideVersion.current)),
            ("time", .string(secondsTimestamp(date))), ("level", .string(level.rawValue)), ("logger", .string(logger)),
        ]
        let reserved = Set(head.map(\.0))
        head += fields.filter { !reserved.contains($0.key) }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let members = head.map { key, value -> String in
            let text: String
            switch value {
            case .string(let string): text = JSONText.quoted(redactor.redact(string))
            case .int(let number): text = String(number)
            case .double(let number): text = number.isFinite ? "\(number)" : "null"
            case .bool(let flag): text = flag ? "true" : "false"
            case .json(let json): text = redactor.redactJSON(json)
            }
            return JSONText.quoted(key) + ":" + text
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    /// `2024-06-05T10:00:00.123Z`: ISO 8601, UTC, milliseconds.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int((date.timeIntervalSince1970 * 1000).rounded(.down))
        var seconds = time_t(milliseconds / 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), milliseconds % 1000)
    }

    static func secondsTimestamp(_ date: Date) -> String {
        let text = timestamp(date)
        return String(text.prefix(19)) + "Z"
    }
}

struct LineLogHandler: LogHandler {
    let label: String
    let format: LogFormat
    let secrets: SecretBox
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let line: String
        switch format {
        case .text:
            let message = secrets.redact("\(event.message)")
            // Dotted (ECS) fields are for JSON: the message already says them in words.
            let fields = merged.filter { !$0.key.contains(".") }.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
            line = "\(event.level.rawValue.uppercased()) \(message)\(secrets.redact(fields))"
        case .json:
            line = ECSLine.render(level: event.level, message: "\(event.message)", logger: label,
                                  fields: merged.mapValues(LogField.init), secrets: secrets)
        }
        Terminal.write(line)
    }
}

/// What a kind's label (`issue[0]`) and failure say, as log fields: kind, resource index, and for
/// a failed request its page, method and URL (already redacted by the fetcher).
enum KindFields {
    static func of(_ progress: KindProgress) -> [String: LogField] {
        var fields: [String: LogField] = [:]
        let label = progress.label
        if label.hasSuffix("]"), let open = label.lastIndex(of: "["),
           let index = Int(label[label.index(after: open)..<label.index(before: label.endIndex)]) {
            fields["tide.kind"] = .string(String(label[..<open]))
            fields["tide.resource"] = .int(index)
        } else {
            fields["tide.kind"] = .string(label)
        }
        return fields
    }

    static func counts(_ progress: KindProgress) -> [String: LogField] {
        [
            "tide.pages": .int(progress.pages), "tide.records": .int(progress.records), "tide.entities": .int(progress.entities),
            "tide.skipped": .int(progress.report.skippedCount), "tide.filtered": .int(progress.report.filtered),
            "tide.errors": .int(progress.report.errorCount + progress.writeFailures + (progress.failure == nil ? 0 : 1)),
            "event.duration": .int(nanoseconds(progress.elapsed)),
        ]
    }

    /// `error.message`, and `tide.page`, `http.request.method`, `url.full` when the failure names them.
    static func failure(_ text: String) -> [String: LogField] {
        var fields: [String: LogField] = ["error.message": .string(text)]
        if let match = text.firstMatch(of: #/, page (\d+): /#), let page = Int(match.1) { fields["tide.page"] = .int(page) }
        if let match = text.firstMatch(of: #/\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (https?://[^\s]+)/#) {
            fields["http.request.method"] = .string(String(match.1))
            var url = String(match.2)
            if url.hasSuffix(":") { url.removeLast() }
            fields["url.full"] = .string(url)
        }
        return fields
    }

    /// ECS' `event.duration` is in nanoseconds.
    static func nanoseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds) * 1_000_000_000 + Int(duration.components.attoseconds / 1_000_000_000)
    }
}

/// Shows each kind's progress: a live line on a terminal (every kind being fetched, side by
/// side; a finished kind leaves its own line), log lines otherwise.
final class ProgressDisplay: ResyncObserver, Sendable {
    private let interactive: Bool
    private let logger = Logger(label: "tide.resync")
    private let live = Locked((drawn: ContinuousClock.now, active: [(label: String, progress: KindProgress)](), budgets: [HostBudget.Stats]()))

    init(interactive: Bool) { self.interactive = interactive }

    func kindStarted(_ progress: KindProgress) {
        if interactive { draw(progress, force: true) } else {
            logger.info("\(progress.label): fetching", metadata: KindFields.of(progress).mapValues(\.metadata))
        }
    }

    func pageWritten(_ progress: KindProgress) {
        if interactive {
            draw(progress, force: false)
        } else if progress.pages % 20 == 0 {
            var fields = KindFields.of(progress)
            fields["tide.page"] = .int(progress.pages)
            fields["tide.records"] = .int(progress.records)
            fields["tide.entities"] = .int(progress.entities)
            if let runs = progress.runs {
                fields["tide.partitions_read"] = .int(runs.finished)
                fields["tide.partitions_started"] = .int(runs.started)
            }
            logger.info("\(progress.label): \(progress.pages) pages, \(progress.records) records, \(progress.entities) entities\(Self.runs(progress).replacingOccurrences(of: "  ", with: ", "))",
                        metadata: fields.mapValues(\.metadata))
        }
    }

    func kindFinished(_ progress: KindProgress) {
        if interactive {
            live.withLock { state in
                state.active.removeAll { $0.label == progress.label }
                FileHandle.standardError.write(Data(("\r\u{1B}[2K" + Self.describe(progress, now: .now) + "\n").utf8))
                if !state.active.isEmpty { FileHandle.standardError.write(Data(Self.line(state.active.map(\.progress), budgets: state.budgets).utf8)) }
            }
        }
        let line = "\(progress.label): \(progress.pages) pages, \(progress.records) records, \(progress.entities) entities, "
            + "\(progress.report.skippedCount) skipped, \(progress.report.errorCount + progress.writeFailures) errors"
        var fields = KindFields.of(progress).merging(KindFields.counts(progress)) { $1 }
        if let failure = progress.failure {
            fields.merge(KindFields.failure(failure)) { $1 }
            logger.error("\(line); failed: \(failure)", metadata: fields.mapValues(\.metadata))
        } else if !interactive {
            logger.info("\(line)", metadata: fields.mapValues(\.metadata))
        }
    }

    func note(_ message: String) { logger.warning("\(message)") }

    func budgets(_ stats: [HostBudget.Stats]) {
        guard interactive else { return }
        live.withLock { $0.budgets = stats }
    }

    private func draw(_ progress: KindProgress, force: Bool) {
        live.withLock { state in
            if let index = state.active.firstIndex(where: { $0.label == progress.label }) {
                state.active[index].progress = progress
            } else {
                state.active.append((progress.label, progress))
            }
            let now = ContinuousClock.now
            guard force || now - state.drawn > .milliseconds(100) else { return }
            state.drawn = now
            FileHandle.standardError.write(Data(Self.line(state.active.map(\.progress), budgets: state.budgets).utf8))
        }
    }

    /// The live line: one kind in full, several side by side in short; then each API host's
    /// requests in flight and the rate its budget allows now.
    private static func line(_ kinds: [KindProgress], budgets: [HostBudget.Stats] = []) -> String {
        let now = ContinuousClock.now
        let text = kinds.count == 1 ? describe(kinds[0], now: now)
            : kinds.map { "\($0.label) \($0.records) rec \($0.pages) pg\(runs($0, short: true))" }.joined(separator: " · ")
        let hosts = budgets.map { stats in
            let rate = stats.requestsPerSecond.map { String(format: " %.1f/s", $0) } ?? ""
            return "  [\(stats.inFlight)/\(stats.concurrency) in flight\(rate)\(stats.waiting > 0 ? ", \(stats.waiting) waiting" : "")]"
        }.joined()
        return "\r\u{1B}[2K" + text + hosts
    }

    /// A kind's partitions (or parent records) read and running: ` partitions 37/116 (8 running)`.
    static func runs(_ progress: KindProgress, short: Bool = false) -> String {
        guard let runs = progress.runs else { return "" }
        let total = runs.listed ? "\(runs.started)" : "\(runs.started)+"
        let running = runs.started - runs.finished
        return short ? " \(runs.finished)/\(total) parts" : "  partitions \(runs.finished)/\(total) (\(running) running)"
    }

    private static func describe(_ progress: KindProgress, now: ContinuousClock.Instant) -> String {
        let seconds = max(0.001, Double((now - progress.started).components.seconds)
                          + Double((now - progress.started).components.attoseconds) / 1e18)
        let rate = Int(Double(progress.records) / seconds)
        return "\(progress.label)  pages \(progress.pages)  records \(progress.records)  entities \(progress.entities)"
            + "  skipped \(progress.report.skippedCount)  errors \(progress.report.errorCount + progress.writeFailures)  \(rate)/s" + runs(progress)
    }
}

/// The table printed when a resync ends.
enum SummaryTable {
    /// The summary on standard error: the table, or under `--log-format json` one line per kind and
    /// one for the whole resync, with the counts as numbers.
    static func report(_ summary: ResyncSummary, catalog: String?) {
        guard Terminal.style.current?.format == .json else {
            Terminal.report(.info, render(summary, catalog: catalog))
            return
        }
        for kind in summary.kinds {
            var fields = KindFields.of(kind).merging(KindFields.counts(kind)) { $1 }
            if let failure = kind.failure { fields.merge(KindFields.failure(failure)) { $1 } }
            let report = kind.report
            if report.errorCount > 0 || !report.misconfigurations.isEmpty || report.skippedCount > 0 {
                fields["tide.mapping"] = .json(report.json().serialized())
            }
            let message = "\(kind.label): \(kind.pages) pages, \(kind.records) records, \(kind.entities) entities"
                + (kind.failure.map { "; failed: \($0)" } ?? "")
            Terminal.report(kind.hasErrors || kind.writeFailures > 0 ? .error : .info, message, fields: fields, logger: "tide.summary")
        }
        var fields: [String: LogField] = [
            "event.outcome": .string(summary.succeeded ? "success" : "failure"),
            "event.duration": .int(KindFields.nanoseconds(summary.elapsed)),
            "tide.kinds": .int(summary.kinds.count),
            "tide.records": .int(summary.kinds.reduce(0) { $0 + $1.records }),
            "tide.entities": .int(summary.kinds.reduce(0) { $0 + $1.entities }),
            "tide.errors": .int(summary.kinds.reduce(0) { $0 + $1.report.errorCount + $1.writeFailures + ($1.failure == nil ? 0 : 1) }),
        ]
        if let catalog { fields["tide.catalog"] = .string(catalog) }
        fields["tide.requests"] = .int(summary.budgets.reduce(0) { $0 + $1.requests })
        fields["tide.budget_wait"] = .int(KindFields.nanoseconds(summary.budgets.reduce(.zero) { $0 + $1.waited }))
        fields["tide.throttled"] = .int(summary.budgets.reduce(0) { $0 + $1.throttled })
        switch summary.reconciliation {
        case .deleted(let count, let protected, let optedOut):
            fields["tide.reconciliation"] = .string("deleted")
            fields["tide.deleted"] = .int(count)
            fields["tide.protected"] = .int(protected)
            fields["tide.opted_out"] = .int(optedOut)
        case .nothingStale:
            fields["tide.reconciliation"] = .string("nothing_stale")
            fields["tide.deleted"] = .int(0)
        case .skippedAfterErrors:
            fields["tide.reconciliation"] = .string("skipped_after_errors")
        case .skippedOverThreshold(let stale, let owned, let threshold):
            fields["tide.reconciliation"] = .string("skipped_over_threshold")
            fields["tide.stale"] = .int(stale)
            fields["tide.owned"] = .int(owned)
            fields["tide.threshold"] = .double(threshold)
        case .dryRun:
            fields["tide.reconciliation"] = .string("dry_run")
        case .incrementalPass:
            fields["tide.reconciliation"] = .string("incremental_pass")
        }
        fields["tide.mode"] = .string(summary.mode.rawValue)
        // The table's last two lines, in words, as the message.
        let words = render(summary, catalog: catalog).split(separator: "\n").suffix(2).joined(separator: " ")
        Terminal.report(summary.succeeded ? .info : .error, words, fields: fields, logger: "tide.summary")
    }

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
        for budget in summary.budgets where budget.requests > 0 {
            let rate = budget.requestsPerSecond.map { String(format: ", rate %.1f/s", $0) } ?? ""
            lines.append("\(budget.origin): \(budget.requests) requests, \(Self.seconds(budget.waited)) waiting for the request budget"
                         + ", \(budget.throttled) throttled (429/503), concurrency \(budget.concurrency) of \(budget.maxConcurrency)\(rate)")
        }
        for kind in summary.kinds {
            if let failure = kind.failure { lines.append("✗ \(kind.label) failed: \(failure)") }
            if kind.report.errorCount > 0 || !kind.report.misconfigurations.isEmpty || kind.report.skippedCount > 0 {
                lines.append(kind.report.humanText(title: "  \(kind.label) mapping", indent: 2))
            }
        }
        switch summary.reconciliation {
        case .deleted(let count, let protected, let optedOut):
            lines.append("Deleted \(count) stale entit\(count == 1 ? "y" : "ies")"
                         + (protected > 0 ? " (kept \(protected) that other entities still point at)" : "")
                         + (optedOut > 0 ? " (kept \(optedOut) of resources with enableDelete: false)" : "") + ".")
        case .nothingStale: lines.append("Nothing stale to delete.")
        case .skippedAfterErrors:
            lines.append("Deleted nothing: the resync had errors, so what is missing may still exist. Fix the errors above and run again.")
        case .skippedOverThreshold(let stale, let owned, let threshold):
            lines.append("Deleted nothing: \(stale) of \(owned) owned entities are stale, more than entityDeletionThreshold (\(threshold)) allows.")
        case .dryRun: lines.append("Dry run: nothing was written or deleted.")
        case .incrementalPass:
            let left = summary.kinds.filter(\.notIncremental).map(\.label)
            if !left.isEmpty { lines.append("Not read incrementally (no incremental: in their kind; full resyncs read them): \(left.joined(separator: ", ")).") }
            let moved = summary.kinds.reduce(0) { $0 + $1.cursorsSaved }
            lines.append("Incremental pass: nothing is deleted (full resyncs reconcile); \(moved) cursor\(moved == 1 ? "" : "s") moved.")
        }
        let verdict = summary.mode == .incremental
            ? (summary.succeeded ? "Incremental pass completed" : "Incremental pass failed")
            : (summary.succeeded ? "Resync completed" : "Resync failed")
        lines.append("\(verdict) in \(seconds(summary.elapsed))" + (catalog.map { "; catalog: \($0)" } ?? "") + ".")
        return lines.joined(separator: "\n")
    }

    static func seconds(_ duration: Duration) -> String {
        let value = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return String(format: "%.2fs", value)
    }
}
