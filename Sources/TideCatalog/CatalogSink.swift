import Foundation
import TideJQ
import TideModel

/// The catalog as a resync's sink: entities are written as the installation's datasource, one
/// transaction per page.
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

    public func deleteStale(_ keys: [EntityKey], resyncStart: Date, deleteDependents: Bool) async throws -> Int {
        // Another installation (or another replica of this one) sharing the catalog may have
        // written some of these since they were listed: the delete checks ownership and time again.
        try catalog.deleteStale(keys, ownedBy: datasource, updatedBefore: resyncStart)
    }
}

extension Catalog {
    /// How many entities the installation owned at `time` (created before it): the base of the
    /// deletion threshold, as Ocean counts what Port held before the resync.
    public func ownedEntityCount(by datasource: Datasource, createdBefore time: Date) throws(CatalogError) -> Int {
        try locked("counting owned entities") { () throws(DatabaseFailure) in
            let statement = try db.statement("""
                SELECT count(*) FROM entities
                WHERE \(db.dialect.datasource(startsWith: "?1", endsWith: "?2"))
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
        return try locked("reading relations") { () throws(DatabaseFailure) in
            let statement = try db.streaming("""
                SELECT blueprint, relations FROM entities
                WHERE updated_at >= ?3 AND \(db.dialect.jsonText("relations")) != '{}'
                  AND \(db.dialect.datasource(startsWith: "?1", endsWith: "?2"))
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
