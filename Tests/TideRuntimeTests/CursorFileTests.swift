import Foundation
import Testing
import TideModel
import TideRuntime

/// The cursor file that stands in for the catalog's cursor table when the sink is Port.
@Suite struct CursorFileTests {
    static func path() -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("tide-cursors-\(UUID().uuidString)/state.json").path
    }

    @Test func cursorsSurviveANewProcessPerInstallationAndSelector() async throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let prod = Datasource(integrationType: "jira", installationIdentifier: "prod")
        let staging = Datasource(integrationType: "jira", installationIdentifier: "staging")
        let t = Date(timeIntervalSince1970: 1_800_000_000.5)
        let file = CursorFile(path: path, datasource: prod)
        #expect(try await file.cursors(resource: "issue[2]", selector: "{}").isEmpty, "no file yet: no cursors")
        try await file.saveCursors(resource: "issue[2]", selector: "{}", runs: ["\"DATA\"", "\"NW\""], start: t)
        try await CursorFile(path: path, datasource: staging).saveCursors(resource: "issue[2]", selector: "{}", runs: ["\"OPS\""], start: t)
        // Read back through another instance, as the next process would.
        let again = CursorFile(path: path, datasource: prod)
        let read = try await again.cursors(resource: "issue[2]", selector: "{}")
        #expect(read.keys.sorted() == ["\"DATA\"", "\"NW\""])
        #expect(read["\"DATA\""] == Date(timeIntervalSince1970: 1_800_000_000.5))
        #expect(try await CursorFile(path: path, datasource: staging).cursors(resource: "issue[2]", selector: "{}").keys.sorted() == ["\"OPS\""])
        #expect(try await again.cursors(resource: "issue[2]", selector: #"{"jql":"x"}"#).isEmpty, "another selector")
        try await again.saveCursors(resource: "issue[2]", selector: #"{"jql":"x"}"#, runs: ["\"OPS\""], start: t)
        #expect(try await again.cursors(resource: "issue[2]", selector: "{}").isEmpty, "the old selector's cursors are replaced")
    }

    @Test func aFileThatIsNotACursorFileIsAnErrorNamingIt() async throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try "{\"not\": \"ours\"}".write(toFile: path, atomically: true, encoding: .utf8)
        let file = CursorFile(path: path, datasource: Datasource(integrationType: "jira", installationIdentifier: "prod"))
        var message = ""
        do { _ = try await file.cursors(resource: "issue[2]", selector: "{}") } catch { message = "\(error)" }
        #expect(message.contains(path) && message.contains("--state"), "\(message)")
        // Saving does not overwrite what is not ours either.
        do { try await file.saveCursors(resource: "issue[2]", selector: "{}", runs: [""], start: Date()) } catch { message = "\(error)" }
        #expect(try String(contentsOfFile: path, encoding: .utf8) == "{\"not\": \"ours\"}")
    }
}
