import Foundation

/// Where incremental sync keeps its cursors: per installation (the store's own), resource of the
/// mapping and run. The embedded catalog keeps them in its own table, beside the entities they
/// describe; with Port as the sink, a local state file does.
///
/// A resource is named `kind[index]` as in the mapping, with its selector as canonical JSON text:
/// a resource whose selector changed has no cursors (what it selects now was never read whole).
public protocol CursorStore: Sendable {
    /// The start of the last pass that read each run of the resource to its end, by run key.
    func cursors(resource: String, selector: String) async throws -> [String: Date]
    /// Records that a pass that started at `start` read `runs` of the resource to their end;
    /// cursors of the resource kept under another selector are dropped.
    func saveCursors(resource: String, selector: String, runs: [String], start: Date) async throws
}
