import ArgumentParser
import Foundation
import TideCatalog
import TideJQ
import TideRuntime

/// `tide catalog`: look into and edit the embedded catalog.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "Inspect the catalog (blueprints, entities), import into it and delete from it.",
        discussion: """
        The catalog is an SQLite file, by default .tide/catalog.sqlite in the current directory \
        (choose another with --catalog PATH), or a PostgreSQL database (--catalog \
        postgresql://USER@HOST:PORT/DB); TIDE_CATALOG gives either when --catalog is not given. \
        Reading commands never create it.

        Exit status: 0 on success, 1 when something asked for was not found or some entities \
        failed, 2 for usage errors and unusable files.
        """,
        subcommands: [
            CatalogBlueprintsCommand.self, CatalogEntitiesCommand.self, CatalogShowCommand.self,
            CatalogDeleteCommand.self, CatalogImportCommand.self,
        ]
    )
}

/// `--catalog PATH|URL`, shared by every `tide catalog` subcommand.
struct CatalogLocation: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp(
        "The catalog file (default: TIDE_CATALOG, else .tide/catalog.sqlite in the current directory), or a postgresql:// URL.",
        valueName: "PATH|URL"))
    var catalog: String?

    /// Opens the catalog, or reports why not on standard error and exits with status 2.
    func open(create: Bool) throws -> Catalog {
        do {
            if let location = catalog ?? OceanEnvironment.catalog(in: ProcessInfo.processInfo.environment) {
                return try Catalog.open(location, create: create)
            }
            let here = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
            return try Catalog.openDefault(in: here, create: create)
        } catch {
            Terminal.error("error: \(error.description)")
            throw ExitCode(2)
        }
    }
}

/// Reports a catalog failure after opening (disk full, locked…) and exits with status 2.
func catalogFailure(_ error: CatalogError) -> ExitCode {
    Terminal.error("error: \(error.description)")
    return ExitCode(2)
}

struct CatalogBlueprintsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "blueprints",
        abstract: "List blueprints with their entity counts.",
        discussion: "Stored blueprint definitions and blueprints that only have entities, by identifier."
    )

    @OptionGroup var location: CatalogLocation

    @Flag(name: .long, help: "Print a JSON array for tools instead of a table.")
    var json = false

    @OptionGroup var output: FormatOption

    mutating func validate() throws {
        if try output.isJSON(legacy: json, spelling: "--json") { json = true }
    }

    func run() throws {
        let catalog = try location.open(create: false)
        let summaries: [BlueprintSummary]
        do { summaries = try catalog.blueprints() } catch { throw catalogFailure(error) }
        if json {
            let items = summaries.map { summary in
                JSON(orderedObject: [
                    ("identifier", JSON(summary.identifier)),
                    ("title", summary.title.map { JSON($0) } ?? .null),
                    ("entityCount", JSON(summary.entityCount)),
                    ("defined", JSON(summary.isDefined)),
                ])
            }
            print(JSON(array: items).serialized())
            return
        }
        guard !summaries.isEmpty else {
            Terminal.error("The catalog \(catalog.path) has no blueprints and no entities.")
            return
        }
        let rows = [["BLUEPRINT", "TITLE", "ENTITIES"]] + summaries.map {
            [$0.identifier, $0.title ?? ($0.isDefined ? "" : "(no definition)"), String($0.entityCount)]
        }
        let widths = (0..<2).map { column in rows.map { $0[column].count }.max() ?? 0 }
        let countWidth = rows.map { $0[2].count }.max() ?? 0
        for row in rows {
            let padded = (0..<2).map { row[$0] + String(repeating: " ", count: widths[$0] - row[$0].count) }
            let count = String(repeating: " ", count: countWidth - row[2].count) + row[2]
            print(padded.joined(separator: "  ") + "  " + count)
        }
    }
}

struct CatalogEntitiesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "entities",
        abstract: "Print entities as JSON lines, ordered by blueprint and identifier.",
        discussion: """
        Each line is one entity in Port's shape: identifier, title, icon, team, blueprint, \
        properties, relations, createdAt, updatedAt, $datasource.
        """
    )

    @OptionGroup var location: CatalogLocation

    @Option(name: .long, help: ArgumentHelp("Only entities of this blueprint.", valueName: "BLUEPRINT"))
    var blueprint: String?

    @Option(name: .long, help: ArgumentHelp("Print at most N entities.", valueName: "N"))
    var limit: Int?

    @Option(name: .long, help: ArgumentHelp("Skip the first N entities.", valueName: "N"))
    var offset: Int = 0

    func validate() throws {
        if let limit, limit < 0 { throw ValidationError("--limit must be 0 or more") }
        if offset < 0 { throw ValidationError("--offset must be 0 or more") }
    }

    func run() throws {
        let catalog = try location.open(create: false)
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        do {
            try catalog.forEachEntity(blueprint: blueprint, limit: limit, offset: offset) { output.writeLine($0.jsonText) }
        } catch { throw catalogFailure(error) }
        output.flush()
    }
}

struct CatalogShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print one entity as pretty JSON.",
        discussion: "Exits with status 1 when the catalog has no such entity."
    )

    @OptionGroup var location: CatalogLocation

    @Argument(help: "The entity's blueprint.")
    var blueprint: String

    @Argument(help: "The entity's identifier.")
    var identifier: String

    func run() throws {
        let catalog = try location.open(create: false)
        let found: StoredEntity?
        do { found = try catalog.entity(blueprint: blueprint, identifier: identifier) } catch { throw catalogFailure(error) }
        guard let found else {
            Terminal.error("error: \(catalog.path): no entity \"\(identifier)\" of blueprint \"\(blueprint)\"; "
                           + "list them with `tide catalog entities --blueprint \(blueprint)`")
            throw ExitCode(1)
        }
        let text = found.jsonText
        print((try? JSON(parsing: text).prettyPrinted()) ?? text)
    }
}

struct CatalogDeleteCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete",
        abstract: "Delete some or all entities of a blueprint.",
        discussion: """
        Name the identifiers to delete, or pass --all for every entity of the blueprint (its \
        definition stays). Prints how many were deleted; exits with status 1 when some named \
        entities did not exist.
        """
    )

    @OptionGroup var location: CatalogLocation

    @Argument(help: "The blueprint whose entities to delete.")
    var blueprint: String

    @Argument(help: "Identifiers of the entities to delete.")
    var identifiers: [String] = []

    @Flag(name: .long, help: "Delete every entity of the blueprint.")
    var all = false

    func run() throws {
        guard all != !identifiers.isEmpty else {
            Terminal.error(all
                ? "error: pass either identifiers or --all, not both"
                : "error: name the identifiers to delete, or pass --all to delete every entity of \(blueprint)")
            throw ExitCode(2)
        }
        let catalog = try location.open(create: false)
        let deleted: Int
        do {
            deleted = all
                ? try catalog.deleteAllEntities(blueprint: blueprint)
                : try catalog.deleteEntities(blueprint: blueprint, identifiers: Array(Set(identifiers)))
        } catch { throw catalogFailure(error) }
        if all {
            print("Deleted \(deleted) \(deleted == 1 ? "entity" : "entities") of blueprint \(blueprint).")
            return
        }
        let named = Set(identifiers).count
        print("Deleted \(deleted) of \(named) named \(named == 1 ? "entity" : "entities") of blueprint \(blueprint).")
        if deleted < named { throw ExitCode(1) }
    }
}
