import Foundation
import Testing
import TideCore
import TideReplay

/// fixtures.yml as `FixtureFile` reads it: every bad entry reported with its position, sequences
/// merged, stricter matchers first. (Moved from TideCLITests: none of it needs the binary.)
@Suite struct FixtureFileTests {
    @Test func badEntriesAndMissingBodyFilesAreReportedWithPositions() throws {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("tide-fixtures-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("fixtures.yml").path
        try """
        - request: {path: /ok}
          response: {json: {ok: true}}
        - request:
            path: /missing
          response:
            body: pages/nowhere.json
        - request: {method: GET, pth: /typo}
          response: {status: 200}
        - request: {path: /both}
          response: {status: 99, json: [], body: x.json}

        """.write(toFile: path, atomically: true, encoding: .utf8)

        var diagnostics: [String] = []
        do {
            _ = try FixtureFile.load(contentsOf: path)
            Issue.record("the file loaded")
        } catch {
            diagnostics = error.items.map(\.description)
        }
        let text = diagnostics.joined(separator: "\n")
        #expect(text.contains("\(path):6:11: error: body file 'pages/nowhere.json' does not exist [fixture-body-file]"), "\(text)")
        #expect(text.contains("\(path):7:26: error: unknown key \"pth\" in [2].request (did you mean \"path\"?) [unknown-key]"), "\(text)")
        #expect(text.contains("\(path):7:12: error: [2].request has no path, which is required [required]"), "\(text)")
        #expect(text.contains("\(path):10:22: error: [3].response.status must be between 100 and 599, found 99 [range]"), "\(text)")
        #expect(text.contains("either 'body' (a file) or 'json' (inline)"), "\(text)")
        #expect(!text.contains("/ok"), "the good entry is not blamed: \(text)")
    }

    @Test func sequencesMergeAndStricterMatchersComeFirst() throws {
        let file = try FixtureFile.parse("""
        - name: any search
          request: {method: POST, path: /search, body: {q: x}}
          response: {json: {page: 1}}
        - name: second page
          request: {method: POST, path: /search, body: {q: x, token: t}}
          response: {json: {page: 2}}
        - name: flaky
          request: {path: /flaky}
          response: {status: 503}
        - name: recovered
          request: {path: /flaky}
          response: {json: {}}
        """, file: "inline.yml", directory: "/nonexistent")
        #expect(file.fixtures.map(\.name) == ["second page", "any search", "flaky → recovered"])
        #expect(file.fixtures[2].responses.map(\.status) == [503, 200])
        #expect(file.fixtures[1].responses[0].headers == [TestHeader("Content-Type", "application/json")])
        #expect(file.location(of: "flaky → recovered")?.line == 7)
    }
}
