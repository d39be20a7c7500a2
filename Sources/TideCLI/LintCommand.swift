import ArgumentParser
import Foundation
import TideCore
import TideJQ
import TideLint

/// `tide lint PATH…`: every finding about integrations that can be known without the network.
struct LintCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lint",
        abstract: "Check integrations without running them: YAML, keys and types, jq, references, blueprints, pagination.",
        discussion: """
        PATH is an integration directory, an integration.yml or port-app-config file, or DIR/... for \
        every integration below DIR. Findings go to standard output as file:line:col: error|warning: \
        message [rule-id], sorted, then a count; --format json prints one JSON object instead.

        Exit status: 0 when clean, 1 with errors (or warnings with --strict), 2 for unusable paths \
        or options. The rules are listed in docs/lint.md.
        """
    )

    @Option(name: .long, help: ArgumentHelp("Output: text or json.", valueName: "FORMAT"))
    var format: String = "text"

    @Flag(name: .long, help: "Fail (exit 1) on warnings too.")
    var strict = false

    // Unrecognized options land here too, so they are usage errors with status 2 like bad paths.
    @Argument(parsing: .allUnrecognized, help: ArgumentHelp("Integration directories, files, or DIR/...", valueName: "PATH"))
    var paths: [String] = []

    func run() throws {
        guard format == "text" || format == "json" else { throw usage("--format must be text or json, not \"\(format)\"") }
        if let option = paths.first(where: { $0.hasPrefix("-") && $0 != "-" }) { throw usage("unknown option \(option)") }
        guard !paths.isEmpty else { throw usage("give at least one PATH (an integration directory, a file, or DIR/...)") }
        let diagnostics: [Diagnostic]
        do { diagnostics = try Linter.lint(paths: paths) } catch { throw usage(error.message) }

        let errors = diagnostics.filter { $0.severity == .error }.count
        let warnings = diagnostics.filter { $0.severity == .warning }.count
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        if format == "json" {
            output.writeLine(Self.json(diagnostics, errors: errors, warnings: warnings).serialized())
        } else {
            for diagnostic in diagnostics { output.writeLine(diagnostic.description) }
            output.writeLine(Self.summary(errors: errors, warnings: warnings))
        }
        output.flush()
        if diagnostics.contains(where: { $0.rule == LintRule.io }) { throw ExitCode(2) }
        if errors > 0 || (strict && warnings > 0) { throw ExitCode(1) }
    }

    private func usage(_ message: String) -> ExitCode {
        Terminal.error("tide lint: \(message)")
        return ExitCode(2)
    }

    static func summary(errors: Int, warnings: Int) -> String {
        if errors == 0 && warnings == 0 { return "no problems" }
        func count(_ n: Int, _ word: String) -> String { "\(n) \(word)\(n == 1 ? "" : "s")" }
        return "\(count(errors, "error")), \(count(warnings, "warning"))"
    }

    /// `{"diagnostics": [{file, line, column, severity, rule, message, hint?}], "errors": n, "warnings": n}`.
    static func json(_ diagnostics: [Diagnostic], errors: Int, warnings: Int) -> JSON {
        let items = diagnostics.map { diagnostic -> JSON in
            var pairs: [(String, JSON)] = []
            if let location = diagnostic.location {
                pairs += [("file", JSON(location.file)), ("line", JSON(location.line)), ("column", JSON(location.column))]
            }
            pairs += [("severity", JSON(diagnostic.severity.rawValue)), ("rule", JSON(diagnostic.rule)),
                      ("message", JSON(diagnostic.message))]
            if let hint = diagnostic.hint { pairs.append(("hint", JSON(hint))) }
            return JSON(orderedObject: pairs)
        }
        return JSON(orderedObject: [("diagnostics", JSON(array: items)), ("errors", JSON(errors)), ("warnings", JSON(warnings))])
    }
}
