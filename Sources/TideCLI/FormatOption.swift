import ArgumentParser

/// `--format text|json`: one spelling every command with JSON output accepts. The older ones
/// (`tide map --report json`, `tide catalog blueprints --json`, `tide run --log-format json`) stay,
/// as scripts use them; `tide lint` and `tide test` had `--format` from the start.
struct FormatOption: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("text or json; the same as this command's older JSON option, which stays.", valueName: "FORMAT"))
    var format: OutputFormat?

    enum OutputFormat: String, ExpressibleByArgument, Sendable { case text, json }

    /// Whether JSON was asked for, by `--format` or by the older `spelling` (`legacy`). `--format
    /// text` next to the older JSON option is a contradiction, so a usage error (exit 2).
    func isJSON(legacy: Bool, spelling: String) throws -> Bool {
        guard let format else { return legacy }
        if format == .text, legacy { throw ValidationError("--format text contradicts \(spelling)") }
        return format == .json || legacy
    }
}
