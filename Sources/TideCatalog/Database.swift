// The seam between the catalog and the database engine under it. The catalog's logic — Port's
// upsert, merge, ownership, search queries, reconciliation — is written once, against these two
// small protocols; the SQLite driver (SQLite.swift) and the PostgreSQL driver (PostgreSQL.swift)
// implement them, and `SQLDialect` holds the few fragments of SQL the two engines spell
// differently. SQL is written with `?` / `?N` placeholders; the PostgreSQL driver numbers them.

/// A value bound to or read from the database.
enum SQLValue: Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
}

/// A failed database call, from either engine: what kind of failure, in the engine's words.
struct DatabaseFailure: Error {
    enum Kind: Equatable {
        /// A row broke a constraint (a CHECK, NOT NULL, or a value the engine cannot store): the
        /// entity's fault, not the batch's.
        case constraint
        /// The statement failed on these values (a search query the engine rejects).
        case query
        /// Another writer held a lock longer than the busy timeout.
        case busy
        /// The file is not a database, or is corrupt.
        case notADatabase
        /// No permission to write.
        case readOnly
        /// The file cannot be opened.
        case cannotOpen
        /// The server cannot be reached, or the connection was lost.
        case unreachable
        /// A serialization failure or a deadlock: the transaction may be run again.
        case retry
        case other
    }

    var kind: Kind
    /// The engine's message.
    var message: String
    /// "SQLite" or "PostgreSQL", for messages.
    var engine: String
    /// SQLite's result code (extended); 0 for PostgreSQL.
    var code: Int32 = 0
    /// PostgreSQL's SQLSTATE; nil for SQLite.
    var sqlState: String? = nil
}

/// A connection to one database. Not thread-safe: `Catalog` serialises every use of it.
protocol SQLDatabase: AnyObject {
    var dialect: SQLDialect { get }
    /// Rows the last INSERT, UPDATE or DELETE changed.
    var changes: Int { get }
    /// Runs SQL with no parameters and no rows wanted (DDL, transaction control); may hold
    /// several statements.
    func execute(_ sql: String) throws(DatabaseFailure)
    /// A statement compiled once per connection and reused, reset and with no bindings.
    func statement(_ sql: String) throws(DatabaseFailure) -> any SQLStatement
    /// Like `statement`, for a query that may return very many rows: they arrive one at a time
    /// instead of all at once. Nothing else may run on the connection until its rows are read
    /// or it is reset.
    func streaming(_ sql: String) throws(DatabaseFailure) -> any SQLStatement
    /// A statement for one use (SQL that varies, such as translated search queries).
    func oneOff(_ sql: String) throws(DatabaseFailure) -> any SQLStatement
    /// Runs `body` in a write transaction: committed when it returns, rolled back when it throws.
    /// `body` may run more than once (PostgreSQL retries after a deadlock or serialization
    /// failure), so it must not have effects outside the database before it returns.
    func transaction<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T
    /// Runs `body` so that its failure does not spoil the surrounding transaction (PostgreSQL
    /// aborts a whole transaction on any error unless a savepoint catches it; SQLite does not).
    func attempt<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T
    /// Ends every read still in progress, so none holds a snapshot between catalog calls.
    func finishReads()
}

extension SQLDatabase {
    /// The rows of a one-off query, as values.
    func rows(_ sql: String, _ bindings: [SQLValue] = []) throws(DatabaseFailure) -> [[SQLValue]] {
        let statement = try statement(sql)
        try statement.bind(bindings)
        var rows: [[SQLValue]] = []
        while try statement.step() {
            rows.append((0..<statement.columnCount).map { statement.value($0) })
        }
        statement.reset()
        return rows
    }

    /// The first column of the first row as an integer (0 when there is none).
    func integer(_ sql: String, _ bindings: [SQLValue] = []) throws(DatabaseFailure) -> Int {
        switch try rows(sql, bindings).first?.first {
        case .integer(let value)?: Int(value)
        case .text(let text)?: Int(text) ?? 0
        default: 0
        }
    }
}

/// A compiled statement, used as a cursor: bind, then `step` through the rows (or `run`).
/// Parameter and column indexes are 0-based.
protocol SQLStatement: AnyObject {
    /// Back to before the first row, with the bindings cleared.
    func reset()
    func bind(_ values: [SQLValue]) throws(DatabaseFailure)
    /// Advances to the next row: true when there is one, false when done.
    func step() throws(DatabaseFailure) -> Bool
    /// Runs a statement that returns no rows.
    func run() throws(DatabaseFailure)
    var columnCount: Int { get }
    func text(_ column: Int) -> String?
    func integer(_ column: Int) -> Int64
    func value(_ column: Int) -> SQLValue
}

/// The SQL the two engines spell differently. Each fragment's SQLite spelling is exactly what the
/// catalog used before PostgreSQL existed, so the embedded catalog runs the same statements.
enum SQLDialect: Sendable {
    case sqlite
    case postgresql

    /// The condition "`datasource` starts with the text parameter `prefix` and ends with the text
    /// parameter `suffix`" (Port's ownership test, any integration version in between).
    func datasource(startsWith prefix: String, endsWith suffix: String) -> String {
        switch self {
        case .sqlite:
            """
            length(datasource) >= length(\(prefix)) + length(\(suffix))
                  AND substr(datasource, 1, length(\(prefix))) = \(prefix)
                  AND substr(datasource, -length(\(suffix))) = \(suffix)
            """
        case .postgresql:
            """
            length(datasource) >= length(CAST(\(prefix) AS TEXT)) + length(CAST(\(suffix) AS TEXT))
                  AND left(datasource, length(CAST(\(prefix) AS TEXT))) = CAST(\(prefix) AS TEXT)
                  AND right(datasource, length(CAST(\(suffix) AS TEXT))) = CAST(\(suffix) AS TEXT)
            """
        }
    }

    /// A parameter holding an integer or NULL where nothing else tells PostgreSQL its type.
    func integer(_ parameter: String) -> String {
        switch self {
        case .sqlite: parameter
        case .postgresql: "CAST(\(parameter) AS BIGINT)"
        }
    }

    /// A JSON column as text, for comparing with a literal (PostgreSQL's json has no `=`).
    func jsonText(_ column: String) -> String {
        switch self {
        case .sqlite: column
        case .postgresql: "\(column)::text"
        }
    }

    /// What `LIMIT ?` is bound to for "no limit".
    var noLimit: SQLValue {
        switch self {
        case .sqlite: .integer(-1)
        case .postgresql: .null
        }
    }

    /// Appended to the read of a stored entity that is about to be merged into: PostgreSQL locks
    /// the row, so a concurrent writer waits instead of merging into the same old version (a lost
    /// update). SQLite needs nothing: its write transaction already excludes every other writer.
    var lockingRead: String {
        switch self {
        case .sqlite: ""
        case .postgresql: " FOR UPDATE"
        }
    }

    /// Whether JSON fields are checked in Swift before they are written. SQLite's CHECK
    /// constraints fail one statement and the batch goes on; PostgreSQL aborts the whole
    /// transaction on any error, so bad values must never reach it.
    var checksValuesBeforeWriting: Bool { self == .postgresql }

    var name: String {
        switch self {
        case .sqlite: "SQLite"
        case .postgresql: "PostgreSQL"
        }
    }
}
