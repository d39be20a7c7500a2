import Foundation
import TideCatalog
import TideCore
import TideEngine
import TideIntegration
import TideJQ
import TideLint
import TideMapping
import TideModel
import TidePort
import TideRedis
import TideReplay
import TideWebhooks

/// What a run tells its operator as it goes; the command turns each call into lines (text or
/// JSON). Everything passed here is already redacted with the run's secrets.
public protocol RunReporter: Sendable {
    /// Progress of the resync that `tide run` waits for.
    var observer: any ResyncObserver { get }
    /// From now on, redact with this store (the configuration's, which learns tokens as it goes).
    func use(_ secrets: SecretStore)
    func info(_ text: String)
    func warning(_ text: String)
    /// An error line: what failed and what to do.
    func error(_ text: String)
    /// The resync ended: its per-kind summary (`catalog` when entities went to that file).
    func finished(_ summary: ResyncSummary, catalog: String?)
    /// One entity of a dry run, as a JSON line for standard output.
    func entity(_ line: String)
    /// A finding of the checks made before any request (an error or a warning).
    func finding(_ finding: Diagnostic)
}

extension RunReporter {
    public func finding(_ finding: Diagnostic) { error(finding.description) }
}

/// A run that stopped: its message has been reported; the process exits with `status`
/// (2 for unusable input, 1 for a resync with errors).
public struct RunFailure: Error, Sendable {
    public var status: Int32
    public init(status: Int32) { self.status = status }
}

/// Assembles and executes every kind of run from one plan: load, lint, configuration, mapping,
/// sink, datasource, replay, a resync once or the live service, signals and shutdown.
public enum Runtime {
    public static func run(_ plan: RunPlan, reporter: any RunReporter) async throws(RunFailure) {
        func fail(_ status: Int32, _ message: String) -> RunFailure {
            reporter.error(message)
            return RunFailure(status: status)
        }

        plan.environment.applyLimits()
        var integration = try loadChecked(plan, reporter: reporter)

        // --replay: the integration's recorded responses stand in for its API.
        var configFile = plan.configFile
        var replay: FixtureServer?
        if plan.replay {
            let fixtures = (plan.directory as NSString).appendingPathComponent("fixtures")
            do {
                let file = try FixtureFile.load(contentsOf: (fixtures as NSString).appendingPathComponent("fixtures.yml"))
                let started = try await FixtureServer.start(file.fixtures)
                replay = started
                let replayConfig = (fixtures as NSString).appendingPathComponent("config.yml")
                if configFile == nil, FileManager.default.fileExists(atPath: replayConfig) { configFile = replayConfig }
                reporter.info("replaying \(fixtures) from \(started.baseURL)")
            } catch {
                throw fail(2, "cannot replay \(fixtures): \(error)")
            }
        }
        defer { if let replay { Task { await replay.stop() } } }

        let configuration = try resolveConfiguration(plan, integration: integration, configFile: configFile, reporter: reporter)
        // The replay answers at its own origin, under the API's own path (fixtures hold the paths the
        // API receives).
        if let replay { integration = integration.replayed(at: replay.baseURL, configJSON: configuration.json) }
        let mapping = try loadMapping(plan, integration: integration, reporter: reporter)
        guard !mapping.resources.isEmpty else {
            reporter.error("the mapping has no resources, so there is nothing to resync (Ocean skips an empty mapping too)")
            return
        }

        let options = MappingOptions(allowEnvironment: plan.environment.allowJQEnvironment,
                                     threads: plan.threads ?? MappingOptions.defaultThreads, partialParsing: plan.partialParsing)
        let listener = plan.effectiveListener
        if !plan.dryRun, plan.effectiveSink == .port {
            try await runAgainstPort(plan, integration: integration, configuration: configuration, options: options,
                                     listener: listener, reporter: reporter)
            return
        }

        let sink: any EntitySink
        if plan.dryRun {
            sink = DryRunSink(reporter: reporter, secrets: configuration.secretStore)
        } else {
            sink = try openCatalog(plan.catalog, datasource: plan.environment.datasource(for: integration), fail: fail)
        }
        // The catalog keeps incremental sync's cursors beside the entities.
        var assembly = RunAssembly(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                                   mappingOptions: options)
        assembly.cursors = sink as? CatalogSink
        // A dry run of an incremental pass reads the catalog's cursors (and saves none), so it
        // shows what the pass would ask for.
        // No catalog there yet: no cursors, every run read whole.
        if plan.dryRun, plan.effectiveIncremental, let catalog = try? Catalog.open(plan.catalog, create: false) {
            assembly.cursors = CatalogSink(catalog: catalog, datasource: plan.environment.datasource(for: integration))
        }
        if listener != .once, !plan.dryRun {
            let resync = assembly.resync(), pass = assembly.resync(mode: .incremental)
            try await serve(plan, assembly: assembly, listener: listener, reporter: reporter, resync: {
                try await resync.run(observer: QuietObserver(reporter: reporter)).succeeded
            }, incremental: {
                try await pass.run(observer: QuietObserver(reporter: reporter)).succeeded
            })
            return
        }
        let summary: ResyncSummary
        let mode: Resync.Mode = plan.effectiveIncremental ? .incremental : .full
        do { summary = try await assembly.resync(dryRun: plan.dryRun, mode: mode).run(observer: reporter.observer) } catch {
            throw fail(1, configuration.secretStore.redact("\(mode == .incremental ? "incremental pass" : "resync") failed: \(error)"))
        }
        reporter.finished(summary, catalog: plan.dryRun ? nil : Catalog.displayed(plan.catalog))
        if !summary.succeeded { throw RunFailure(status: 1) }
    }

    /// Every run's first step: the integration loaded and checked as `tide lint` checks it (the
    /// loader's findings and the linter's, reported with their positions), with the operator's
    /// request budget applied. Nothing is requested.
    public static func loadChecked(_ plan: RunPlan, reporter: any RunReporter, command: String = "run") throws(RunFailure) -> Integration {
        func fail(_ status: Int32, _ message: String) -> RunFailure {
            reporter.error(message)
            return RunFailure(status: status)
        }
        // Loaded once, and everything that can be known without the network is checked on what
        // was loaded, before the first request: the loader's own findings (structure, names,
        // parents, the mapping's kinds) come out as lint findings, with their positions.
        let read = Integration.read(directory: plan.directory)
        let checked = plan.mapping == nil ? read : Integration.read(directory: plan.directory, mapping: plan.mapping)
        let findings = Linter.lint(checked)
        for finding in findings { reporter.finding(finding) }
        if findings.contains(where: { $0.severity == .error }) {
            throw fail(2, "tide \(command): fix the errors above first (`tide lint \(plan.directory)` lists them)")
        }
        var integration: Integration
        // (With --mapping, the default mapping was not linted, but must still load.)
        do { integration = try read.loaded() } catch { throw fail(2, error.description) }
        // The operator's request budget, over the integration's: every client of the run reads it here.
        integration.http.apply(plan.effectiveHTTP)

        return integration
    }

    /// The configuration from the plan's flags, the environment and `configFile`, its secrets
    /// handed to the reporter first.
    public static func resolveConfiguration(_ plan: RunPlan, integration: Integration, configFile: String?,
                                            reporter: any RunReporter) throws(RunFailure) -> ResolvedConfiguration {
        let configuration: ResolvedConfiguration
        do { configuration = try ConfigurationResolver(overrides: plan.config, file: configFile).resolve(for: integration) } catch {
            reporter.error(error.description)
            throw RunFailure(status: 2)
        }
        reporter.use(configuration.secretStore)
        if !configuration.secretStore.redactor.shortSecrets.isEmpty {
            reporter.warning("a sensitive setting's value is shorter than \(Redactor.substringMinimum) characters: it is masked only where it stands as a whole word; a real credential is longer")
        }
        return configuration
    }

    /// `--mapping FILE`, else the integration's default port-app-config.
    public static func loadMapping(_ plan: RunPlan, integration: Integration, reporter: any RunReporter) throws(RunFailure) -> PortAppConfig {
        if let file = plan.mapping {
            do { return try PortAppConfig.load(contentsOf: file) } catch {
                reporter.error(error.description)
                throw RunFailure(status: 2)
            }
        }
        guard let defaultMapping = integration.defaultMapping else {
            reporter.error("\(plan.directory) has no .port/resources/port-app-config.yml; pass --mapping FILE")
            throw RunFailure(status: 2)
        }
        return defaultMapping
    }

    static func openCatalog(_ path: String, datasource: Datasource, fail: (Int32, String) -> RunFailure) throws(RunFailure) -> CatalogSink {
        if Catalog.isPostgreSQL(path) {
            // The error names the server (host, port, database) and never the password.
            do { return CatalogSink(catalog: try Catalog.open(path), datasource: datasource) } catch {
                throw fail(2, "cannot open the catalog: \(error)")
            }
        }
        let folder = (path as NSString).deletingLastPathComponent
        do {
            if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        } catch {
            var reason = describe(fileError: error)
            // Foundation does not always say why: a file standing where a folder must go is common.
            var ancestor = folder
            while !ancestor.isEmpty, ancestor != "/", !FileManager.default.fileExists(atPath: ancestor) {
                ancestor = (ancestor as NSString).deletingLastPathComponent
            }
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: ancestor, isDirectory: &isFolder), !isFolder.boolValue {
                reason = "\(ancestor) is a file, not a folder"
            }
            throw fail(2, "cannot create the catalog's folder \(folder): \(reason); run from a writable directory or pass --catalog PATH to a writable place")
        }
        do { return CatalogSink(catalog: try Catalog(path: path), datasource: datasource) } catch {
            throw fail(2, "cannot open the catalog \(path): \(error); pass --catalog PATH to a writable place")
        }
    }

    /// The reason a file operation failed, in the system's words ("Permission denied", "Not a
    /// directory"), rather than Foundation's error domain and code.
    static func describe(fileError error: any Error) -> String {
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(nsError.code))) }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        switch nsError.code {
        case NSFileWriteNoPermissionError, NSFileReadNoPermissionError: return "Permission denied"
        case NSFileWriteOutOfSpaceError: return "No space left on device"
        case NSFileWriteVolumeReadOnlyError: return "Read-only file system"
        default: return nsError.localizedFailureReason ?? "it cannot be made there"
        }
    }

    /// Port as the sink, in Ocean's order: registration, blueprints, resync-state, the mapping
    /// from Port (the file is only the default pushed on creation), the resync, the final state.
    static func runAgainstPort(_ plan: RunPlan, integration: Integration, configuration: ResolvedConfiguration,
                               options: MappingOptions, listener: EventListenerType, reporter: any RunReporter) async throws(RunFailure) {
        guard var settings = plan.environment.portSettings(for: integration) else {
            reporter.error("the Port sink needs OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET")
            throw RunFailure(status: 2)
        }
        configuration.secretStore.add([settings.credentials.clientSecret])
        settings.defaultMappingFile = plan.mapping
        // Port has no place for Tide's cursors: a local file keeps them.
        let cursors = CursorFile(path: plan.effectiveState, datasource: settings.datasource)
        let run = PortRun(integration: integration, configuration: configuration, settings: settings, mappingOptions: options,
                          cursors: cursors)
        if listener != .once {
            let mapping: PortAppConfig
            do {
                for note in try await run.lifecycle.start() { reporter.observer.note(note) }
                guard let stored = try await run.lifecycle.fetchMapping() ?? integration.defaultMapping else {
                    reporter.error("Port holds no mapping for this integration, so live events have nothing to apply")
                    throw RunFailure(status: 2)
                }
                mapping = stored
            } catch let failure as RunFailure { throw failure } catch {
                reporter.error(configuration.secretStore.redact("cannot start against Port: \(error)"))
                throw RunFailure(status: 1)
            }
            var assembly = RunAssembly(integration: run.integration, mapping: mapping, configuration: configuration, sink: run.sink,
                                       mappingOptions: options)
            assembly.cursors = cursors
            try await serve(plan, assembly: assembly, listener: listener, reporter: reporter,
                            resyncRequested: run.resyncRequestWatcher(), resync: {
                if case .finished(let summary) = try await run.run(observer: QuietObserver(reporter: reporter)) { return summary.succeeded }
                return true
            }, incremental: {
                if case .finished(let summary) = try await run.run(observer: QuietObserver(reporter: reporter), mode: .incremental) {
                    return summary.succeeded
                }
                return true
            })
            return
        }
        let outcome: PortRun.Outcome
        let mode: Resync.Mode = plan.effectiveIncremental ? .incremental : .full
        do { outcome = try await run.run(observer: reporter.observer, reportAbortOnSignal: true, mode: mode) } catch {
            reporter.error(configuration.secretStore.redact("resync against Port failed: \(error)"))
            throw RunFailure(status: 1)
        }
        switch outcome {
        case .skippedEmptyMapping:
            reporter.error("Port holds an empty mapping for this integration, so there is nothing to resync (as Ocean skips it).")
        case .finished(let summary):
            reporter.finished(summary, catalog: nil)
            if !summary.succeeded { throw RunFailure(status: 1) }
        }
    }

    /// The live service until SIGTERM or SIGINT, then a drain.
    static func serve(_ plan: RunPlan, assembly: RunAssembly, listener: EventListenerType, reporter: any RunReporter,
                      resyncRequested: (@Sendable () async -> Bool)? = nil,
                      resync: @escaping ResyncController.Run, incremental: @escaping ResyncController.Run) async throws(RunFailure) {
        let environment = plan.environment
        let address: (host: String, port: Int)
        do { address = try listenAddress(plan.listen, defaultPort: environment.applicationPort) } catch {
            reporter.error(error.message)
            throw RunFailure(status: 2)
        }
        var settings = LiveSettings(host: address.host, port: address.port, listener: listener,
                                    pollingInterval: environment.pollingInterval,
                                    scheduledInterval: environment.scheduledResyncMinutes.map { Double($0) * 60 },
                                    baseURL: environment.baseURL)
        settings.resyncRequested = resyncRequested
        if plan.effectiveIncremental { settings.incrementalInterval = Double(environment.incrementalSyncMinutes) * 60 }
        settings.allowUnsignedWebhooks = plan.allowUnsignedWebhooks || environment.allowUnsignedWebhooks
        settings.controlToken = plan.controlToken.flatMap { $0.isEmpty ? nil : $0 } ?? environment.controlToken
        if let token = settings.controlToken { assembly.configuration.secretStore.add([token]) }
        if let cap = plan.maxConnections ?? environment.maxConnections { settings.limits.maxConnections = cap }
        if let events = plan.events {
            let url: RedisURL
            do { url = try RedisURL(events) } catch {
                reporter.error("--events (or TIDE_EVENTS) takes a redis://[:PASSWORD@]HOST[:PORT][/DB] URL: \(error)")
                throw RunFailure(status: 2)
            }
            if let password = url.password ?? url.parameters["password"] { assembly.configuration.secretStore.add([password]) }
            settings.redis = RedisEventSettings(url: url, namespace: environment.identifier(of: assembly.integration))
        }
        if assembly.integration.webhooks.isEmpty { reporter.info("\(assembly.integration.name) declares no webhooks; only resyncs run") }

        let service: LiveService
        do {
            service = try assembly.liveService(settings: settings, log: { level, line in
                switch level {
                case .info: reporter.info(line)
                case .warning: reporter.warning(line)
                case .error: reporter.error(line)
                }
            }, resync: resync, incremental: incremental)
        } catch {
            reporter.error(error.description)
            throw RunFailure(status: 2)
        }
        do { try await service.start() } catch let error as LiveStartError {
            reporter.error(error.message)
            throw RunFailure(status: 2)
        } catch {
            reporter.error("cannot listen on \(address.host):\(address.port): \(error)")
            throw RunFailure(status: 2)
        }
        let run = LiveRun(service: service,
                          stopping: { reporter.info("shutting down: draining queued events, then exiting") },
                          stopped: { reporter.info("stopped") })
        do { try await Lifecycle.run(run) } catch {
            reporter.error("the live service stopped: \(error)")
            throw RunFailure(status: 1)
        }
    }

    public struct AddressError: Error { public var message: String }

    /// `HOST:PORT`, `:PORT` or `PORT`; nil: 0.0.0.0 and `defaultPort`.
    public static func listenAddress(_ text: String?, defaultPort: Int) throws(AddressError) -> (host: String, port: Int) {
        guard let text, !text.isEmpty else { return ("0.0.0.0", defaultPort) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts.count > 1 ? String(parts[0]) : "0.0.0.0"
        guard let port = Int(parts.last ?? ""), (0...65535).contains(port) else {
            throw AddressError(message: "--listen takes HOST:PORT, got \"\(text)\"")
        }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }
}

/// The parts of a run that do the work, built the same way for `tide run`, its live service and
/// `tide test`: the resync and the webhook service over one sink and one configuration.
public struct RunAssembly: Sendable {
    public let integration: Integration
    public let mapping: PortAppConfig
    public let configuration: ResolvedConfiguration
    public let sink: any EntitySink
    public let mappingOptions: MappingOptions
    /// Where incremental sync's cursors are kept (the catalog, or the state file beside Port).
    public var cursors: (any CursorStore)?

    public init(integration: Integration, mapping: PortAppConfig, configuration: ResolvedConfiguration, sink: any EntitySink,
                mappingOptions: MappingOptions = MappingOptions()) {
        self.integration = integration
        self.mapping = mapping
        self.configuration = configuration
        self.sink = sink
        self.mappingOptions = mappingOptions
    }

    public func resync(dryRun: Bool = false, mode: Resync.Mode = .full) -> Resync {
        var resync = Resync(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                            mappingOptions: mappingOptions, dryRun: dryRun)
        resync.mode = mode
        resync.cursors = cursors
        return resync
    }

    public func liveService(settings: LiveSettings, log: @escaping LiveLog = { _, _ in },
                            resync: @escaping ResyncController.Run, incremental: ResyncController.Run? = nil) throws(Diagnostics) -> LiveService {
        try LiveService(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                        mappingOptions: mappingOptions, settings: settings, log: log, resync: resync, incremental: incremental)
    }
}

/// Resyncs run by the listener report nothing but their outcome (and the sink's notes).
struct QuietObserver: ResyncObserver {
    let reporter: any RunReporter
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) { reporter.warning(message) }
}

/// `--dry-run`'s sink: entities go to the reporter as JSON lines, secrets masked inside JSON
/// strings so every line stays a valid entity; nothing is stored, so nothing is stale.
final class DryRunSink: EntitySink, Sendable {
    private let reporter: any RunReporter
    private let secrets: SecretStore
    private let lock = Locked(())

    init(reporter: any RunReporter, secrets: SecretStore) {
        self.reporter = reporter
        self.secrets = secrets
    }

    func prepare(blueprints: [Blueprint]) async throws {}

    func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        let redactor = secrets.redactor
        // One page's lines stay together when pages are written from several tasks.
        lock.withLock { _ in for entity in entities { reporter.entity(redactor.redactJSON(entity.jsonText())) } }
        return entities.enumerated().map {
            UpsertResult(index: $0.offset, blueprint: $0.element.blueprint, identifier: $0.element.identifierString, outcome: .created)
        }
    }

    func staleEntities(resyncStart: Date) async throws -> StaleEntities { StaleEntities(keys: [], ownedBefore: 0) }
    func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> { [] }
    func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int { 0 }
}
