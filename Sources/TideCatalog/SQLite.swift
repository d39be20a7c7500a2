import CSQLite

/// SQLite's "copy the bytes now" destructor, which Swift cannot import as a macro.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

extension DatabaseFailure {
    /// A failed SQLite call: its result code and the connection's message at that moment.
    init(sqlite code: Int32, message: String) {
        let kind: Kind = switch code & 0xff {
        case SQLITE_CONSTRAINT: .constraint
        case SQLITE_ERROR: .query
        case SQLITE_BUSY, SQLITE_LOCKED: .busy
        case SQLITE_NOTADB, SQLITE_CORRUPT: .notADatabase
        case SQLITE_READONLY, SQLITE_PERM: .readOnly
        case SQLITE_CANTOPEN: .cannotOpen
        default: .other
        }
        self.init(kind: kind, message: message, engine: "SQLite", code: code)
    }
}

/// One SQLite connection. Not thread-safe on its own: `Catalog` serialises every use of it.
final class Connection: SQLDatabase {
    let handle: OpaquePointer
    /// Statements compiled once and reused, keyed by their SQL text.
    private var cache: [String: Statement] = [:]

    init(path: String, flags: Int32) throws(DatabaseFailure) {
        var opened: OpaquePointer?
        let code = sqlite3_open_v2(path, &opened, flags, nil)
        guard let opened else { throw DatabaseFailure(sqlite: code, message: "out of memory") }
        guard code == SQLITE_OK else {
            let message = String(cString: sqlite3_errmsg(opened))
            sqlite3_close_v2(opened)
            throw DatabaseFailure(sqlite: code, message: message)
        }
        handle = opened
        sqlite3_extended_result_codes(handle, 1)
    }

    deinit {
        cache.removeAll()  // statements must be finalized before the connection closes
        sqlite3_close_v2(handle)
    }

    var lastMessage: String { String(cString: sqlite3_errmsg(handle)) }
    var changes: Int { Int(sqlite3_changes(handle)) }
    var isReadOnly: Bool { sqlite3_db_readonly(handle, "main") == 1 }

    func failure(_ code: Int32) -> DatabaseFailure { DatabaseFailure(sqlite: code, message: lastMessage) }

    /// Resets every statement still stepping, so none holds a read snapshot (which would hide
    /// other processes' commits from this connection and keep the WAL from being checkpointed).
    func resetBusyStatements() {
        var statement = sqlite3_next_stmt(handle, nil)
        while let current = statement {
            if sqlite3_stmt_busy(current) != 0 { sqlite3_reset(current) }
            statement = sqlite3_next_stmt(handle, current)
        }
    }

    /// Runs SQL with no parameters and no rows wanted (DDL, pragmas, transaction control).
    func execute(_ sql: String) throws(DatabaseFailure) {
        let code = sqlite3_exec(handle, sql, nil, nil, nil)
        guard code == SQLITE_OK else { throw failure(code) }
    }

    /// A cached statement, reset and with its bindings cleared.
    func cached(_ sql: String) throws(DatabaseFailure) -> Statement {
        if let statement = cache[sql] {
            statement.reset()
            return statement
        }
        let statement = try prepare(sql, persistent: true)
        cache[sql] = statement
        return statement
    }

    /// A statement compiled for one use (SQL that varies, such as translated search queries).
    func prepare(_ sql: String, persistent: Bool = false) throws(DatabaseFailure) -> Statement {
        var compiled: OpaquePointer?
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        let code = sqlite3_prepare_v3(handle, sql, -1, flags, &compiled, nil)
        guard code == SQLITE_OK, let compiled else { throw failure(code) }
        return Statement(handle: compiled, connection: self)
    }

    /// Runs `body` in a write transaction: committed when it returns, rolled back when it throws.
    /// `BEGIN IMMEDIATE` takes the write lock up front, so a second writer waits (busy timeout)
    /// instead of failing half-way through a batch.
    func transaction<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T {
        try execute("BEGIN IMMEDIATE")
        let value: T
        do {
            value = try body()
            try execute("COMMIT")
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
        return value
    }

    // MARK: SQLDatabase

    var dialect: SQLDialect { .sqlite }
    func statement(_ sql: String) throws(DatabaseFailure) -> any SQLStatement { try cached(sql) }
    /// SQLite steps through rows as it finds them anyway.
    func streaming(_ sql: String) throws(DatabaseFailure) -> any SQLStatement { try cached(sql) }
    func oneOff(_ sql: String) throws(DatabaseFailure) -> any SQLStatement { try prepare(sql) }
    /// A failed statement leaves an SQLite transaction usable, so nothing is needed.
    func attempt<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T { try body() }
    func finishReads() { resetBusyStatements() }
}

/// A compiled statement. Parameter and column indexes are 0-based here (SQLite binds from 1).
final class Statement: SQLStatement {
    let handle: OpaquePointer
    unowned let connection: Connection

    init(handle: OpaquePointer, connection: Connection) {
        self.handle = handle
        self.connection = connection
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    func bind(_ values: [SQLValue]) throws(DatabaseFailure) {
        for (index, value) in values.enumerated() { try bind(value, at: index) }
    }

    func bind(_ value: SQLValue, at index: Int) throws(DatabaseFailure) {
        let position = Int32(index + 1)
        let code: Int32
        switch value {
        case .null: code = sqlite3_bind_null(handle, position)
        case .integer(let number): code = sqlite3_bind_int64(handle, position, number)
        case .real(let number): code = sqlite3_bind_double(handle, position, number)
        case .text(let text): code = bind(text: text, at: position)
        }
        guard code == SQLITE_OK else { throw connection.failure(code) }
    }

    func bind(_ text: String?, at index: Int) throws(DatabaseFailure) {
        try bind(text.map(SQLValue.text) ?? .null, at: index)
    }

    func bind(_ number: Int64, at index: Int) throws(DatabaseFailure) {
        try bind(.integer(number), at: index)
    }

    private func bind(text: String, at position: Int32) -> Int32 {
        var text = text
        return text.withUTF8 { bytes in
            // An empty buffer has no base address, and a nil pointer would bind NULL, not "".
            guard let base = bytes.baseAddress else { return sqlite3_bind_text(handle, position, "", 0, transient) }
            return base.withMemoryRebound(to: CChar.self, capacity: bytes.count) {
                sqlite3_bind_text(handle, position, $0, Int32(bytes.count), transient)
            }
        }
    }

    /// Advances to the next row: true when there is one, false when done.
    func step() throws(DatabaseFailure) -> Bool {
        let code = sqlite3_step(handle)
        switch code {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        default:
            let failure = connection.failure(code)
            sqlite3_reset(handle)
            throw failure
        }
    }

    /// Runs a statement that returns no rows.
    func run() throws(DatabaseFailure) {
        _ = try step()
        sqlite3_reset(handle)
    }

    var columnCount: Int { Int(sqlite3_column_count(handle)) }

    func text(_ column: Int) -> String? {
        let index = Int32(column)
        guard sqlite3_column_type(handle, index) != SQLITE_NULL, let pointer = sqlite3_column_text(handle, index) else {
            return nil
        }
        let count = Int(sqlite3_column_bytes(handle, index))
        return String(decoding: UnsafeBufferPointer(start: pointer, count: count), as: UTF8.self)
    }

    func integer(_ column: Int) -> Int64 { sqlite3_column_int64(handle, Int32(column)) }

    func value(_ column: Int) -> SQLValue {
        switch sqlite3_column_type(handle, Int32(column)) {
        case SQLITE_NULL: .null
        case SQLITE_INTEGER: .integer(sqlite3_column_int64(handle, Int32(column)))
        case SQLITE_FLOAT: .real(sqlite3_column_double(handle, Int32(column)))
        default: .text(text(column) ?? "")
        }
    }
}
