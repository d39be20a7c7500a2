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
    /// Why the kind stopped early, when it did.
    public var failure: String?
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
    case deleted(count: Int, protected: Int)
    /// Nothing owned was left unwritten.
    case nothingStale
    /// Some kind failed or some items had errors: deleting could lose data that is still there.
    case skippedAfterErrors
    /// Deleting would remove more than `entityDeletionThreshold` of what the installation owned.
    case skippedOverThreshold(stale: Int, owned: Int, threshold: Double)
    /// `--dry-run`: nothing was written, so nothing is deleted.
    case dryRun
}

public struct ResyncSummary: Sendable {
    public var kinds: [KindProgress]
    public var reconciliation: Reconciliation
    public var elapsed: Duration
    /// True when every kind completed without errors.
    public var succeeded: Bool { !kinds.contains { $0.hasErrors } }
}

/// Receives progress as a resync runs (the terminal display, logs).
public protocol ResyncObserver: Sendable {
    func kindStarted(_ progress: KindProgress)
    func pageWritten(_ progress: KindProgress)
    func kindFinished(_ progress: KindProgress)
    func note(_ message: String)
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
        try await sink.prepare(blueprints: integration.blueprints)

        let client = HTTPClient(configuration: .init(for: integration, secretStore: configuration.secretStore))
        let fetched: Result<[KindProgress], any Error>
        do { fetched = .success(try await syncAll(client: client, observer: observer)) } catch { fetched = .failure(error) }
        // libcurl's handles are released before returning, whatever happened.
        await client.shutdown()
        let kinds = try fetched.get()
        // A newer resync (or shutdown) cancelled this one: what it fetched is partial, so nothing
        // may be deleted on its account.
        try Task.checkCancellation()

        let reconciliation: Reconciliation
        if dryRun {
            reconciliation = .dryRun
        } else if kinds.contains(where: \.hasErrors) {
            reconciliation = .skippedAfterErrors
        } else {
            reconciliation = try await reconcile(since: resyncStart)
        }
        return ResyncSummary(kinds: kinds, reconciliation: reconciliation, elapsed: clock.now - started)
    }

    /// Every resource in mapping order, one after the other (as Ocean does).
    func syncAll(client: HTTPClient, observer: any ResyncObserver) async throws -> [KindProgress] {
        let clock = ContinuousClock()
        let session = try FetchSession(integration: integration, config: configuration, client: client)
        var kinds: [KindProgress] = []
        let writeOptions = WriteOptions(merge: mapping.enableMergeEntity,
                                        createMissingRelatedEntities: mapping.createMissingRelatedEntities)
        for resource in mapping.resources {
            try Task.checkCancellation()
            var progress = KindProgress(label: "\(resource.kind)[\(resource.index)]", started: clock.now)
            observer.kindStarted(progress)
            await sync(resource, session: session, options: writeOptions, progress: &progress, observer: observer)
            progress.elapsed = clock.now - progress.started
            observer.kindFinished(progress)
            kinds.append(progress)
        }
        return kinds
    }

    /// Fetches, maps and writes one resource, page by page. Errors end the kind, not the resync.
    ///
    /// When the kind's records are plain parts of the response, pages are pipelined: while page N
    /// is mapped (on `mappingOptions.threads` threads), page N-1 is written and page N+1 is
    /// requested and parsed. Pages are always written one at a time, in order.
    func sync(_ resource: ResourceConfig, session: FetchSession, options: WriteOptions,
              progress: inout KindProgress, observer: any ResyncObserver) async {
        guard integration.kind(resource.kind) != nil else {
            let known = integration.kinds.map(\.name)
            let suggestion = DidYouMean.closest(to: resource.kind, in: known).map { " (did you mean \"\($0)\"?)" } ?? ""
            progress.failure = "the mapping names kind \"\(resource.kind)\", which \(integration.name) does not define\(suggestion)"
            return
        }
        let fetcher: KindFetcher
        do {
            fetcher = try KindFetcher(session: session, kind: resource.kind,
                                      selector: Dictionary(resource.selector.fields.map { ($0.name, $0.json) }) { $1 })
        } catch {
            progress.failure = error.description
            return
        }
        // Records built by jq (not a plain path into the body) may share values with each other or
        // with the fetcher's parent record: those are mapped here, one page after the other.
        let pipelined = fetcher.recordsAreIndependent
        // One mapper to start with; the other threads' are compiled when a page is big enough to
        // share (a compile costs libjq milliseconds, a small kind never needs them).
        var mappers = [ResourceMapper(resource: resource, options: mappingOptions)]
        let threads = pipelined ? mappingOptions.threads : 1
        if mappingOptions.partialParsing { fetcher.parseOnly(recordPaths: mappers[0].readPaths) }
        // One task at a time uses the fetcher: the next page is requested only after the previous
        // request was awaited, and `next()` releases every reference it had to the page it returns.
        let shared = UncheckedSendable(fetcher)
        @Sendable func fetchNext() async throws(FetchError) -> UncheckedSendable<FetchedPage?> {
            UncheckedSendable(try await shared.value.next())
        }
        func map(_ page: FetchedPage, progress: inout KindProgress) -> [Entity] {
            progress.pages += 1
            progress.records += page.records.count
            while mappers.count < min(threads, page.records.count / Self.minimumShare) {
                mappers.append(ResourceMapper(resource: resource, options: mappingOptions))
            }
            return Self.map(page.records, with: mappers, report: &progress.report)
        }
        // Pages are written one at a time and in order, each while the next page is mapped.
        var pendingWrite: Task<[UpsertResult], any Error>?
        func write(_ entities: [Entity]) {
            let sink = self.sink
            pendingWrite = Task { entities.isEmpty ? [] : try await sink.upsert(entities, options: options) }
        }
        func finishWrite(_ progress: inout KindProgress) async throws {
            guard let task = pendingWrite else { return }
            pendingWrite = nil
            let results = try await task.value
            for result in results where !result.succeeded {
                progress.writeFailures += 1
                if progress.writeFailures <= 5 {
                    observer.note("\(progress.label): \(result.blueprint)/\(result.identifier ?? "?") was not written: \(result.failureReason ?? "")")
                }
            }
            progress.entities += results.filter(\.succeeded).count
            observer.pageWritten(progress)
        }
        do {
            var next = try await fetchNext()
            while let page = next.value {
                if Task.isCancelled {
                    try? await finishWrite(&progress)
                    progress.failure = "cancelled"
                    return
                }
                if pipelined {
                    async let upcoming = fetchNext()
                    let entities = map(page, progress: &progress)
                    try await finishWrite(&progress)
                    write(entities)
                    next = try await upcoming
                } else {
                    write(map(page, progress: &progress))
                    try await finishWrite(&progress)
                    next = try await fetchNext()
                }
            }
            try await finishWrite(&progress)
        } catch {
            // What was already on its way to the sink is waited for and counted.
            try? await finishWrite(&progress)
            progress.failure = (error as? FetchError)?.description ?? "\(error)"
        }
    }

    /// Below this many records per thread a page is mapped on one thread: handing work out would
    /// cost more than it saves.
    static let minimumShare = 16

    /// The entities of one page's records, in record order, mapped on up to `mappers.count`
    /// threads. The records of a page are disjoint libjq trees, so each thread touches only the
    /// reference counts of its own share.
    static func map(_ records: [JSON], with mappers: [ResourceMapper], report: inout MappingReport) -> [Entity] {
        let shares = min(mappers.count, records.count / minimumShare)
        let results = inShares(count: records.count, shares: shares) { index, range -> (entities: [Entity], report: MappingReport) in
            var entities: [Entity] = []
            var report = MappingReport()
            for record in records[range] {
                mappers[index].map(record: record, report: &report) { outcome in
                    if case .entity(let entity, true) = outcome { entities.append(entity) }
                }
            }
            return (entities, report)
        }
        var entities: [Entity] = []
        entities.reserveCapacity(records.count)
        for result in results {
            entities += result.entities
            report.merge(result.report)
        }
        return entities
    }

    func reconcile(since resyncStart: Date) async throws -> Reconciliation {
        let stale = try await sink.staleEntities(resyncStart: resyncStart)
        guard !stale.keys.isEmpty else { return .nothingStale }
        let rate = Double(stale.keys.count) / Double(max(stale.ownedBefore, stale.keys.count))
        guard rate <= mapping.entityDeletionThreshold else {
            return .skippedOverThreshold(stale: stale.keys.count, owned: stale.ownedBefore, threshold: mapping.entityDeletionThreshold)
        }
        // Ocean keeps stale entities that kept entities still point at when Port may create them.
        let protected = mapping.createMissingRelatedEntities
            ? try await sink.relationTargets(among: stale.keys, writtenSince: resyncStart) : []
        let doomed = stale.keys.filter { !protected.contains($0) }
        let deleted = doomed.isEmpty ? 0 : try await sink.deleteStale(doomed, resyncStart: resyncStart,
                                                                       deleteDependents: mapping.deleteDependentEntities)
        return .deleted(count: deleted, protected: protected.count)
    }
}
