import ArgumentParser
import Foundation
import Logging
import TideCore
import TideJQ
import TideMapping
import TideRuntime
import TideModel

/// `tide map`: run one port-app-config resource's mapping over raw records — a mapping debugger.
struct MapCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "map",
        abstract: "Map raw records to Port entities with a port-app-config.yml, exactly as Ocean would.",
        discussion: """
        Entities go to standard output, one JSON object per line, with the keys Ocean would send. The report (misconfigured fields, skipped items, selector errors, counts) goes to standard error.

        RAW is a JSON array of records, JSON lines (one record per line), or - for standard input. An API's response that holds the records (`{"issues": [...]}`) is picked apart with --records: jq over each value of RAW, giving an array of records or the records themselves (--records .issues, --records '.values[]').

        Exit status: 0 when every item mapped, 1 when some items had errors, 2 for unusable input.
        """
    )

    @Option(name: .long, help: ArgumentHelp("The port-app-config.yml to use.", valueName: "PORT_APP_CONFIG"))
    var mapping: String

    @Option(name: .long, help: "The resource kind to map (a `kind:` in the port-app-config).")
    var kind: String

    @Option(name: .long, help: ArgumentHelp("Which resource of that kind, counting from 0.", valueName: "N"))
    var resource: Int = 0

    @Option(name: .long, help: ArgumentHelp("Report format on standard error: text or json.", valueName: "FORMAT"))
    var report: ReportFormat = .text

    @OptionGroup var output: FormatOption

    // `.unconditional` so that `--jobs -1` reaches validate() as a number, not as a missing value.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Threads mapping in parallel (JSON lines input only); output keeps the input order.", valueName: "N"))
    var jobs: Int = 1

    @Flag(name: .long, help: "Hide the environment from jq (`env`, `$ENV`), like OCEAN__ALLOW_ENVIRONMENT_VARIABLES_JQ_ACCESS=false.")
    var noEnv = false

    @Flag(name: .long, help: "Parse every record whole, instead of only the parts the mapping reads (slower; to compare).")
    var parseWhole = false

    @Option(name: .long, help: ArgumentHelp("jq over each value of RAW giving its records: for an API response such as {\"issues\": [...]}, --records .issues.", valueName: "EXPR"))
    var records: String?

    @Argument(help: ArgumentHelp("Raw records: a JSON array, JSON lines, or - for standard input.", valueName: "RAW"))
    var raw: String

    enum ReportFormat: String, ExpressibleByArgument { case text, json }

    mutating func validate() throws {
        if try output.isJSON(legacy: report == .json, spelling: "--report json") { report = .json }
        if jobs < 1 { throw ValidationError("--jobs takes a number of threads, 1 or more; got \(jobs)") }
        if let records {
            if jobs > 1 { throw ValidationError("--records maps on one thread; leave --jobs out") }
            do { _ = try JQProgram(records) } catch {
                throw ValidationError("--records \"\(records)\" does not compile: \(error.message)")
            }
        }
    }

    func run() throws {
        let config: PortAppConfig
        do { config = try PortAppConfig.load(contentsOf: mapping) } catch {
            Terminal.error(error.description)
            throw ExitCode(2)
        }
        for warning in config.warnings where report == .text { Terminal.error(warning.description) }
        let candidates = config.resources(ofKind: kind)
        guard resource >= 0, resource < candidates.count else {
            let kinds = Array(Set(config.resources.map(\.kind))).sorted()
            if candidates.isEmpty {
                Terminal.error("\(mapping): no resource has kind \"\(kind)\"; the kinds here are: \(kinds.joined(separator: ", "))")
            } else {
                Terminal.error("\(mapping): there are \(candidates.count) resources of kind \"\(kind)\"; --resource must be 0…\(candidates.count - 1)")
            }
            throw ExitCode(2)
        }
        let environment: OceanEnvironment
        do { environment = try OceanEnvironment.current() } catch {
            Terminal.error(error.description)
            throw ExitCode(2)
        }
        environment.applyLimits()
        // With --records the records are a part of each value, so each value is parsed whole.
        let options = MappingOptions(allowEnvironment: !noEnv && environment.allowJQEnvironment, partialParsing: !parseWhole && records == nil)
        let mapper = ResourceMapper(resource: candidates[resource], options: options)

        let input = try InputFile(raw, what: "RAW file")
        // Only the descriptor is used below: keep the file open until the command ends.
        defer { withExtendedLifetime(input) {} }
        let descriptor = input.descriptor

        var mappingReport = MappingReport()
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        let emit: (ItemOutcome) -> Void = { outcome in
            if case .entity(let entity, _) = outcome { output.writeLine(entity.jsonText()) }
        }
        var inputError: String?
        if jobs > 1 {
            let (merged, failure) = ParallelMap(resource: candidates[resource], options: options, jobs: jobs)
                .run(descriptor: descriptor, output: output)
            mappingReport = merged
            if let failure { inputError = "\(rawName): \(failure.message)" }
        } else {
            inputError = mapSequentially(descriptor: descriptor, mapper: mapper, report: &mappingReport, emit: emit)
        }
        output.flush()

        switch report {
        case .text: Terminal.error(mappingReport.humanText(title: "tide map \(kind)[\(resource)]"))
        case .json: Terminal.error(mappingReport.json().serialized())
        }
        if let inputError {
            Terminal.error("error: \(inputError)")
            throw ExitCode(2)
        }
        if mappingReport.errorCount > 0 { throw ExitCode(1) }
    }

    private var rawName: String { raw == "-" ? "standard input" : raw }  // as InputFile names it

    /// One thread: a JSON array, JSON lines or concatenated values. Returns an input error, if any.
    private func mapSequentially(descriptor: Int32, mapper: ResourceMapper, report mappingReport: inout MappingReport,
                                 emit: (ItemOutcome) -> Void) -> String? {
        // `validate()` has compiled it once already.
        let recordsProgram = records.flatMap { try? JQProgram($0) }
        // Parse only what the mapping reads, unless it reads everything anyway.
        let paths = mapper.options.partialParsing ? mapper.readPaths : .whole
        let stream: any JSONValueStream = paths.isWhole
            ? JSONStream(descriptor: descriptor) : ProjectedJSONStream(descriptor: descriptor, recordPaths: paths)
        var objects = 0
        let entitiesBefore = mappingReport.entities
        do {
            while let whole = try stream.next() {
                var values = [whole]
                if let recordsProgram {
                    do { values = try recordsProgram.all(whole) } catch {
                        return "\(rawName): --records \"\(records ?? "")\" failed on value \(stream.count): \(error.description)"
                    }
                }
                for value in values {
                    switch value.kind {
                    case .object:
                        objects += 1
                        mapper.map(record: value, report: &mappingReport, emit)
                    case .array:
                        for record in value.arrayElements { mapper.map(record: record, report: &mappingReport, emit) }
                    default:
                        let source = recordsProgram == nil ? "value \(stream.count)" : "--records gave a \(value.kind.name) for value \(stream.count); it"
                        return "\(rawName): \(source) is a \(value.kind.name); RAW must hold records (JSON objects): a JSON array of them, or one per line"
                    }
                }
            }
        } catch {
            return "\(rawName): not valid JSON: \(error)"
        }
        // One object that made no entity is most likely an API response around the records.
        if recordsProgram == nil, objects == 1, mappingReport.records == 1, mappingReport.entities == entitiesBefore {
            Terminal.report(.warning, "\(rawName) holds one object, which mapped to no entity: if it is an API response holding the records, pick them with --records\(envelopeHint())")
        }
        return nil
    }

    /// ` .issues` (the key of RAW's first object that holds an array of objects), or a generic hint.
    private func envelopeHint() -> String {
        guard raw != "-", let data = FileManager.default.contents(atPath: raw), data.count <= 64 << 20,
              let object = try? JSON(parsing: String(decoding: data, as: UTF8.self)), object.kind == .object else {
            return " (for example --records .values)"
        }
        for (key, value) in object.objectMembers where value.kind == .array && value.arrayElements.contains(where: { $0.kind == .object }) {
            let path = key.wholeMatch(of: /[A-Za-z_][A-Za-z0-9_]*/) != nil ? ".\(key)" : ".[\(JSON(key).serialized())]"
            return " \(path) (its \"\(key)\" holds \(value.arrayElements.count) objects)"
        }
        return " (for example --records .values)"
    }
}
