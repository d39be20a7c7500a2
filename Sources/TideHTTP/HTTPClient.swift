import Foundation
import TideCore

/// An HTTP client for integrations: libcurl underneath, `async` on top.
///
/// ```swift
/// let client = HTTPClient(configuration: .init(secrets: [apiToken]))
/// let response = try await client.send(HTTPRequest(url: "https://x.atlassian.net/rest/api/3/project/search"))
/// await client.shutdown()
/// ```
///
/// **Threading.** The client is `Sendable`: share one instance between tasks. Transfers run on a
/// single engine thread driving libcurl's multi interface; callers suspend on a continuation and
/// no thread blocks per request. Configuration is immutable; the only mutable state (the request
/// budgets, the engine's command queue) sits behind locks.
///
/// **Per request**, each attempt first waits for the request budget of its origin (a
/// `HostBudget`: `maxConcurrentRequests` in flight and the `rateLimit`, adapting to 429s, 503s and
/// the server's rate-limit headers), and gives it back when the attempt ends, so waits between
/// retries hold nothing. With `budgets` set to `HostBudgetRegistry.shared`, every client of the
/// process shares one budget per origin; otherwise the client's budgets are its own. Requests
/// carry a `RequestPriority`: live ones are served first and have a share kept for them. See
/// `RetryPolicy` for when attempts repeat.
///
/// **Shutdown.** Call `shutdown()` when done; it fails transfers still running as `.cancelled`
/// and frees every libcurl handle. Dropping the last reference does the same without waiting.
public final class HTTPClient: Sendable {
    public struct Configuration: Sendable {
        /// Time allowed to establish a connection (TCP and TLS).
        public var connectTimeout: Duration
        /// Time allowed for one whole attempt, connection included.
        public var timeout: Duration
        /// Requests in flight at once to one origin (the ceiling of its budget); the rest wait,
        /// live ones first, then in arrival order.
        public var maxConcurrentRequests: Int
        /// A proactive limit on requests started to one origin (every attempt counts), or nil for none.
        public var rateLimit: RateLimit?
        /// Responses with a larger body fail with `.tooLarge` instead of growing memory.
        public var maxResponseBodyBytes: Int
        public var retry: RetryPolicy
        /// Verify the server's certificate and host name. Turning this off is **unsafe**: anyone
        /// on the path can read and change the traffic, credentials included. Only for test
        /// servers with self-signed certificates.
        public var verifyTLS: Bool
        public var followRedirects: Bool
        public var maxRedirects: Int
        /// Sent with every request unless the request sets the same header itself.
        public var defaultHeaders: HTTPHeaders
        /// Secrets that must never appear in an error or log line: the run's store, which the
        /// fetcher adds tokens to as it learns them.
        public var secrets: SecretStore
        /// Told about every attempt (one upstream request each), for metrics; when nil, the
        /// task's `HTTPClient.observer` is told instead.
        public var observer: (any HTTPRequestObserver)?
        /// Where the request budgets of this client's origins live: `HostBudgetRegistry.shared` to
        /// share them with every client of the process that does the same (resyncs and the webhook
        /// service), or nil for budgets of this client's own.
        public var budgets: HostBudgetRegistry?
        /// The priority of requests that do not set one: `.live` for a webhook service's client,
        /// which also keeps the live share of its registry's budgets while it exists.
        public var priority: RequestPriority = .bulk
        /// The share of each budget kept for live requests while a live client exists (see
        /// `HostBudget.Limits.liveShare`).
        public var liveShare: Double = 0.1
        /// Whether budgets adapt to 429s, 503s and rate-limit headers (see `HostBudget`).
        public var adaptive: Bool = true

        /// The budget ceilings this configuration asks for.
        public var budgetLimits: HostBudget.Limits {
            HostBudget.Limits(concurrency: maxConcurrentRequests, rate: rateLimit, liveShare: liveShare,
                              maxPause: retry.maxTotalWait, adaptive: adaptive)
        }

        public init(connectTimeout: Duration = .seconds(10), timeout: Duration = .seconds(60),
                    maxConcurrentRequests: Int = 32, rateLimit: RateLimit? = nil,
                    maxResponseBodyBytes: Int = 256 << 20, retry: RetryPolicy = .default,
                    verifyTLS: Bool = true, followRedirects: Bool = true, maxRedirects: Int = 10,
                    defaultHeaders: HTTPHeaders = ["User-Agent": "tide"], secrets: [String] = [],
                    secretStore: SecretStore? = nil)
        {
            self.connectTimeout = connectTimeout
            self.timeout = timeout
            self.maxConcurrentRequests = max(1, maxConcurrentRequests)
            self.rateLimit = rateLimit
            self.maxResponseBodyBytes = max(0, maxResponseBodyBytes)
            self.retry = retry
            self.verifyTLS = verifyTLS
            self.followRedirects = followRedirects
            self.maxRedirects = maxRedirects
            self.defaultHeaders = defaultHeaders
            let store = secretStore ?? SecretStore()
            store.add(secrets)
            self.secrets = store
        }
    }

    public let configuration: Configuration
    /// The redaction applied to every error this client throws; use it for your own log lines too.
    public var redactor: Redactor { configuration.secrets.redactor }
    private let engine: CurlEngine
    private let registry: HostBudgetRegistry
    /// The budgets this client has used, by origin: holding them keeps them (and what they learnt)
    /// alive in a shared registry, and spares a registry lookup per request.
    private let held = Locked<[String: HostBudget]>([:])
    private let liveLane: LiveLane?

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
        engine = CurlEngine(poolLimit: configuration.maxConcurrentRequests,
                            maxIdleConnections: max(8, configuration.maxConcurrentRequests))
        registry = configuration.budgets ?? HostBudgetRegistry()
        liveLane = configuration.priority == .live ? registry.openLiveLane() : nil
    }

    /// The request budget of `url`'s origin, as this client uses it.
    public func budget(for url: String) -> HostBudget {
        // A URL without an origin fails in the engine; its one attempt still goes through a budget.
        let origin = URLText.origin(url) ?? "invalid:"
        if let known = held.withLock({ $0[origin] }) { return known }
        let budget = registry.budget(for: origin, limits: configuration.budgetLimits)
        return held.withLock { held in
            if let raced = held[origin] { return raced }
            held[origin] = budget
            return budget
        }
    }

    /// The budgets this client has used, as they stand.
    public var budgetStats: [HostBudget.Stats] {
        held.withLock { Array($0.values) }.map(\.stats).sorted { $0.origin < $1.origin }
    }

    deinit { engine.requestStop() }

    /// Stops the engine thread and frees its handles; requests still running fail as `.cancelled`.
    public func shutdown() async { await engine.stop() }

    /// Sends `request`, retrying as the policy allows, and returns the final response.
    ///
    /// Throws `HTTPError` for a connection failure, a timeout, an oversized body, cancellation, or
    /// (unless `request.throwsOnErrorStatus` is false) a status outside 200–399.
    public func send(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        var request = request
        try check(request)
        if request.originPolicy?.decide(request.url) == .withoutCredentials {
            request = OriginPolicy.strippingCredentials(request, secrets: redactor)
        }
        // Redirects are followed here, not by libcurl, so that every hop passes the origin policy
        // and credentials never travel to an origin they do not belong to.
        var hops = 0
        while true {
            let response = try await sendOnce(request)
            guard configuration.followRedirects, [301, 302, 303, 307, 308].contains(response.status),
                  let location = response.headers["Location"], !location.isEmpty else { return response }
            hops += 1
            if hops > configuration.maxRedirects {
                throw HTTPError(kind: .connection, method: request.method, url: redactor.redactURL(request.url), attempts: 1,
                                detail: "more than \(configuration.maxRedirects) redirects")
            }
            let target = URLText.resolve(location, against: request.url)
            guard URLText.isAbsolute(target), let scheme = URLText.Parts(target)?.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
                throw HTTPError(kind: .invalidURL, method: request.method, url: redactor.redactURL(request.url), attempts: 1,
                                detail: "redirected to \(redactor.redactURL(target)), which is not an http(s) URL")
            }
            let decision = request.originPolicy?.decide(target)
                ?? (URLText.origin(target) == URLText.origin(request.url) ? .withCredentials : .withoutCredentials)
            switch decision {
            case .refused:
                throw HTTPError(kind: .refusedOrigin, method: request.method, url: redactor.redactURL(request.url), attempts: 1,
                                detail: "redirected to \(redactor.redactURL(target)), an origin this integration does not allow; the redirect was not followed")
            case .withoutCredentials:
                request = OriginPolicy.strippingCredentials(request, secrets: redactor)
            case .withCredentials:
                break
            }
            request.url = target
            // 303, and 301/302 after a POST as every client does, continue as a GET without a body.
            if response.status == 303 || ((response.status == 301 || response.status == 302) && request.method == .post) {
                request.method = .get
                request.body = nil
                request.headers.remove("Content-Type")
                request.headers.remove("Content-Length")
            }
        }
    }

    /// Refuses what must never leave: a header that could split the request, a URL outside the policy.
    private func check(_ request: HTTPRequest) throws(HTTPError) {
        for field in request.headers {
            let bad = { (text: String) in text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 } }
            if bad(field.name) || bad(field.value) {
                throw HTTPError(kind: .invalidHeader, method: request.method, url: redactor.redactURL(request.url), attempts: 0,
                                detail: "header \(redactor.redact(field.name)) holds a line break or a NUL character")
            }
        }
        if request.originPolicy?.decide(request.url) == .refused {
            throw HTTPError(kind: .refusedOrigin, method: request.method, url: redactor.redactURL(request.url), attempts: 0,
                            detail: "this origin is not the API's (http.baseUrl) nor in http.allowedHosts")
        }
    }

    /// One request, retried as the policy allows; redirects are returned, not followed.
    private func sendOnce(_ request: HTTPRequest) async throws(HTTPError) -> HTTPResponse {
        var request = request
        for field in configuration.defaultHeaders where !request.headers.contains(field.name) {
            request.headers.add(field.name, field.value)
        }
        let policy = configuration.retry
        let settings = TransferSettings(
            connectTimeout: request.connectTimeout ?? configuration.connectTimeout,
            timeout: request.timeout ?? configuration.timeout,
            maxBodyBytes: configuration.maxResponseBodyBytes, verifyTLS: configuration.verifyTLS,
            followRedirects: false, maxRedirects: 0)

        let started = ContinuousClock.now
        var attempts = 0
        var waited = Duration.zero
        var queued = Duration.zero
        let budget = self.budget(for: request.url)
        let priority = request.priority ?? configuration.priority

        while true {
            attempts += 1
            let queueStart = ContinuousClock.now
            guard let permit = await budget.acquire(priority) else { throw cancelled(request, attempts: attempts - 1) }
            queued += ContinuousClock.now - queueStart
            let attemptStart = ContinuousClock.now
            let outcome = await engine.perform(request, settings: settings)
            switch outcome {
            case .response(let response): budget.finish(permit, status: response.status, headers: response.headers)
            case .failure: budget.finish(permit, status: nil, headers: nil)
            }
            if let observer = configuration.observer ?? Self.observer {
                observer.requestFinished(method: request.method.rawValue, statusClass: outcome.statusClass,
                                         duration: ContinuousClock.now - attemptStart)
            }

            // Decide: return, throw, or wait and go round again.
            let failure: HTTPError
            let wait: Duration
            switch outcome {
            case .response(let response):
                let result = HTTPResponse(
                    status: response.status, reason: response.reason, headers: response.headers,
                    body: response.body, url: response.url,
                    timing: HTTPTiming(total: ContinuousClock.now - started, lastAttempt: response.duration,
                                       queued: queued, retryWait: waited, attempts: attempts))
                let failed = !(200..<400).contains(response.status)
                let retryable = (policy.retryableStatuses.contains(response.status) || request.alsoRetriedStatuses.contains(response.status))
                    && request.mayRetry
                if !retryable || attempts >= policy.maxAttempts {
                    // The answer the caller acts on (retried attempts are not: replay needs only this).
                    Self.exchangeRecorder?.exchangeFinished(HTTPExchange(request: request, response: result))
                    if failed && request.throwsOnErrorStatus {
                        throw statusError(request, response, attempts: attempts)
                    }
                    return result
                }
                let error = statusError(request, response, attempts: attempts)
                if policy.honourServerDelay, let asked = RetryPolicy.serverDelay(in: response.headers) {
                    if asked > policy.maxTotalWait - waited {
                        Self.exchangeRecorder?.exchangeFinished(HTTPExchange(request: request, response: result))
                        // Fail now: sleeping far beyond the budget would look like a hang.
                        if !request.throwsOnErrorStatus { return result }
                        throw error.adding(detail:
                            "the server asked to wait \(Self.format(asked)), more than the retry wait limit of \(Self.format(policy.maxTotalWait))" +
                            (waited > .zero ? " (\(Self.format(waited)) already spent)" : ""))
                    }
                    wait = asked
                } else {
                    wait = policy.backoff(afterAttempt: attempts)
                }
                failure = error
            case .failure(let problem):
                let error = HTTPError(kind: problem.kind, method: request.method, url: redactor.redactURL(request.url),
                                      attempts: attempts, detail: redactor.redact(problem.detail))
                // A refused connection fails at once: nothing listens there (a wrong host or port),
                // and five retries would only hide that for seconds per kind.
                let retryableKind = (problem.kind == .connection && !problem.unreachable) || problem.kind == .timeout
                guard retryableKind, policy.retryConnectionErrors, request.mayRetry || problem.notSent,
                      attempts < policy.maxAttempts else { throw error }
                wait = policy.backoff(afterAttempt: attempts)
                failure = error
            }

            if wait > policy.maxTotalWait - waited {
                throw failure.adding(detail: "stopped retrying: the next wait of \(Self.format(wait)) would pass the retry wait limit of \(Self.format(policy.maxTotalWait))")
            }
            if wait > .zero {
                do { try await Task.sleep(for: wait) } catch { throw cancelled(request, attempts: attempts) }
            } else if Task.isCancelled {
                throw cancelled(request, attempts: attempts)
            }
            waited += wait
        }
    }

    // MARK: Errors

    private func cancelled(_ request: HTTPRequest, attempts: Int) -> HTTPError {
        HTTPError(kind: .cancelled, method: request.method, url: redactor.redactURL(request.url),
                  attempts: attempts, detail: "the task was cancelled")
    }

    private func statusError(_ request: HTTPRequest, _ response: AttemptOutcome.Response, attempts: Int) -> HTTPError {
        var headers = HTTPHeaders()
        for field in response.headers { headers.add(field.name, redactor.redact(field.value)) }
        return HTTPError(kind: .status, method: request.method, url: redactor.redactURL(request.url),
                         status: response.status, reason: response.reason,
                         bodyExcerpt: HTTPError.excerpt(of: response.body, redactor: redactor),
                         attempts: attempts, responseHeaders: headers)
    }

    static func format(_ duration: Duration) -> String {
        let seconds = duration.seconds
        if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
        if seconds == seconds.rounded() { return "\(Int(seconds)) s" }
        return String(format: "%.1f s", seconds)
    }
}

/// Sees each attempt's method, status class and duration, and nothing else: no URL, header or
/// body, so what it records cannot hold a secret.
public protocol HTTPRequestObserver: Sendable {
    /// - Parameter statusClass: `2xx`…`5xx`, or `error` when no response came (connection, timeout…).
    func requestFinished(method: String, statusClass: String, duration: Duration)
}

extension HTTPClient {
    /// The observer of requests sent from this task and its children by clients configured without
    /// one: a resync's clients are built deep inside the engine, and this reaches them all.
    @TaskLocal public static var observer: (any HTTPRequestObserver)?
}

/// One request as it was finally sent and the response the caller got (after retries; each
/// redirect hop is an exchange of its own). Request headers are left out on purpose: they carry
/// credentials, and nothing that records exchanges needs them.
public struct HTTPExchange: Sendable {
    public var method: String
    /// The absolute URL, query included.
    public var url: String
    public var requestBody: [UInt8]?
    public var status: Int
    public var responseHeaders: HTTPHeaders
    public var responseBody: [UInt8]

    public init(method: String, url: String, requestBody: [UInt8]?, status: Int, responseHeaders: HTTPHeaders, responseBody: [UInt8]) {
        self.method = method
        self.url = url
        self.requestBody = requestBody
        self.status = status
        self.responseHeaders = responseHeaders
        self.responseBody = responseBody
    }

    init(request: HTTPRequest, response: HTTPResponse) {
        self.init(method: request.method.rawValue, url: request.url, requestBody: request.body, status: response.status,
                  responseHeaders: response.headers, responseBody: response.body)
    }
}

/// Sees every final exchange of the clients in its task (`tide record`); unlike
/// `HTTPRequestObserver` it sees URLs and bodies, so only a recorder that scrubs them may be one.
public protocol HTTPExchangeRecorder: Sendable {
    func exchangeFinished(_ exchange: HTTPExchange)
}

extension HTTPClient {
    /// The recorder of exchanges sent from this task and its children; nil (the default) records nothing.
    @TaskLocal public static var exchangeRecorder: (any HTTPExchangeRecorder)?
}

extension AttemptOutcome {
    var statusClass: String {
        switch self {
        case .response(let response) where (100..<600).contains(response.status): "\(response.status / 100)xx"
        case .response, .failure: "error"
        }
    }
}

extension HTTPError {
    func adding(detail more: String) -> HTTPError {
        var copy = self
        copy.detail = [detail, more].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: "; ")
        return copy
    }
}
