import ArgumentParser
import Foundation
import TideJQ
import TideCatalog
import TideLint
import TideRuntime
import TideReplay
import TideTestRunner

/// `tide test DIR…`: an integration's YAML test cases, each a real resync against fixtures.
struct TestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Run an integration's test cases (DIR/tests/*.yml) against loopback fixture servers.",
        discussion: """
        DIR is an integration directory, a case file (DIR/tests/NAME.yml), or DIR/... for every \
        integration below DIR. Each case resyncs the integration with the real engine into a temporary \
        catalog while its fixtures stand in for the API, then checks the entities, counts and errors it \
        expects. A request no fixture matches, or a fixture never requested, fails the case.

        With --catalog postgresql://… (or TIDE_CATALOG set to such a URL), each case's catalog is \
        a throwaway schema in that database instead of a scratch SQLite file, so the cases check the \
        PostgreSQL catalog; the schemas are dropped after their case.

        Exit status: 0 when every case passed, 1 when some failed, 2 for unusable input (an integration \
        that does not load, an invalid case file, no cases). The format is in docs/reference.md.
        """
    )

    @Option(name: .long, help: ArgumentHelp("Output: text or json.", valueName: "FORMAT"))
    var format: String = "text"

    @Option(name: .long, help: ArgumentHelp("A postgresql:// URL: run each case in a throwaway schema there (default: TIDE_CATALOG when it is such a URL, else a scratch SQLite file per case).", valueName: "URL"))
    var catalog: String?

    @Argument(help: ArgumentHelp("Integration directories, case files, or DIR/...", valueName: "DIR"))
    var paths: [String] = []

    func run() async throws {
        guard format == "text" || format == "json" else { throw usage("--format must be text or json, not \"\(format)\"") }
        guard !paths.isEmpty else { throw usage("give at least one DIR (an integration directory, a case file, or DIR/...)") }
        // A file path would be one catalog shared by every case; each case needs its own.
        if let catalog, !Catalog.isPostgreSQL(catalog) {
            throw usage("--catalog takes a postgresql:// URL (each case gets a scratch catalog of its own), not \(catalog)")
        }
        let postgreSQL = (catalog ?? OceanEnvironment.catalog(in: ProcessInfo.processInfo.environment)).flatMap(PostgreSQLURL.init)
        var targets: [(directory: String, files: [String]?)] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            if path == "..." || path.hasSuffix("/...") {
                let base = path == "..." ? "." : String(path.dropLast(4))
                let found = Linter.integrations(below: base)
                if found.isEmpty { throw usage("no integration (a directory with integration.yml) below \(base)") }
                // Below DIR/..., an integration without cases is noted, not an error, so one
                // command covers a tree where some integrations have no tests yet.
                for directory in found {
                    if TestCase.files(in: directory).isEmpty {
                        Terminal.error("tide test: skipping \(directory): no test cases (tests/*.yml)")
                    } else {
                        targets.append((directory, nil))
                    }
                }
            } else if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue {
                // A case file: its integration is the folder above tests/.
                let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
                targets.append((folder.deletingLastPathComponent().path, [path]))
            } else if isDirectory.boolValue {
                targets.append((path, nil))
            } else {
                throw usage("\(path) does not exist")
            }
        }
        if targets.isEmpty { throw usage("no integration with test cases (tests/*.yml) was found") }

        var reports: [IntegrationTestReport] = []
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        for target in targets {
            let report = await TestRunner.run(directory: target.directory, caseFiles: target.files, postgreSQL: postgreSQL)
            reports.append(report)
            if format == "text" {
                for line in Self.text(report) { output.writeLine(line) }
                output.flush()
            }
        }
        let cases = reports.flatMap(\.cases)
        let passed = cases.filter(\.passed).count
        if format == "json" {
            output.writeLine(Self.json(reports).serialized())
        } else {
            output.writeLine("\(passed) of \(cases.count) case\(cases.count == 1 ? "" : "s") passed"
                + (reports.contains { $0.error != nil } ? "; some integrations could not be tested" : ""))
        }
        output.flush()
        if reports.contains(where: { !$0.isUsable }) { throw ExitCode(2) }
        if passed < cases.count { throw ExitCode(1) }
    }

    private func usage(_ message: String) -> ExitCode {
        Terminal.error("tide test: \(message)")
        return ExitCode(2)
    }

    static func text(_ report: IntegrationTestReport) -> [String] {
        var lines = [report.directory]
        if let error = report.error {
            lines.append("  error: " + error.replacingOccurrences(of: "\n", with: "\n  "))
            return lines
        }
        for result in report.cases {
            let mark = switch result.status {
            case .passed: "PASS"
            case .failed: "FAIL"
            case .invalid: "INVALID"
            }
            let events = result.eventCount > 0 ? ", \(result.eventCount) webhook event\(result.eventCount == 1 ? "" : "s")" : ""
            lines.append("  \(mark) \(result.name) (\(result.entityCount) entities, \(result.requestCount) requests\(events), \(milliseconds(result.elapsed)) ms)")
            for failure in result.failures {
                lines.append("    " + failure.replacingOccurrences(of: "\n", with: "\n    "))
            }
            for note in result.notes { lines.append("    note: " + note) }
        }
        for event in report.untestedWebhookEvents { lines.append("  note: no case sends an event for \(event)") }
        return lines
    }

    static func milliseconds(_ duration: Duration) -> Int {
        Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
    }

    /// `{"integrations": [{directory, error?, untestedWebhookEvents?, cases: [{name, file, status, failures, notes, kinds, entities, requests, events}]}], "passed": n, "failed": n}`.
    static func json(_ reports: [IntegrationTestReport]) -> JSON {
        let items = reports.map { report -> JSON in
            var pairs: [(String, JSON)] = [("directory", JSON(report.directory))]
            if let error = report.error { pairs.append(("error", JSON(error))) }
            if !report.untestedWebhookEvents.isEmpty {
                pairs.append(("untestedWebhookEvents", JSON(array: report.untestedWebhookEvents.map { JSON($0) })))
            }
            pairs.append(("cases", JSON(array: report.cases.map { result in
                JSON(orderedObject: [
                    ("name", JSON(result.name)), ("file", JSON(result.file)), ("status", JSON(result.status.rawValue)),
                    ("failures", JSON(array: result.failures.map { JSON($0) })),
                    ("notes", JSON(array: result.notes.map { JSON($0) })),
                    ("kinds", JSON(array: result.kinds.map { JSON($0) })),
                    ("entities", JSON(result.entityCount)), ("requests", JSON(result.requestCount)),
                    ("events", JSON(result.eventCount)),
                ])
            })))
            return JSON(orderedObject: pairs)
        }
        let cases = reports.flatMap(\.cases)
        return JSON(orderedObject: [("integrations", JSON(array: items)),
                                    ("passed", JSON(cases.filter(\.passed).count)),
                                    ("failed", JSON(cases.filter { !$0.passed }.count))])
    }
}
