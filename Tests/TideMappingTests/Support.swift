import TideCore
import TideJQ
import TideModel
@testable import TideMapping

/// A port-app-config with one resource of kind `item`, from the YAML of its `port.entity.mappings`.
func config(mappings: String, query: String = "'true'", extraPort: String = "") throws -> PortAppConfig {
    let indented = mappings.split(separator: "\n", omittingEmptySubsequences: false)
        .map { "          " + $0 }.joined(separator: "\n")
    let text = """
    resources:
      - kind: item
        selector:
          query: \(query)
        port:
    \(extraPort.split(separator: "\n").map { "      " + $0 }.joined(separator: "\n"))
          entity:
            mappings:
    \(indented)
    """
    return try PortAppConfig.parse(text, file: "test.yml")
}

struct Mapped {
    var outcomes: [ItemOutcome] = []
    var report = MappingReport()

    var entities: [Entity] {
        outcomes.compactMap { if case .entity(let entity, _) = $0 { entity } else { nil } }
    }
    var lines: [String] { entities.map { $0.jsonText() } }
    var errors: [String] { outcomes.compactMap { if case .error(let message) = $0 { message } else { nil } } }
    var skipped: [String] { outcomes.compactMap { if case .skipped(let reason) = $0 { reason } else { nil } } }
    var filteredCount: Int { outcomes.filter { if case .filtered = $0 { true } else { false } }.count }

    /// The single entity's JSON, parsed, for field-by-field assertions.
    func only() throws -> JSON {
        guard entities.count == 1 else { throw TestFailure("expected one entity, got \(entities.count): \(outcomes)") }
        return try JSON(parsing: entities[0].jsonText())
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Maps raw JSON records (given as JSON texts) with the first resource of `config`.
func map(_ config: PortAppConfig, _ records: [String], options: MappingOptions = MappingOptions()) throws -> Mapped {
    let mapper = ResourceMapper(resource: config.resources[0], options: options)
    var mapped = Mapped()
    for record in records {
        mapper.map(record: try JSON(parsing: record), report: &mapped.report) { mapped.outcomes.append($0) }
    }
    return mapped
}

func json(_ text: String) throws -> JSON { try JSON(parsing: text) }
