import Foundation
import TideJQ
import TideModel

/// The embedded catalog as a resync's sink: entities are written as the installation's
/// datasource, one transaction per page.
public struct CatalogSink: EntitySink {
    public let catalog: Catalog
    public let datasource: Datasource

    public init(catalog: Catalog, datasource: Datasource) {
        self.catalog = catalog
        self.datasource = datasource
    }

    public func prepare(blueprints: [Blueprint]) async throws {
        if !blueprints.isEmpty { try catalog.storeBlueprints(blueprints) }
    }

    public func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        try catalog.upsert(entities, datasource: datasource, merge: options.merge)
    }

    public func staleEntities(resyncStart: Date) async throws -> StaleEntities {
        let stale = try catalog.ownedEntities(by: datasource, updatedBefore: resyncStart)
        let ownedBefore = try catalog.ownedEntityCount(by: datasource, createdBefore: resyncStart)
        return StaleEntities(keys: stale, ownedBefore: ownedBefore)
    }

    public func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> {
        try catalog.relationTargets(among: Set(candidates), ownedBy: datasource, writtenSince: resyncStart)
    }

    public func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int {
        // The catalog keeps no dependency edges to cascade along; related entities stay, as Port
        // leaves them when their relation is not required.
        try catalog.deleteEntities(keys)
    }
}

extension Catalog {
    /// How many entities the installation owned at `time` (created before it): the base of the
    /// deletion threshold, as Ocean counts what Port held before the resync.
    public func ownedEntityCount(by datasource: Datasource, createdBefore time: Date) throws(CatalogError) -> Int {
        try locked("counting owned entities") { () throws(SQLiteFailure) in
            let statement = try db.cached("""
                SELECT count(*) FROM entities
                WHERE length(datasource) >= length(?1) + length(?2)
                  AND substr(datasource, 1, length(?1)) = ?1
                  AND substr(datasource, -length(?2)) = ?2
                  AND created_at < ?3
                """)
            try statement.bind([.text(datasource.prefix), .text(datasource.suffix), .integer(CatalogTime.milliseconds(time))])
            guard try statement.step() else { return 0 }
            return Int(statement.integer(0))
        }
    }

    /// Of `candidates`, those an entity of this installation written since `time` points at.
    /// One pass over the written entities' relations; memory is the candidate set.
    public func relationTargets(among candidates: Set<EntityKey>, ownedBy datasource: Datasource,
                                writtenSince time: Date) throws(CatalogError) -> Set<EntityKey> {
        guard !candidates.isEmpty else { return [] }
        let candidateIdentifiers = Set(candidates.map(\.identifier))
        return try locked("reading relations") { () throws(SQLiteFailure) in
            let statement = try db.cached("""
                SELECT blueprint, relations FROM entities
                WHERE updated_at >= ?3 AND relations != '{}'
                  AND length(datasource) >= length(?1) + length(?2)
                  AND substr(datasource, 1, length(?1)) = ?1
                  AND substr(datasource, -length(?2)) = ?2
                """)
            try statement.bind([.text(datasource.prefix), .text(datasource.suffix), .integer(CatalogTime.milliseconds(time))])
            var found: Set<EntityKey> = []
            while try statement.step() {
                guard let text = statement.text(1), let relations = try? JSON(parsing: text) else { continue }
                let definition = blueprintDefinitions[statement.text(0) ?? ""]
                for (name, value) in relations.objectMembers {
                    let identifiers = value.kind == .array ? value.arrayElements.compactMap(\.stringValue) : [value.stringValue].compactMap { $0 }
                    for identifier in identifiers where candidateIdentifiers.contains(identifier) {
                        if let target = definition?.relations[name]?.target {
                            let key = EntityKey(blueprint: target, identifier: identifier)
                            if candidates.contains(key) { found.insert(key) }
                        } else {
                            // An undefined relation may point into any blueprint.
                            found.formUnion(candidates.filter { $0.identifier == identifier })
                        }
                    }
                }
            }
            return found
        }
    }
}
