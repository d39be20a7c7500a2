import ArgumentParser
import Foundation
import TideCore
import TideEngine
import TideIntegration
import TideJQ
import TideMapping
import TideRuntime
import TideTestRunner

/// `tide record DIR`: one run against the live API turned into fixtures and a test case.
struct RecordCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "record",
        abstract: "Run an integration once against the live API and write its fixtures and a test case.",
        discussion: """
        Every kind the mapping names is read as `tide run --dry-run` reads it, each pagination run (a kind, a \
        parent record, a partition) cut after --pages pages; the last page kept is changed so that a replay stops \
        there too. The responses are written as DIR/fixtures/recorded (fixtures.yml, config.yml, bodies/) and the \
        entities their replay gives as DIR/tests/recorded.yml, which `tide test DIR` runs offline.

        Secrets never reach a file: sensitive settings become placeholders in config.yml, credentials are never \
        recorded, and any other form of a secret is masked. E-mail addresses and members named like personal data \
        (and record.scrub's rules, and --scrub) get made-up values, the same one wherever one value appears. \
        Everything is checked (replayed, searched for secrets) before it is moved into place; on any failure \
        nothing is written.

        Configuration comes as for tide run: --config name=value, the environment (OCEAN__INTEGRATION__CONFIG__…), \
        then --config-file.

        Exit status: 0 when the recording was written, 1 when the live run or a check failed, 2 for unusable input.
        """
    )

    @OptionGroup var integration: IntegrationOptions

    @Option(name: .long, help: ArgumentHelp("Pages kept per pagination run (default: the integration's record.pages, else 2).", valueName: "N"))
    var pages: Int?

    @Option(name: .long, help: ArgumentHelp("The folder for fixtures.yml, config.yml and bodies/ (default DIR/fixtures/recorded).", valueName: "FOLDER"))
    var output: String?

    @Option(name: .long, help: ArgumentHelp("The test case written (default DIR/tests/recorded.yml); tide test DIR runs the cases in DIR/tests.", valueName: "FILE"))
    var test: String?

    @Flag(name: .long, help: "Replace the fixtures folder and test case if they exist (otherwise nothing is overwritten).")
    var force = false

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("Also replace members with this name by made-up values; repeatable.", valueName: "KEY"))
    var scrub: [String] = []

    @Flag(name: .long, help: "Leave out the built-in scrubbing rules (e-mail addresses, displayName, avatarUrls, phone…); secrets are replaced regardless.")
    var noDefaultScrub = false

    @Option(name: .long, help: ArgumentHelp("Entities the case lists at most; past it a sample of each blueprint (subset: true) and every count.", valueName: "N"))
    var maxEntities = 100

    @OptionGroup var format: FormatOption

    mutating func validate() throws {
        if let pages, !(1...100).contains(pages) { throw ValidationError("--pages takes a number of pages from 1 to 100; got \(pages)") }
        if maxEntities < 0 { throw ValidationError("--max-entities takes 0 or more; got \(maxEntities)") }
        if scrub.contains(where: \.isEmpty) { throw ValidationError("--scrub takes a member name") }
    }

    func run() async throws {
        let environment: OceanEnvironment
        do { environment = try OceanEnvironment.current() } catch {
            Terminal.error("tide record: \(error.description)")
            throw ExitCode(2)
        }
        var plan = try integration.plan(in: environment)
        plan.dryRun = true

        let secrets = SecretBox()
        let reporter = RecordReporter(secrets: secrets)
        let integration: Integration
        let configuration: ResolvedConfiguration
        let portAppConfig: PortAppConfig
        do throws(RunFailure) {
            plan.environment.applyLimits()
            integration = try Runtime.loadChecked(plan, reporter: reporter, command: "record")
            configuration = try Runtime.resolveConfiguration(plan, integration: integration, configFile: plan.configFile, reporter: reporter)
            portAppConfig = try Runtime.loadMapping(plan, integration: integration, reporter: reporter)
        } catch {
            throw ExitCode(error.status)
        }
        guard !portAppConfig.resources.isEmpty else {
            Terminal.error("tide record: the mapping has no resources, so there is nothing to record")
            throw ExitCode(2)
        }

        let root = URL(fileURLWithPath: plan.directory)
        var options = RecordOptions(fixturesDirectory: output ?? root.appendingPathComponent("fixtures/recorded").path,
                                    testFile: test ?? root.appendingPathComponent("tests/recorded.yml").path)
        options.pages = pages
        options.force = force
        options.scrubKeys = scrub
        options.defaultScrub = !noDefaultScrub
        options.maxEntities = maxEntities
        options.mappingFile = plan.mapping
        let mappingOptions = MappingOptions(allowEnvironment: environment.allowJQEnvironment)
        let report: RecordReport
        do throws(RecordError) {
            report = try await Recorder.record(integration: integration, mapping: portAppConfig, configuration: configuration,
                                               mappingOptions: mappingOptions, options: options) { line in reporter.info(line) }
        } catch {
            Terminal.error(secrets.redact("tide record: \(error.description)"))
            throw ExitCode(1)
        }
        let json = try format.isJSON(legacy: false, spelling: "")
        print(json ? Self.json(report) : Self.text(report, directory: plan.directory))
    }

    static func text(_ report: RecordReport, directory: String) -> String {
        var lines = ["recorded \(report.exchanges) exchanges as \(report.fixtures) fixtures; \(report.scrubbedValues) values scrubbed"]
        for (kind, runs) in report.truncatedRuns.sorted(by: { $0.key < $1.key }) {
            lines.append("  \(kind): \(runs) run\(runs == 1 ? "" : "s") cut at the page limit")
        }
        lines.append("  entities: " + report.counts.map { "\($0.blueprint) \($0.count)" }.joined(separator: ", "))
        for note in report.notes { lines.append("  note: \(note)") }
        lines.append("wrote \(report.files.count) files; run: tide test \(directory)")
        for file in report.files { lines.append("  \(file)") }
        return lines.joined(separator: "\n")
    }

    static func json(_ report: RecordReport) -> String {
        JSON(orderedObject: [
            ("exchanges", JSON(report.exchanges)), ("fixtures", JSON(report.fixtures)), ("scrubbed", JSON(report.scrubbedValues)),
            ("truncatedRuns", JSON(orderedObject: report.truncatedRuns.sorted { $0.key < $1.key }.map { ($0.key, JSON($0.value)) })),
            ("counts", JSON(orderedObject: report.counts.map { ($0.blueprint, JSON($0.count)) })),
            ("notes", JSON(array: report.notes.map { JSON($0) })),
            ("files", JSON(array: report.files.map { JSON($0) })),
        ]).serialized()
    }
}

/// What `tide record` says while it loads and checks: findings and errors on standard error,
/// redacted with the run's secrets.
final class RecordReporter: RunReporter, Sendable {
    let secrets: SecretBox
    let observer: any ResyncObserver = NoProgress()
    init(secrets: SecretBox) { self.secrets = secrets }
    func use(_ store: SecretStore) { secrets.use(store) }
    func info(_ text: String) { Terminal.write(secrets.redact(text)) }
    func warning(_ text: String) { Terminal.write("warning: " + secrets.redact(text)) }
    func error(_ text: String) { Terminal.error(secrets.redact(text)) }
    func finding(_ finding: Diagnostic) { Terminal.report(finding) }
    func finished(_ summary: ResyncSummary, catalog: String?) {}
    func entity(_ line: String) {}

    struct NoProgress: ResyncObserver {
        func kindStarted(_ progress: KindProgress) {}
        func pageWritten(_ progress: KindProgress) {}
        func kindFinished(_ progress: KindProgress) {}
        func note(_ message: String) {}
    }
}
