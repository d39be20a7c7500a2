// Port's vocabulary for writing entities, shared by every sink (the embedded catalog, Port's API).
import Foundation


/// A catalog entity's key: Port identifies an entity by its blueprint and identifier.
public struct EntityKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var blueprint: String
    public var identifier: String
    public init(blueprint: String, identifier: String) {
        self.blueprint = blueprint
        self.identifier = identifier
    }
    public static func < (a: EntityKey, b: EntityKey) -> Bool {
        (a.blueprint, a.identifier) < (b.blueprint, b.identifier)
    }
    public var description: String { "\(blueprint)/\(identifier)" }
}

/// What happened to one entity of an upserted batch, at the entity's index in the batch.
public struct UpsertResult: Sendable, Hashable {
    public enum Outcome: Sendable, Hashable {
        case created
        case updated
        /// Not written; the reason reads as a sentence about this entity.
        case failed(String)
    }

    public var index: Int
    public var blueprint: String
    /// The identifier written, after resolving a search-query identifier; nil when it failed
    /// before one was known.
    public var identifier: String?
    public var outcome: Outcome
    /// Written, but something was off (a single relation whose search query matched 0 or several
    /// entities was stored as null).
    public var warnings: [String]

    public init(index: Int, blueprint: String, identifier: String?, outcome: Outcome, warnings: [String] = []) {
        self.index = index
        self.blueprint = blueprint
        self.identifier = identifier
        self.outcome = outcome
        self.warnings = warnings
    }

    public var succeeded: Bool {
        if case .failed = outcome { return false }
        return true
    }
    public var failureReason: String? {
        if case .failed(let reason) = outcome { return reason }
        return nil
    }
}

/// How Port is asked to write entities (the port-app-config's top-level flags).
public struct WriteOptions: Sendable, Hashable {
    /// Port's `merge=`: new properties merge into the stored entity instead of replacing it.
    public var merge: Bool
    /// Port's `create_missing_related_entities=`.
    public var createMissingRelatedEntities: Bool
    public init(merge: Bool = true, createMissingRelatedEntities: Bool = true) {
        self.merge = merge
        self.createMissingRelatedEntities = createMissingRelatedEntities
    }
}

/// What reconciliation may delete: entities this installation owns that the resync did not write.
public struct StaleEntities: Sendable {
    /// Owned, last written before the resync started, and not written by it.
    public var keys: [EntityKey]
    /// How many entities the installation owned when the resync started (the threshold's base).
    public var ownedBefore: Int
    public init(keys: [EntityKey], ownedBefore: Int) {
        self.keys = keys
        self.ownedBefore = ownedBefore
    }
}

/// Where entities go: the embedded catalog or Port's API. One resync talks to exactly one sink,
/// from one task at a time.
public protocol EntitySink: Sendable {
    /// Makes the blueprints known before entities arrive.
    func prepare(blueprints: [Blueprint]) async throws
    /// Writes one page of entities; per-entity failures come back as results, not as errors.
    func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult]
    /// Entities owned by this installation that were last written before `resyncStart`.
    func staleEntities(resyncStart: Date) async throws -> StaleEntities
    /// Of `candidates`, those that an entity written since `resyncStart` points at by a relation.
    func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey>
    /// Deletes entities; returns how many were deleted.
    func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int
    /// Reconciliation's delete of `keys` (from `staleEntities(resyncStart:)`). A sink that other
    /// writers share deletes only those still owned by this installation and not written since
    /// `resyncStart`, so that an entity taken over in the meantime is never deleted on a stale
    /// listing; by default the same as `delete`.
    func deleteStale(_ keys: [EntityKey], resyncStart: Date, deleteDependents: Bool) async throws -> Int
    /// Pages of one resource the sink takes at once: 1 for a sink with one writer (the catalog
    /// file), more for a remote API whose latency would otherwise pace the resync.
    var pagesInFlight: Int { get }
}

extension EntitySink {
    public var pagesInFlight: Int { 1 }

    public func deleteStale(_ keys: [EntityKey], resyncStart: Date, deleteDependents: Bool) async throws -> Int {
        try await delete(keys, deleteDependents: deleteDependents)
    }
}
