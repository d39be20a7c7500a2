import ArgumentParser
import Foundation
import TideCore

/// `tide`: run data integrations written in YAML.
@available(macOS 10.15, *)
public struct TideCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tide",
        abstract: "Run data integrations written in YAML into a Port catalog.",
        version: TideVersion.current,
        subcommands: [RunCommand.self, MapCommand.self, CatalogCommand.self, LintCommand.self, SchemaCommand.self, TestCommand.self, RecordCommand.self, NewCommand.self, DocsCommand.self]
    )
    public init() {}
}

extension TideCommand {
    /// Parses the command line and runs the chosen command, async or not.
    /// (`main()` from an executable's top-level code resolves to the synchronous overload.)
    public static func runFromCommandLine() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            // Usage errors exit 2, as every command's help says (argument-parser's own is 64).
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
