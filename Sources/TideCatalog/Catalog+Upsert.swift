import Foundation
import TideJQ
import TideModel

extension Catalog {
    /// Upserts a batch in one transaction with Port's semantics, returning one result per entity
    /// (same order). A bad entity fails alone; only a database failure throws (and then nothing of
    /// the batch is written).
    ///
    /// - New key → inserted. Existing key and `merge` → `properties` and `relations` are shallow-
    ///   merged into the stored ones (new keys replace, other stored keys stay) and
    ///   title/icon/team are replaced only when the entity has them. Existing key and not `merge`
    ///   → replaced entirely; fields the entity lacks are cleared. Either way `datasource` becomes
    ///   the writer's and `updated_at` moves to `time`; `created_at` is kept.
    /// - A search-query identifier is resolved within the entity's blueprint: exactly one match is
    ///   updated (never created); none or several fail the entity.
    /// - A search-query relation resolves in the relation's target blueprint (any blueprint when
    ///   the relation is not defined): a many-relation gets every match (sorted); a single one gets
    ///   the one match, or null with a warning when none or several match. Undefined relations
    ///   count as single, Port's default.
    /// - Blueprints: while the catalog has no stored blueprints any blueprint is accepted; once it
    ///   has some, an entity of another blueprint fails ("not in the catalog"), as Port refuses it.
    public func upsert(_ entities: [Entity], datasource: String?, merge: Bool = true,
                       at time: Date = Date()) throws(CatalogError) -> [UpsertResult] {
        let now = CatalogTime.milliseconds(time)
        return try writing("upserting entities") { () throws(DatabaseFailure) -> [UpsertResult] in
            try refreshDefinitions(for: entities.lazy.map(\.blueprint))
            var writer = try Writer(db: db, definitions: blueprintDefinitions, datasource: datasource, merge: merge, now: now)
            var results: [UpsertResult] = []
            results.reserveCapacity(entities.count)
            for (index, entity) in entities.enumerated() {
                results.append(try writer.upsert(entity, index: index))
            }
            return results
        }
    }

    public func upsert(_ entities: [Entity], datasource: Datasource, merge: Bool = true,
                       at time: Date = Date()) throws(CatalogError) -> [UpsertResult] {
        try upsert(entities, datasource: datasource.userAgent, merge: merge, at: time)
    }
}

/// A reason an entity cannot be written; becomes `UpsertResult.Outcome.failed`.
private struct EntityFailure: Error {
    var identifier: String?
    var reason: String
}

/// One batch's upsert work, run inside the batch's transaction.
private struct Writer {
    let db: any SQLDatabase
    let definitions: [String: Blueprint]
    let datasource: String?
    let merge: Bool
    let now: Int64
    // Looked up once per batch; the connection compiled them once for its lifetime.
    let insert: any SQLStatement
    let select: any SQLStatement
    let update: any SQLStatement

    init(db: any SQLDatabase, definitions: [String: Blueprint], datasource: String?, merge: Bool, now: Int64) throws(DatabaseFailure) {
        self.db = db
        self.definitions = definitions
        self.datasource = datasource
        self.merge = merge
        self.now = now
        insert = try db.statement("""
            INSERT INTO entities (blueprint, identifier, title, icon, team, properties, relations,
                                  datasource, created_at, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (blueprint, identifier) DO NOTHING
            """)
        select = try db.statement(
            "SELECT title, icon, team, properties, relations FROM entities WHERE blueprint = ? AND identifier = ?"
                + db.dialect.lockingRead)
        update = try db.statement("""
            UPDATE entities SET title = ?, icon = ?, team = ?, properties = ?, relations = ?,
                                datasource = ?, updated_at = ?
            WHERE blueprint = ? AND identifier = ?
            """)
    }

    mutating func upsert(_ entity: Entity, index: Int) throws(DatabaseFailure) -> UpsertResult {
        var warnings: [String] = []
        do {
            let (identifier, created) = try write(entity, warnings: &warnings)
            return UpsertResult(index: index, blueprint: entity.blueprint, identifier: identifier,
                                outcome: created ? .created : .updated, warnings: warnings)
        } catch let failure as EntityFailure {
            return UpsertResult(index: index, blueprint: entity.blueprint, identifier: failure.identifier,
                                outcome: .failed(failure.reason), warnings: warnings)
        } catch let failure as DatabaseFailure {
            throw failure
        } catch {
            return UpsertResult(index: index, blueprint: entity.blueprint, identifier: nil,
                                outcome: .failed("\(error)"), warnings: warnings)
        }
    }

    /// Writes one entity; returns its identifier and whether it was created.
    private func write(_ entity: Entity, warnings: inout [String]) throws -> (String, Bool) {
        let blueprint = entity.blueprint
        guard !blueprint.isEmpty else { throw EntityFailure(reason: "the entity has no blueprint") }
        if !definitions.isEmpty, definitions[blueprint] == nil {
            throw EntityFailure(reason: "blueprint \"\(blueprint)\" is not in the catalog; store its definition first "
                                + "(known: \(definitions.keys.sorted().joined(separator: ", ")))")
        }

        // The identifier: a plain string, or a search query naming exactly one existing entity.
        let identifier: String
        let mustExist: Bool
        if let plain = plainString(entity.identifier) {
            identifier = plain
            mustExist = false
        } else {
            let value = try parse(entity.identifier, what: "identifier", identifier: nil)
            guard SearchQuery.isQuery(value) else {
                throw EntityFailure(reason: "the identifier must be a string or a search query, not \(entity.identifier.text)")
            }
            let matches = try search(value, in: blueprint, limit: 2, identifier: nil)
            guard matches.count == 1 else {
                throw EntityFailure(reason: matches.isEmpty
                    ? "the search-query identifier \(entity.identifier.text) matches no entity of blueprint \"\(blueprint)\" (a search identifier only updates, never creates)"
                    : "the search-query identifier \(entity.identifier.text) matches several entities of blueprint \"\(blueprint)\"; it must match exactly one")
            }
            identifier = matches[0]
            mustExist = true
        }
        guard !identifier.isEmpty else { throw EntityFailure(reason: "the identifier is an empty string") }

        let properties = try objectText(entity.properties, what: "properties", identifier: identifier)
        var relations = try objectText(entity.relations, what: "relations", identifier: identifier)
        // Only relations that may hold a search query are parsed; the common case stays text.
        if let text = relations, text.utf8.firstRange(of: "\"rules\"".utf8) != nil {
            relations = try resolveRelations(text, of: blueprint, identifier: identifier, warnings: &warnings)
        }
        let title = fieldText(entity.title)
        let icon = fieldText(entity.icon)
        let team = fieldText(entity.team)

        if db.dialect.checksValuesBeforeWriting {
            try checkValues(blueprint: blueprint, identifier: identifier, fields: [title, icon, team], objects: [properties, relations])
        }

        if !mustExist {
            insert.reset()
            try insert.bind([.text(blueprint), .text(identifier), sql(title), sql(icon), sql(team),
                             .text(properties ?? "{}"), .text(relations ?? "{}"), sql(datasource),
                             .integer(now), .integer(now)])
            try checked(identifier) { () throws(DatabaseFailure) in try insert.run() }
            if db.changes == 1 { return (identifier, true) }
        }

        // The entity exists: merge into or replace the stored one.
        var newTitle = title, newIcon = icon, newTeam = team
        var newProperties = properties ?? "{}", newRelations = relations ?? "{}"
        if merge {
            select.reset()
            try select.bind([.text(blueprint), .text(identifier)])
            guard try select.step() else {
                throw EntityFailure(identifier: identifier, reason: "entity \"\(identifier)\" vanished during the upsert")
            }
            if entity.title == nil { newTitle = select.text(0) }
            if entity.icon == nil { newIcon = select.text(1) }
            if entity.team == nil { newTeam = select.text(2) }
            let storedProperties = select.text(3)
            let storedRelations = select.text(4)
            select.reset()  // before the merge, which may fail this entity
            newProperties = try merged(stored: storedProperties, new: properties, identifier: identifier)
            newRelations = try merged(stored: storedRelations, new: relations, identifier: identifier)
        }
        if merge, db.dialect.checksValuesBeforeWriting {
            try checkValues(blueprint: blueprint, identifier: identifier, fields: [newTitle, newIcon, newTeam],
                            objects: [newProperties, newRelations])
        }
        update.reset()
        try update.bind([sql(newTitle), sql(newIcon), sql(newTeam), .text(newProperties), .text(newRelations),
                         sql(datasource), .integer(now), .text(blueprint), .text(identifier)])
        try checked(identifier) { () throws(DatabaseFailure) in try update.run() }
        return (identifier, false)
    }

    // MARK: Fields

    private func sql(_ text: String?) -> SQLValue { text.map(SQLValue.text) ?? .null }

    /// A title/icon/team as stored: JSON text, with JSON null stored as SQL NULL (absent).
    private func fieldText(_ value: RawJSON?) -> String? {
        guard let value, value.text != "null" else { return nil }
        return value.text
    }

    /// The string of a JSON string literal; the common escape-free case avoids parsing.
    private func plainString(_ raw: RawJSON) -> String? {
        let text = raw.text
        guard text.utf8.first == UInt8(ascii: "\"") else { return nil }
        if text.utf8.count >= 2, text.utf8.last == UInt8(ascii: "\""), !text.utf8.contains(UInt8(ascii: "\\")) {
            return String(text.dropFirst().dropLast())
        }
        return (try? raw.json())?.stringValue
    }

    /// Object-valued fields are stored as given; only their first character is checked here
    /// (the table's CHECK constraint validates the whole text without a Swift round trip).
    private func objectText(_ value: RawJSON?, what: String, identifier: String) throws(EntityFailure) -> String? {
        guard let value else { return nil }
        if value.text == "null" { return "{}" }
        guard value.text.utf8.first == UInt8(ascii: "{") else {
            throw EntityFailure(identifier: identifier, reason: "\(what) must be a JSON object, not \(value.text.prefix(80))")
        }
        return value.text
    }

    private func parse(_ raw: RawJSON, what: String, identifier: String?) throws(EntityFailure) -> JSON {
        do { return try raw.json() } catch {
            throw EntityFailure(identifier: identifier, reason: "the \(what) is not valid JSON: \(error.message)")
        }
    }

    /// Port's merge: stored keys stay unless the new object has them.
    private func merged(stored: String?, new: String?, identifier: String) throws(EntityFailure) -> String {
        guard let new else { return stored ?? "{}" }
        guard let stored, stored != "{}" else { return new }
        if new == "{}" { return stored }
        let old = try parse(RawJSON(stored), what: "stored object", identifier: identifier)
        let incoming = try parse(RawJSON(new), what: "new object", identifier: identifier)
        return old.merging(incoming).serialized()
    }

    /// Turns a constraint failure (invalid JSON in a field) into a failure of this entity.
    private func checked(_ identifier: String, _ body: () throws(DatabaseFailure) -> Void) throws {
        do { try body() } catch {
            guard error.kind == .constraint else { throw error }
            throw EntityFailure(identifier: identifier,
                                reason: "a field is not valid JSON of the right kind (\(error.engine): \(error.message))")
        }
    }

    /// The longest key (blueprint and identifier, in bytes) the PostgreSQL catalog takes: its
    /// primary-key index refuses entries of more than about 2,700 bytes, and that refusal would
    /// abort the page's transaction.
    static let longestPostgreSQLKey = 2048

    /// What the engine's constraints would refuse, checked before writing (PostgreSQL: see
    /// `SQLDialect.checksValuesBeforeWriting`): JSON fields that do not parse, object fields that
    /// are not objects, keys too long to index.
    private func checkValues(blueprint: String, identifier: String, fields: [String?], objects: [String?]) throws(EntityFailure) {
        guard blueprint.utf8.count + identifier.utf8.count <= Self.longestPostgreSQLKey else {
            throw EntityFailure(identifier: identifier,
                                reason: "the blueprint and identifier are \(blueprint.utf8.count + identifier.utf8.count) bytes long; the PostgreSQL catalog takes at most \(Self.longestPostgreSQLKey)")
        }
        for (name, text) in [("blueprint", blueprint), ("identifier", identifier)] where text.utf8.contains(0) {
            throw EntityFailure(identifier: identifier, reason: "the \(name) contains a NUL character, which PostgreSQL cannot store")
        }
        let names = ["title", "icon", "team"]
        for (name, text) in zip(names, fields) {
            if let text, JSONSyntax.kind(of: text) == nil {
                throw EntityFailure(identifier: identifier, reason: "a field is not valid JSON of the right kind (\(name): \(text.prefix(80)))")
            }
        }
        for (name, text) in zip(["properties", "relations"], objects) {
            if let text, JSONSyntax.kind(of: text) != .object {
                throw EntityFailure(identifier: identifier, reason: "a field is not valid JSON of the right kind (\(name) must be a JSON object: \(text.prefix(80)))")
            }
        }
    }

    // MARK: Search queries

    /// Identifiers matching a query, sorted; `blueprint` nil searches every blueprint.
    private func search(_ query: JSON, in blueprint: String?, limit: Int?, identifier: String?) throws -> [String] {
        let condition: SearchCondition
        do { condition = try SearchQuery.condition(query, dialect: db.dialect) } catch {
            throw EntityFailure(identifier: identifier, reason: "invalid search query \(query.serialized()): \(error.message)")
        }
        var sql = "SELECT DISTINCT identifier FROM entities WHERE "
        var bindings: [SQLValue] = []
        if let blueprint {
            sql += "blueprint = ? AND "
            bindings.append(.text(blueprint))
        }
        sql += condition.sql + " ORDER BY identifier"
        if let limit { sql += " LIMIT \(limit)" }
        bindings += condition.bindings
        do {
            // In a savepoint where the engine needs one, so a rejected query leaves the page's
            // transaction usable.
            return try db.attempt { () throws(DatabaseFailure) -> [String] in
                let statement = try db.oneOff(sql)
                try statement.bind(bindings)
                var found: [String] = []
                while try statement.step() { found.append(statement.text(0) ?? "") }
                return found
            }
        } catch {
            // A query the engine rejects (e.g. a malformed stored JSON) fails this entity, not the batch.
            guard error.kind == .query else { throw error }
            throw EntityFailure(identifier: identifier, reason: "search query \(query.serialized()) failed: \(error.message)")
        }
    }

    private func resolveRelations(_ text: String, of blueprint: String, identifier: String,
                                  warnings: inout [String]) throws -> String {
        let relations = try parse(RawJSON(text), what: "relations", identifier: identifier)
        var resolved: [(String, JSON)] = []
        for (name, value) in relations.objectMembers {
            let definition = definitions[blueprint]?.relations[name]
            let target = definition?.target
            let many = definition?.many ?? false
            if SearchQuery.isQuery(value) {
                let matches = try search(value, in: target, limit: many ? nil : 2, identifier: identifier)
                if many {
                    resolved.append((name, JSON(array: matches.map { JSON($0) })))
                } else if matches.count == 1 {
                    resolved.append((name, JSON(matches[0])))
                } else {
                    let place = target.map { "blueprint \"\($0)\"" } ?? "any blueprint"
                    warnings.append("relation \"\(name)\": the search query matches \(matches.isEmpty ? "no entity" : "several entities") of \(place); stored null")
                    resolved.append((name, JSON.null))
                }
            } else if value.kind == .array, value.arrayElements.contains(where: SearchQuery.isQuery) {
                // A list mixing identifiers and queries: each query contributes all its matches.
                var identifiers: [JSON] = []
                for element in value.arrayElements {
                    if SearchQuery.isQuery(element) {
                        identifiers += try search(element, in: target, limit: nil, identifier: identifier).map { JSON($0) }
                    } else {
                        identifiers.append(element)
                    }
                }
                resolved.append((name, JSON(array: identifiers)))
            } else {
                resolved.append((name, value))
            }
        }
        return JSON(orderedObject: resolved).serialized()
    }
}
