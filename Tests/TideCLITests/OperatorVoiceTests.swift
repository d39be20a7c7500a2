import Foundation
import Testing
import TideCore
import TideTesting

/// Issue #14: one voice for operators. `--version`, usage errors, `--format json` everywhere JSON
/// exists, JSON logs in Elastic Common Schema's names, `--log-level`. The real binary throughout.
@Suite struct OperatorVoiceTests {
    static let jira = RunCommandTests.jira

    let folder: URL
    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-voice-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    var catalog: String { folder.appendingPathComponent("catalog.sqlite").path }

    /// Every stderr line as a JSON object; a line that is not one fails the test and is left out.
    static func jsonLines(_ stderr: String) -> [[String: Any]] {
        stderr.split(separator: "\n").compactMap { line in
            let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            if object == nil { Issue.record("not a JSON object: \(line)") }
            return object
        }
    }

    @Test func versionIsTheOneInTideCore() async throws {
        let result = try await TideProcess.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout == TideVersion.current + "\n")
    }

    @Test func usageErrorsExitTwoNeverSixtyFour() async throws {
        let cases: [[String]] = [
            ["run"],                                              // missing DIR
            ["run", Self.jira, "--log-level", "loud"],            // not a level
            ["run", Self.jira, "--format", "yaml"],               // not a format
            ["run", Self.jira, "--format", "text", "--log-format", "json"],  // a contradiction
            ["run", Self.jira, "--config", "novalue", "--catalog", catalog],
            ["map", "--kind", "issue"],
            ["catalog", "blueprints", "--nope"],
            ["catalog", "blueprints", "--format", "text", "--json"],
            ["nonsense"],
        ]
        var compared = 0
        for arguments in cases {
            let result = try await TideProcess.run(arguments)
            #expect(result.status == 2, "\(arguments): \(result.status) \(result.stderr)")
            #expect(!result.stderr.isEmpty, "\(arguments) said nothing")
            compared += 1
        }
        #expect(compared == cases.count)
        #expect(!FileManager.default.fileExists(atPath: catalog))
    }

    @Test func jsonLogsAreECSLinesWithFieldsAndNoSecret() async throws {
        let secret = "tok-\(UUID().uuidString)"
        let result = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog, "--log-format", "json",
                                                "--config", "atlassianUserToken=\(secret)"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains(secret))
        let rawLines = result.stderr.split(separator: "\n")
        let lines = Self.jsonLines(result.stderr)
        #expect(lines.count == rawLines.count)
        // replaying, then per kind (3) a start and an end line, the issue kind's progress every 20
        // of its 117 pages (one per project partition, NW's two), then the summary: 3 kinds and the resync.
        let expected = 1 + 3 * 2 + 117 / 20 + 3 + 1
        #expect(lines.count == expected, "\(result.stderr)")
        let millisecond = #/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/#
        for line in lines {
            let timestamp = line["@timestamp"] as? String ?? ""
            #expect(timestamp.wholeMatch(of: millisecond) != nil, "\(timestamp)")
            #expect(["info", "warning", "error", "notice"].contains(line["log.level"] as? String ?? ""))
            #expect(!(line["message"] as? String ?? "").isEmpty)
            #expect((line["log.logger"] as? String ?? "").hasPrefix("tide"))
            #expect(line["ecs.version"] as? String == "8.11.0")
            #expect(line["service.version"] as? String == TideVersion.current)
        }
        // Per kind: the kind, its resource index and the counts as numbers, not inside the message.
        // Resources are fetched side by side, so they finish in any order.
        let ends = lines.filter { $0["log.logger"] as? String == "tide.resync" && $0["tide.pages"] != nil }
            .sorted { ($0["tide.resource"] as? Int ?? -1) < ($1["tide.resource"] as? Int ?? -1) }
        #expect(ends.map { $0["tide.kind"] as? String } == ["project", "user", "issue"])
        #expect(ends.map { $0["tide.resource"] as? Int } == [0, 1, 2])
        #expect(ends.allSatisfy { ($0["tide.records"] as? Int ?? 0) > 10 && $0["tide.errors"] as? Int == 0 })
        #expect(ends.allSatisfy { ($0["event.duration"] as? Int ?? 0) > 0 })
        let summary = lines.filter { $0["log.logger"] as? String == "tide.summary" }
        #expect(summary.count == 4)
        let total = try #require(summary.last)
        #expect(total["event.outcome"] as? String == "success")
        #expect(total["tide.kinds"] as? Int == 3)
        #expect(total["tide.entities"] as? Int == ends.reduce(0) { $0 + ($1["tide.entities"] as? Int ?? 0) })
        #expect(total["tide.reconciliation"] as? String == "nothing_stale")
        #expect(total["tide.catalog"] as? String == catalog)
        #expect((total["message"] as? String ?? "").contains("Resync completed"))

        // --format json is the same switch.
        let again = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog, "--format", "json"])
        #expect(again.status == 0)
        #expect(Self.jsonLines(again.stderr).count == lines.count)
    }

    @Test func aFailedRequestIsLoggedWithMethodURLAndPageAsFields() async throws {
        let secret = "tok-\(UUID().uuidString)"
        // Port 9 (discard) is closed on loopback: every request fails to connect.
        let result = try await TideProcess.run(["run", Self.jira, "--catalog", catalog, "--log-format", "json",
                                                "--config", "jiraHost=http://127.0.0.1:9", "--config", "atlassianUserEmail=a@b.c",
                                                "--config", "atlassianUserToken=\(secret)"])
        #expect(result.status == 1)
        #expect(!result.stderr.contains(secret))
        let lines = Self.jsonLines(result.stderr)
        #expect(lines.count == result.stderr.split(separator: "\n").count)
        let failed = lines.filter { $0["log.level"] as? String == "error" && $0["http.request.method"] != nil }
        // Each kind fails: its end line and its summary line.
        #expect(failed.count == 6, "\(result.stderr)")
        // Projects and users are listed with GET; issues are read per project, so the first request
        // of the issue kind is the project list (GET) that gives its partitions.
        #expect(failed.map { $0["http.request.method"] as? String } == ["GET", "GET", "GET", "GET", "GET", "GET"])
        #expect(failed.filter { ($0["error.message"] as? String ?? "").contains("(partitions of \"issue\")") }.count == 2)
        #expect(failed.allSatisfy { ($0["url.full"] as? String ?? "").hasPrefix("http://127.0.0.1:9/rest/api/") })
        #expect(failed.allSatisfy { $0["tide.page"] as? Int == 1 })
        #expect(failed.allSatisfy { ($0["error.message"] as? String ?? "").contains("connection failed") })
        let total = try #require(lines.last)
        #expect(total["event.outcome"] as? String == "failure")
        #expect(total["tide.reconciliation"] as? String == "skipped_after_errors")
    }

    @Test func findingsOfTheFirstChecksAreJSONToo() async throws {
        // An integration whose mapping names an undeclared selector field: a lint error, before any request.
        let directory = folder.appendingPathComponent("broken").path
        try FileManager.default.copyItem(atPath: Self.jira, toPath: directory)
        let config = directory + "/.port/resources/port-app-config.yml"
        let text = try String(contentsOfFile: config, encoding: .utf8)
        try text.replacingOccurrences(of: "identifier: .key", with: "identifier: .key | ]]")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let result = try await TideProcess.run(["run", directory, "--catalog", catalog, "--log-format", "json"])
        #expect(result.status == 2)
        let lines = Self.jsonLines(result.stderr)
        #expect(lines.count == result.stderr.split(separator: "\n").count)
        let findings = lines.filter { $0["log.logger"] as? String == "tide.lint" && $0["log.level"] as? String == "error" }
        #expect(!findings.isEmpty, "\(result.stderr)")
        #expect(findings.allSatisfy { ($0["file.path"] as? String ?? "").hasSuffix("port-app-config.yml") && ($0["tide.line"] as? Int ?? 0) > 0 })
        #expect(findings.allSatisfy { $0["tide.rule"] as? String == "jq-compile" })
        #expect(lines.last?["message"] as? String == "tide run: fix the errors above first (`tide lint \(directory)` lists them)")
    }

    @Test func logLevelFlagThenEnvironmentThenInfo() async throws {
        func run(_ extra: [String], environment: [String: String] = [:]) async throws -> (progress: Int, summary: Int) {
            let result = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog, "--log-format", "json"] + extra,
                                                   environment: environment)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = Self.jsonLines(result.stderr)
            return (lines.filter { $0["log.logger"] as? String == "tide.resync" }.count,
                    lines.filter { $0["log.logger"] as? String == "tide.summary" }.count)
        }
        let byDefault = try await run([])
        let warning = try await run(["--log-level", "warning"])
        let fromEnvironment = try await run([], environment: ["TIDE_LOG_LEVEL": "error"])
        let flagWins = try await run(["--log-level", "info"], environment: ["TIDE_LOG_LEVEL": "error"])
        // Per kind a start and an end line, and the issue kind's progress every 20 of its 117 pages.
        let progress = 3 * 2 + 117 / 20
        #expect(byDefault.progress == progress)
        #expect(warning.progress == 0)
        #expect(fromEnvironment.progress == 0)
        #expect(flagWins.progress == progress)
        // The summary is the command's answer, not a log line: always there.
        #expect([byDefault, warning, fromEnvironment, flagWins].allSatisfy { $0.summary == 4 })
    }

    @Test func formatJSONIsAcceptedBesideTheOlderSpellings() async throws {
        let mapping = folder.appendingPathComponent("port-app-config.yml").path
        try """
        resources:
          - kind: issue
            selector:
              query: 'true'
            port:
              entity:
                mappings:
                  identifier: .key
                  blueprint: '"jiraIssue"'
        """.write(toFile: mapping, atomically: true, encoding: .utf8)
        let raw = folder.appendingPathComponent("raw.json").path
        try #"[{"key": "A"}, {"key": "B"}]"#.write(toFile: raw, atomically: true, encoding: .utf8)
        let report = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--report", "json", raw])
        let format = try await TideProcess.run(["map", "--mapping", mapping, "--kind", "issue", "--format", "json", raw])
        #expect(report.status == 0 && format.status == 0)
        #expect(format.stdout == report.stdout && format.lines.count == 2)
        let object = try JSONSerialization.jsonObject(with: Data(format.stderr.utf8)) as? [String: Any]
        #expect(object?["entities"] as? Int == 2)
        #expect(format.stderr == report.stderr)

        let seeded = try await TideProcess.run(["run", Self.jira, "--replay", "--catalog", catalog])
        #expect(seeded.status == 0)
        let json = try await TideProcess.run(["catalog", "blueprints", "--catalog", catalog, "--json"])
        let formatted = try await TideProcess.run(["catalog", "blueprints", "--catalog", catalog, "--format", "json"])
        let text = try await TideProcess.run(["catalog", "blueprints", "--catalog", catalog, "--format", "text"])
        #expect(json.status == 0 && formatted.status == 0 && text.status == 0)
        #expect(formatted.stdout == json.stdout)
        #expect((try JSONSerialization.jsonObject(with: Data(formatted.stdout.utf8)) as? [Any])?.count == 3)
        #expect(text.stdout.hasPrefix("BLUEPRINT"))
    }
}
