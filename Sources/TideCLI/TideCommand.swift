import ArgumentParser

/// `tide`: run data integrations written in YAML.
public struct TideCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tide",
        abstract: "Run data integrations written in YAML into a Port catalog.",
        subcommands: [MapCommand.self, CatalogCommand.self]
    )
    public init() {}
}
