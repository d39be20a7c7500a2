import CSQLite
import Foundation
import TideCore
import TideJQ
import TideModel

/// The catalog: Port's blueprints and entities, written with Port's upsert semantics (merge,
/// ownership by `$datasource`, search-query identifiers). By default one embedded SQLite file;
/// given a `postgresql://` URL, a PostgreSQL database that many Tide processes share. The logic
/// is written once, over the `SQLDatabase` seam (Database.swift); the two drivers differ only in
/// how they talk to their engine.
///
/// Thread safety: a `Catalog` owns one connection and serialises every public call with a lock,
/// so it can be shared between tasks (it is `Sendable`) while the database sees one user at a
/// time. A lock rather than an actor because every call is short, synchronous C work, and because
/// the libjq values used while merging must be made and freed on one thread within one call —
/// which a call holding the lock guarantees.
///
/// SQLite: other processes may read the file concurrently (WAL mode); a second writer waits for
/// the busy timeout. Durability: WAL with `synchronous=NORMAL`. A committed batch survives the
/// process being killed at any point (the WAL is written before COMMIT returns); only an OS crash
/// or power loss may lose the last transactions, never leave the file corrupt.
///
/// PostgreSQL: any number of processes write at once, each page in its own transaction; a merge
/// locks the row it reads (`SELECT … FOR UPDATE`), so two writers of one entity never lose each
/// other's keys, and a deadlock between two pages is retried. Durability is the server's.
public final class Catalog: @unchecked Sendable {
    /// The schema this build writes; `PRAGMA user_version` (SQLite) or the `tide_schema` table
    /// (PostgreSQL) holds the database's.
    public static let schemaVersion = 2
    /// `PRAGMA application_id` marking a Tide catalog ("TIDE"), so another program's SQLite file
    /// is refused instead of having tables added to it.
    static let applicationID: Int32 = 0x5449_4445

    /// The catalog file the CLI uses when given no `--catalog`: `.tide/catalog.sqlite`.
    public static let defaultRelativePath = ".tide/catalog.sqlite"

    /// The file's path, or the PostgreSQL URL with its password masked: what messages name.
    public let path: String
    let connection: any SQLDatabase
    private let lock = Locked(())
    /// Stored blueprint definitions, read at open, kept in step by `storeBlueprints`, and read
    /// again when an entity names a blueprint this process has not seen (another process of a
    /// shared catalog may have stored it).
    private var definitions: [String: Blueprint] = [:]

    /// Whether `location` (a `--catalog` value) names a PostgreSQL database rather than a file.
    public static func isPostgreSQL(_ location: String) -> Bool { PostgreSQLURL.matches(location) }

    /// A `--catalog` value as it may be shown: a PostgreSQL URL's password masked.
    public static func displayed(_ location: String) -> String { PostgreSQLURL.redact(location) }

    /// Opens the catalog a `--catalog` value names: a `postgresql://` (or `postgres://`) URL, or
    /// a file path. `create` false: a missing file (or a database without the catalog's tables)
    /// is an error rather than created.
    public static func open(_ location: String, create: Bool = true) throws(CatalogError) -> Catalog {
        if let url = PostgreSQLURL(location) { return try Catalog(postgreSQL: url, create: create) }
        return try Catalog(path: location, create: create)
    }

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
        let sqlite: Connection
        do {
            sqlite = try Connection(path: path, flags: flags)
        } catch {
            throw Catalog.classify(error, path: path, doing: "opening the catalog")
        }
        sqlite3_busy_timeout(sqlite.handle, Int32(clamping: busyTimeout.components.seconds * 1000))
        connection = sqlite
        do {
            try configureSQLite(sqlite)
            try migrateSQLite()
            try loadDefinitions()
        } catch let error as CatalogError {
            throw error
        } catch let error as DatabaseFailure {
            throw Catalog.classify(error, path: path, doing: "opening the catalog")
        } catch {
            throw CatalogError(.sqlite, path: path, message: "\(error)")
        }
    }

    /// Opens the catalog in a PostgreSQL database, creating its tables when `create` is true
    /// (safe while other processes do the same: migrations take an advisory lock).
    ///
    /// - Parameter schema: the schema holding the catalog's tables, created when missing; nil
    ///   uses the connection's current schema (the first existing one on its `search_path`,
    ///   which the URL can set: `?options=-csearch_path%3Dtide`).
    public init(postgreSQL url: PostgreSQLURL, schema: String? = nil, create: Bool = true) throws(CatalogError) {
        path = url.redacted
        let postgres: PostgreSQLConnection
        do {
            // With a schema, the session's search_path is that schema alone (set again after
            // a reconnection), so every statement's tables resolve to it.
            postgres = try PostgreSQLConnection(url: url, schema: schema)
        } catch {
            throw Catalog.classify(error, path: path, doing: "connecting")
        }
        connection = postgres
        do {
            try migratePostgreSQL(postgres, schema: schema, create: create)
            try loadDefinitions()
        } catch let error as CatalogError {
            throw error
        } catch let error as DatabaseFailure {
            throw Catalog.classify(error, path: path, doing: "opening the catalog")
        } catch {
            throw CatalogError(.database, path: path, message: "\(error)")
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

    private func loadDefinitions() throws(DatabaseFailure) {
        let statement = try connection.statement("SELECT identifier, definition FROM blueprints")
        var loaded: [String: Blueprint] = [:]
        while try statement.step() {
            let identifier = statement.text(0) ?? ""
            let text = statement.text(1) ?? "{}"
            // A definition that no longer parses still marks the blueprint as known.
            loaded[identifier] = (try? Blueprint(json: JSON(parsing: text))) ?? Blueprint(identifier: identifier, definition: RawJSON(text))
        }
        definitions = loaded
    }

    /// Reads the stored definitions again when `blueprints` names one this process does not know
    /// (and some are known: with none, every blueprint is accepted anyway). Called under the lock.
    func refreshDefinitions(for blueprints: some Sequence<String>) throws(DatabaseFailure) {
        guard !definitions.isEmpty, blueprints.contains(where: { definitions[$0] == nil }) else { return }
        try loadDefinitions()
    }

    // MARK: Errors and locking

    static func classify(_ failure: DatabaseFailure, path: String, doing: String) -> CatalogError {
        let engine = failure.engine
        switch failure.kind {
        case .notADatabase:
            return CatalogError(.notADatabase, path: path,
                                message: "is not a catalog database (\(engine): \(failure.message)); move it away or choose another catalog path")
        case .readOnly where failure.sqlState != nil:
            return CatalogError(.readOnly, path: path,
                                message: "cannot be written (PostgreSQL: \(failure.message)); grant the URL's user the rights it needs on the catalog's schema and tables")
        case .readOnly:
            return CatalogError(.readOnly, path: path, message: "cannot be written (\(engine): \(failure.message)); check its permissions")
        case .cannotOpen:
            return CatalogError(.readOnly, path: path, message: "cannot be opened (\(engine): \(failure.message)); check the path and its permissions")
        case .busy:
            return CatalogError(.busy, path: path, message: "is locked by another writer (\(engine): \(failure.message)); retry when it finishes")
        case .unreachable:
            return CatalogError(.unreachable, path: path,
                                message: "the PostgreSQL connection failed while \(doing): \(failure.message); check that the server runs and accepts connections, and the URL's host, port, database, user and password")
        case .constraint, .query, .retry, .other:
            if failure.sqlState != nil {
                return CatalogError(.database, path: path,
                                    message: "PostgreSQL failed while \(doing): \(failure.message) (SQLSTATE \(failure.sqlState ?? ""))")
            }
            return CatalogError(.sqlite, path: path, message: "\(engine) failed while \(doing): \(failure.message)")
        }
    }

    /// Runs `body` holding the lock, turning database failures into `CatalogError`s naming the
    /// catalog.
    func locked<T>(_ doing: String, _ body: () throws(DatabaseFailure) -> T) throws(CatalogError) -> T {
        let result = lock.withLock { _ -> Result<T, DatabaseFailure> in
            defer { connection.finishReads() }
            do throws(DatabaseFailure) { return .success(try body()) } catch { return .failure(error) }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw Catalog.classify(error, path: path, doing: doing)
        }
    }

    /// Like `locked`, inside one write transaction.
    func writing<T>(_ doing: String, _ body: () throws(DatabaseFailure) -> T) throws(CatalogError) -> T {
        try locked(doing) { () throws(DatabaseFailure) -> T in try connection.transaction(body) }
    }

    var db: any SQLDatabase { connection }
    var blueprintDefinitions: [String: Blueprint] { definitions }

    // MARK: Blueprints

    /// Stores blueprints (from an integration's `blueprints.json`), replacing same-named ones.
    /// Once any blueprint is stored, entities of other blueprints are refused (as Port does).
    public func storeBlueprints(_ blueprints: [Blueprint], at time: Date = Date()) throws(CatalogError) {
        let now = CatalogTime.milliseconds(time)
        try locked("storing blueprints") { () throws(DatabaseFailure) in
            try connection.transaction { () throws(DatabaseFailure) in
                let statement = try connection.statement("""
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
        lock.withLock { _ in definitions[identifier] }
    }

    /// Stored blueprints and blueprints that only have entities, with entity counts, by identifier.
    public func blueprints() throws(CatalogError) -> [BlueprintSummary] {
        try locked("listing blueprints") { () throws(DatabaseFailure) in
            let statement = try connection.statement("""
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

    private static func entity(from statement: any SQLStatement) -> StoredEntity {
        StoredEntity(blueprint: statement.text(0) ?? "", identifier: statement.text(1) ?? "",
                     title: statement.text(2).map { RawJSON($0) }, icon: statement.text(3).map { RawJSON($0) },
                     team: statement.text(4).map { RawJSON($0) }, properties: RawJSON(statement.text(5) ?? "{}"),
                     relations: RawJSON(statement.text(6) ?? "{}"), datasource: statement.text(7),
                     createdAt: statement.integer(8), updatedAt: statement.integer(9))
    }

    /// One entity, or nil when the catalog has none with this key.
    public func entity(blueprint: String, identifier: String) throws(CatalogError) -> StoredEntity? {
        try locked("reading an entity") { () throws(DatabaseFailure) in
            let statement = try connection.statement(
                "SELECT \(Catalog.entityColumns) FROM entities WHERE blueprint = ? AND identifier = ?")
            try statement.bind([.text(blueprint), .text(identifier)])
            return try statement.step() ? Catalog.entity(from: statement) : nil
        }
    }

    /// Calls `body` for each entity ordered by (blueprint, identifier), without collecting them.
    /// `body` runs while the catalog is locked and must not call back into it.
    public func forEachEntity(blueprint: String? = nil, limit: Int? = nil, offset: Int = 0,
                              _ body: (StoredEntity) -> Void) throws(CatalogError) {
        try locked("listing entities") { () throws(DatabaseFailure) in
            let filter = blueprint == nil ? "" : "WHERE blueprint = ?"
            let statement = try connection.streaming(
                "SELECT \(Catalog.entityColumns) FROM entities \(filter) ORDER BY blueprint, identifier LIMIT ? OFFSET ?")
            var bindings: [SQLValue] = blueprint.map { [.text($0)] } ?? []
            bindings += [limit.map { .integer(Int64($0)) } ?? connection.dialect.noLimit, .integer(Int64(max(0, offset)))]
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
        try locked("counting entities") { () throws(DatabaseFailure) in
            let statement = try connection.statement(
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
        try writing("deleting entities") { () throws(DatabaseFailure) in
            let statement = try connection.statement("DELETE FROM entities WHERE blueprint = ? AND identifier = ?")
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

    /// Reconciliation's delete: of `keys`, deletes those the installation still owns and that
    /// nobody wrote since `before` (the resync's start), in one transaction; returns how many.
    /// Checked in the DELETE itself, so an entity that another installation (or another replica
    /// of this one) took over or rewrote between the listing and the delete is left alone.
    @discardableResult
    public func deleteStale(_ keys: [EntityKey], ownedBy datasource: Datasource, updatedBefore before: Date) throws(CatalogError) -> Int {
        try writing("deleting stale entities") { () throws(DatabaseFailure) in
            let statement = try connection.statement("""
                DELETE FROM entities WHERE blueprint = ?3 AND identifier = ?4
                  AND \(connection.dialect.datasource(startsWith: "?1", endsWith: "?2"))
                  AND updated_at < ?5
                """)
            let time = SQLValue.integer(CatalogTime.milliseconds(before))
            var deleted = 0
            for key in keys {
                statement.reset()
                try statement.bind([.text(datasource.prefix), .text(datasource.suffix), .text(key.blueprint),
                                    .text(key.identifier), time])
                try statement.run()
                deleted += connection.changes
            }
            return deleted
        }
    }

    /// Deletes every entity of a blueprint (its stored definition stays); returns how many.
    @discardableResult
    public func deleteAllEntities(blueprint: String) throws(CatalogError) -> Int {
        try writing("deleting entities") { () throws(DatabaseFailure) in
            let statement = try connection.statement("DELETE FROM entities WHERE blueprint = ?")
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
        try locked("listing owned entities") { () throws(DatabaseFailure) in
            let dialect = connection.dialect
            let statement = try connection.streaming("""
                SELECT blueprint, identifier FROM entities
                WHERE \(dialect.datasource(startsWith: "?1", endsWith: "?2"))
                  AND (\(dialect.integer("?3")) IS NULL OR updated_at < \(dialect.integer("?3")))
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
        try locked("reading relations") { () throws(DatabaseFailure) in
            let select = try connection.statement("SELECT relations FROM entities WHERE blueprint = ? AND identifier = ?")
            let byIdentifier = try connection.statement("SELECT DISTINCT blueprint FROM entities WHERE identifier = ?")
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

    /// `PRAGMA integrity_check`: "ok", or SQLite's findings one per line. PostgreSQL keeps its
    /// own files consistent; there it answers "ok" once the catalog's tables can be read.
    public func integrityCheck() throws(CatalogError) -> String {
        try locked("checking integrity") { () throws(DatabaseFailure) in
            if connection.dialect == .postgresql {
                _ = try connection.rows("SELECT count(*) FROM blueprints, (SELECT 1 FROM entities LIMIT 1) AS e")
                return "ok"
            }
            return try connection.rows("PRAGMA integrity_check").compactMap { row -> String? in
                if case .text(let line)? = row.first { return line }
                return nil
            }.joined(separator: "\n")
        }
    }

    /// The database's schema version (`PRAGMA user_version`, or the `tide_schema` table).
    public func storedSchemaVersion() throws(CatalogError) -> Int {
        try locked("reading the schema version") { () throws(DatabaseFailure) in
            try connection.integer(connection.dialect == .postgresql ? "SELECT version FROM tide_schema" : "PRAGMA user_version")
        }
    }
}
