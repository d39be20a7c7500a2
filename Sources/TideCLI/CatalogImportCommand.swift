import ArgumentParser
import Foundation
import TideCatalog
import TideJQ
import TideModel

/// `tide catalog import`: upsert entities from JSON lines (what `tide map` prints), one
/// transaction per batch, so an interrupted import leaves only whole batches behind.
struct CatalogImportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Upsert entities from JSON lines (the output of `tide map`) into the catalog.",
        discussion: """
        Each input value is an entity object: {"identifier", "blueprint", "title", "icon", "team", \
        "properties", "relations"}; only identifier is required (blueprint may come from --blueprint). \
        Entities are merged into existing ones as Port does with merge=true, unless --replace.

        Every batch is one transaction: if the import is interrupted, the catalog holds every \
        batch committed before it, whole, and nothing of the batch in flight. Creates the catalog \
        (and .tide/) when missing. A summary goes to standard error; exits with status 1 when \
        some entities failed, 2 when the input cannot be read or parsed.
        """
    )

    /// Entities imported by hand belong to no Ocean installation, so no resync ever deletes them.
    static let defaultDatasource = "tide-catalog-import"

    @OptionGroup var location: CatalogLocation

    @Option(name: .long, help: ArgumentHelp("Blueprint for entities that name none.", valueName: "BLUEPRINT"))
    var blueprint: String?

    @Option(name: .long, help: ArgumentHelp("Entities per transaction.", valueName: "N"))
    var batchSize: Int = 500

    @Option(name: .long, help: ArgumentHelp(
        "The writer recorded as the entities' $datasource, e.g. port-ocean/jira/0.1.0/my-jira/exporter.",
        valueName: "UA"))
    var datasource: String = CatalogImportCommand.defaultDatasource

    @Flag(name: .long, help: "Replace existing entities entirely instead of merging into them (Port's merge=false).")
    var replace = false

    @Argument(help: ArgumentHelp("JSON lines of entities, or - for standard input.", valueName: "FILE"))
    var file: String

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
    }

    func run() throws {
        let input = try InputFile(file, what: "input file")
        // Only the descriptor is used below: keep the file open until the command ends.
        defer { withExtendedLifetime(input) {} }
        let descriptor = input.descriptor
        let inputName = input.name

        let catalog = try location.open(create: true)
        let stream = JSONStream(descriptor: descriptor)
        var tally = Tally()
        var batch: [Entity] = []
        var positions: [Int] = []  // the input value number of each batch entity, for messages
        batch.reserveCapacity(batchSize)

        func flush() throws {
            guard !batch.isEmpty else { return }
            let results: [UpsertResult]
            do {
                results = try catalog.upsert(batch, datasource: datasource, merge: !replace)
            } catch { throw catalogFailure(error) }
            for result in results { tally.record(result, value: positions[result.index], input: inputName) }
            batch.removeAll(keepingCapacity: true)
            positions.removeAll(keepingCapacity: true)
        }

        var inputError: String?
        while true {
            let value: JSON?
            do { value = try stream.next() } catch {
                inputError = "\(inputName): \(error.description)"
                break
            }
            guard let value else { break }
            switch entity(from: value) {
            case .success(let entity):
                batch.append(entity)
                positions.append(stream.count)
                if batch.count >= batchSize { try flush() }
            case .failure(let problem):
                tally.fail("\(inputName): value \(stream.count): \(problem.message)")
            }
        }
        // The values read before a syntax error are good; keep them.
        try flush()

        Terminal.error("Imported into \(catalog.path): \(tally.created) created, \(tally.updated) updated, \(tally.failed) failed.")
        if let inputError {
            Terminal.error("error: \(inputError)")
            throw ExitCode(2)
        }
        if tally.failed > 0 { throw ExitCode(1) }
    }

    struct Problem: Error { var message: String }

    /// An entity from one input object; fields are kept as JSON text, as the catalog stores them.
    func entity(from value: JSON) -> Result<Entity, Problem> {
        guard value.kind == .object else { return .failure(Problem(message: "expected an entity object, got \(value.kind)")) }
        guard let identifier = value["identifier"], !identifier.isNull else {
            return .failure(Problem(message: "the entity has no \"identifier\""))
        }
        guard let blueprint = value["blueprint"]?.stringValue ?? self.blueprint else {
            return .failure(Problem(message: "the entity has no \"blueprint\"; pass --blueprint BLUEPRINT"))
        }
        func field(_ name: String) -> RawJSON? { value[name].map { RawJSON($0) } }
        return .success(Entity(identifier: RawJSON(identifier), blueprint: blueprint, title: field("title"),
                               icon: field("icon"), team: field("team"), properties: field("properties"),
                               relations: field("relations")))
    }

    /// Counts, and the first failures word for word (a bad mapping fails every entity alike).
    struct Tally {
        var created = 0, updated = 0, failed = 0
        static let shownFailures = 20

        mutating func record(_ result: UpsertResult, value: Int, input: String) {
            for warning in result.warnings {
                Terminal.error("warning: \(input): value \(value) (\(result.blueprint)/\(result.identifier ?? "?")): \(warning)")
            }
            switch result.outcome {
            case .created: created += 1
            case .updated: updated += 1
            case .failed(let reason): fail("\(input): value \(value) (\(result.blueprint)): \(reason)")
            }
        }

        mutating func fail(_ message: String) {
            failed += 1
            if failed <= Tally.shownFailures { Terminal.error("error: \(message)") }
            if failed == Tally.shownFailures + 1 { Terminal.error("(further failures are only counted)") }
        }
    }
}
