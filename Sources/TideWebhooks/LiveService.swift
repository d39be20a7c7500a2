import Foundation
import TideCore
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping
import TideModel
import TideRedis
import TideServer

/// Ocean's event listener types (reference §5), minus KAFKA and ACTIONS_ONLY.
public enum EventListenerType: String, Sendable, CaseIterable {
    case once = "ONCE"
    case polling = "POLLING"
    case webhook = "WEBHOOK"
    case webhooksOnly = "WEBHOOKS_ONLY"
}

public struct LiveSettings: Sendable {
    public var host: String
    public var port: Int
    public var listener: EventListenerType
    /// POLLING's interval (seconds).
    public var pollingInterval: Double
    /// `OCEAN__SCHEDULED_RESYNC_INTERVAL`, converted to seconds.
    public var scheduledInterval: Double?
    /// Seconds between incremental passes (`OCEAN__INTEGRATION__INCREMENTAL_SYNC_INTERVAL` when
    /// incremental sync is enabled); nil: none. Needs the service's `incremental` run.
    public var incrementalInterval: Double?
    /// `OCEAN__BASE_URL`: where the third party reaches this server (webhook registration).
    public var baseURL: String?
    /// With the Port sink, POLLING asks Port whether a resync was requested (true: resync now);
    /// nil means a local schedule.
    public var resyncRequested: (@Sendable () async -> Bool)?
    /// Serve webhooks that have no secret configured, unsigned (the operator's explicit opt-out of
    /// verification: `--allow-unsigned-webhooks`, `TIDE_ALLOW_UNSIGNED_WEBHOOKS=true`). Off: such a
    /// webhook answers every event 401. A webhook with a secret always verifies.
    public var allowUnsignedWebhooks = false
    /// The bearer token `POST /resync` must present (`--control-token`, `TIDE_CONTROL_TOKEN`);
    /// nil: `/resync` is disabled (403).
    public var controlToken: String?
    /// Timeouts and the connection cap of the HTTP server.
    public var limits = ServerLimits()
    /// Live events in Redis streams shared by replicas (`--events redis://…`); nil: in this
    /// process, as always. With it, resyncs also take a lease in Redis, so one replica runs one at a time.
    public var redis: RedisEventSettings?

    public init(host: String = "0.0.0.0", port: Int = 8000, listener: EventListenerType = .webhooksOnly,
                pollingInterval: Double = 60, scheduledInterval: Double? = nil, baseURL: String? = nil) {
        self.host = host
        self.port = port
        self.listener = listener
        self.pollingInterval = pollingInterval
        self.scheduledInterval = scheduledInterval
        self.baseURL = baseURL
    }
}

/// The live service could not start (its event stream is unreachable).
public struct LiveStartError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// How bad a line of the live service's log is.
public enum LiveLogLevel: String, Sendable { case info, warning, error }
public typealias LiveLog = @Sendable (LiveLogLevel, String) -> Void

/// Runs resyncs one at a time. A trigger while one runs does not stop it: it leaves one resync
/// pending, which starts when the running one ends, however many triggers arrived meanwhile (a
/// newer trigger aborting the running resync let a caller starve reconciliation forever). Only
/// `cancel` (SIGTERM) stops a running resync.
///
/// Incremental passes take turns with them the same way; a full resync pending makes an
/// incremental one pending redundant (it reads everything the pass would), never the reverse.
public actor ResyncController {
    public typealias Run = @Sendable () async throws -> Bool
    private let run: Run
    private let incremental: Run?
    private let metrics: WebhookMetrics
    private let log: LiveLog
    private let gate: (any ResyncGate)?
    private var current: Task<Void, Never>?
    /// Why the pending resync was asked for, and whether it is an incremental pass; nil when
    /// none is pending.
    private var pending: (reason: String, incremental: Bool)?
    private var stopped = false

    /// - Parameter gate: shared by replicas (a lease in Redis): a resync starts only when this
    ///   replica can take it, and is skipped (logged) while another replica holds it.
    /// - Parameter incremental: one incremental pass, for `trigger(_:incremental: true)`.
    public init(metrics: WebhookMetrics, log: @escaping LiveLog, gate: (any ResyncGate)? = nil, run: @escaping Run,
                incremental: Run? = nil) {
        self.run = run
        self.incremental = incremental
        self.metrics = metrics
        self.log = log
        self.gate = gate
    }

    public func trigger(_ reason: String, incremental: Bool = false) {
        guard !stopped, !incremental || self.incremental != nil else { return }
        guard current == nil else {
            metrics.update { $0.resyncTriggersCoalesced += 1 }
            if pending == nil || (pending?.incremental == true && !incremental) {
                pending = (reason, incremental)
                log(.info, "\(incremental ? "incremental pass" : "resync") requested (\(reason)) while one runs: it starts when the running one ends")
            }
            return
        }
        start(reason, incremental: incremental)
    }

    private func start(_ reason: String, incremental: Bool) {
        let metrics = self.metrics, log = self.log, gate = self.gate
        guard let run = incremental ? self.incremental : self.run else { return }
        let what = incremental ? "incremental pass" : "resync"
        func count(_ outcome: String) {
            metrics.update { s in
                if incremental { s.incrementalPasses[outcome, default: 0] += 1 } else {
                    switch outcome {
                    case "started": s.resyncsStarted += 1
                    case "succeeded": s.resyncsSucceeded += 1
                    case "failed": s.resyncsFailed += 1
                    default: s.resyncsAborted += 1
                    }
                }
            }
        }
        current = Task {
            var renewal: Task<Void, Never>?
            if let gate {
                guard await gate.enter() else {
                    log(.info, "\(what) (\(reason)) skipped: another replica holds the resync lease and runs one")
                    metrics.update { $0.ready = true }
                    await self.finished()
                    return
                }
                renewal = Task {
                    while !Task.isCancelled {
                        do { try await Task.sleep(for: .seconds(gate.renewalInterval)) } catch { return }
                        if !(await gate.renew()) { log(.warning, "the resync lease could not be renewed: another replica may start a resync") }
                    }
                }
            }
            defer { renewal?.cancel() }
            log(.info, "\(what) started (\(reason))")
            count("started")
            metrics.update { $0.resyncRunning = true; $0.ready = true }
            let started = ContinuousClock.now
            defer {
                let elapsed = ContinuousClock.now - started
                metrics.update { $0.resyncDuration.observe(Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18) }
            }
            do {
                // The resync's HTTP clients are built inside the engine: the task-local observer reaches them.
                let succeeded = try await HTTPClient.$observer.withValue(metrics) { try await run() }
                let aborted = Task.isCancelled
                count(aborted ? "aborted" : succeeded ? "succeeded" : "failed")
                if aborted { log(.warning, "\(what) aborted (stopping)") } else if succeeded { log(.info, "\(what) finished (complete)") } else {
                    log(.warning, "\(what) finished with errors")
                }
            } catch {
                let aborted = Task.isCancelled || error is CancellationError
                count(aborted ? "aborted" : "failed")
                log(aborted ? .warning : .error, aborted ? "\(what) aborted (stopping)" : "\(what) failed: \(error)")
            }
            metrics.update { $0.resyncRunning = false }
            renewal?.cancel()
            if let gate { await gate.leave() }
            await self.finished()
        }
    }

    private func finished() {
        current = nil
        if let next = pending, !stopped {
            pending = nil
            start(next.reason, incremental: next.incremental)
        }
    }

    /// Waits until no resync runs and none is pending.
    public func waitIdle() async {
        while let task = current { await task.value }
    }

    /// Stops for good: the pending resync is dropped and the running one cancelled.
    public func cancel() {
        stopped = true
        pending = nil
        current?.cancel()
    }
}

/// The live side of `tide run`: the webhook server, its workers and the event listener.
public final class LiveService: Sendable {
    public let settings: LiveSettings
    public let metrics = WebhookMetrics()
    public let endpoints: [WebhookEndpoint]
    public let resyncs: ResyncController
    private let processors: [[EventProcessor]]
    private let sink: any EntitySink
    private let blueprints: [Blueprint]
    private let client: HTTPClient
    private let registrar: WebhookRegistrar
    private let definitions: [WebhookDefinition]
    private let log: LiveLog
    private let state = Locked<(server: HTTPServer?, workers: [Task<Void, Never>], timers: [Task<Void, Never>])>((nil, [], []))

    /// - Parameter resync: one full resync; returns whether it completed without errors.
    /// - Parameter incremental: one incremental pass, run every `settings.incrementalInterval`.
    public init(integration: Integration, mapping: PortAppConfig, configuration: ResolvedConfiguration, sink: any EntitySink,
                mappingOptions: MappingOptions = MappingOptions(), settings: LiveSettings,
                log: @escaping LiveLog = { _, _ in },
                resync: @escaping ResyncController.Run, incremental: ResyncController.Run? = nil) throws(Diagnostics) {
        self.settings = settings
        self.log = log
        self.sink = sink
        blueprints = integration.blueprints
        let metrics = self.metrics
        resyncs = ResyncController(metrics: metrics, log: log, gate: settings.redis.map { RedisResyncGate(settings: $0) }, run: resync,
                                   incremental: incremental)
        var clientConfiguration = HTTPClient.Configuration(for: integration, secretStore: configuration.secretStore)
        clientConfiguration.observer = metrics
        // Refetches share each API host's budget with the resyncs, are served before them and,
        // while this client exists, have the integration's live share kept for them.
        clientConfiguration.budgets = .shared
        clientConfiguration.priority = .live
        client = HTTPClient(configuration: clientConfiguration)
        metrics.register(paths: integration.webhooks.map(\.path))
        if settings.redis != nil {
            metrics.update { s in for path in integration.webhooks.map(\.path) { s.rejected[path, default: [:]]["queue_unavailable", default: 0] += 0 } }
        }
        let session = try FetchSession(integration: integration, config: configuration, client: client)
        registrar = WebhookRegistrar(session: session, configJSON: configuration.json)
        definitions = integration.webhooks
        let config = (try? JSON(parsing: configuration.json)) ?? JSON(object: [:])
        let context = JSON(object: ["config": config])
        var endpoints: [WebhookEndpoint] = []
        var processors: [[EventProcessor]] = []
        for definition in integration.webhooks {
            let verifiers = Verifier.make(definition.verify) { source in
                (try? CompiledTemplate(source).renderString(context)).flatMap { $0 } ?? ""
            }
            // Closed by default: without a secret nothing can be verified, so nothing is accepted
            // unless the operator said otherwise. Either way it is said on every start.
            let refusesAll = verifiers.isEmpty && !settings.allowUnsignedWebhooks
            if verifiers.isEmpty {
                log(.warning, settings.allowUnsignedWebhooks
                    ? "webhook \(definition.path) accepts UNSIGNED events: no secret is configured and unsigned webhooks are allowed (--allow-unsigned-webhooks / TIDE_ALLOW_UNSIGNED_WEBHOOKS); anyone who can reach it can change the catalog"
                    : "webhook \(definition.path) refuses every event (401): no secret is configured; set the webhook's secret, or allow unsigned events with --allow-unsigned-webhooks / TIDE_ALLOW_UNSIGNED_WEBHOOKS=true")
            }
            let queue: (any EventQueue)? = settings.redis.map {
                RedisEventQueue(settings: $0, path: definition.path, partitions: definition.workers, capacity: definition.queueSize, log: log)
            }
            endpoints.append(try WebhookEndpoint(definition: definition, verifiers: verifiers, refusesAll: refusesAll, metrics: metrics,
                                                 queue: queue))
            processors.append((0..<definition.workers).map { _ in
                EventProcessor(definition: definition, integration: integration, mapping: mapping, session: session, sink: sink,
                                   metrics: metrics, configJSON: configuration.json, mappingOptions: mappingOptions)
            })
        }
        self.endpoints = endpoints
        self.processors = processors
    }

    public var baseURL: String? { state.current.server?.baseURL }

    /// Starts the workers, the server and the listener's resync schedule.
    public func start() async throws {
        // Live events may arrive before any resync has made the blueprints known.
        try await sink.prepare(blueprints: blueprints)
        for endpoint in endpoints {
            do { try await endpoint.queue.prepare() } catch {
                throw LiveStartError(message: "cannot use the event stream \(settings.redis.map { $0.url.redacted } ?? "") for webhook \(endpoint.definition.path): \(error)")
            }
        }
        if let redis = settings.redis {
            log(.info, "live events go through Redis at \(redis.url.redacted) as replica \(redis.consumer) (visibility timeout \(redis.visibilityTimeout)s)")
        }
        var workers: [Task<Void, Never>] = []
        let log = self.log
        for (endpoint, processors) in zip(endpoints, processors) {
            workers += await endpoint.queue.start { lane, event in
                await Self.apply(event, endpoint: endpoint, processor: processors[lane], log: log)
            }
        }
        let stats = ConnectionStats()
        let resyncRoute = settings.listener == .webhook ? resyncs : nil
        let routes = LiveRoutes(endpoints: endpoints, metrics: metrics, resyncs: resyncRoute,
                                controlToken: settings.controlToken, connections: stats, secrets: client.configuration.secrets)
        let server = try await HTTPServer.start(host: settings.host, port: settings.port, routes: routes,
                                                       limits: settings.limits, stats: stats)
        log(.info, "listening on \(server.baseURL) (\(settings.listener.rawValue)), at most \(server.maxConnections) connections")
        if server.maxConnections < settings.limits.maxConnections {
            log(.warning, "at most \(server.maxConnections) connections, not \(settings.limits.maxConnections): the descriptor limit (ulimit -n) leaves room for no more")
        }
        if resyncRoute != nil, settings.controlToken == nil {
            log(.info, "POST /resync is disabled (403): no control token is configured (--control-token / TIDE_CONTROL_TOKEN)")
        }
        state.withLock { $0.server = server; $0.workers = workers }
        // After listening, so a third party that calls the new webhook at once finds it served.
        await registerWebhooks()

        var timers: [Task<Void, Never>] = []
        let resyncs = self.resyncs
        switch settings.listener {
        case .once, .webhooksOnly:
            // No resync at start to wait for: ready once listening.
            metrics.update { $0.ready = true }
        case .webhook:
            await resyncs.trigger("start")
        case .polling:
            if let requested = settings.resyncRequested {
                // With Port, as Ocean: resync when Port holds a newer resync request.
                // Port may hold no request yet: ready once it has been asked, resync or not.
                let metrics = self.metrics
                timers.append(Self.every(settings.pollingInterval, immediately: true) {
                    if await requested() { await resyncs.trigger("resync request") }
                    metrics.update { $0.ready = true }
                })
            } else {
                // Without Port, POLLING is a local schedule: a resync now and every interval.
                timers.append(Self.every(settings.pollingInterval, immediately: true) { await resyncs.trigger("polling") })
            }
        }
        if let interval = settings.scheduledInterval, settings.listener != .webhooksOnly {
            timers.append(Self.every(interval, immediately: false) { await resyncs.trigger("scheduled") })
        }
        if let interval = settings.incrementalInterval, settings.listener != .webhooksOnly {
            timers.append(Self.every(interval, immediately: false) { await resyncs.trigger("scheduled", incremental: true) })
        }
        state.withLock { $0 = (server, workers, timers) }
    }

    /// Outcome of registering each webhook at the third party, by path (empty until `start`).
    public var registrations: [String: RegistrationOutcome] { registered.current }
    private let registered = Locked<[String: RegistrationOutcome]>([:])

    /// Registers every webhook that declares `register`, unless the listener is ONCE (nothing stays
    /// up to receive events) or no base URL says where the third party can reach this server.
    func registerWebhooks() async {
        let wanted = definitions.filter { $0.registration != nil }
        guard !wanted.isEmpty, settings.listener != .once else { return }
        guard let base = settings.baseURL?.trimmingCharacters(in: .whitespaces), !base.isEmpty else {
            log(.info, "webhooks are not registered at the third party: OCEAN__BASE_URL is not set (set it to the public address of this server, or create the webhooks by hand)")
            return
        }
        for definition in wanted {
            guard let registration = definition.registration else { continue }
            let url = (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/integration" + definition.path
            let outcome = await registrar.register(registration, url: url)
            registered.withLock { $0[definition.path] = outcome }
            switch outcome {
            case .notWanted: log(.info, "webhook \(definition.path): registration skipped (register.when is not true)")
            case .alreadyRegistered: log(.info, "webhook \(definition.path): already registered at the third party for \(url)")
            case .created: log(.info, "webhook \(definition.path): registered at the third party for \(url)")
            case .failed(let message):
                log(.warning, "webhook \(definition.path) was not registered at the third party: \(message)\n  hint: the endpoint still receives events; fix the cause above and restart, or create the webhook by hand for \(url)")
            }
        }
    }

    static func every(_ seconds: Double, immediately: Bool, _ body: @escaping @Sendable () async -> Void) -> Task<Void, Never> {
        Task {
            if immediately { await body() }
            while !Task.isCancelled {
                do { try await Task.sleep(for: .seconds(max(seconds, 0.01))) } catch { return }
                await body()
            }
        }
    }

    /// One event, within the path's timeout; its outcome counted and logged.
    static func apply(_ event: QueuedEvent, endpoint: WebhookEndpoint, processor: EventProcessor, log: @escaping LiveLog) async {
        let path = endpoint.definition.path
        let timeout = endpoint.definition.timeout
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await processor.process(event) }
                group.addTask {
                    try await Task.sleep(for: .seconds(timeout))
                    throw LiveEventError.timeout(timeout)
                }
                try await group.next()
                group.cancelAll()
            }
            endpoint.metrics.processed(path)
        } catch {
            // Logged before it is counted: whoever sees the count can find the reason.
            log(.error, "webhook \(path): event failed: \(error)")
            endpoint.metrics.failed(path)
        }
    }

    /// SIGTERM: answer every request 503 (the server still accepts connections, so load balancers
    /// see it going away), let the workers drain their queues, stop resyncs, then close the server.
    public func shutdown() async {
        let (server, workers, timers) = state.current
        for timer in timers { timer.cancel() }
        server?.beginDraining()
        for endpoint in endpoints { endpoint.closeIntake() }
        for worker in workers { await worker.value }
        await resyncs.cancel()
        await resyncs.waitIdle()
        await server?.stopAccepting()
        await server?.closeConnections()
        await client.shutdown()
    }

    /// The running server's connection counts (nil before `start`).
    public var connectionStats: ConnectionStats? { state.current.server?.stats }
}

/// Routing by method and path, as Ocean mounts it: POST /integration<path>, /resync, /health, /ready, /metrics.
struct LiveRoutes: HTTPRoutes {
    let endpoints: [String: WebhookEndpoint]
    let metrics: WebhookMetrics
    let resyncs: ResyncController?
    let controlToken: [UInt8]?
    let connections: ConnectionStats?
    /// The run's secrets: metrics hold only paths, reasons and counts, but they leave through the
    /// same redaction as every other output.
    let secrets: SecretStore

    init(endpoints: [WebhookEndpoint], metrics: WebhookMetrics, resyncs: ResyncController?, controlToken: String? = nil,
         connections: ConnectionStats? = nil, secrets: SecretStore = SecretStore()) {
        self.secrets = secrets
        self.endpoints = Dictionary(endpoints.map { ("/integration" + $0.definition.path, $0) }) { first, _ in first }
        self.metrics = metrics
        self.resyncs = resyncs
        self.controlToken = controlToken.flatMap { $0.isEmpty ? nil : Array($0.utf8) }
        self.connections = connections
    }

    func bodyLimit(method: String, path: String) -> Int {
        endpoints[path]?.definition.maxBodyBytes ?? 64 * 1024
    }

    func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? {
        switch (request.method, request.path) {
        case ("GET", "/health"), ("GET", "/"):
            return .json(#"{"ok":true}"#, status: 200)
        case ("GET", "/ready"):
            // Kubernetes' readiness probe: 503 until the first resync has started, so traffic waits for it.
            return metrics.snapshot.ready ? .json(#"{"ready":true}"#, status: 200)
                : .json(#"{"ready":false,"message":"waiting for the first resync to start"}"#, status: 503)
        case ("GET", "/metrics"):
            let depths = Dictionary(endpoints.values.map { ($0.definition.path, $0.queueDepth) }) { a, _ in a }
            return HTTPServerResponse(status: 200, headers: [HTTPField("Content-Type", "text/plain; version=0.0.4")],
                                      body: Array(secrets.redact(metrics.render(depths: depths, connections: connections)).utf8))
        case ("POST", "/resync"):
            guard let resyncs else { return .json(#"{"status":"error","message":"not found"}"#, status: 404) }
            guard let controlToken else {
                metrics.update { $0.controlRefused["disabled", default: 0] += 1 }
                return .json(#"{"status":"error","message":"POST /resync is disabled: no control token is configured (--control-token or TIDE_CONTROL_TOKEN)"}"#, status: 403)
            }
            guard Self.bearer(request.header("authorization")).map({ Verifier.constantTimeEqual(controlToken, Array($0.utf8)) }) == true else {
                metrics.update { $0.controlRefused["unauthorized", default: 0] += 1 }
                return .json(#"{"status":"error","message":"POST /resync needs Authorization: Bearer <control token>"}"#, status: 401,
                             headers: [HTTPField("WWW-Authenticate", #"Bearer realm="tide""#)])
            }
            Task { await resyncs.trigger("POST /resync") }
            return .json(#"{"status":"ok"}"#, status: 202)
        default:
            break
        }
        guard let endpoint = endpoints[request.path] else { return .json(#"{"status":"error","message":"not found"}"#, status: 404) }
        guard request.method == "POST" else { return .json(#"{"status":"error","message":"use POST"}"#, status: 405, headers: [HTTPField("Allow", "POST")]) }
        var headers: [String: String] = [:], query: [String: String] = [:]
        for field in request.headers { headers[field.name.lowercased()] = field.value }
        for item in request.query { query[item.name] = item.value ?? "" }
        // A queue in Redis is answered off the event loop, once the event is held there (`respond`).
        guard endpoint.queue.answersAtOnce, let result = endpoint.accept(body: request.body, headers: headers, query: query) else { return nil }
        return Self.response(result)
    }

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        if let immediate = respondImmediately(to: request) { return immediate }
        guard let endpoint = endpoints[request.path] else { return .json(#"{"status":"error","message":"not found"}"#, status: 404) }
        var headers: [String: String] = [:], query: [String: String] = [:]
        for field in request.headers { headers[field.name.lowercased()] = field.value }
        for item in request.query { query[item.name] = item.value ?? "" }
        return Self.response(await endpoint.acceptDurably(body: request.body, headers: headers, query: query))
    }

    static func response(_ result: IntakeResult) -> HTTPServerResponse {
        switch result {
        case .accepted: return .json(#"{"status":"ok"}"#, status: 202)
        case .ignored: return .json(#"{"status":"ignored"}"#, status: 202)
        case .full: return .json(#"{"status":"error","message":"queue full"}"#, status: 503, headers: [HTTPField("Retry-After", "1")])
        case .rejected(let status, let reason, let message):
            let escaped = message.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"")
            return .json(#"{"status":"error","message":""# + escaped + #""}"#, status: status,
                         headers: reason == "queue_unavailable" ? [HTTPField("Retry-After", "1")] : [])
        }
    }

    /// The token of `Authorization: Bearer <token>` (the scheme's name is case-insensitive).
    static func bearer(_ header: String?) -> String? {
        guard let header else { return nil }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.count > 7, trimmed.prefix(7).lowercased() == "bearer " else { return nil }
        return String(trimmed.dropFirst(7)).trimmingCharacters(in: .whitespaces)
    }
}
