import ArgumentParser
import Foundation
import Logging
import TideCatalog
import TideCore
import TideEngine
import TideIntegration
import TideRuntime
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

    @OptionGroup var integration: IntegrationOptions

    @Option(name: .long, help: ArgumentHelp("The catalog: a file (default .tide/catalog.sqlite), or a postgresql://USER@HOST:PORT/DB URL for a catalog many processes share (or TIDE_CATALOG).", valueName: "PATH|URL"))
    var catalog: String?

    @Option(name: .long, help: ArgumentHelp("Live events through Redis streams shared by replicas: redis://[:PASSWORD@]HOST[:PORT][/DB] (or TIDE_EVENTS); each replica verifies webhooks, answers 202 once the event is in Redis, and one replica applies it. Also lets one replica at a time resync. Default: in this process.", valueName: "URL"))
    var events: String?

    @Option(name: .long, help: ArgumentHelp("Where entities go: port or catalog (default: port when OCEAN__PORT__CLIENT_ID and OCEAN__PORT__CLIENT_SECRET are set, else catalog).", valueName: "SINK"))
    var sink: SinkChoice?

    @Flag(name: .long, help: "Print the entities as JSON lines instead of writing them; delete nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Serve the integration's recorded responses (DIR/fixtures) on loopback and run against them, offline.")
    var replay = false

    @Flag(name: .long, help: "Read only what changed since each resource's cursors, for kinds with incremental:, and delete nothing (or OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED=true). With ONCE one pass; with a live listener, passes every OCEAN__INTEGRATION__INCREMENTAL_SYNC_INTERVAL (15 minutes) between the full resyncs.")
    var incremental = false

    @Option(name: .long, help: ArgumentHelp("The file that keeps incremental sync's cursors when the sink is Port (or TIDE_STATE; default: state.json beside the catalog, .tide/state.json). The catalog keeps its own.", valueName: "PATH"))
    var state: String?

    // `.unconditional` so that `--jobs -1` reaches validate() as a number, not as a missing value.
    @Option(name: .long, parsing: .unconditional, help: ArgumentHelp("Threads mapping each page (default: one per core, at most 4).", valueName: "N"))
    var jobs: Int?

    @Flag(name: .long, help: "Parse every response whole, instead of only the parts the mapping reads (slower; to compare).")
    var parseWhole = false

    @Option(name: .long, help: ArgumentHelp("Requests in flight at once to the API host, over the integration's http.concurrency (or TIDE_HTTP_CONCURRENCY); shared by every kind and webhook refetch.", valueName: "N"))
    var concurrency: String?

    @Option(name: .long, help: ArgumentHelp("Requests per time to the API host, such as 20/s, 600/min or 100/10s, or none; over the integration's http.rateLimit (or TIDE_HTTP_RATE_LIMIT).", valueName: "RATE"))
    var rateLimit: String?

    mutating func validate() throws {
        if try format.isJSON(legacy: logFormat == .json, spelling: "--log-format json") { logFormat = .json }
        if let jobs, jobs < 1 { throw ValidationError("--jobs takes a number of threads, 1 or more; got \(jobs)") }
        if let maxConnections, maxConnections < 1 {
            throw ValidationError("--max-connections takes a number of connections, 1 or more; got \(maxConnections)")
        }
        _ = try httpOverrides()
    }

    /// `--concurrency` and `--rate-limit`, read as the environment's TIDE_HTTP_… variables are.
    func httpOverrides() throws -> HTTPOverrides {
        var overrides = HTTPOverrides()
        do {
            overrides.concurrency = try concurrency.map(HTTPOverrides.concurrency)
        } catch { throw ValidationError("--concurrency \(error)") }
        do {
            overrides.rateLimit = try rateLimit.map(HTTPOverrides.rate)
        } catch { throw ValidationError("--rate-limit \(error)") }
        return overrides
    }

    @Option(name: .long, help: ArgumentHelp("Log lines as text or json.", valueName: "FORMAT"))
    var logFormat: LogFormat = .text

    @OptionGroup var format: FormatOption

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

    func run() async throws {
        let secrets = SecretBox()
        // The environment is read first (quietly) for TIDE_LOG_LEVEL, which --log-level overrides;
        // a failure is reported once logging knows its format.
        var read: OceanEnvironment?, unreadable: String?
        do { read = try OceanEnvironment.current() } catch { unreadable = error.description }
        TideLogging.bootstrap(format: logFormat, level: logLevel ?? read?.logLevel.flatMap { Logger.Level(rawValue: $0.lowercased()) },
                              secrets: secrets)
        guard let environment = read else {
            Terminal.error(unreadable ?? "the environment cannot be read")
            throw ExitCode(2)
        }
        var plan = try integration.plan(in: environment)
        plan.catalog = catalog ?? environment.catalog ?? Catalog.defaultRelativePath
        plan.events = events ?? environment.events
        plan.sink = sink.map { $0 == .port ? .port : .catalog }
        plan.dryRun = dryRun
        plan.replay = replay
        plan.incremental = incremental
        plan.state = state
        plan.threads = jobs
        plan.partialParsing = !parseWhole
        plan.listener = eventListener
        plan.listen = listen
        plan.allowUnsignedWebhooks = allowUnsignedWebhooks
        plan.controlToken = controlToken
        plan.maxConnections = maxConnections
        plan.http = try httpOverrides()

        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        let reporter = CommandReporter(secrets: secrets, output: output,
                                       interactive: isatty(STDERR_FILENO) == 1 && logFormat == .text)
        defer { output.flush() }
        do { try await Runtime.run(plan, reporter: reporter) } catch {
            output.flush()
            throw ExitCode(error.status)
        }
    }
}

enum LogFormat: String, ExpressibleByArgument, Sendable { case text, json }
enum SinkChoice: String, ExpressibleByArgument, Sendable { case port, catalog }
extension EventListenerType: ExpressibleByArgument {}

/// What `tide run` prints: log lines and the summary on standard error, dry-run entities on
/// standard output, every line through the run's secrets.
final class CommandReporter: RunReporter, Sendable {
    let secrets: SecretBox
    let output: OutputBuffer
    let observer: any ResyncObserver
    private let logger = Logger(label: "tide.run")

    init(secrets: SecretBox, output: OutputBuffer, interactive: Bool) {
        self.secrets = secrets
        self.output = output
        observer = ProgressDisplay(interactive: interactive)
    }

    func use(_ store: SecretStore) { secrets.use(store) }
    func info(_ text: String) { logger.info("\(text)") }
    func warning(_ text: String) { logger.warning("\(text)") }
    func error(_ text: String) { Terminal.error(secrets.redact(text)) }
    func finding(_ finding: Diagnostic) { Terminal.report(finding) }
    func entity(_ line: String) { output.writeLine(line) }

    func finished(_ summary: ResyncSummary, catalog: String?) {
        output.flush()
        SummaryTable.report(summary, catalog: catalog)
    }
}
