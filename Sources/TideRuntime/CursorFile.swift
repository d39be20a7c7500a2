import Foundation
import TideCore
import TideModel

/// Incremental sync's cursors in a local JSON file, for runs whose sink (Port) has no place of
/// Tide's own: `{"version": 1, "installations": {"<type>/<installation>": {"<resource>":
/// {"selector": "…", "runs": {"<run>": <ms since 1970>}}}}}`. Rewritten whole on each save, through
/// a temporary file and a rename, so a killed process leaves the old file or the new one.
public final class CursorFile: CursorStore, Sendable {
    public let path: String
    private let installation: String
    private let lock = Locked(())

    public init(path: String, datasource: Datasource) {
        self.path = path
        installation = "\(datasource.integrationType)/\(datasource.installationIdentifier)"
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    public func cursors(resource: String, selector: String) async throws -> [String: Date] {
        try lock.withLock { _ in
            let file = try read()
            guard let entry = (file["installations"] as? [String: Any])?[installation] as? [String: Any],
                  let saved = entry[resource] as? [String: Any], saved["selector"] as? String == selector,
                  let runs = saved["runs"] as? [String: Any] else { return [:] }
            return runs.compactMapValues { value in (value as? NSNumber).map { Date(timeIntervalSince1970: $0.doubleValue / 1000) } }
        }
    }

    public func saveCursors(resource: String, selector: String, runs: [String], start: Date) async throws {
        try lock.withLock { _ in
            var file = try read()
            var installations = file["installations"] as? [String: Any] ?? [:]
            var entry = installations[installation] as? [String: Any] ?? [:]
            var saved = entry[resource] as? [String: Any] ?? [:]
            var known = saved["selector"] as? String == selector ? saved["runs"] as? [String: Any] ?? [:] : [:]
            let milliseconds = (start.timeIntervalSince1970 * 1000).rounded(.down)
            for run in runs { known[run] = milliseconds }
            saved = ["selector": selector, "runs": known]
            entry[resource] = saved
            installations[installation] = entry
            file["version"] = 1
            file["installations"] = installations
            try write(file)
        }
    }

    private func read() throws -> [String: Any] {
        guard FileManager.default.fileExists(atPath: path) else { return [:] }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
            throw Failure(description: "cannot read the cursor file \(path): \(Runtime.describe(fileError: error)); make it readable or pass --state PATH")
        }
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], object["version"] as? Int == 1 else {
            throw Failure(description: "\(path) is not a Tide cursor file (version 1); remove it (incremental passes then read every run whole once) or pass --state PATH")
        }
        return object
    }

    private func write(_ file: [String: Any]) throws {
        let url = URL(fileURLWithPath: path)
        do {
            let folder = url.deletingLastPathComponent()
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let data = try JSONSerialization.data(withJSONObject: file, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
            try data.write(to: url, options: .atomic)
        } catch {
            throw Failure(description: "cannot write the cursor file \(path): \(Runtime.describe(fileError: error)); pass --state PATH to a writable place")
        }
    }
}
