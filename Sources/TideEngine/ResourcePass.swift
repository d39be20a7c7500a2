import Foundation
import TideCore
import TideFetch
import TideIntegration
import TideJQ
import TideMapping
import TideModel

/// Fetch → map → write for one resource of the mapping, with the kind's requests and the
/// resource's mapping compiled once. A resync runs `sync` over the resource's own selector; a
/// webhook runs `records(selector:)` with the selector narrowed to one record, then `apply`.
///
/// Owns libjq programs: use one instance from one task at a time.
public final class ResourcePass {
    public let resource: ResourceConfig
    let session: FetchSession
    let sink: any EntitySink
    let writeOptions: WriteOptions
    let deleteDependents: Bool
    let mappingOptions: MappingOptions
    /// Compiled on the first fetch: a pass that only applies records from payloads never needs it.
    private var compiled: CompiledKind?
    /// One mapper to start with; the other threads' are compiled when a page is big enough to
    /// share (a compile costs libjq milliseconds, a small kind never needs them).
    private var mappers: [ResourceMapper]

    public init(resource: ResourceConfig, mapping: PortAppConfig, session: FetchSession, sink: any EntitySink,
                options: MappingOptions) {
        self.resource = resource
        self.session = session
        self.sink = sink
        writeOptions = WriteOptions(merge: mapping.enableMergeEntity, createMissingRelatedEntities: mapping.createMissingRelatedEntities)
        deleteDependents = mapping.deleteDependentEntities
        mappingOptions = options
        mappers = [ResourceMapper(resource: resource, options: options)]
    }

    /// The resource's selector values as JSON text, as the mapping wrote them.
    public var selector: [String: String] { resource.selectorValues }

    /// The kind compiled once for this pass.
    func compiledKind() throws(Diagnostics) -> CompiledKind {
        if let compiled { return compiled }
        let compiled = try CompiledKind(session: session, kind: resource.kind)
        self.compiled = compiled
        return compiled
    }

    /// A fetcher of the kind read whole (no partitions): what a refetch narrowed to one record needs.
    func fetcher(selector: [String: String]) throws(Diagnostics) -> KindFetcher {
        try KindFetcher(compiled: compiledKind(), selector: selector)
    }

    // MARK: Live events

    /// Every record the kind's request gives for `selector` (a refetch narrowed to one record).
    /// With `parent`, the kind's run for that parent record alone is read, not every parent's.
    public func records(selector: [String: String], parent: JSON? = nil) async throws -> [JSON] {
        let fetcher = try KindFetcher(compiled: compiledKind(), selector: selector, binding: parent.map { RunBinding(parent: $0) })
        var records: [JSON] = []
        while let page = try await fetcher.next() { records += page.records }
        return records
    }

    /// What a live event changed, through the mapping as Ocean's live events do: updated records
    /// that pass the selector are upserted, those that fail it deleted (the pass must map with
    /// `parseAll`); deleted records are deleted whatever the selector says.
    /// Throws the sink's error, or `ResourcePassError.refused` for an entity the sink refused.
    public func apply(updated: [JSON], deleted: [JSON]) async throws {
        let mapper = mappers[0]
        var report = MappingReport()
        var upserts: [Entity] = [], deletes: [EntityKey] = []
        for record in updated where record.kind == .object {
            mapper.map(record: record, report: &report) { outcome in
                guard case .entity(let entity, let passed) = outcome else { return }
                if passed { upserts.append(entity) } else if let id = entity.identifierString {
                    deletes.append(EntityKey(blueprint: entity.blueprint, identifier: id))
                }
            }
        }
        for record in deleted where record.kind == .object {
            mapper.map(record: record, report: &report) { outcome in
                guard case .entity(let entity, _) = outcome, let id = entity.identifierString else { return }
                deletes.append(EntityKey(blueprint: entity.blueprint, identifier: id))
            }
        }
        let written = Set(upserts.compactMap { entity in entity.identifierString.map { EntityKey(blueprint: entity.blueprint, identifier: $0) } })
        deletes = deletes.filter { !written.contains($0) }
        if !upserts.isEmpty {
            let results = try await sink.upsert(upserts, options: writeOptions)
            if let failure = results.first(where: { !$0.succeeded }) { throw ResourcePassError.refused(failure.failureReason ?? "refused") }
        }
        if !deletes.isEmpty { _ = try await sink.delete(deletes, deleteDependents: deleteDependents) }
    }

    // MARK: Resync

    /// Fetches, maps and writes the resource, page by page. Errors end the resource, not the resync.
    ///
    /// When the kind's records are plain parts of the response, pages are pipelined: while page N
    /// is mapped (on `mappingOptions.threads` threads), page N-1 is written and page N+1 is
    /// requested and parsed. Pages are always written one at a time, in order.
    /// Returns the keys of the runs read to their end (kinds with `incremental`).
    @discardableResult
    func sync(progress: inout KindProgress, observer: any ResyncObserver, cursors: SyncCursors? = nil) async -> [String] {
        let fetcher: any PageSource
        if let kind = session.integration.kind(resource.kind), Self.readsShared(resource, kind: kind, session: session),
           let shared = session.sharedReader(of: resource.kind) {
            // Read once this resync for this resource and the kinds it is the parent or the
            // partition source of.
            fetcher = shared
        } else {
            do { fetcher = try KindFetcher.forResync(compiled: compiledKind(), selector: selector, cursors: cursors) } catch {
                progress.failure = error.description
                return []
            }
        }
        // Records built by jq (not a plain path into the body) may share values with each other or
        // with the fetcher's parent record: those are mapped here, one page after the other.
        let pipelined = fetcher.recordsAreIndependent
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
            progress.runs = fetcher.runs
            if let skipped = page.skipped {
                progress.skippedRuns += 1
                if progress.skippedRuns <= 5 { observer.note("\(progress.label): skipped \(page.request): \(skipped)") }
            }
            progress.records += page.records.count
            while mappers.count < min(threads, page.records.count / Self.minimumShare) {
                mappers.append(ResourceMapper(resource: resource, options: mappingOptions))
            }
            return Self.map(page.records, with: mappers, report: &progress.report)
        }
        // Pages are written while the next ones are mapped: one at a time and in order for a sink
        // with one writer, up to `sink.pagesInFlight` at once for a remote one. A page that writes
        // an entity a page still in flight writes waits for it, so the later page wins, as in order.
        var pendingWrites: [(task: Task<[UpsertResult], any Error>, keys: Set<EntityKey>)] = []
        let inFlight = max(1, sink.pagesInFlight)
        func write(_ entities: [Entity], _ progress: inout KindProgress) async throws {
            let keys = inFlight > 1 ? Set(entities.compactMap { entity in entity.identifierString.map { EntityKey(blueprint: entity.blueprint, identifier: $0) } }) : []
            while pendingWrites.count >= inFlight || pendingWrites.contains(where: { !$0.keys.isDisjoint(with: keys) }) {
                try await finishWrite(&progress)
            }
            let sink = self.sink, options = writeOptions
            pendingWrites.append((Task { entities.isEmpty ? [] : try await sink.upsert(entities, options: options) }, keys))
        }
        func finishAll(_ progress: inout KindProgress) async throws {
            while !pendingWrites.isEmpty { try await finishWrite(&progress) }
        }
        /// Waits for the oldest write in flight and counts it.
        func finishWrite(_ progress: inout KindProgress) async throws {
            guard !pendingWrites.isEmpty else { return }
            let task = pendingWrites.removeFirst().task
            let results = try await task.value
            for result in results where !result.succeeded {
                progress.writeFailures += 1
                if progress.writeFailures <= 5 {
                    observer.note("\(progress.label): \(result.blueprint)/\(result.identifier ?? "?") was not written: \(result.failureReason ?? "")")
                }
            }
            progress.entities += results.filter(\.succeeded).count
            for result in results where result.succeeded { progress.blueprints.insert(result.blueprint) }
            observer.pageWritten(progress)
        }
        do {
            var next = try await fetchNext()
            while let page = next.value {
                if Task.isCancelled {
                    try? await finishAll(&progress)
                    progress.failure = "cancelled"
                    return []
                }
                if pipelined {
                    async let upcoming = fetchNext()
                    let entities = map(page, progress: &progress)
                    try await write(entities, &progress)
                    next = try await upcoming
                } else {
                    try await write(map(page, progress: &progress), &progress)
                    try await finishAll(&progress)
                    next = try await fetchNext()
                }
            }
            try await finishAll(&progress)
        } catch {
            // What was already on its way to the sink is waited for and counted.
            try? await finishAll(&progress)
            progress.failure = (error as? FetchError)?.description ?? "\(error)"
        }
        progress.runs = fetcher.runs
        for note in fetcher.notes { observer.note(note) }
        return fetcher.completedRuns
    }

    /// Whether this resource can take its pages from its kind's shared read: it reads the kind as
    /// the kind's defaults do, in one run of its own (no parent, no partitions), and not from
    /// cursors (an incremental kind's request depends on them).
    static func readsShared(_ resource: ResourceConfig, kind: KindDefinition, session: FetchSession) -> Bool {
        kind.parent == nil && kind.partitions == nil && kind.incremental == nil
            && session.readsAsDefaults(kind: kind.name, selector: resource.selectorValues)
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
}

public enum ResourcePassError: Error, Sendable, CustomStringConvertible {
    /// The sink refused an entity, with its reason.
    case refused(String)
    public var description: String {
        switch self {
        case .refused(let reason): reason
        }
    }
}

extension ResourceConfig {
    /// The selector's fields as JSON text by name, as the mapping wrote them (a later one wins).
    public var selectorValues: [String: String] {
        Dictionary(selector.fields.map { ($0.name, $0.json) }) { $1 }
    }

    /// The selector as canonical JSON text (keys sorted, values as written, `query` among them):
    /// what the resource's incremental cursors are kept under, so that a changed selector starts
    /// without them (records it selects now may never have been written).
    public var cursorSelector: String {
        var values = selectorValues
        values["query"] = JSON(selector.query.source).serialized()
        let fields = values.sorted { $0.key < $1.key }
        return "{" + fields.map { "\(JSON($0.key).serialized()):\($0.value)" }.joined(separator: ",") + "}"
    }
}
