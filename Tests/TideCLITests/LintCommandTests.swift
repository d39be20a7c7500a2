import Foundation
import Testing
import TideTesting

/// `tide lint` and `tide schema` as a user runs them: the real binary, output format, exit codes.
@Suite struct LintCommandTests {
    static let root = #filePath.replacingOccurrences(of: "Tests/TideCLITests/LintCommandTests.swift", with: "")
    static let corpus = root + "Tests/TideLintTests/Corpus"

    /// A throwaway integration whose only finding is a warning (a secret in the URL).
    func warningOnlyIntegration() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-lint-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
        name: warned
        configuration:
          - {name: token, sensitive: true}
        http:
          baseUrl: https://example.com
        kinds:
          item:
            request:
              path: /items
              query: {key: "{{ .config.token }}"}
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        return folder.path
    }

    @Test func theShippedIntegrationsAreCleanWithStatusZero() async throws {
        let result = try await TideProcess.run(["lint", Self.root + "integrations/..."])
        #expect(result.status == 0)
        #expect(result.lines == ["no problems"])
    }

    @Test func findingsArePrintedSortedInCompilerFormatThenCountedWithStatusOne() async throws {
        let result = try await TideProcess.run(["lint", "references"], directory: URL(fileURLWithPath: Self.corpus))
        #expect(result.status == 1)
        let findings = result.lines.filter { !$0.hasPrefix("  hint:") }
        #expect(findings.first == #"references/.port/resources/port-app-config.yml:2:11: error: resources[0].kind "projects" is not a kind of this integration (did you mean "project"?); it defines project, issue, loopA, loopB, whole [unknown-kind]"#)
        #expect(findings.contains(#"references/integration.yml:22:18: warning: kinds.project.request.query.key puts the sensitive setting "apiToken" into the URL, where proxies and server logs keep it [sensitive-in-url]"#))
        #expect(findings.last == "10 errors, 1 warning")
        let pattern = #/^references/[^:]+:\d+:\d+: (error|warning): .+ \[[a-z-]+\]$/#
        #expect(findings.dropLast().allSatisfy { $0.wholeMatch(of: pattern) != nil })
    }

    @Test func warningsPassUnlessStrict() async throws {
        let directory = try warningOnlyIntegration()
        let relaxed = try await TideProcess.run(["lint", directory])
        #expect(relaxed.status == 0)
        #expect(relaxed.lines.last == "0 errors, 1 warning")
        let strict = try await TideProcess.run(["lint", "--strict", directory])
        #expect(strict.status == 1)
    }

    @Test func jsonFormatForEditorsAndCI() async throws {
        let result = try await TideProcess.run(["lint", "--format", "json", Self.corpus + "/syntax"])
        #expect(result.status == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(object["errors"] as? Int == 1 && object["warnings"] as? Int == 0)
        let first = try #require((object["diagnostics"] as? [[String: Any]])?.first)
        #expect(first["file"] as? String == Self.corpus + "/syntax/integration.yml")
        #expect(first["line"] as? Int == 5 && first["column"] as? Int == 1)
        #expect(first["severity"] as? String == "error" && first["rule"] as? String == "yaml-syntax")
    }

    @Test(arguments: [["lint", "/nonexistent/dir"], ["lint"], ["lint", "--format", "xml", "."], ["lint", "--bogus", "."]])
    func unusablePathsAndOptionsExitWithTwo(arguments: [String]) async throws {
        let result = try await TideProcess.run(arguments)
        #expect(result.status == 2)
        #expect(result.stderr.hasPrefix("tide lint: "))
    }

    @Test func aDirectoryWithoutAnIntegrationSuggestsTheEllipsis() async throws {
        let result = try await TideProcess.run(["lint", Self.corpus])
        #expect(result.status == 2)
        #expect(result.stderr.contains("write \(Self.corpus)/..."))
    }

    @Test(arguments: ["integration", "port-app-config"])
    func schemaPrintsTheCommittedFile(name: String) async throws {
        let result = try await TideProcess.run(["schema", name])
        #expect(result.status == 0)
        #expect(result.stdout == (try String(contentsOfFile: Self.root + "schemas/\(name).schema.json", encoding: .utf8)))
    }
}
