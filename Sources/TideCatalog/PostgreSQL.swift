import CLibPQ
import Foundation

// The PostgreSQL driver of the catalog seam, on libpq (PostgreSQL's own client library, from
// Debian's libpq-dev): in-process, synchronous calls that fit the catalog's model of one
// connection used under one lock, and no Swift package to build. Every statement the catalog
// reuses is prepared once per connection; parameters travel as text and the server infers their
// types from the SQL (a few fragments in `SQLDialect` cast where it cannot).

extension DatabaseFailure {
    /// A failure with PostgreSQL's SQLSTATE, classified into the seam's kinds.
    init(postgresql message: String, sqlState: String?) {
        let state = sqlState ?? ""
        let kind: Kind = switch state {
        case "40001", "40P01": .retry  // serialization failure, deadlock
        case "55P03", "57014": .busy  // lock_timeout, statement_timeout
        case "42501": .readOnly  // insufficient privilege
        case "57P01", "57P02", "57P03": .unreachable  // the server is shutting down or starting
        default:
            switch state.prefix(2) {
            case "23": .constraint
            case "22", "42": .query
            case "08": .unreachable
            default: sqlState == nil ? .unreachable : .other
            }
        }
        self.init(kind: kind, message: message, engine: "PostgreSQL", sqlState: sqlState)
    }
}

/// A `postgresql://` or `postgres://` URL, as given to `--catalog`, with the ways it is shown.
public struct PostgreSQLURL: Sendable, Hashable, CustomStringConvertible {
    /// The URL as given, password included: only ever handed to libpq.
    let value: String

    /// Whether a `--catalog` value names a PostgreSQL database rather than a file.
    public static func matches(_ location: String) -> Bool {
        let lower = location.lowercased()
        return lower.hasPrefix("postgresql://") || lower.hasPrefix("postgres://")
    }

    public init?(_ location: String) {
        guard Self.matches(location) else { return nil }
        value = location
    }

    /// The URL with its password (in the userinfo or a `password=` parameter) replaced by `***`:
    /// the only form that appears in messages, logs and summaries.
    public var redacted: String { Self.redact(value) }
    public var description: String { redacted }

    /// Masks the password of a PostgreSQL URL; any other text is returned unchanged.
    public static func redact(_ url: String) -> String {
        guard matches(url), let scheme = url.range(of: "://") else { return url }
        var url = url
        let authorityEnd = url[scheme.upperBound...].firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? url.endIndex
        if let at = url[scheme.upperBound..<authorityEnd].lastIndex(of: "@"),
           let colon = url[scheme.upperBound..<at].firstIndex(of: ":") {
            url.replaceSubrange(url.index(after: colon)..<at, with: "***")
        }
        guard let question = url.firstIndex(of: "?") else { return url }
        let query = url[url.index(after: question)...].split(separator: "&", omittingEmptySubsequences: false).map { pair -> String in
            guard let equals = pair.firstIndex(of: "=") else { return String(pair) }
            let name = pair[..<equals].lowercased()
            return name == "password" || name == "sslpassword" ? "\(pair[..<equals])=***" : String(pair)
        }
        return String(url[...question]) + query.joined(separator: "&")
    }
}

/// One libpq connection. Not thread-safe: `Catalog` serialises every use of it.
final class PostgreSQLConnection: SQLDatabase {
    private let handle: OpaquePointer
    let url: PostgreSQLURL
    /// The schema the catalog's tables live in, when one was chosen; else the connection's
    /// current schema (the first existing one on its `search_path`).
    let schema: String?
    private var cache: [String: PostgreSQLStatement] = [:]
    private var preparedCount = 0
    /// Bumped on every reconnection: statements prepared under an older one are prepared again.
    private(set) var generation = 0
    private(set) var changes = 0
    /// Transactions run again after a deadlock or serialization failure, for tests and logs.
    private(set) var retriedTransactions = 0

    /// How often a transaction is run again after a deadlock or serialization failure.
    static let retries = 8

    init(url: PostgreSQLURL, schema: String?) throws(DatabaseFailure) {
        self.url = url
        self.schema = schema
        // Defaults first, the URL's own settings over them, and UTF-8 always: Swift strings are
        // UTF-8, and the catalog sends and reads them as they are.
        let keywords = ["application_name", "connect_timeout", "dbname", "client_encoding"]
        let values = ["tide", "10", url.value, "UTF8"]
        guard let connection = Self.connect(keywords: keywords, values: values) else {
            throw DatabaseFailure(kind: .unreachable, message: "out of memory", engine: "PostgreSQL")
        }
        guard PQstatus(connection) == CONNECTION_OK else {
            let failure = DatabaseFailure(kind: .unreachable, message: Self.connectionMessage(connection), engine: "PostgreSQL")
            PQfinish(connection)
            throw failure
        }
        handle = connection
        // The server's notices (NOTICE: drop cascades to…) would go to standard error, where
        // they are noise in the middle of a command's output; errors come back as results.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        try configureSession()
    }

    deinit {
        // The statements' results go with them; nothing is left to read on a closing connection.
        for statement in cache.values { statement.abandon() }
        cache.removeAll()
        PQfinish(handle)
    }

    private static func connect(keywords: [String], values: [String]) -> OpaquePointer? {
        let keywordPointers = keywords.map { strdup($0) }
        let valuePointers = values.map { strdup($0) }
        defer {
            keywordPointers.forEach { free($0) }
            valuePointers.forEach { free($0) }
        }
        let keywordArray: [UnsafePointer<CChar>?] = keywordPointers.map { UnsafePointer($0) } + [nil]
        let valueArray: [UnsafePointer<CChar>?] = valuePointers.map { UnsafePointer($0) } + [nil]
        // expand_dbname = 1: the URL in "dbname" is read as a connection string.
        return PQconnectdbParams(keywordArray, valueArray, 1)
    }

    /// libpq's words for a failed connection, on one line. libpq never puts the password in them.
    private static func connectionMessage(_ handle: OpaquePointer) -> String {
        let text = PQerrorMessage(handle).map { String(cString: $0) } ?? "unknown error"
        return text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }.joined(separator: "; ")
    }

    private func configureSession() throws(DatabaseFailure) {
        if let schema {
            try execute("SET search_path TO \(Self.quoted(identifier: schema))")
        }
    }

    /// An identifier quoted for SQL (`"my schema"`), doubling any quote inside it.
    static func quoted(identifier: String) -> String {
        "\"" + identifier.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    var dialect: SQLDialect { .postgresql }

    var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR || status == PQTRANS_ACTIVE
    }

    /// Re-establishes a lost connection between transactions (a server restart, a dropped
    /// network), so a long-running `tide run` recovers by itself; inside a transaction a lost
    /// connection fails the transaction instead.
    func reconnectIfNeeded() throws(DatabaseFailure) {
        guard PQstatus(handle) == CONNECTION_BAD else { return }
        PQreset(handle)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw DatabaseFailure(kind: .unreachable, message: Self.connectionMessage(handle), engine: "PostgreSQL")
        }
        generation += 1
        try configureSession()
    }

    /// The failure of a result (or of the connection, when there is no result); frees the result.
    func failure(_ result: OpaquePointer?) -> DatabaseFailure {
        defer { if let result { PQclear(result) } }
        guard let result else {
            return DatabaseFailure(kind: .unreachable, message: Self.connectionMessage(handle), engine: "PostgreSQL")
        }
        let message = PQresultErrorMessage(result).map { String(cString: $0) } ?? ""
        let state = PQresultErrorField(result, Int32(UInt8(ascii: "C"))).map { String(cString: $0) }
        let text = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? message
        if PQstatus(handle) == CONNECTION_BAD {
            return DatabaseFailure(kind: .unreachable, message: text.isEmpty ? Self.connectionMessage(handle) : text,
                                   engine: "PostgreSQL", sqlState: state)
        }
        return DatabaseFailure(postgresql: text.hasPrefix("ERROR:  ") ? String(text.dropFirst(8)) : text, sqlState: state)
    }

    /// Checks a result: rows or a command's completion; anything else is thrown (and freed).
    func checked(_ result: OpaquePointer?) throws(DatabaseFailure) -> OpaquePointer {
        guard let result else { throw failure(nil) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK:
            // Rows an INSERT, UPDATE or DELETE changed (empty for other commands).
            if let tuples = PQcmdTuples(result), tuples.pointee != 0 { changes = Int(strtol(tuples, nil, 10)) }
            return result
        case PGRES_TUPLES_OK:
            return result
        default:
            throw failure(result)
        }
    }

    func execute(_ sql: String) throws(DatabaseFailure) {
        if !isInTransaction { try reconnectIfNeeded() }
        PQclear(try checked(PQexec(handle, sql)))
    }

    func statement(_ sql: String) throws(DatabaseFailure) -> any SQLStatement { cached(sql, streaming: false) }

    /// Rows one at a time (libpq's single-row mode): a whole result would otherwise be held in
    /// memory, a million entities' worth for a listing.
    func streaming(_ sql: String) throws(DatabaseFailure) -> any SQLStatement { cached(sql, streaming: true) }

    private func cached(_ sql: String, streaming: Bool) -> PostgreSQLStatement {
        let key = streaming ? "stream:" + sql : sql
        if let statement = cache[key] {
            statement.reset()
            return statement
        }
        preparedCount += 1
        let statement = PostgreSQLStatement(connection: self, sql: Self.numbered(sql), name: "tide_\(preparedCount)",
                                            streaming: streaming)
        cache[key] = statement
        return statement
    }

    func oneOff(_ sql: String) throws(DatabaseFailure) -> any SQLStatement {
        PostgreSQLStatement(connection: self, sql: Self.numbered(sql), name: nil, streaming: false)
    }

    func transaction<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T {
        var attempt = 0
        while true {
            try execute("BEGIN")
            do {
                let value = try body()
                try execute("COMMIT")
                return value
            } catch {
                if isInTransaction { _ = try? execute("ROLLBACK") }
                attempt += 1
                guard error.kind == .retry, attempt <= Self.retries else { throw error }
                retriedTransactions += 1
                // Two writers that deadlocked would meet again at once without a jittered pause.
                usleep(UInt32.random(in: 1_000...(10_000 << min(attempt, 5))))
            }
        }
    }

    func attempt<T>(_ body: () throws(DatabaseFailure) -> T) throws(DatabaseFailure) -> T {
        guard isInTransaction else { return try body() }
        try execute("SAVEPOINT tide_attempt")
        do {
            let value = try body()
            try execute("RELEASE SAVEPOINT tide_attempt")
            return value
        } catch {
            try execute("ROLLBACK TO SAVEPOINT tide_attempt")
            try execute("RELEASE SAVEPOINT tide_attempt")
            throw error
        }
    }

    func finishReads() {
        for statement in cache.values { statement.clearResult() }
    }

    func prepare(_ statement: PostgreSQLStatement, name: String) throws(DatabaseFailure) {
        if !isInTransaction { try reconnectIfNeeded() }
        PQclear(try checked(PQprepare(handle, name, statement.sql, 0, nil)))
    }

    /// Runs a statement with text parameters; the result must be cleared by the caller.
    func run(_ statement: PostgreSQLStatement, parameters: [SQLValue]) throws(DatabaseFailure) -> OpaquePointer {
        try prepareIfNeeded(statement)
        let result = try withTexts(parameters) { count, pointers in
            if let name = statement.name {
                PQexecPrepared(handle, name, count, pointers, nil, nil, 0)
            } else {
                PQexecParams(handle, statement.sql, count, nil, pointers, nil, nil, 0)
            }
        }
        return try checked(result)
    }

    /// Sends a statement whose rows are then read one by one with `nextRow`.
    func send(_ statement: PostgreSQLStatement, parameters: [SQLValue]) throws(DatabaseFailure) {
        try prepareIfNeeded(statement)
        let sent = try withTexts(parameters) { count, pointers in
            if let name = statement.name {
                PQsendQueryPrepared(handle, name, count, pointers, nil, nil, 0)
            } else {
                PQsendQueryParams(handle, statement.sql, count, nil, pointers, nil, nil, 0)
            }
        }
        guard sent == 1 else { throw failure(nil) }
        PQsetSingleRowMode(handle)
    }

    /// The next row of a sent statement as a one-row result (to be cleared by the caller), or nil
    /// when the rows are done. The connection is free again once this has answered nil or thrown.
    func nextRow() throws(DatabaseFailure) -> OpaquePointer? {
        guard let result = PQgetResult(handle) else { return nil }
        if PQresultStatus(result) == PGRES_SINGLE_TUPLE { return result }
        let status = PQresultStatus(result)
        let failed = status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK
        let error: DatabaseFailure? = failed ? failure(result) : nil
        if !failed { PQclear(result) }
        drain()
        if let error { throw error }
        return nil
    }

    /// Reads and drops what is left of a sent statement's results.
    func drain() {
        while let result = PQgetResult(handle) { PQclear(result) }
    }

    private func prepareIfNeeded(_ statement: PostgreSQLStatement) throws(DatabaseFailure) {
        if !isInTransaction { try reconnectIfNeeded() }
        if let name = statement.name, statement.preparedGeneration != generation {
            try prepare(statement, name: name)
            statement.preparedGeneration = generation
        }
    }

    /// Calls `body` with the parameters as C strings (NULL for SQL NULL).
    private func withTexts<R>(_ parameters: [SQLValue],
                              _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> R) throws(DatabaseFailure) -> R {
        var texts: [UnsafeMutablePointer<CChar>?] = []
        texts.reserveCapacity(parameters.count)
        defer { texts.forEach { free($0) } }
        for parameter in parameters {
            switch parameter {
            case .null: texts.append(nil)
            case .integer(let number): texts.append(strdup(String(number)))
            case .real(let number): texts.append(strdup(number.description))
            case .text(let text):
                // libpq sends C strings, and PostgreSQL's text cannot hold NUL at all.
                guard !text.utf8.contains(0) else {
                    throw DatabaseFailure(kind: .constraint, message: "PostgreSQL cannot store text containing a NUL character",
                                          engine: "PostgreSQL")
                }
                texts.append(strdup(text))
            }
        }
        return texts.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: UnsafePointer<CChar>?.self) { body(Int32($0.count), $0.baseAddress) }
        }
    }

    /// SQL written with `?` (numbered in order) or `?N` placeholders, with PostgreSQL's `$N`
    /// instead. Quoted literals and identifiers are left alone.
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var next = 0
        var quote: Character?
        var characters = sql.makeIterator()
        var pending: Character? = characters.next()
        while let character = pending {
            pending = characters.next()
            if let open = quote {
                out.append(character)
                if character == open { quote = nil }
                continue
            }
            switch character {
            case "'", "\"":
                quote = character
                out.append(character)
            case "?":
                if let digit = pending, digit.isASCII, digit.isNumber {
                    out.append("$")
                } else {
                    next += 1
                    out.append("$\(next)")
                }
            default:
                out.append(character)
            }
        }
        return out
    }
}

/// A statement on a PostgreSQL connection, used as a cursor over its result.
final class PostgreSQLStatement: SQLStatement {
    unowned let connection: PostgreSQLConnection
    /// The SQL with `$N` placeholders.
    let sql: String
    /// The prepared statement's name; nil for a one-off, sent with its text each time.
    let name: String?
    /// Rows are read one at a time instead of all at once.
    let streaming: Bool
    var preparedGeneration = -1
    private var parameters: [SQLValue] = []
    /// The rows fetched (all of them, or the current one when streaming).
    private var result: OpaquePointer?
    private var row = -1
    private var rowCount = 0
    /// Streaming: sent, and its rows not all read yet.
    private var sending = false
    private var done = false

    init(connection: PostgreSQLConnection, sql: String, name: String?, streaming: Bool) {
        self.connection = connection
        self.sql = sql
        self.name = name
        self.streaming = streaming
    }

    deinit { clearResult() }

    func clearResult() {
        if let result { PQclear(result) }
        result = nil
        row = -1
        rowCount = 0
        // The connection takes no other statement until a sent one's results are read.
        if sending { connection.drain() }
        sending = false
        done = false
    }

    func reset() {
        clearResult()
        parameters = []
    }

    /// Frees the result without reading what is left of a sent statement: for a connection
    /// that is closing.
    func abandon() {
        sending = false
        clearResult()
    }

    func bind(_ values: [SQLValue]) throws(DatabaseFailure) { parameters = values }

    func step() throws(DatabaseFailure) -> Bool {
        if streaming { return try stepStreaming() }
        if result == nil {
            let fetched = try connection.run(self, parameters: parameters)
            result = fetched
            rowCount = Int(PQntuples(fetched))
            row = -1
        }
        row += 1
        return row < rowCount
    }

    private func stepStreaming() throws(DatabaseFailure) -> Bool {
        if done { return false }
        if let current = result {
            PQclear(current)
            result = nil
        }
        if !sending {
            try connection.send(self, parameters: parameters)
            sending = true
        }
        let next: OpaquePointer?
        do { next = try connection.nextRow() } catch {
            sending = false
            done = true
            throw error
        }
        guard let next else {
            sending = false
            done = true
            return false
        }
        result = next
        row = 0
        rowCount = 1
        return true
    }

    func run() throws(DatabaseFailure) {
        clearResult()
        PQclear(try connection.run(self, parameters: parameters))
    }

    var columnCount: Int { result.map { Int(PQnfields($0)) } ?? 0 }

    func text(_ column: Int) -> String? {
        guard let result, row < rowCount, PQgetisnull(result, Int32(row), Int32(column)) == 0,
              let pointer = PQgetvalue(result, Int32(row), Int32(column)) else { return nil }
        let count = Int(PQgetlength(result, Int32(row), Int32(column)))
        return pointer.withMemoryRebound(to: UInt8.self, capacity: count) {
            String(decoding: UnsafeBufferPointer(start: $0, count: count), as: UTF8.self)
        }
    }

    func integer(_ column: Int) -> Int64 {
        guard let result, row < rowCount, PQgetisnull(result, Int32(row), Int32(column)) == 0,
              let pointer = PQgetvalue(result, Int32(row), Int32(column)) else { return 0 }
        return Int64(strtoll(pointer, nil, 10))
    }

    func value(_ column: Int) -> SQLValue {
        guard let result, row < rowCount, PQgetisnull(result, Int32(row), Int32(column)) == 0 else { return .null }
        // Integers come back as integers, as SQLite's do; everything else as text.
        switch PQftype(result, Int32(column)) {
        case 20, 21, 23: return .integer(integer(column))  // int8, int2, int4
        case 700, 701: return .real(Double(text(column) ?? "") ?? 0)  // float4, float8
        default: return .text(text(column) ?? "")
        }
    }
}
