import Foundation
import TideModel

// Incremental sync's cursors, kept in the catalog beside the entities they describe: one row per
// installation, resource and run (see `CursorStore`).

extension Catalog {
    /// The start of the last pass that read each run of `resource` to its end, by run key; runs
    /// saved under another selector are not the resource's any more and are left out.
    public func syncCursors(of datasource: Datasource, resource: String, selector: String) throws(CatalogError) -> [String: Date] {
        try locked("reading sync cursors") { () throws(DatabaseFailure) in
            let statement = try db.statement("""
                SELECT run, last_sync_start FROM sync_cursors
                WHERE integration_type = ? AND installation = ? AND resource = ? AND selector = ?
                """)
            try statement.bind([.text(datasource.integrationType), .text(datasource.installationIdentifier),
                                .text(resource), .text(selector)])
            var cursors: [String: Date] = [:]
            while try statement.step() {
                if let run = statement.text(0) { cursors[run] = CatalogTime.date(statement.integer(1)) }
            }
            return cursors
        }
    }

    /// Moves the cursors of `runs` to `start`, in one transaction that also drops the resource's
    /// cursors kept under another selector.
    public func saveSyncCursors(of datasource: Datasource, resource: String, selector: String, runs: [String],
                                start: Date, at time: Date = Date()) throws(CatalogError) {
        try writing("saving sync cursors") { () throws(DatabaseFailure) in
            let owner: [SQLValue] = [.text(datasource.integrationType), .text(datasource.installationIdentifier), .text(resource)]
            let stale = try db.statement("""
                DELETE FROM sync_cursors
                WHERE integration_type = ? AND installation = ? AND resource = ? AND selector <> ?
                """)
            try stale.bind(owner + [.text(selector)])
            try stale.run()
            let upsert = try db.statement("""
                INSERT INTO sync_cursors (integration_type, installation, resource, selector, run, last_sync_start, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (integration_type, installation, resource, run) DO UPDATE SET
                    selector = excluded.selector, last_sync_start = excluded.last_sync_start, updated_at = excluded.updated_at
                """)
            for run in Set(runs).sorted() {
                upsert.reset()
                try upsert.bind(owner + [.text(selector), .text(run), .integer(CatalogTime.milliseconds(start)),
                                         .integer(CatalogTime.milliseconds(time))])
                try upsert.run()
            }
        }
    }
}

extension CatalogSink: CursorStore {
    public func cursors(resource: String, selector: String) async throws -> [String: Date] {
        try catalog.syncCursors(of: datasource, resource: resource, selector: selector)
    }

    public func saveCursors(resource: String, selector: String, runs: [String], start: Date) async throws {
        try catalog.saveSyncCursors(of: datasource, resource: resource, selector: selector, runs: runs, start: start)
    }
}
