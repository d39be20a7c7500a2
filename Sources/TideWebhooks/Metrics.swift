import TideCore
import TideServer
import TideHTTP

/// Counts, for /metrics, of sizes in seconds: Prometheus' cumulative `le` buckets, `_sum` and `_count`.
public struct DurationHistogram: Sendable {
    /// Upstream requests: milliseconds to a minute (the client's default timeout).
    public static let requestBounds: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// Whole resyncs: a second to an hour.
    public static let resyncBounds: [Double] = [1, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

    public let bounds: [Double]
    /// Observations at or under each bound (not cumulative; rendering adds them up).
    public private(set) var counts: [Int]
    public private(set) var sum = 0.0
    public private(set) var count = 0

    public init(bounds: [Double]) {
        self.bounds = bounds
        counts = Array(repeating: 0, count: bounds.count)
    }

    public mutating func observe(_ seconds: Double) {
        if let index = bounds.firstIndex(where: { seconds <= $0 }) { counts[index] += 1 }
        sum += seconds
        count += 1
    }

    func render(_ name: String) -> String {
        var out = ""
        var cumulative = 0
        for (bound, count) in zip(bounds, counts) {
            cumulative += count
            out += "\(name)_bucket{le=\"\(PrometheusText.number(bound))\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(count)\n\(name)_sum \(PrometheusText.number(sum))\n\(name)_count \(count)\n"
        return out
    }
}

/// Prometheus' text exposition format (0.0.4).
enum PrometheusText {
    /// A label value as the format requires: backslash, double quote and line feed escaped.
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(character)
            }
        }
        return out
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : "\(value)"
    }
}

/// Counters exposed at /metrics in Prometheus' text format. Every series is there from the start,
/// at zero (webhook paths and reasons included), so a rate or an alert does not wait for the first event.
public final class WebhookMetrics: HTTPRequestObserver, Sendable {
    /// Why a webhook request is refused (`tide_webhook_events_rejected_total{reason}`).
    public static let rejectionReasons = ["json", "no_record", "no_secret", "queue_full", "stopping", "verification"]
    /// Why `POST /resync` is refused.
    public static let controlRefusalReasons = ["disabled", "unauthorized"]
    /// Why the server closes a connection (`ConnectionStats.closed`).
    public static let connectionCloseReasons = ["body_timeout", "evicted", "header_timeout", "idle_timeout", "over_capacity"]
    /// The HTTP client's outcomes, by status class; `error` is an attempt that got no response.
    public static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx", "error"]

    public struct Snapshot: Sendable {
        public var received: [String: Int] = [:]
        /// By path and reason.
        public var rejected: [String: [String: Int]] = [:]
        public var ignored: [String: Int] = [:]
        public var processed: [String: Int] = [:]
        public var failed: [String: Int] = [:]
        public var retries: [String: Int] = [:]
        public var resyncsStarted = 0
        public var resyncsSucceeded = 0
        public var resyncsFailed = 0
        public var resyncsAborted = 0
        /// Incremental passes by outcome (started, succeeded, failed, aborted).
        public var incrementalPasses: [String: Int] = [:]
        /// Triggers that arrived while a resync ran, folded into the one pending after it.
        public var resyncTriggersCoalesced = 0
        /// POST /resync refused, by reason (unauthorized, disabled).
        public var controlRefused: [String: Int] = [:]
        public var resyncRunning = false
        /// Whether /ready answers 200: the server is up and the first resync has started (or the
        /// listener runs none at start).
        public var ready = false
        /// Upstream requests (every attempt) by status class.
        public var upstreamRequests: [String: Int] = Dictionary(uniqueKeysWithValues: WebhookMetrics.statusClasses.map { ($0, 0) })
        public var upstreamDuration = DurationHistogram(bounds: DurationHistogram.requestBounds)
        /// Resyncs that ended, whatever their outcome.
        public var resyncDuration = DurationHistogram(bounds: DurationHistogram.resyncBounds)
    }

    private let state = Locked(Snapshot())
    public init() {}

    public var snapshot: Snapshot { state.current }
    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    /// Puts every per-path series at zero for `paths`.
    func register(paths: [String]) {
        update { s in
            for path in paths {
                s.received[path, default: 0] += 0
                for reason in Self.rejectionReasons { s.rejected[path, default: [:]][reason, default: 0] += 0 }
                s.ignored[path, default: 0] += 0
                s.processed[path, default: 0] += 0
                s.failed[path, default: 0] += 0
                s.retries[path, default: 0] += 0
            }
        }
    }

    func received(_ path: String) { update { $0.received[path, default: 0] += 1 } }
    func rejected(_ path: String, _ reason: String) { update { $0.rejected[path, default: [:]][reason, default: 0] += 1 } }
    func ignored(_ path: String) { update { $0.ignored[path, default: 0] += 1 } }
    func processed(_ path: String) { update { $0.processed[path, default: 0] += 1 } }
    func failed(_ path: String) { update { $0.failed[path, default: 0] += 1 } }
    func retried(_ path: String) { update { $0.retries[path, default: 0] += 1 } }

    public func requestFinished(method: String, statusClass: String, duration: Duration) {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        update { s in
            s.upstreamRequests[statusClass, default: 0] += 1
            s.upstreamDuration.observe(seconds)
        }
    }

    /// Only paths, reasons, status classes and numbers: nothing from a request or the configuration
    /// (no URL, no host), so no secret. Label values are escaped all the same.
    /// - Parameter depths: events waiting per path, read from the endpoints at scrape time.
    /// - Parameter connections: the server's connection counts, when it runs.
    public func render(depths: [String: Int], connections: ConnectionStats? = nil) -> String {
        let s = snapshot
        let escape = PrometheusText.escape
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func family(_ name: String, _ type: String, _ help: String, _ label: String, _ values: [String: Int]) {
            header(name, type, help)
            for (key, value) in values.sorted(by: { $0.key < $1.key }) { out += "\(name){\(label)=\"\(escape(key))\"} \(value)\n" }
        }
        header("tide_build_info", "gauge", "Always 1; the version of Tide serving.")
        out += "tide_build_info{version=\"\(escape(TideVersion.current))\"} 1\n"
        header("tide_ready", "gauge", "Whether GET /ready answers 200.")
        out += "tide_ready \(s.ready ? 1 : 0)\n"
        family("tide_webhook_events_received_total", "counter", "Requests that reached a webhook path.", "path", s.received)
        header("tide_webhook_events_rejected_total", "counter", "Requests refused (verification, body, JSON, queue full).")
        for (path, reasons) in s.rejected.sorted(by: { $0.key < $1.key }) {
            for (reason, value) in reasons.sorted(by: { $0.key < $1.key }) {
                out += "tide_webhook_events_rejected_total{path=\"\(escape(path))\",reason=\"\(escape(reason))\"} \(value)\n"
            }
        }
        family("tide_webhook_events_ignored_total", "counter", "Accepted events no matcher handles.", "path", s.ignored)
        family("tide_webhook_events_processed_total", "counter", "Events applied to the sink.", "path", s.processed)
        family("tide_webhook_events_failed_total", "counter", "Events that failed or timed out.", "path", s.failed)
        family("tide_webhook_refetch_retries_total", "counter", "Refetch attempts after a failure.", "path", s.retries)
        var allDepths = depths
        for path in s.received.keys where allDepths[path] == nil { allDepths[path] = 0 }
        family("tide_webhook_queue_depth", "gauge", "Events waiting or in progress.", "path", allDepths)
        header("tide_resyncs_total", "counter", "Resyncs by outcome.")
        out += "tide_resyncs_total{outcome=\"started\"} \(s.resyncsStarted)\n"
        out += "tide_resyncs_total{outcome=\"succeeded\"} \(s.resyncsSucceeded)\n"
        out += "tide_resyncs_total{outcome=\"failed\"} \(s.resyncsFailed)\n"
        out += "tide_resyncs_total{outcome=\"aborted\"} \(s.resyncsAborted)\n"
        var passes = Dictionary(uniqueKeysWithValues: ["started", "succeeded", "failed", "aborted"].map { ($0, 0) })
        passes.merge(s.incrementalPasses) { $1 }
        family("tide_incremental_passes_total", "counter", "Incremental passes (between full resyncs) by outcome.", "outcome", passes)
        header("tide_resync_running", "gauge", "Whether a resync is running.")
        out += "tide_resync_running \(s.resyncRunning ? 1 : 0)\n"
        header("tide_resync_duration_seconds", "histogram", "How long resyncs took, whatever their outcome.")
        out += s.resyncDuration.render("tide_resync_duration_seconds")
        header("tide_resync_triggers_coalesced_total", "counter", "Resync triggers folded into the one pending after the running resync.")
        out += "tide_resync_triggers_coalesced_total \(s.resyncTriggersCoalesced)\n"
        var refused = Dictionary(uniqueKeysWithValues: Self.controlRefusalReasons.map { ($0, 0) })
        refused.merge(s.controlRefused) { $1 }
        family("tide_control_requests_refused_total", "counter", "POST /resync requests refused, by reason.", "reason", refused)
        family("tide_http_client_requests_total", "counter",
               "Requests Tide sent upstream (the API, Port), every attempt, by status class; error: no response.",
               "status_class", s.upstreamRequests)
        header("tide_http_client_request_duration_seconds", "histogram", "How long each upstream request attempt took.")
        out += s.upstreamDuration.render("tide_http_client_request_duration_seconds")
        header("tide_http_connections_open", "gauge", "Open connections to the server.")
        out += "tide_http_connections_open \(connections?.open ?? 0)\n"
        var closed = Dictionary(uniqueKeysWithValues: Self.connectionCloseReasons.map { ($0, 0) })
        closed.merge(connections?.closed ?? [:]) { $1 }
        family("tide_http_connections_closed_total", "counter", "Connections the server closed, by reason.", "reason", closed)
        return out
    }
}
