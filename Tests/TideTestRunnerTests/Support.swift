import Foundation
import Testing
import TideTestRunner

/// Writes an integration's files (paths relative to its folder) and its cases (`tests/NAME.yml`)
/// into a fresh temporary folder, and returns the folder.
func writeIntegration(_ files: [String: String], cases: [String: String]) throws -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-runner-\(UUID().uuidString)")
    for (path, text) in files.merging(cases.map { ("tests/\($0.key).yml", $0.value) }, uniquingKeysWith: { $1 }) {
        let url = folder.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return folder.path
}

/// Runs the one case of an integration written by `writeIntegration`, then removes the folder.
func runOnlyCase(in directory: String) async throws -> TestCaseResult {
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let report = await TestRunner.run(directory: directory)
    #expect(report.error == nil)
    return try #require(report.cases.first)
}
