import ArgumentParser

/// `tide catalog`: look into and edit the embedded catalog.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Inspect the embedded catalog (blueprints, entities) and delete from it."
    )
}
