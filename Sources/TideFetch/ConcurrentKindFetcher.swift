import AsyncAlgorithms
import Foundation
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping

/// Where a resync reads a kind's pages from: one `KindFetcher`, or runs side by side.
public protocol PageSource: AnyObject {
    var kind: String { get }
    /// The next page, or nil when the kind has no more; after an error, nil.
    func next() async throws(FetchError) -> FetchedPage?
    /// Parse responses only as far as `recordPaths` and pagination need (call before `next()`).
    func parseOnly(recordPaths: JSONProjection)
    /// True when the records `next()` returns share no libjq value with anything else.
    var recordsAreIndependent: Bool { get }
    /// How far the runs (parent records, partitions) are: nil for a kind read in one run.
    var runs: RunCounts? { get }
    /// What the fetch decided on its own that the operator should hear (a partition count short).
    var notes: [String] { get }
    /// Keys of the runs read to their end, for a kind with `incremental` (see `SyncCursors`).
    var completedRuns: [String] { get }
}

extension KindFetcher {
    public var runs: RunCounts? { nil }
    public var notes: [String] { [] }

    /// The page source a resync reads `compiled`'s kind from: its runs side by side when it has
    /// partitions or a parent and `concurrency` above 1, else one fetcher.
    /// - Parameter cursors: for an incremental pass, the resource's cursors (`.cursor`).
    public static func forResync(compiled: CompiledKind, selector: [String: String], cursors: SyncCursors? = nil) throws(Diagnostics) -> any PageSource {
        let definition = compiled.program.definition
        let runsApart = definition.partitions != nil || (definition.parent != nil && definition.concurrency > 1)
        guard runsApart else { return try KindFetcher(compiled: compiled, selector: selector, cursors: cursors) }
        return try ConcurrentKindFetcher(compiled: compiled, selector: selector, cursors: cursors)
    }
}

/// How many runs of a kind have started and finished; `all` once every run is known.
public struct RunCounts: Sendable, Equatable {
    public var started = 0
    public var finished = 0
    /// Every partition (or parent record) has been listed, so `started` is the total.
    public var listed = false
    public init() {}
}

/// Reads a kind as independent pagination runs side by side: one per partition (`partitions:`)
/// or per parent record (`parent:`), up to the kind's `concurrency` at once, all through the
/// session's request budget. Each run keeps its own pages in order; pages of different runs
/// interleave, which changes nothing a resync writes or reports.
///
/// Completeness: a failure in any run (or in listing the partitions) fails the whole kind, as a
/// failed page does, so nothing of it is deleted. With `partitions.count`, the records read are
/// compared with the API's count of the unpartitioned set (asked for while the partitions are
/// read), and when fewer were read
/// the kind is read once more unpartitioned (`.partition` null), so no record that fell outside
/// every partition can be deleted as stale.
///
/// Memory: each run holds at most one page waiting to be taken (plus its pages ahead), so pages
/// in flight are bounded by `concurrency`, not by the kind's size.
public final class ConcurrentKindFetcher: PageSource {
    public let kind: String
    private let plan: Plan
    private let pool: CompiledPool
    private let shared = Locked(Shared())
    private var projection: JSONProjection?
    private let channel = AsyncThrowingChannel<Transfer, any Error>()
    private var iterator: AsyncThrowingChannel<Transfer, any Error>.AsyncIterator?
    private var driver: Task<Void, Never>?
    private var finished = false

    /// What the runs share with the consumer.
    private struct Shared {
        var counts = RunCounts()
        var notes: [String] = []
        var completedRuns: [String] = []
    }

    /// What the driver needs, all of it Sendable.
    private struct Plan: Sendable {
        let session: FetchSession
        let kind: String
        let selector: [String: String]
        let concurrency: Int
        let partitions: Partitions?
        let parent: String?
        let cursors: SyncCursors?
    }

    /// A page on its way from a run's task to the consumer's: its records as they are when they
    /// share nothing with the run (a plain path into the body), as JSON text otherwise.
    private enum Transfer: Sendable {
        case records(UncheckedSendable<[JSON]>, number: Int, request: String)
        case text([String], number: Int, request: String)
        case skipped(String, number: Int, request: String)

        func page() throws(FetchError) -> FetchedPage {
            switch self {
            case .records(let records, let number, let request):
                return FetchedPage(records: records.value, number: number, parent: nil, request: request)
            case .skipped(let reason, let number, let request):
                var page = FetchedPage(records: [], number: number, parent: nil, request: request)
                page.skipped = reason
                return page
            case .text(let texts, let number, let request):
                var records: [JSON] = []
                records.reserveCapacity(texts.count)
                for text in texts {
                    do { records.append(try JSON(parsing: text)) } catch {
                        throw FetchError(.evaluation, message: "a record could not be passed between tasks: \(error.message)")
                    }
                }
                return FetchedPage(records: records, number: number, parent: nil, request: request)
            }
        }
    }

    public init(compiled: CompiledKind, selector: [String: String], cursors: SyncCursors? = nil) throws(Diagnostics) {
        let definition = compiled.program.definition
        kind = definition.name
        // Checked now so that a bad selector fails as it does for one fetcher, before any request.
        _ = try KindFetcher(compiled: compiled, selector: selector, binding: RunBinding())
        plan = Plan(session: compiled.session, kind: definition.name, selector: selector,
                    concurrency: max(1, definition.concurrency), partitions: definition.partitions, parent: definition.parent,
                    cursors: cursors)
        pool = CompiledPool(session: compiled.session, kind: definition.name, first: compiled)
    }

    deinit {
        driver?.cancel()
        channel.finish()
    }

    public func parseOnly(recordPaths: JSONProjection) { projection = recordPaths }

    /// Pages reach the consumer owning their records (see `Transfer`).
    public var recordsAreIndependent: Bool { true }

    public var runs: RunCounts? { shared.current.counts }

    public var notes: [String] { shared.current.notes }

    public var completedRuns: [String] { shared.current.completedRuns }

    public func next() async throws(FetchError) -> FetchedPage? {
        guard !finished else { return nil }
        if driver == nil { start() }
        do {
            guard let transfer = try await iterator?.next() else {
                finished = true
                return nil
            }
            return try transfer.page()
        } catch let error as FetchError {
            finished = true
            throw error
        } catch {
            finished = true
            throw FetchError(.cancelled, message: "reading kind \"\(kind)\" stopped: \(error)")
        }
    }

    private func start() {
        iterator = channel.makeAsyncIterator()
        let plan = plan, pool = pool, shared = shared, channel = channel, projection = projection
        driver = Task { await ConcurrentKindFetcher.drive(plan, pool: pool, projection: projection, channel: channel, shared: shared) }
    }

    // MARK: The driver

    /// Runs the kind and closes the channel: finished, or failed with the first error.
    private static func drive(_ plan: Plan, pool: CompiledPool, projection: JSONProjection?,
                              channel: AsyncThrowingChannel<Transfer, any Error>, shared: Locked<Shared>) async {
        do {
            try await runAll(plan, pool: pool, projection: projection, channel: channel, shared: shared)
            channel.finish()
        } catch {
            channel.fail(error)
        }
    }

    /// Lists the runs and starts each, `concurrency` at most at once; then checks the count.
    private static func runAll(_ plan: Plan, pool: CompiledPool, projection: JSONProjection?,
                              channel: AsyncThrowingChannel<Transfer, any Error>, shared: Locked<Shared>) async throws {
        var bindings = try BindingSource(BindingSource.Kind(session: plan.session, kind: plan.kind, selector: plan.selector,
                                                            partitions: plan.partitions, parent: plan.parent))
        // The count is asked for while the partitions are read: a record added meanwhile is read
        // anyway (more records than counted), one deleted meanwhile costs a read unpartitioned.
        // Not in an incremental pass: it reads what changed, which no count of the whole matches,
        // and deletes nothing.
        let counting = plan.cursors != nil ? nil : plan.partitions?.count.map { count in
            Task { () throws(FetchError) -> Counted in try await countWhole(count, plan: plan) }
        }
        defer { counting?.cancel() }
        var records = 0
        try await withThrowingTaskGroup(of: Int.self) { group in
            var running = 0
            while let binding = try await bindings.next() {
                if running >= plan.concurrency, let read = try await group.next() {
                    records += read
                    running -= 1
                }
                shared.withLock { $0.counts.started += 1 }
                group.addTask {
                    let (read, completed) = try await run(binding, plan: plan, pool: pool, projection: projection, channel: channel)
                    shared.withLock {
                        $0.counts.finished += 1
                        $0.completedRuns += completed
                    }
                    return read
                }
                running += 1
            }
            shared.withLock { $0.counts.listed = true }
            while let read = try await group.next() { records += read }
        }
        guard let counting else { return }
        let counted = try await counting.value
        let expected = counted.value
        guard Double(records) < expected else { return }
        // Under `tide record` the partitions were cut short on purpose: the recorded count is
        // lowered to what they gave, so that neither the recording nor its replay reads the kind
        // again unpartitioned. (A count that is not a path in its body cannot be lowered: then the
        // kind is read again, as without a recording, and the replay does the same.)
        if let recording = FetchRecording.current, let edit = counted.recordingEdit(records) {
            recording.add(FetchRecording.PageEdit(kind: plan.kind, request: counted.key, edits: [edit],
                                                  note: "count lowered to \(records), the records the recorded partitions hold"))
            return
        }
        let note = "kind \"\(plan.kind)\": its partitions gave \(records) records but the API counts \(formatted(expected)) in all, so it is read once more unpartitioned (nothing is deleted for a record no partition held)"
        shared.withLock { $0.notes.append(note) }
        let (_, completed) = try await run(BindingText(parent: nil, partition: nil), plan: plan, pool: pool, projection: projection, channel: channel)
        shared.withLock { $0.completedRuns += completed }
    }

    /// One pagination run, in its own task with its own compiled kind: its pages go to the
    /// consumer in order. Returns how many records it read, and the run's key when it was read to
    /// its end (kinds with `incremental`).
    private static func run(_ binding: BindingText, plan: Plan, pool: CompiledPool, projection: JSONProjection?,
                            channel: AsyncThrowingChannel<Transfer, any Error>) async throws -> (Int, [String]) {
        let compiled = try pool.take()
        defer { pool.put(compiled) }
        let fetcher: KindFetcher
        do {
            fetcher = try KindFetcher(compiled: compiled.value, selector: plan.selector, binding: try binding.parsed(), cursors: plan.cursors)
        } catch let diagnostics as Diagnostics {
            throw FetchError(.evaluation, message: diagnostics.description)
        }
        if let projection { fetcher.parseOnly(recordPaths: projection) }
        let independent = fetcher.recordsAreIndependent
        var read = 0
        while let page = try await fetcher.next() {
            read += page.records.count
            // `next()` released everything the fetcher held of the page, so plain-path records
            // are the consumer's alone once handed over.
            let transfer: Transfer = if let skipped = page.skipped {
                .skipped(skipped, number: page.number, request: page.request)
            } else if independent {
                .records(UncheckedSendable(page.records), number: page.number, request: page.request)
            } else {
                .text(page.records.map { $0.serialized() }, number: page.number, request: page.request)
            }
            try Task.checkCancellation()
            await channel.send(transfer)
        }
        return (read, fetcher.completedRuns)
    }

    /// What `partitions.count` gave, and (for `tide record`) where its value sits in the response.
    private struct Counted: Sendable {
        var value: Double
        var key: FetchRecording.RequestKey
        var path: [FetchRecording.PathStep]?

        func recordingEdit(_ records: Int) -> FetchRecording.Edit? {
            path.map { .setBody(path: $0, json: String(records)) }
        }
    }

    /// The API's count of the whole set, through `partitions.count`.
    private static func countWhole(_ count: Partitions.Count, plan: Plan) async throws(FetchError) -> Counted {
        let selector = selectorObject(session: plan.session, kind: plan.kind, selector: plan.selector)
        let sent = try await plan.session.sendKeepingRequest(count.request, context: [("selector", selector), ("partition", .null)])
        let (response, request) = (sent.response, sent.line)
        func failure(_ message: String) -> FetchError {
            var error = FetchError(.evaluation, message: "partitions.count of kind \"\(plan.kind)\": \(message)",
                                   hint: "check partitions.count's request and value against the API's response")
            error.kind = plan.kind
            error.request = request
            return error.redacted(with: plan.session.redactor)
        }
        let body: JSON
        do { body = try JSON(parsing: response.text) } catch { throw failure("the response is not JSON: \(error.message)") }
        let program: JQProgram
        do { program = try JQProgram(count.value.source) } catch { throw failure("jq \"\(count.value.source)\" does not compile: \(error.message)") }
        let value: JSON?
        do { value = try program.first(body) } catch { throw failure("\(count.value.source) failed: \(error.description)") }
        guard let number = value?.numberValue ?? value?.stringValue.flatMap(Double.init) else {
            throw failure("\(count.value.source) gave \(value.map { plan.session.redactor.excerpt($0.serialized(), limit: 80) } ?? "nothing"), not a number")
        }
        var path: [FetchRecording.PathStep]?
        if FetchRecording.current != nil, value?.numberValue != nil {
            let input = JSON(object: ["body": body, "headers": JSON(object: [:]), "page": .null, "parent": .null])
            if let paths = FetchRecording.paths(of: count.value.source, in: input), paths.count == 1 { path = paths[0] }
        }
        return Counted(value: number, key: FetchRecording.RequestKey(method: sent.request.method.rawValue, url: sent.request.url, body: sent.request.body),
                       path: path)
    }

    private static func formatted(_ number: Double) -> String {
        number == number.rounded() && abs(number) < 1e15 ? String(Int(number)) : String(number)
    }
}

/// A run's binding as JSON text, to cross from the task that listed it to the task that runs it.
struct BindingText: Sendable {
    var parent: String?
    var partition: String?

    func parsed() throws(FetchError) -> RunBinding {
        do {
            return RunBinding(parent: try parent.map { text throws(JSONParseError) in try JSON(parsing: text) },
                              partition: try partition.map { text throws(JSONParseError) in try JSON(parsing: text) })
        } catch {
            throw FetchError(.evaluation, message: "a partition could not be passed between tasks: \(error.message)")
        }
    }
}

/// Lists a kind's runs, in the driver's task: one per record of its parent kind, per record of
/// `partitions.fromKind`, per value of `partitions.values`, or per date window.
struct BindingSource {
    private let plan: Kind
    private var fetcher: (any PageSource)?
    private var valueProgram: JQProgram?
    private var pending: [BindingText] = []
    private var seen: Set<String> = []
    private var done = false

    /// The parts of the plan the source reads.
    struct Kind {
        let session: FetchSession
        let kind: String
        let selector: [String: String]
        let partitions: Partitions?
        let parent: String?
    }

    init(_ plan: Kind) throws {
        self.plan = plan
        if let parent = plan.parent {
            fetcher = try Self.fetcher(plan.session, parent, of: plan.kind, readFor: .parent)
            return
        }
        guard let partitions = plan.partitions else {
            pending = [BindingText(parent: nil, partition: nil)]
            return
        }
        switch partitions.source {
        case .kind(let from, let value):
            fetcher = try Self.fetcher(plan.session, from, of: plan.kind, readFor: .partitions)
            do { valueProgram = try JQProgram(value.source) } catch {
                throw FetchError(.evaluation, message: "partitions.value of kind \"\(plan.kind)\": jq \"\(value.source)\" does not compile: \(error.message)")
            }
        case .values(let expression):
            pending = try Self.values(expression, plan: plan)
        case .dateWindows(let start, let days):
            guard let from = Partitions.time(of: start) else {
                throw FetchError(.evaluation, message: "partitions.dateWindows.start of kind \"\(plan.kind)\" is \"\(start)\", not an ISO 8601 date")
            }
            pending = Self.windows(from: from, days: days, until: Date().timeIntervalSince1970)
        }
        pending.reverse()
    }

    private static func fetcher(_ session: FetchSession, _ kind: String, of child: String, readFor: FetchError.ReadFor) throws -> any PageSource {
        if let shared = session.sharedReads.reader(of: kind, session: session) { return shared }
        do { return try KindFetcher(session: session, kind: kind) } catch {
            var failure = FetchError(.evaluation, message: error.description)
            failure.whileFetchingParentsOf = child
            failure.readFor = readFor
            throw failure
        }
    }

    mutating func next() async throws -> BindingText? {
        while true {
            if let binding = pending.popLast() { return binding }
            guard let fetcher, !done else { return nil }
            let page: FetchedPage?
            do { page = try await fetcher.next() } catch {
                var error = error
                if error.whileFetchingParentsOf == nil {
                    error.whileFetchingParentsOf = plan.kind
                    error.readFor = plan.parent == nil ? .partitions : .parent
                }
                throw error
            }
            guard let page else {
                done = true
                return nil
            }
            for record in page.records {
                guard let valueProgram else {
                    pending.append(BindingText(parent: record.serialized(), partition: nil))
                    continue
                }
                let outputs: [JSON]
                do { outputs = try valueProgram.all(record) } catch {
                    throw FetchError(.evaluation, message: "partitions.value of kind \"\(plan.kind)\" failed on a record of \"\(fetcher.kind)\": \(error.description)",
                                     hint: "check partitions.value against the records of kind \"\(fetcher.kind)\"")
                }
                for output in outputs {
                    guard !output.isNull else {
                        throw FetchError(.evaluation, message: "partitions.value of kind \"\(plan.kind)\" gave null for a record of \"\(fetcher.kind)\"",
                                         hint: "every record must give a partition's value; filter records out with select(...) instead")
                    }
                    let text = output.serialized()
                    if seen.insert(text).inserted { pending.append(BindingText(parent: nil, partition: text)) }
                }
            }
            pending.reverse()
        }
    }

    /// `partitions.values` over {config, selector}: an array of values, none null.
    private static func values(_ expression: JQExpression, plan: Kind) throws -> [BindingText] {
        let config = (try? JSON(parsing: plan.session.configText)) ?? JSON(object: [:])
        let selector = selectorObject(session: plan.session, kind: plan.kind, selector: plan.selector)
        let result: JSON?
        do { result = try JQProgram(expression.source).first(JSON(object: ["config": config, "selector": selector])) } catch {
            throw FetchError(.evaluation, message: "partitions.values of kind \"\(plan.kind)\" failed: \(error)")
        }
        guard let result, result.kind == .array else {
            throw FetchError(.evaluation, message: "partitions.values of kind \"\(plan.kind)\" gave \(result.map { plan.session.redactor.excerpt($0.serialized(), limit: 80) } ?? "nothing"), not an array",
                             hint: "write partitions.values as jq giving an array, e.g. [\"eu\", \"us\"] or .config.regions | split(\",\")")
        }
        var seen: Set<String> = []
        var bindings: [BindingText] = []
        for value in result.arrayElements {
            guard !value.isNull else {
                throw FetchError(.evaluation, message: "partitions.values of kind \"\(plan.kind)\" holds null; every partition needs a value")
            }
            let text = value.serialized()
            if seen.insert(text).inserted { bindings.append(BindingText(parent: nil, partition: text)) }
        }
        return bindings
    }

    /// Windows of `days` days from `from`: the first from null to `from`, the last from the last
    /// boundary before `until` to null, so that every instant falls in exactly one.
    static func windows(from: Double, days: Int, until: Double) -> [BindingText] {
        let step = Double(days) * 86_400
        func text(_ from: Double?, _ to: Double?) -> BindingText {
            func number(_ value: Double?) -> String { value.map { String(Int64($0)) } ?? "null" }
            return BindingText(parent: nil, partition: "{\"from\":\(number(from)),\"to\":\(number(to))}")
        }
        var windows = [text(nil, from)]
        var start = from
        while start + step <= until {
            windows.append(text(start, start + step))
            start += step
        }
        windows.append(text(start, nil))
        return windows
    }
}

/// Compiled kinds for the runs, each used by one run at a time: compiled once per run at once,
/// not once per partition.
final class CompiledPool: Sendable {
    private let first: UncheckedSendable<CompiledKind>
    private let idle: Locked<[UncheckedSendable<CompiledKind>]>

    init(session: FetchSession, kind: String, first: CompiledKind) {
        self.first = UncheckedSendable(first)
        idle = Locked([UncheckedSendable(first)])
    }

    /// An idle compiled kind, or a new one that shares the first one's request (whose templates
    /// are most of a kind's jq; its response programs are mostly plain paths, read without jq).
    func take() throws -> UncheckedSendable<CompiledKind> {
        if let compiled = idle.withLock({ $0.popLast() }) { return compiled }
        do { return UncheckedSendable(try CompiledKind(sharingRequestOf: first.value)) } catch {
            throw FetchError(.evaluation, message: error.description)
        }
    }

    func put(_ compiled: UncheckedSendable<CompiledKind>) { idle.withLock { $0.append(compiled) } }
}

extension FetchSession {
    /// Whether a resource with `selector` reads `kind` exactly as its defaults do (the way parents
    /// and partition sources are read), so that it can share their one read.
    public func readsAsDefaults(kind: String, selector: [String: String]) -> Bool {
        selectorObject(session: self, kind: kind, selector: selector).serialized()
            == selectorObject(session: self, kind: kind, selector: [:]).serialized()
    }

    /// A reader of `kind`'s shared read for a resource, when the kind is shared this resync.
    public func sharedReader(of kind: String) -> (any PageSource)? {
        sharedReads.reader(of: kind, session: self)
    }
}

/// The resource's selector as templates see it, as `KindFetcher` builds it: the kind's fields
/// (what the resource sets, else their defaults), then the keys it sets that the kind does not
/// declare. The values were checked when the kind's first fetcher was made.
func selectorObject(session: FetchSession, kind: String, selector: [String: String]) -> JSON {
    func value(_ text: String?) -> JSON { text.flatMap { try? JSON(parsing: $0) } ?? .null }
    let fields = session.integration.kind(kind)?.selector ?? []
    let declared = Set(fields.map(\.name))
    let members = fields.map { ($0.name, value(selector[$0.name] ?? $0.defaultValue)) }
        + selector.keys.sorted().filter { !declared.contains($0) }.map { ($0, value(selector[$0])) }
    return JSON(orderedObject: members)
}
