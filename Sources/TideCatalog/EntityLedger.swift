import CSQLite
import Foundation
import TideCore
import TideModel

/// A disk-backed record of the entities a resync produced, with their relations, for a sink that
/// must remember them all until reconciliation (the Port sink, as Ocean's state applier does)
/// without holding them in memory: at a million entities their relations alone would take
/// hundreds of megabytes. It lives in a temporary SQLite file, removed when the ledger goes away.
/// Thread-safe: every use goes through one lock.
public final class EntityLedger: Sendable {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private let connection: Locked<UncheckedSendable<Connection>>
    /// The scratch file.
    public let path: String

    public init() throws(Failure) {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tide-ledger-\(UUID().uuidString).sqlite").path
        do {
            let db = try Connection(path: path, flags: SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX)
            // Scratch data: a crash loses nothing that matters, so no journal and no fsync.
            try db.execute("PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF; PRAGMA cache_size = -4096")
            try db.execute("CREATE TABLE produced (blueprint TEXT NOT NULL, identifier TEXT NOT NULL, relations TEXT, PRIMARY KEY (blueprint, identifier)) WITHOUT ROWID")
            connection = Locked(UncheckedSendable(db))
        } catch {
            try? FileManager.default.removeItem(atPath: path)
            throw Failure(description: "cannot create the scratch file \(path): \(error.message)")
        }
    }

    // The file can go while the connection is still open: it closes right after, with the ledger.
    deinit { try? FileManager.default.removeItem(atPath: path) }

    private func using<T>(_ what: String, _ body: (Connection) throws(DatabaseFailure) -> T) throws(Failure) -> T {
        do {
            return try connection.withLock { box in try body(box.value) }
        } catch let failure as DatabaseFailure {
            throw Failure(description: "\(what) in the scratch file \(path) failed: \(failure.message)")
        } catch {
            throw Failure(description: "\(what) in the scratch file \(path) failed: \(error)")
        }
    }

    /// Records entities (a later record of a key replaces its relations).
    public func record(_ entries: [(key: EntityKey, relations: String?)]) throws(Failure) {
        guard !entries.isEmpty else { return }
        try using("recording entities") { db throws(DatabaseFailure) in
            try db.transaction { () throws(DatabaseFailure) in
                let insert = try db.cached("INSERT OR REPLACE INTO produced (blueprint, identifier, relations) VALUES (?, ?, ?)")
                for entry in entries {
                    insert.reset()
                    try insert.bind([.text(entry.key.blueprint), .text(entry.key.identifier),
                                     entry.relations.map(SQLValue.text) ?? .null])
                    try insert.run()
                }
            }
        }
    }

    /// The keys of `keys` that were never recorded, in their order.
    public func unrecorded(_ keys: [EntityKey]) throws(Failure) -> [EntityKey] {
        try using("looking entities up") { db throws(DatabaseFailure) -> [EntityKey] in
            let select = try db.cached("SELECT 1 FROM produced WHERE blueprint = ? AND identifier = ?")
            var missing: [EntityKey] = []
            for key in keys {
                select.reset()
                try select.bind([.text(key.blueprint), .text(key.identifier)])
                if try !select.step() { missing.append(key) }
                select.reset()
            }
            return missing
        }
    }

    public var count: Int {
        (try? using("counting entities") { db throws(DatabaseFailure) -> Int in
            let rows = try db.rows("SELECT count(*) FROM produced")
            if case .integer(let count)? = rows.first?.first { return Int(count) }
            return 0
        }) ?? 0
    }

    /// Blueprints of recorded entities that have relations.
    public func blueprintsWithRelations() throws(Failure) -> [String] {
        try using("listing blueprints") { db throws(DatabaseFailure) -> [String] in
            try db.rows("SELECT DISTINCT blueprint FROM produced WHERE relations IS NOT NULL ORDER BY blueprint").compactMap {
                if case .text(let name)? = $0.first { return name }
                return nil
            }
        }
    }

    /// Calls `body` with every recorded entity that has relations, a page at a time, so memory
    /// follows the page, not the ledger.
    public func forEachWithRelations(_ body: (EntityKey, String) throws -> Void) throws {
        var after = EntityKey(blueprint: "", identifier: "")
        while true {
            let page: [(EntityKey, String)] = try using("reading relations") { db throws(DatabaseFailure) -> [(EntityKey, String)] in
                let select = try db.cached("""
                    SELECT blueprint, identifier, relations FROM produced
                    WHERE relations IS NOT NULL AND (blueprint, identifier) > (?, ?)
                    ORDER BY blueprint, identifier LIMIT 1000
                    """)
                try select.bind([.text(after.blueprint), .text(after.identifier)])
                var rows: [(EntityKey, String)] = []
                while try select.step() {
                    rows.append((EntityKey(blueprint: select.text(0) ?? "", identifier: select.text(1) ?? ""), select.text(2) ?? "{}"))
                }
                select.reset()
                return rows
            }
            for (key, relations) in page { try body(key, relations) }
            guard let last = page.last, page.count == 1000 else { return }
            after = last.0
        }
    }
}
