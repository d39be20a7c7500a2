import CSQLite
import Foundation

// The catalog's tables in each engine, and their versioned migrations. The two schemas hold the
// same columns with the same meaning; only the types differ (SQLite checks JSON text with CHECK
// constraints, PostgreSQL stores it in `json` columns, which keep the text exactly as written).

extension Catalog {
    // MARK: SQLite

    func configureSQLite(_ sqlite: Connection) throws {
        // The first statement that reads the file: a non-database fails here with SQLITE_NOTADB.
        let mode = try sqlite.rows("PRAGMA journal_mode = WAL").first?.first
        guard mode == .text("wal") else {
            throw CatalogError(.sqlite, path: path, message: "could not switch the catalog to WAL mode (got \(String(describing: mode)))")
        }
        try sqlite.execute("PRAGMA synchronous = NORMAL")
        // No foreign keys: entities may be written before (or without) their blueprint definition.
        try sqlite.execute("PRAGMA foreign_keys = OFF")
    }

    /// Schema steps, applied in order from the file's `user_version`; each runs in its own
    /// transaction together with the version bump, so a killed migration leaves the old version.
    /// Add a step (never edit a shipped one) to change the schema, here and in
    /// `postgreSQLMigrations` alike.
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
        // Incremental sync: where each run of a resource was last read to its end (ms since 1970).
        (2, """
            CREATE TABLE sync_cursors (
                integration_type TEXT NOT NULL,
                installation TEXT NOT NULL,
                resource TEXT NOT NULL,
                selector TEXT NOT NULL,
                run TEXT NOT NULL,
                last_sync_start INTEGER NOT NULL,
                updated_at INTEGER NOT NULL,
                PRIMARY KEY (integration_type, installation, resource, run)
            );
            """),
    ]

    func migrateSQLite() throws {
        let applicationID = try connection.integer("PRAGMA application_id")
        var version = try connection.integer("PRAGMA user_version")
        if applicationID != 0, applicationID != Int(Catalog.applicationID) {
            throw CatalogError(.notACatalog, path: path,
                               message: "is an SQLite database of another application, not a Tide catalog")
        }
        if applicationID == 0, version == 0 {
            let tables = try connection.integer("SELECT count(*) FROM sqlite_schema")
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
            try connection.transaction { () throws(DatabaseFailure) in
                // Another process may have migrated between our read and our write lock.
                guard try connection.integer("PRAGMA user_version") < step.version else { return }
                try connection.execute(step.sql)
                try connection.execute("PRAGMA user_version = \(step.version)")
                try connection.execute("PRAGMA application_id = \(Catalog.applicationID)")
            }
            version = step.version
        }
    }

    // MARK: PostgreSQL

    /// The PostgreSQL schema steps, the same versions as `migrations`. Text columns compare
    /// byte-wise (`COLLATE "C"`), as SQLite's do, so listings sort the same in both engines.
    static let postgreSQLMigrations: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE blueprints (
                identifier text COLLATE "C" PRIMARY KEY,
                title text,
                definition json NOT NULL CHECK (json_typeof(definition) = 'object'),
                updated_at bigint NOT NULL
            );
            CREATE TABLE entities (
                blueprint text COLLATE "C" NOT NULL,
                identifier text COLLATE "C" NOT NULL,
                title json,
                icon json,
                team json,
                properties json NOT NULL DEFAULT '{}' CHECK (json_typeof(properties) = 'object'),
                relations json NOT NULL DEFAULT '{}' CHECK (json_typeof(relations) = 'object'),
                datasource text COLLATE "C",
                created_at bigint NOT NULL,
                updated_at bigint NOT NULL,
                PRIMARY KEY (blueprint, identifier)
            );
            -- Relations whose target blueprint is unknown are looked up by identifier alone.
            CREATE INDEX entities_by_identifier ON entities (identifier);
            """),
        (2, """
            CREATE TABLE sync_cursors (
                integration_type text COLLATE "C" NOT NULL,
                installation text COLLATE "C" NOT NULL,
                resource text COLLATE "C" NOT NULL,
                selector text NOT NULL,
                run text COLLATE "C" NOT NULL,
                last_sync_start bigint NOT NULL,
                updated_at bigint NOT NULL,
                PRIMARY KEY (integration_type, installation, resource, run)
            );
            """),
    ]

    /// What a PostgreSQL migration found, decided inside its transaction.
    private enum MigrationOutcome {
        case migrated
        case noSchema
        case missing
        case foreign
        case newer(Int)
    }

    /// Creates or migrates the tables in one transaction that first takes a transaction-level
    /// advisory lock on (Tide, the schema): processes opening one catalog at once queue there,
    /// and each finds the work of those before it done. DDL is transactional in PostgreSQL, so a
    /// migration killed half-way leaves the previous version whole.
    func migratePostgreSQL(_ postgres: PostgreSQLConnection, schema: String?, create: Bool) throws {
        let outcome = try postgres.transaction { () throws(DatabaseFailure) -> MigrationOutcome in
            if let schema, create {
                // CREATE SCHEMA IF NOT EXISTS is not safe against itself running concurrently.
                _ = try postgres.rows("SELECT pg_advisory_xact_lock(\(Catalog.applicationID), hashtext(?))", [.text(schema)])
                try postgres.execute("CREATE SCHEMA IF NOT EXISTS \(PostgreSQLConnection.quoted(identifier: schema))")
            }
            guard case .text? = try postgres.rows("SELECT current_schema()").first?.first else { return .noSchema }
            _ = try postgres.rows("SELECT pg_advisory_xact_lock(\(Catalog.applicationID), hashtext(current_schema()))")
            func exists(_ table: String) throws(DatabaseFailure) -> Bool {
                try postgres.integer("SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ?",
                                     [.text(table)]) > 0
            }
            var version = 0
            if try exists("tide_schema") {
                version = try postgres.integer("SELECT version FROM tide_schema")
            } else {
                let entities = try exists("entities"), blueprints = try exists("blueprints")
                if entities || blueprints { return .foreign }
                guard create else { return .missing }
                // One row: the version of the tables beside it.
                try postgres.execute("""
                    CREATE TABLE tide_schema (
                        only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
                        version integer NOT NULL
                    );
                    INSERT INTO tide_schema (version) VALUES (0)
                    """)
            }
            if version > Catalog.schemaVersion { return .newer(version) }
            for step in Catalog.postgreSQLMigrations where step.version > version {
                try postgres.execute(step.sql)
                try postgres.execute("UPDATE tide_schema SET version = \(step.version)")
            }
            return .migrated
        }
        let place = schema.map { "schema \"\($0)\"" } ?? "the URL's schema"
        switch outcome {
        case .migrated:
            return
        case .noSchema where schema != nil:
            throw CatalogError(.missing, path: path,
                               message: "no catalog in \(place) yet (the schema does not exist); run `tide catalog import` or a sync first, or pass another --catalog")
        case .noSchema:
            throw CatalogError(.missing, path: path,
                               message: "the connection has no current schema (its search_path names none that exists); create the schema, or set search_path in the URL (?options=-csearch_path%3DNAME)")
        case .missing:
            throw CatalogError(.missing, path: path,
                               message: "no catalog in \(place) yet; run `tide catalog import` or a sync first, or pass another --catalog")
        case .foreign:
            throw CatalogError(.notACatalog, path: path,
                               message: "\(place) has blueprints or entities tables that are not a Tide catalog's; choose another schema (?options=-csearch_path%3DNAME) or database")
        case .newer(let version):
            throw CatalogError(.newerSchema, path: path,
                               message: "was written by a newer Tide (schema \(version), this one knows \(Catalog.schemaVersion)); upgrade tide")
        }
    }

    /// Drops the schema this catalog was opened in, with everything in it: for throwaway
    /// catalogs (`tide test` cases, tests). Only a catalog opened with an explicit schema.
    public func dropSchema() throws(CatalogError) {
        guard let postgres = connection as? PostgreSQLConnection else {
            throw CatalogError(.database, path: path, message: "only a PostgreSQL catalog's schema can be dropped")
        }
        try locked("dropping the schema") { () throws(DatabaseFailure) in
            guard case .text(let schema)? = try postgres.rows("SELECT current_schema()").first?.first else { return }
            try postgres.execute("DROP SCHEMA IF EXISTS \(PostgreSQLConnection.quoted(identifier: schema)) CASCADE")
        }
    }
}
