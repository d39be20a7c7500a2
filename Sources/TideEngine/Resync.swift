import Foundation
import TideCore
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping
import TideModel

/// How one resource of the mapping fared.
public struct KindProgress: Sendable {
    /// `issue[0]`: the kind and the resource's index in the mapping.
    public var label: String
    public var pages = 0
    public var records = 0
    public var entities = 0
    /// Entities the sink refused (with Port's or the catalog's reason).
    public var writeFailures = 0
    public var report = MappingReport()
    /// Blueprints of the entities written.
    public var blueprints: Set<String> = []
    /// The kind's runs (partitions or parent records) read side by side, when it has them.
    public var runs: RunCounts?
    /// Runs a `responses` rule skipped (their records unknown, so the resource's stale entities
    /// are kept this time).
    public var skippedRuns = 0
    /// Why the kind stopped early, when it did.
    public var failure: String?
    /// An incremental pass left the resource alone: its kind has no `incremental`.
    public var notIncremental = false
    /// Runs whose cursor this pass moved (kinds with `incremental`).
    public var cursorsSaved = 0
    public var started: ContinuousClock.Instant
    public var elapsed: Duration = .zero

    public init(label: String, started: ContinuousClock.Instant = .now) {
        self.label = label
        self.started = started
    }

    /// Item errors or a failed fetch: either makes the resync's state incomplete.
    public var hasErrors: Bool { failure != nil || report.errorCount > 0 }
}

/// What reconciliation did.
public enum Reconciliation: Sendable, Equatable {
    /// `protected`: kept because kept entities point at them; `optedOut`: kept because their
    /// resource says `enableDelete: false`, or its kind's partitions may not cover every record.
    case deleted(count: Int, protected: Int, optedOut: Int = 0)
    /// Nothing owned was left unwritten.
    case nothingStale
    /// Some kind failed or some items had errors: deleting could lose data that is still there.
    case skippedAfterErrors
    /// Deleting would remove more than `entityDeletionThreshold` of what the installation owned.
    case skippedOverThreshold(stale: Int, owned: Int, threshold: Double)
    /// `--dry-run`: nothing was written, so nothing is deleted.
    case dryRun
    /// An incremental pass reads what changed, never what is gone: only a full resync deletes.
    case incrementalPass
}

public struct ResyncSummary: Sendable {
    public var mode: Resync.Mode = .full
    public var kinds: [KindProgress]
    public var reconciliation: Reconciliation
    public var elapsed: Duration
    /// The request budget of each API host as the resync left it (shared with the process's other
    /// runs, so its counts are the process's).
    public var budgets: [HostBudget.Stats] = []
    /// True when every kind completed without errors.
    public var succeeded: Bool { !kinds.contains { $0.hasErrors } }
}

/// Receives progress as a resync runs (the terminal display, logs).
public protocol ResyncObserver: Sendable {
    func kindStarted(_ progress: KindProgress)
    func pageWritten(_ progress: KindProgress)
    func kindFinished(_ progress: KindProgress)
    func note(_ message: String)
    /// The request budgets of the API hosts as they stand, every half second while kinds are read.
    func budgets(_ stats: [HostBudget.Stats])
}

extension ResyncObserver {
    public func budgets(_ stats: [HostBudget.Stats]) {}
}

/// One full resync: for each resource in mapping order, fetch pages, map them, write each page to
/// the sink as it arrives; then delete what this installation owns that the resync did not write,
/// unless anything failed or the deletion rate is over the threshold.
public struct Resync: Sendable {
    public let integration: Integration
    public let mapping: PortAppConfig
    public let configuration: ResolvedConfiguration
    public let sink: any EntitySink
    public let mappingOptions: MappingOptions
    public let dryRun: Bool
    /// Resources fetched side by side; 1 is Ocean's one-after-the-other order.
    public var resourcesAtOnce = Resync.defaultResourcesAtOnce
    /// Enough to keep a slow API's budget busy; each resource holds at most three pages in flight.
    public static let defaultResourcesAtOnce = 4

    /// A full resync reads every resource whole and reconciles; an incremental pass reads the
    /// resources whose kind has `incremental`, each run from its cursor, and deletes nothing.
    public enum Mode: String, Sendable { case full, incremental }
    public var mode = Mode.full
    /// Where the resources' cursors are kept; without one, incremental passes read every run whole
    /// and no cursor is saved.
    public var cursors: (any CursorStore)?
    /// When the pass counts as started for its cursors (default: when `run` starts); tests pin it
    /// so that `.cursor` renders the same every time.
    public var cursorTime: Date?

    public init(integration: Integration, mapping: PortAppConfig, configuration: ResolvedConfiguration,
                sink: any EntitySink, mappingOptions: MappingOptions = MappingOptions(), dryRun: Bool = false) {
        self.integration = integration
        self.mapping = mapping
        self.configuration = configuration
        self.sink = sink
        self.mappingOptions = mappingOptions
        self.dryRun = dryRun
    }

    public func run(observer: any ResyncObserver) async throws -> ResyncSummary {
        let clock = ContinuousClock()
        let started = clock.now
        // Whole seconds are not enough: the catalog stores milliseconds, and a page written in the
        // same millisecond as the start must count as written by this resync.
        let resyncStart = Date()
        let passStart = cursorTime ?? resyncStart
        try await sink.prepare(blueprints: integration.blueprints)

        // The process's budgets: this resync's requests share each API host's with any other
        // resync and with the webhook service's refetches, which go first.
        var clientConfiguration = HTTPClient.Configuration(for: integration, secretStore: configuration.secretStore)
        clientConfiguration.budgets = .shared
        clientConfiguration.priority = .bulk
        let client = HTTPClient(configuration: clientConfiguration)
        // The budgets as they change, for a live display; stopped once every kind is read.
        let ticker = Task {
            while !Task.isCancelled {
                try await Task.sleep(for: .milliseconds(500))
                observer.budgets(client.budgetStats)
            }
        }
        let fetched: Result<[KindProgress], any Error>
        do { fetched = .success(try await syncAll(client: client, passStart: passStart, observer: observer)) } catch { fetched = .failure(error) }
        ticker.cancel()
        let budgets = client.budgetStats
        // libcurl's handles are released before returning, whatever happened.
        await client.shutdown()
        let kinds = try fetched.get()
        // A newer resync (or shutdown) cancelled this one: what it fetched is partial, so nothing
        // may be deleted on its account.
        try Task.checkCancellation()

        let reconciliation: Reconciliation
        if dryRun {
            reconciliation = .dryRun
        } else if mode == .incremental {
            reconciliation = .incrementalPass
        } else if kinds.contains(where: \.hasErrors) {
            reconciliation = .skippedAfterErrors
        } else {
            reconciliation = try await reconcile(since: resyncStart, kinds: kinds)
        }
        return ResyncSummary(mode: mode, kinds: kinds, reconciliation: reconciliation, elapsed: clock.now - started, budgets: budgets)
    }

    /// Every resource of the mapping, up to `resourcesAtOnce` side by side (Ocean fetches them one
    /// after the other; real APIs answer a page in 100–300 ms, so waiting on one kind at a time
    /// leaves the request budget idle). Each resource has its own fetcher and mappers in its own
    /// task; the sink takes pages as they come. Results come back in mapping order, and a failure
    /// fails only its own resource, as before.
    func syncAll(client: HTTPClient, passStart: Date, observer: any ResyncObserver) async throws -> [KindProgress] {
        let clock = ContinuousClock()
        let session = try FetchSession(integration: integration, config: configuration, client: client)
        session.sharedReads.share(sharedKinds(session))
        defer { session.sharedReads.close() }
        let resources = mapping.resources
        let width = max(1, min(resourcesAtOnce, resources.count))
        return try await withThrowingTaskGroup(of: (Int, KindProgress).self) { group in
            var next = 0
            func startNext() {
                guard next < resources.count else { return }
                let index = next, resource = resources[index]
                next += 1
                group.addTask {
                    try Task.checkCancellation()
                    var progress = KindProgress(label: "\(resource.kind)[\(resource.index)]", started: clock.now)
                    observer.kindStarted(progress)
                    await self.sync(resource, session: session, passStart: passStart, progress: &progress, observer: observer)
                    progress.elapsed = clock.now - progress.started
                    observer.kindFinished(progress)
                    return (index, progress)
                }
            }
            for _ in 0..<width { startNext() }
            var finished: [KindProgress?] = Array(repeating: nil, count: resources.count)
            while let (index, progress) = try await group.next() {
                finished[index] = progress
                startNext()
            }
            return finished.compactMap { $0 }
        }
    }

    /// Kinds this pass would read more than once with their selector defaults — as the parent of
    /// several kinds, as a partition source, or for a resource that sets no selector field of its
    /// own — and so reads once for all (`SharedKindReads`).
    func sharedKinds(_ session: FetchSession) -> Set<String> {
        var readers: [String: Int] = [:]
        for resource in mapping.resources {
            guard let kind = integration.kind(resource.kind) else { continue }
            if mode == .incremental, kind.incremental == nil { continue }
            if let parent = kind.parent { readers[parent, default: 0] += 1 }
            if let source = kind.partitions?.fromKind { readers[source, default: 0] += 1 }
            if ResourcePass.readsShared(resource, kind: kind, session: session) { readers[kind.name, default: 0] += 1 }
        }
        return Set(readers.filter { $0.value > 1 }.keys)
    }

    /// One resource through its `ResourcePass`, after checking that the integration has its kind;
    /// then, for a kind with `incremental` read without errors, its completed runs' cursors move
    /// to this pass's start.
    func sync(_ resource: ResourceConfig, session: FetchSession, passStart: Date, progress: inout KindProgress,
              observer: any ResyncObserver) async {
        guard let kind = integration.kind(resource.kind) else {
            let known = integration.kinds.map(\.name)
            let suggestion = DidYouMean.closest(to: resource.kind, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            progress.failure = "the mapping names kind \"\(resource.kind)\", which \(integration.name) does not define\(suggestion)"
            return
        }
        if mode == .incremental, kind.incremental == nil {
            progress.notIncremental = true
            return
        }
        let pass = ResourcePass(resource: resource, mapping: mapping, session: session, sink: sink, options: mappingOptions)
        let scope = (resource: progress.label, selector: resource.cursorSelector)
        var cursors: SyncCursors?
        if mode == .incremental, let incremental = kind.incremental {
            var starts: [String: Date] = [:]
            if let store = self.cursors {
                do { starts = try await store.cursors(resource: scope.resource, selector: scope.selector) } catch {
                    progress.failure = "its cursors could not be read: \(error)"
                    return
                }
            }
            cursors = SyncCursors(starts: starts, lookback: incremental.lookback, passStart: passStart)
        }
        let completed = await pass.sync(progress: &progress, observer: observer, cursors: cursors)
        // A cursor says every record of the run that changed before it was written; after any
        // error (a page, an item, a write) that is not known, so the cursors stay where they were.
        guard kind.incremental != nil, let store = self.cursors, !dryRun, !progress.hasErrors, progress.writeFailures == 0,
              !completed.isEmpty, !Task.isCancelled else { return }
        do {
            try await store.saveCursors(resource: scope.resource, selector: scope.selector, runs: completed, start: passStart)
            progress.cursorsSaved = completed.count
        } catch {
            observer.note("\(progress.label): its cursors could not be saved (the next incremental pass reads from the previous ones): \(error)")
        }
    }

    func reconcile(since resyncStart: Date, kinds: [KindProgress] = []) async throws -> Reconciliation {
        let stale = try await sink.staleEntities(resyncStart: resyncStart)
        guard !stale.keys.isEmpty else { return .nothingStale }
        let rate = Double(stale.keys.count) / Double(max(stale.ownedBefore, stale.keys.count))
        guard rate <= mapping.entityDeletionThreshold else {
            return .skippedOverThreshold(stale: stale.keys.count, owned: stale.ownedBefore, threshold: mapping.entityDeletionThreshold)
        }
        // Ocean keeps stale entities that kept entities still point at when Port may create them.
        let protected = mapping.createMissingRelatedEntities
            ? try await sink.relationTargets(among: stale.keys, writtenSince: resyncStart) : []
        // `enableDelete: false` opts a resource's entities out of deletion (Ocean 0.56's field):
        // those of the blueprints it writes — named in its mapping, or written by this resync. So
        // does a kind whose partitions may not cover all its records (no count, not complete),
        // and a resource of which a `responses` rule skipped a run: an entity missing from what
        // was read may still exist.
        let keepsStale = mapping.resources.indices.filter { index in
            let resource = mapping.resources[index]
            return resource.enableDelete == false || integration.kind(resource.kind)?.partitions?.coverage == .unknown
                || (kinds.indices.contains(index) && kinds[index].skippedRuns > 0)
        }
        let optedOut = Set(keepsStale.flatMap { index in
            Array(mapping.resources[index].literalBlueprints) + (kinds.indices.contains(index) ? Array(kinds[index].blueprints) : [])
        })
        let kept = stale.keys.filter { optedOut.contains($0.blueprint) && !protected.contains($0) }
        let doomed = stale.keys.filter { !protected.contains($0) && !optedOut.contains($0.blueprint) }
        let deleted = doomed.isEmpty ? 0 : try await sink.deleteStale(doomed, resyncStart: resyncStart,
                                                                       deleteDependents: mapping.deleteDependentEntities)
        return .deleted(count: deleted, protected: protected.count, optedOut: kept.count)
    }
}
