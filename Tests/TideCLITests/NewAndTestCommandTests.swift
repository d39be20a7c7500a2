import Foundation
import Testing
import TideTesting

/// `tide new` and `tide test` as a user runs them: scaffold, lint clean, test green.
@Suite struct NewAndTestCommandTests {
    static let root = #filePath.replacingOccurrences(of: "Tests/TideCLITests/NewAndTestCommandTests.swift", with: "")

    @Test func aNewIntegrationLintsCleanAndPassesItsTest() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-new-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }

        let created = try await TideProcess.run(["new", "acme-tool"], directory: folder)
        #expect(created.status == 0, "\(created.stderr)")
        for file in ["integration.yml", ".port/resources/port-app-config.yml", ".port/resources/blueprints.json",
                     "fixtures/fixtures.yml", "tests/basic.yml"] {
            #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("acme-tool/" + file).path), "\(file)")
        }

        let lint = try await TideProcess.run(["lint", "--strict", "acme-tool"], directory: folder)
        #expect(lint.status == 0, "\(lint.stdout)")
        #expect(lint.lines == ["no problems"])

        let test = try await TideProcess.run(["test", "acme-tool"], directory: folder)
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)")
        #expect(test.stdout.contains("PASS items, both pages (3 entities, 2 requests"))
        #expect(test.lines.last == "1 of 1 case passed")

        // A second `new` into the same place refuses to overwrite it.
        let again = try await TideProcess.run(["new", "acme-tool"], directory: folder)
        #expect(again.status == 2)
    }

    @Test func aFailingCaseExitsOneAndJSONReportsIt() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-new-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        _ = try await TideProcess.run(["new", "demo", "--directory", folder.appendingPathComponent("demo").path])
        let test = folder.appendingPathComponent("demo/tests/basic.yml")
        let text = try String(contentsOf: test, encoding: .utf8).replacingOccurrences(of: "demoItem: 3", with: "demoItem: 4")
        try text.write(to: test, atomically: true, encoding: .utf8)

        let result = try await TideProcess.run(["test", "--format", "json", folder.appendingPathComponent("demo").path])
        #expect(result.status == 1)
        #expect(result.stdout.contains(#""status":"failed""#))
        #expect(result.stdout.contains("expected 4 demoItem entities, found 3"))
    }

    @Test func theShippedIntegrationsPass() async throws {
        let result = try await TideProcess.run(["test", Self.root + "integrations/github", Self.root + "integrations/pagerduty"])
        #expect(result.status == 0, "\(result.stdout)")
        #expect(!result.stdout.contains("FAIL"))
    }

    @Test func aBadNameIsAUsageError() async throws {
        let result = try await TideProcess.run(["new", "Bad_Name", "--directory", FileManager.default.temporaryDirectory.path + "/nope-\(UUID().uuidString)"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("is not a valid name"))
    }
}
