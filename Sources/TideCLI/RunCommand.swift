import ArgumentParser
import Foundation
import Logging
import TideCatalog
import TideCore
import TideEngine
import TideIntegration
import TideLint
import TideMapping
import TideModel
import TidePort
import TideTesting
import TideWebhooks

/// `tide run DIR`: a full resync of one integration into the embedded catalog.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Resync an integration: fetch every kind its mapping names, map, write, then delete what is gone.",
        discussion: """
        Configuration comes from --config name=value, then the environment as Ocean reads it (OCEAN__INTEGRATION__CONFIG__JIRA_HOST for jiraHost), then --config-file.

        Nothing is deleted when any kind failed or any item had an error, or when deleting would remove more than the mapping's entityDeletionThreshold of what this installation owns.

        Exit status: 0 when the resync completed, 1 when it had errors, 2 for unusable input.
        """
    )

    @Argument(help: ArgumentHelp("The integration directory (with integration.yml).", valueName: "DIR"))
    var directory: String

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A configuration value; repeatable.", valueName: "name=value"))
    var config: [String] = []

    @Option(name: .long, help: ArgumentHelp("A YAML or JSON file of configuration values.", valueName: "FILE"))
    var configFile: String?

    @Option(name: .long, help: ArgumentHelp("The embedded catalog file.", valueName: "PATH"))
    var catalog: String = Catalog.defaultRelativePath

    @Option(name: .long, help: ArgumentHelp("A port-app-config.yml to use instead of the integration's default.", valueName: "FILE"))
    var mapping: String?

    @Option(name: .long, help: ArgumentHelp("Where entities go: port or catalog (default: port when OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET are set, else catalog).", valueName: "SINK"))
    var sink: SinkChoice?

    @Flag(name: .long, help: "Print the entities as JSON lines instead of writing them; delete nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Serve the integration's recorded responses (DIR/fixtures) on loopback and run against them, offline.")
    var replay = false

    // `.unconditional` so that `--jobs -1` reaches validate() as a number, not as a missing value.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Threads mapping each page (default: one per core, at most 4).", valueName: "N"))
    var jobs: Int?

    @Flag(name: .long, help: "Parse every response whole, instead of only the parts the mapping reads (slower; to compare).")
    var parseWhole = false

    mutating func validate() throws {
        if try output.isJSON(legacy: logFormat == .json, spelling: "--log-format json") { logFormat = .json }
        if let jobs, jobs < 1 { throw ValidationError("--jobs takes a number of threads, 1 or more; got \(jobs)") }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections takes a number of connections, 1 or more; got \(maxConnections)")
        }
    }

    /// How records are mapped: Ocean's environment switch, and the engine's threads and parsing.
    var mappingOptions: MappingOptions {
        MappingOptions(allowEnvironment: Environment.oceanAllowsJQEnvironment,
                       threads: jobs ?? MappingOptions.defaultThreads, partialParsing: !parseWhole)
    }

    @Option(name: .long, help: ArgumentHelp("Log lines as text or json.", valueName: "FORMAT"))
    var logFormat: LogFormat = .text

    @OptionGroup var output: FormatOption

    @Option(name: .long, help: ArgumentHelp("Least severe log lines shown: trace, debug, info, notice, warning, error or critical (default: TIDE_LOG_LEVEL, else info).", valueName: "LEVEL"))
    var logLevel: Logger.Level?

    @Option(name: .long, help: ArgumentHelp("ONCE (resync and exit), POLLING, WEBHOOK or WEBHOOKS_ONLY (default: OCEAN__EVENT_LISTENER's type, else ONCE); all but ONCE serve the integration's webhooks.", valueName: "TYPE"))
    var eventListener: EventListenerType?

    @Option(name: .long, help: ArgumentHelp("Where the webhook server listens (default 0.0.0.0 and APPLICATION__PORT, 8000).", valueName: "HOST:PORT"))
    var listen: String?

    @Flag(name: .long, help: "Serve webhooks that have no secret configured, unsigned, instead of refusing their events (or TIDE_ALLOW_UNSIGNED_WEBHOOKS=true); anyone who reaches them can change the catalog. Warned about on every start.")
    var allowUnsignedWebhooks = false

    @Option(name: .long, help: ArgumentHelp("The token POST /resync must present as Authorization: Bearer TOKEN (or TIDE_CONTROL_TOKEN, which keeps it out of ps); without one, /resync is disabled.", valueName: "TOKEN"))
    var controlToken: String?

    @Option(name: .long, help: ArgumentHelp("Connections the webhook server keeps open at most (default 512, or TIDE_MAX_CONNECTIONS; lowered to fit ulimit -n).", valueName: "N"))
    var maxConnections: Int?

    /// The webhook server's safety settings given on the command line.
    var serveOptions: ServeRunner.Options {
        ServeRunner.Options(allowUnsignedWebhooks: allowUnsignedWebhooks, controlToken: controlToken, maxConnections: maxConnections)
    }

    func run() async throws {
        let secrets = SecretBox()
        TideLogging.bootstrap(format: logFormat, level: logLevel, secrets: secrets)
        let logger = Logger(label: "tide.run")

        var integration: Integration
        do { integration = try Integration.load(directory: directory) } catch {
            Terminal.error(error.description)
            throw ExitCode(2)
        }
        // Everything that can be known without the network is checked before the first request.
        let findings = Linter.lint(directory: directory, mapping: mapping)
        for finding in findings { Terminal.report(finding) }
        if findings.contains(where: { $0.severity == .error }) {
            Terminal.error("tide run: fix the errors above first (`tide lint \(directory)` lists them)")
            throw ExitCode(2)
        }

        var server: FixtureServer?
        var configFile = self.configFile
        if replay {
            let fixtures = (directory as NSString).appendingPathComponent("fixtures")
            do {
                let file = try FixtureFile.load(contentsOf: (fixtures as NSString).appendingPathComponent("fixtures.yml"))
                let started = try await FixtureServer.start(file.fixtures)
                server = started
                integration.http.baseURL = TemplateSource(started.baseURL)
                let replayConfig = (fixtures as NSString).appendingPathComponent("config.yml")
                if configFile == nil, FileManager.default.fileExists(atPath: replayConfig) { configFile = replayConfig }
                logger.info("replaying \(fixtures) from \(started.baseURL)")
            } catch {
                Terminal.error("cannot replay \(fixtures): \(error)")
                throw ExitCode(2)
            }
        }
        defer { if let server { Task { await server.stop() } } }

        let resolved: ResolvedConfiguration
        do {
            resolved = try ConfigurationResolver(overrides: try parsedOverrides(), file: configFile).resolve(for: integration)
        } catch let error as Diagnostics {
            Terminal.error(error.description)
            throw ExitCode(2)
        }
        secrets.use(resolved.secretStore)
        if !resolved.secretStore.redactor.shortSecrets.isEmpty {
            logger.warning("a sensitive setting's value is shorter than \(Redactor.substringMinimum) characters: it is masked only where it stands as a whole word; a real credential is longer")
        }

        let portAppConfig: PortAppConfig
        if let mapping {
            do { portAppConfig = try PortAppConfig.load(contentsOf: mapping) } catch {
                Terminal.error(error.description)
                throw ExitCode(2)
            }
        } else if let defaultMapping = integration.defaultMapping {
            portAppConfig = defaultMapping
        } else {
            Terminal.error("\(directory) has no .port/resources/port-app-config.yml; pass --mapping FILE")
            throw ExitCode(2)
        }
        guard !portAppConfig.resources.isEmpty else {
            Terminal.error("the mapping has no resources, so there is nothing to resync (Ocean skips an empty mapping too)")
            return
        }

        let environment = ProcessInfo.processInfo.environment
        let observer = ProgressDisplay(interactive: isatty(STDERR_FILENO) == 1 && logFormat == .text)
        if !dryRun, (sink ?? (PortSettings.hasCredentials(in: environment) ? .port : .catalog)) == .port {
            try await runAgainstPort(integration: integration, configuration: resolved, secrets: secrets, observer: observer)
            return
        }
        let type = environment["OCEAN__INTEGRATION__TYPE"] ?? integration.name
        let datasource = Datasource(integrationType: type, integrationVersion: integration.version,
                                    installationIdentifier: environment["OCEAN__INTEGRATION__IDENTIFIER"] ?? "my-\(type)-integration")
        let sink: any EntitySink
        if dryRun {
            sink = DryRunSink(output: OutputBuffer(descriptor: STDOUT_FILENO), secrets: resolved.secretStore)
        } else {
            let folder = (catalog as NSString).deletingLastPathComponent
            do {
                if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
            } catch {
                let reason = (error as NSError).code == NSFileWriteNoPermissionError ? "permission denied" : error.localizedDescription
                Terminal.error("cannot create the catalog's folder \(folder): \(reason); run from a writable directory or pass --catalog PATH to a writable place")
                throw ExitCode(2)
            }
            do { sink = CatalogSink(catalog: try Catalog(path: catalog), datasource: datasource) } catch {
                Terminal.error("cannot open the catalog \(catalog): \(error); pass --catalog PATH to a writable place")
                throw ExitCode(2)
            }
        }

        let listener = ServeRunner.listener(flag: eventListener, environment: environment)
        if listener != .once, !dryRun {
            let options = mappingOptions
            let resync = Resync(integration: integration, mapping: portAppConfig, configuration: resolved, sink: sink, mappingOptions: options)
            try await ServeRunner.serve(integration: integration, mapping: portAppConfig, configuration: resolved, sink: sink,
                                        mappingOptions: options, listener: listener, listen: listen, secrets: secrets,
                                        options: serveOptions) {
                try await resync.run(observer: QuietObserver()).succeeded
            }
            return
        }
        let resync = Resync(integration: integration, mapping: portAppConfig, configuration: resolved, sink: sink,
                            mappingOptions: mappingOptions,
                            dryRun: dryRun)
        let summary: ResyncSummary
        do { summary = try await resync.run(observer: observer) } catch {
            Terminal.error(secrets.redact("resync failed: \(error)"))
            throw ExitCode(1)
        }
        (sink as? DryRunSink)?.flush()
        SummaryTable.report(summary, catalog: dryRun ? nil : catalog)
        if !summary.succeeded { throw ExitCode(1) }
    }

    /// Port as the sink, in Ocean's order: registration, blueprints, resync-state, the mapping
    /// from Port (the file is only the default pushed on creation), the resync, the final state.
    func runAgainstPort(integration: Integration, configuration: ResolvedConfiguration, secrets: SecretBox,
                        observer: ProgressDisplay) async throws {
        let environment = ProcessInfo.processInfo.environment
        var settings: PortSettings
        do { settings = try PortSettings.fromEnvironment(environment, integration: integration) } catch {
            Terminal.error(secrets.redact("\(error)"))
            throw ExitCode(2)
        }
        secrets.use(configuration.secretStore)
        secrets.add([settings.credentials.clientSecret])
        settings.defaultMappingFile = mapping
        let run = PortRun(integration: integration, configuration: configuration, settings: settings,
                          mappingOptions: mappingOptions)
        let listener = ServeRunner.listener(flag: eventListener, environment: environment)
        if listener != .once {
            let mapping: PortAppConfig
            do {
                for note in try await run.lifecycle.start() { observer.note(note) }
                guard let stored = try await run.lifecycle.fetchMapping() ?? integration.defaultMapping else {
                    Terminal.error("Port holds no mapping for this integration, so live events have nothing to apply")
                    throw ExitCode(2)
                }
                mapping = stored
            } catch let error as ExitCode { throw error } catch {
                Terminal.error(secrets.redact("cannot start against Port: \(error)"))
                throw ExitCode(1)
            }
            try await ServeRunner.serve(integration: integration, mapping: mapping, configuration: configuration, sink: run.sink,
                                        mappingOptions: run.mappingOptions, listener: listener, listen: listen, secrets: secrets,
                                        options: serveOptions, resyncRequested: run.resyncRequestWatcher()) {
                if case .finished(let summary) = try await run.run(observer: QuietObserver()) { return summary.succeeded }
                return true
            }
            return
        }
        let outcome: PortRun.Outcome
        do { outcome = try await run.run(observer: observer, reportAbortOnSignal: true) } catch {
            Terminal.error(secrets.redact("resync against Port failed: \(error)"))
            throw ExitCode(1)
        }
        switch outcome {
        case .skippedEmptyMapping:
            Terminal.error("Port holds an empty mapping for this integration, so there is nothing to resync (as Ocean skips it).")
        case .finished(let summary):
            SummaryTable.report(summary, catalog: nil)
            if !summary.succeeded { throw ExitCode(1) }
        }
    }

    func parsedOverrides() throws -> [String: String] {
        var values: [String: String] = [:]
        for pair in config {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--config takes name=value, got \"\(pair)\"")
            }
            values[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return values
    }
}

enum LogFormat: String, ExpressibleByArgument, Sendable { case text, json }
enum SinkChoice: String, ExpressibleByArgument, Sendable { case port, catalog }

/// `--dry-run`'s sink: entities go to standard output as JSON lines, secrets masked inside JSON
/// strings so every line stays a valid entity; nothing is stored, so nothing is stale.
final class DryRunSink: EntitySink, @unchecked Sendable {
    private let output: OutputBuffer
    private let secrets: SecretStore
    private let lock = NSLock()

    init(output: OutputBuffer, secrets: SecretStore) {
        self.output = output
        self.secrets = secrets
    }

    func prepare(blueprints: [Blueprint]) async throws {}

    func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        lock.withLock {
            let redactor = secrets.redactor
            for entity in entities { output.writeLine(redactor.redactJSON(entity.jsonText())) }
        }
        return entities.enumerated().map {
            UpsertResult(index: $0.offset, blueprint: $0.element.blueprint, identifier: $0.element.identifierString, outcome: .created)
        }
    }

    func flush() { lock.withLock { output.flush() } }
    func staleEntities(resyncStart: Date) async throws -> StaleEntities { StaleEntities(keys: [], ownedBefore: 0) }
    func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> { [] }
    func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int { 0 }
}
