import CSQLite
import Foundation
import TideJQ
import TideModel

/// The embedded catalog: one SQLite file holding Port's blueprints and entities, written with
/// Port's upsert semantics (merge, ownership by `$datasource`, search-query identifiers).
///
/// Thread safety: a `Catalog` owns one SQLite connection and serialises every public call with a
/// lock, so it can be shared between tasks (it is `Sendable`) while SQLite sees one user at a time.
/// A lock rather than an actor because every call is short, synchronous C work, and because the
/// libjq values used while merging must be made and freed on one thread within one call — which a
/// call holding the lock guarantees. Other processes may read the file concurrently (WAL mode);
/// a second writer waits for the busy timeout.
///
/// Durability: WAL with `synchronous=NORMAL`. A committed batch survives the process being killed
/// at any point (the WAL is written before COMMIT returns); only an OS crash or power loss may
/// lose the last transactions, never leave the file corrupt.
public final class Catalog: @unchecked Sendable {
    /// The schema this build writes; `PRAGMA user_version` holds the file's.
    public static let schemaVersion = 1
    /// `PRAGMA application_id` marking a Tide catalog ("TIDE"), so another program's SQLite file
    /// is refused instead of having tables added to it.
    static let applicationID: Int32 = 0x5449_4445

    /// The catalog file the CLI uses when given no `--catalog`: `.tide/catalog.sqlite`.
    public static let defaultRelativePath = ".tide/catalog.sqlite"

    public let path: String
    private let connection: Connection
    private let lock = NSLock()
    /// Stored blueprint definitions, read once at open and kept in step by `storeBlueprints`.
    private var definitions: [String: Blueprint] = [:]

    /// Opens the catalog at `path`, creating the file (not its folder) when `create` is true.
    /// The schema is created or migrated to `schemaVersion`.
    public init(path: String, create: Bool = true, busyTimeout: Duration = .seconds(5)) throws(CatalogError) {
        self.path = path
        let manager = FileManager.default
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDirectory: ObjCBool = false
        guard manager.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CatalogError(.folderMissing, path: path,
                               message: "the folder \(folder) does not exist; create it or choose another catalog path")
        }
        let exists = manager.fileExists(atPath: path, isDirectory: &isDirectory)
        if exists, isDirectory.boolValue {
            throw CatalogError(.notADatabase, path: path, message: "is a directory, not a catalog database file")
        }
        if !exists, !create {
            throw CatalogError(.missing, path: path,
                               message: "no catalog here yet; run `tide catalog import` or a sync first, or pass --catalog PATH")
        }
        if exists, !manager.isWritableFile(atPath: path) {
            throw CatalogError(.readOnly, path: path, message: "the catalog file is read-only; make it writable (chmod u+w)")
        }
        if !manager.isWritableFile(atPath: folder) {
            // WAL needs to create -wal and -shm files beside the database.
            throw CatalogError(.readOnly, path: path,
                               message: "the folder \(folder) is not writable, and the catalog needs to write its journal there")
        }

        // NOMUTEX: SQLite's own mutexes are redundant behind `lock`.
        let flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX
        do {
            connection = try Connection(path: path, flags: flags)
        } catch {
            throw Catalog.classify(error, path: path, doing: "opening the catalog")
        }
        sqlite3_busy_timeout(connection.handle, Int32(clamping: busyTimeout.components.seconds * 1000))
        do {
            try configure()
            try migrate()
            try loadDefinitions()
        } catch let error as CatalogError {
            throw error
        } catch let error as SQLiteFailure {
            throw Catalog.classify(error, path: path, doing: "opening the catalog")
        } catch {
            throw CatalogError(.sqlite, path: path, message: "\(error)")
        }
    }

    /// Opens `.tide/catalog.sqlite` under `directory`, creating `.tide/` when `create` is true.
    public static func openDefault(in directory: URL, create: Bool = true) throws(CatalogError) -> Catalog {
        let file = directory.appendingPathComponent(defaultRelativePath)
        if create {
            let folder = file.deletingLastPathComponent()
            do {
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            } catch {
                throw CatalogError(.readOnly, path: file.path,
                                   message: "cannot create the folder \(folder.path): \(error.localizedDescription)")
            }
        }
        return try Catalog(path: file.path, create: create)
    }

    private func configure() throws {
        // The first statement that reads the file: a non-database fails here with SQLITE_NOTADB.
        let mode = try connection.rows("PRAGMA journal_mode = WAL").first?.first
        guard mode == .text("wal") else {
            throw CatalogError(.sqlite, path: path, message: "could not switch the catalog to WAL mode (got \(String(describing: mode)))")
        }
        try connection.execute("PRAGMA synchronous = NORMAL")
        // No foreign keys: entities may be written before (or without) their blueprint definition.
        try connection.execute("PRAGMA foreign_keys = OFF")
    }

    /// Schema steps, applied in order from the file's `user_version`; each runs in its own
    /// transaction together with the version bump, so a killed migration leaves the old version.
    /// Add a step (never edit a shipped one) to change the schema.
    /// (CHECKs use CASE because json_type raises an error, rather than answering, on malformed text.)
    static let migrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE blueprints (
                identifier TEXT PRIMARY KEY NOT NULL,
                title TEXT,
                definition TEXT NOT NULL CHECK (CASE WHEN json_valid(definition) THEN json_type(definition) = 'object' ELSE 0 END),
                updated_at INTEGER NOT NULL
            );
            CREATE TABLE entities (
                blueprint TEXT NOT NULL,
                identifier TEXT NOT NULL,
                title TEXT CHECK (title IS NULL OR json_valid(title)),
                icon TEXT CHECK (icon IS NULL OR json_valid(icon)),
                team TEXT CHECK (team IS NULL OR json_valid(team)),
                properties TEXT NOT NULL DEFAULT '{}' CHECK (CASE WHEN json_valid(properties) THEN json_type(properties) = 'object' ELSE 0 END),
                relations TEXT NOT NULL DEFAULT '{}' CHECK (CASE WHEN json_valid(relations) THEN json_type(relations) = 'object' ELSE 0 END),
                datasource TEXT,
                created_at INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                UNIQUE (blueprint, identifier)
            );
            -- Relations whose target blueprint is unknown are looked up by identifier alone.
            CREATE INDEX entities_by_identifier ON entities (identifier);
            """),
    ]

    private func migrate() throws {
        let applicationID = try integer("PRAGMA application_id")
        var version = try integer("PRAGMA user_version")
        if applicationID != 0, applicationID != Int(Catalog.applicationID) {
            throw CatalogError(.notACatalog, path: path,
                               message: "is an SQLite database of another application, not a Tide catalog")
        }
        if applicationID == 0, version == 0 {
            let tables = try integer("SELECT count(*) FROM sqlite_schema")
            if tables > 0 {
                throw CatalogError(.notACatalog, path: path,
                                   message: "is an SQLite database with other tables, not a Tide catalog")
            }
        }
        if version > Catalog.schemaVersion {
            throw CatalogError(.newerSchema, path: path,
                               message: "was written by a newer Tide (schema \(version), this one knows \(Catalog.schemaVersion)); upgrade tide")
        }
        for step in Catalog.migrations where step.version > version {
            try connection.transaction { () throws(SQLiteFailure) in
                // Another process may have migrated between our read and our write lock.
                guard try integer("PRAGMA user_version") < step.version else { return }
                try connection.execute(step.sql)
                try connection.execute("PRAGMA user_version = \(step.version)")
                try connection.execute("PRAGMA application_id = \(Catalog.applicationID)")
            }
            version = step.version
        }
    }

    private func integer(_ sql: String) throws(SQLiteFailure) -> Int {
        guard case .integer(let value)? = try connection.rows(sql).first?.first else { return 0 }
        return Int(value)
    }

    private func loadDefinitions() throws {
        let statement = try connection.cached("SELECT identifier, definition FROM blueprints")
        var loaded: [String: Blueprint] = [:]
        while try statement.step() {
            let identifier = statement.text(0) ?? ""
            let text = statement.text(1) ?? "{}"
            // A definition that no longer parses still marks the blueprint as known.
            loaded[identifier] = (try? Blueprint(json: JSON(parsing: text))) ?? Blueprint(identifier: identifier, definition: RawJSON(text))
        }
        definitions = loaded
    }

    // MARK: Errors and locking

    static func classify(_ failure: SQLiteFailure, path: String, doing: String) -> CatalogError {
        switch failure.primary {
        case SQLITE_NOTADB, SQLITE_CORRUPT:
            return CatalogError(.notADatabase, path: path,
                                message: "is not a catalog database (SQLite: \(failure.message)); move it away or choose another catalog path")
        case SQLITE_READONLY, SQLITE_PERM:
            return CatalogError(.readOnly, path: path, message: "cannot be written (SQLite: \(failure.message)); check its permissions")
        case SQLITE_CANTOPEN:
            return CatalogError(.readOnly, path: path, message: "cannot be opened (SQLite: \(failure.message)); check the path and its permissions")
        case SQLITE_BUSY, SQLITE_LOCKED:
            return CatalogError(.busy, path: path, message: "is locked by another writer (SQLite: \(failure.message)); retry when it finishes")
        default:
            return CatalogError(.sqlite, path: path, message: "SQLite failed while \(doing): \(failure.message)")
        }
    }

    /// Runs `body` holding the lock, turning SQLite failures into `CatalogError`s naming the file.
    func locked<T>(_ doing: String, _ body: () throws(SQLiteFailure) -> T) throws(CatalogError) -> T {
        lock.lock()
        defer {
            connection.resetBusyStatements()
            lock.unlock()
        }
        do { return try body() } catch { throw Catalog.classify(error, path: path, doing: doing) }
    }

    /// Like `locked`, inside one write transaction.
    func writing<T>(_ doing: String, _ body: () throws(SQLiteFailure) -> T) throws(CatalogError) -> T {
        try locked(doing) { () throws(SQLiteFailure) -> T in try connection.transaction(body) }
    }

    var db: Connection { connection }
    var blueprintDefinitions: [String: Blueprint] { definitions }

    // MARK: Blueprints

    /// Stores blueprints (from an integration's `blueprints.json`), replacing same-named ones.
    /// Once any blueprint is stored, entities of other blueprints are refused (as Port does).
    public func storeBlueprints(_ blueprints: [Blueprint], at time: Date = Date()) throws(CatalogError) {
        let now = CatalogTime.milliseconds(time)
        try locked("storing blueprints") { () throws(SQLiteFailure) in
            try connection.transaction { () throws(SQLiteFailure) in
                let statement = try connection.cached("""
                    INSERT INTO blueprints (identifier, title, definition, updated_at) VALUES (?, ?, ?, ?)
                    ON CONFLICT (identifier) DO UPDATE SET
                        title = excluded.title, definition = excluded.definition, updated_at = excluded.updated_at
                    """)
                for blueprint in blueprints {
                    statement.reset()
                    try statement.bind([.text(blueprint.identifier), blueprint.title.map(SQLValue.text) ?? .null,
                                        .text(Catalog.definitionText(blueprint)), .integer(now)])
                    try statement.run()
                }
            }
            // Still under the lock, so no upsert sees the file and this cache disagree.
            for blueprint in blueprints { definitions[blueprint.identifier] = blueprint }
        }
    }

    /// The definition to store: the blueprint as written, or — for a blueprint built in code,
    /// whose definition is empty — one rebuilt from its fields, so reopening loses nothing.
    static func definitionText(_ blueprint: Blueprint) -> String {
        if let written = try? blueprint.definition.json(), written["identifier"]?.stringValue == blueprint.identifier {
            return blueprint.definition.text
        }
        let properties = blueprint.properties.sorted { $0.key < $1.key }.map { (key, schema) in
            (key, (try? schema.json()) ?? JSON(orderedObject: []))
        }
        let relations = blueprint.relations.sorted { $0.key < $1.key }.map { (name, relation) in
            (name, JSON(orderedObject: [("target", JSON(relation.target)), ("many", JSON(relation.many)),
                                        ("required", JSON(relation.required))]))
        }
        var members: [(String, JSON)] = [("identifier", JSON(blueprint.identifier))]
        if let title = blueprint.title { members.append(("title", JSON(title))) }
        members.append(("schema", JSON(orderedObject: [
            ("properties", JSON(orderedObject: properties)),
            ("required", JSON(array: blueprint.requiredProperties.map { JSON($0) })),
        ])))
        members.append(("relations", JSON(orderedObject: relations)))
        return JSON(orderedObject: members).serialized()
    }

    /// A stored blueprint definition.
    public func blueprint(_ identifier: String) -> Blueprint? {
        lock.lock()
        defer { lock.unlock() }
        return definitions[identifier]
    }

    /// Stored blueprints and blueprints that only have entities, with entity counts, by identifier.
    public func blueprints() throws(CatalogError) -> [BlueprintSummary] {
        try locked("listing blueprints") { () throws(SQLiteFailure) in
            let statement = try connection.cached("""
                SELECT b.identifier, b.title, 1, (SELECT count(*) FROM entities e WHERE e.blueprint = b.identifier)
                FROM blueprints b
                UNION ALL
                SELECT blueprint, NULL, 0, count(*) FROM entities
                WHERE blueprint NOT IN (SELECT identifier FROM blueprints) GROUP BY blueprint
                ORDER BY 1
                """)
            var summaries: [BlueprintSummary] = []
            while try statement.step() {
                summaries.append(BlueprintSummary(identifier: statement.text(0) ?? "", title: statement.text(1),
                                                  entityCount: Int(statement.integer(3)), isDefined: statement.integer(2) == 1))
            }
            return summaries
        }
    }

    // MARK: Reading entities

    private static let entityColumns =
        "blueprint, identifier, title, icon, team, properties, relations, datasource, created_at, updated_at"

    private static func entity(from statement: Statement) -> StoredEntity {
        StoredEntity(blueprint: statement.text(0) ?? "", identifier: statement.text(1) ?? "",
                     title: statement.text(2).map { RawJSON($0) }, icon: statement.text(3).map { RawJSON($0) },
                     team: statement.text(4).map { RawJSON($0) }, properties: RawJSON(statement.text(5) ?? "{}"),
                     relations: RawJSON(statement.text(6) ?? "{}"), datasource: statement.text(7),
                     createdAt: statement.integer(8), updatedAt: statement.integer(9))
    }

    /// One entity, or nil when the catalog has none with this key.
    public func entity(blueprint: String, identifier: String) throws(CatalogError) -> StoredEntity? {
        try locked("reading an entity") { () throws(SQLiteFailure) in
            let statement = try connection.cached(
                "SELECT \(Catalog.entityColumns) FROM entities WHERE blueprint = ? AND identifier = ?")
            try statement.bind([.text(blueprint), .text(identifier)])
            return try statement.step() ? Catalog.entity(from: statement) : nil
        }
    }

    /// Calls `body` for each entity ordered by (blueprint, identifier), without collecting them.
    /// `body` runs while the catalog is locked and must not call back into it.
    public func forEachEntity(blueprint: String? = nil, limit: Int? = nil, offset: Int = 0,
                              _ body: (StoredEntity) -> Void) throws(CatalogError) {
        try locked("listing entities") { () throws(SQLiteFailure) in
            let filter = blueprint == nil ? "" : "WHERE blueprint = ?"
            let statement = try connection.cached(
                "SELECT \(Catalog.entityColumns) FROM entities \(filter) ORDER BY blueprint, identifier LIMIT ? OFFSET ?")
            var bindings: [SQLValue] = blueprint.map { [.text($0)] } ?? []
            bindings += [.integer(Int64(limit ?? -1)), .integer(Int64(max(0, offset)))]
            try statement.bind(bindings)
            while try statement.step() { body(Catalog.entity(from: statement)) }
        }
    }

    public func entities(blueprint: String? = nil, limit: Int? = nil, offset: Int = 0) throws(CatalogError) -> [StoredEntity] {
        var found: [StoredEntity] = []
        try forEachEntity(blueprint: blueprint, limit: limit, offset: offset) { found.append($0) }
        return found
    }

    public func entityCount(blueprint: String? = nil) throws(CatalogError) -> Int {
        try locked("counting entities") { () throws(SQLiteFailure) in
            let statement = try connection.cached(
                blueprint == nil ? "SELECT count(*) FROM entities" : "SELECT count(*) FROM entities WHERE blueprint = ?")
            if let blueprint { try statement.bind([.text(blueprint)]) }
            _ = try statement.step()
            return Int(statement.integer(0))
        }
    }

    // MARK: Deleting

    /// Deletes the listed entities of one blueprint in one transaction; returns how many existed.
    @discardableResult
    public func deleteEntities(blueprint: String, identifiers: [String]) throws(CatalogError) -> Int {
        try deleteEntities(identifiers.map { EntityKey(blueprint: blueprint, identifier: $0) })
    }

    /// Deletes entities by key in one transaction; returns how many existed.
    @discardableResult
    public func deleteEntities(_ keys: [EntityKey]) throws(CatalogError) -> Int {
        try writing("deleting entities") { () throws(SQLiteFailure) in
            let statement = try connection.cached("DELETE FROM entities WHERE blueprint = ? AND identifier = ?")
            var deleted = 0
            for key in keys {
                statement.reset()
                try statement.bind([.text(key.blueprint), .text(key.identifier)])
                try statement.run()
                deleted += connection.changes
            }
            return deleted
        }
    }

    /// Deletes every entity of a blueprint (its stored definition stays); returns how many.
    @discardableResult
    public func deleteAllEntities(blueprint: String) throws(CatalogError) -> Int {
        try writing("deleting entities") { () throws(SQLiteFailure) in
            let statement = try connection.cached("DELETE FROM entities WHERE blueprint = ?")
            try statement.bind([.text(blueprint)])
            try statement.run()
            return connection.changes
        }
    }

    // MARK: Reconciliation inputs

    /// Entities owned by an installation — datasource starting with `port-ocean/<type>/` and ending
    /// with `/<installation>/exporter`, any version, as Port's datasource-entities query — and, when
    /// `before` is given, last updated strictly before it (so entities written since a resync
    /// started are not mistaken for stale).
    public func ownedEntities(by datasource: Datasource, updatedBefore before: Date? = nil) throws(CatalogError) -> [EntityKey] {
        try ownedEntities(prefix: datasource.prefix, suffix: datasource.suffix, updatedBefore: before)
    }

    public func ownedEntities(prefix: String, suffix: String, updatedBefore before: Date? = nil) throws(CatalogError) -> [EntityKey] {
        try locked("listing owned entities") { () throws(SQLiteFailure) in
            let statement = try connection.cached("""
                SELECT blueprint, identifier FROM entities
                WHERE length(datasource) >= length(?1) + length(?2)
                  AND substr(datasource, 1, length(?1)) = ?1
                  AND substr(datasource, -length(?2)) = ?2
                  AND (?3 IS NULL OR updated_at < ?3)
                ORDER BY blueprint, identifier
                """)
            try statement.bind([.text(prefix), .text(suffix), before.map { .integer(CatalogTime.milliseconds($0)) } ?? .null])
            var keys: [EntityKey] = []
            while try statement.step() {
                keys.append(EntityKey(blueprint: statement.text(0) ?? "", identifier: statement.text(1) ?? ""))
            }
            return keys
        }
    }

    /// The entities that the relations of `keys` point at. The target blueprint comes from the
    /// source blueprint's stored relation definition; for an undefined relation, every stored
    /// entity with the related identifier (in any blueprint) is a target. Reconciliation keeps
    /// stale entities that kept entities point at.
    public func relationTargets(of keys: [EntityKey]) throws(CatalogError) -> Set<EntityKey> {
        try locked("reading relations") { () throws(SQLiteFailure) in
            let select = try connection.cached("SELECT relations FROM entities WHERE blueprint = ? AND identifier = ?")
            let byIdentifier = try connection.cached("SELECT DISTINCT blueprint FROM entities WHERE identifier = ?")
            var targets: Set<EntityKey> = []
            for key in keys {
                select.reset()
                try select.bind([.text(key.blueprint), .text(key.identifier)])
                guard try select.step(), let text = select.text(0), text != "{}" else { continue }
                guard let relations = try? JSON(parsing: text) else { continue }
                let definition = definitions[key.blueprint]
                for (name, value) in relations.objectMembers {
                    let identifiers: [String]
                    switch value.kind {
                    case .string: identifiers = [value.stringValue ?? ""]
                    case .array: identifiers = value.arrayElements.compactMap(\.stringValue)
                    default: identifiers = []
                    }
                    for identifier in identifiers where !identifier.isEmpty {
                        if let target = definition?.relations[name]?.target {
                            targets.insert(EntityKey(blueprint: target, identifier: identifier))
                        } else {
                            byIdentifier.reset()
                            try byIdentifier.bind([.text(identifier)])
                            while try byIdentifier.step() {
                                targets.insert(EntityKey(blueprint: byIdentifier.text(0) ?? "", identifier: identifier))
                            }
                        }
                    }
                }
            }
            return targets
        }
    }

    // MARK: Maintenance

    /// `PRAGMA integrity_check`: "ok", or SQLite's findings one per line.
    public func integrityCheck() throws(CatalogError) -> String {
        try locked("checking integrity") { () throws(SQLiteFailure) in
            try connection.rows("PRAGMA integrity_check").compactMap { row -> String? in
                if case .text(let line)? = row.first { return line }
                return nil
            }.joined(separator: "\n")
        }
    }

    /// The file's schema version (`PRAGMA user_version`).
    public func storedSchemaVersion() throws(CatalogError) -> Int {
        try locked("reading the schema version") { () throws(SQLiteFailure) in try integer("PRAGMA user_version") }
    }
}
