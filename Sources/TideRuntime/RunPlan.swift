import Foundation
import TideCatalog
import TideIntegration
import TideWebhooks

/// Everything a `tide run` is asked to do, from its flags and the environment: a value the runtime
/// executes, so that the command is only a translation of its `--help` into this.
public struct RunPlan: Sendable {
    public enum SinkChoice: String, Sendable { case port, catalog }

    /// The integration directory.
    public var directory: String
    /// A port-app-config.yml instead of the integration's own.
    public var mapping: String?
    /// `--config name=value`, in order of precedence over the environment and the file.
    public var config: [String: String] = [:]
    public var configFile: String?
    /// The catalog: a file, or a `postgresql://` URL.
    public var catalog: String = Catalog.defaultRelativePath
    /// `--events`, else `TIDE_EVENTS`: a `redis://` URL for live events shared by replicas; nil: in process.
    public var events: String?
    /// nil: Port when the environment holds Port credentials, else the catalog.
    public var sink: SinkChoice?
    /// Entities to standard output; nothing written or deleted.
    public var dryRun = false
    /// Serve `DIR/fixtures` on loopback and run against it.
    public var replay = false
    /// `--incremental`: an incremental pass (with ONCE) or incremental passes between the full
    /// resyncs (with a live listener), as `OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED` asks.
    public var incremental = false
    /// `--state`, else `TIDE_STATE`: the cursor file when the sink is Port; nil: beside the catalog.
    public var state: String?
    /// Threads mapping each page; nil: one per core, at most 4.
    public var threads: Int?
    public var partialParsing = true
    /// nil: the environment's `OCEAN__EVENT_LISTENER`, else ONCE.
    public var listener: EventListenerType?
    /// `HOST:PORT` for the webhook server; nil: 0.0.0.0 and `APPLICATION__PORT`.
    public var listen: String?
    /// The operator's flags for the webhook server; the environment fills what they leave unset.
    public var allowUnsignedWebhooks = false
    public var controlToken: String?
    public var maxConnections: Int?
    /// `--concurrency` and `--rate-limit`; the environment fills what they leave unset.
    public var http = HTTPOverrides()
    public var environment: OceanEnvironment

    public init(directory: String, environment: OceanEnvironment) {
        self.directory = directory
        self.environment = environment
    }

    /// The listener this run uses.
    public var effectiveListener: EventListenerType { listener ?? environment.eventListener ?? .once }

    /// The request budget the operator asks for: flags over the environment.
    public var effectiveHTTP: HTTPOverrides {
        HTTPOverrides(concurrency: http.concurrency ?? environment.http.concurrency,
                      rateLimit: http.rateLimit ?? environment.http.rateLimit)
    }

    /// Whether incremental passes run (flag or environment).
    public var effectiveIncremental: Bool { incremental || environment.incrementalSyncEnabled }

    /// The file that keeps the cursors when the sink is Port: `--state`, `TIDE_STATE`, or
    /// `state.json` in the default catalog's folder.
    public var effectiveState: String {
        state ?? environment.state
            ?? ((Catalog.isPostgreSQL(catalog) ? Catalog.defaultRelativePath : catalog) as NSString).deletingLastPathComponent
            .appendingPathComponent("state.json")
    }

    /// Where entities go.
    public var effectiveSink: SinkChoice { sink ?? (environment.port != nil ? .port : .catalog) }
}
