import ArgumentParser

/// `tide map`: run one port-app-config resource's mapping over raw records.
struct MapCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Map raw records to Port entities with a port-app-config.yml, as Ocean would."
    )
}
