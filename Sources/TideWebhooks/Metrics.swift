import TideCore

/// Counters exposed at /metrics in Prometheus' text format.
public final class WebhookMetrics: Sendable {
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
        /// Triggers that arrived while a resync ran, folded into the one pending after it.
        public var resyncTriggersCoalesced = 0
        /// POST /resync refused, by reason (unauthorized, disabled).
        public var controlRefused: [String: Int] = [:]
        public var resyncRunning = false
    }

    private let state = Locked(Snapshot())
    public init() {}

    public var snapshot: Snapshot { state.current }
    func update(_ body: (inout Snapshot) -> Void) { state.withLock { body(&$0) } }

    func received(_ path: String) { update { $0.received[path, default: 0] += 1 } }
    func rejected(_ path: String, _ reason: String) { update { $0.rejected[path, default: [:]][reason, default: 0] += 1 } }
    func ignored(_ path: String) { update { $0.ignored[path, default: 0] += 1 } }
    func processed(_ path: String) { update { $0.processed[path, default: 0] += 1 } }
    func failed(_ path: String) { update { $0.failed[path, default: 0] += 1 } }
    func retried(_ path: String) { update { $0.retries[path, default: 0] += 1 } }

    /// Only paths, reasons and numbers: nothing from a request or the configuration, so no secret.
    /// - Parameter depths: events waiting per path, read from the endpoints at scrape time.
    /// - Parameter connections: the server's connection counts, when it runs.
    public func render(depths: [String: Int], connections: ConnectionStats? = nil) -> String {
        let s = snapshot
        var out = ""
        func family(_ name: String, _ type: String, _ help: String, _ values: [String: Int]) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
            for (path, value) in values.sorted(by: { $0.key < $1.key }) { out += "\(name){path=\"\(path)\"} \(value)\n" }
        }
        family("tide_webhook_events_received_total", "counter", "Requests that reached a webhook path.", s.received)
        out += "# HELP tide_webhook_events_rejected_total Requests refused (verification, body, JSON, queue full).\n"
        out += "# TYPE tide_webhook_events_rejected_total counter\n"
        for (path, reasons) in s.rejected.sorted(by: { $0.key < $1.key }) {
            for (reason, value) in reasons.sorted(by: { $0.key < $1.key }) {
                out += "tide_webhook_events_rejected_total{path=\"\(path)\",reason=\"\(reason)\"} \(value)\n"
            }
        }
        family("tide_webhook_events_ignored_total", "counter", "Accepted events no matcher handles.", s.ignored)
        family("tide_webhook_events_processed_total", "counter", "Events applied to the sink.", s.processed)
        family("tide_webhook_events_failed_total", "counter", "Events that failed or timed out.", s.failed)
        family("tide_webhook_refetch_retries_total", "counter", "Refetch attempts after a failure.", s.retries)
        family("tide_webhook_queue_depth", "gauge", "Events waiting or in progress.", depths)
        out += "# HELP tide_resyncs_total Resyncs by outcome.\n# TYPE tide_resyncs_total counter\n"
        out += "tide_resyncs_total{outcome=\"started\"} \(s.resyncsStarted)\n"
        out += "tide_resyncs_total{outcome=\"succeeded\"} \(s.resyncsSucceeded)\n"
        out += "tide_resyncs_total{outcome=\"failed\"} \(s.resyncsFailed)\n"
        out += "tide_resyncs_total{outcome=\"aborted\"} \(s.resyncsAborted)\n"
        out += "# HELP tide_resync_running Whether a resync is running.\n# TYPE tide_resync_running gauge\n"
        out += "tide_resync_running \(s.resyncRunning ? 1 : 0)\n"
        out += "# HELP tide_resync_triggers_coalesced_total Resync triggers folded into the one pending after the running resync.\n"
        out += "# TYPE tide_resync_triggers_coalesced_total counter\ntide_resync_triggers_coalesced_total \(s.resyncTriggersCoalesced)\n"
        out += "# HELP tide_control_requests_refused_total POST /resync requests refused, by reason.\n"
        out += "# TYPE tide_control_requests_refused_total counter\n"
        for (reason, value) in s.controlRefused.sorted(by: { $0.key < $1.key }) {
            out += "tide_control_requests_refused_total{reason=\"\(reason)\"} \(value)\n"
        }
        if let connections {
            out += "# HELP tide_http_connections_open Open connections to the server.\n# TYPE tide_http_connections_open gauge\n"
            out += "tide_http_connections_open \(connections.open)\n"
            out += "# HELP tide_http_connections_closed_total Connections the server closed, by reason.\n"
            out += "# TYPE tide_http_connections_closed_total counter\n"
            for (reason, value) in connections.closed.sorted(by: { $0.key < $1.key }) {
                out += "tide_http_connections_closed_total{reason=\"\(reason)\"} \(value)\n"
            }
        }
        return out
    }
}
