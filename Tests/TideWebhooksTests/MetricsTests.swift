import Foundation
import Testing
import TideCore
import TideHTTP
@testable import TideWebhooks
import TideTesting
import TideIntegration

/// Prometheus' text format read back: each sample `name{labels}` with its value, and the families.
struct Exposition {
    var samples: [String: Double] = [:]
    var order: [String] = []
    var types: [String: String] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                types[String(parts[2])] = String(parts[3])
                continue
            }
            if line.hasPrefix("#") { continue }
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("not a sample: \(line)")
                continue
            }
            let key = String(line[..<space])
            samples[key] = value
            order.append(key)
        }
    }

    subscript(_ key: String) -> Double? { samples[key] }

    /// Samples of a family (histograms: its _bucket, _sum and _count).
    func family(_ name: String) -> [String] {
        order.filter { key in
            let bare = key.split(separator: "{").first.map(String.init) ?? key
            return bare == name || (types[name] == "histogram" && [name + "_bucket", name + "_sum", name + "_count"].contains(bare))
        }
    }
}

@Suite struct MetricsTests {
    @Test func everySeriesIsThereAtZeroFromTheStart() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let response = try await h.get("/metrics")
        #expect(response.status == 200)
        let metrics = Exposition(response.text)
        // Every family declared has samples already.
        #expect(metrics.types.count >= 18)
        for name in metrics.types.keys.sorted() { #expect(!metrics.family(name).isEmpty, "\(name) has no sample") }
        let paths = h.integration.webhooks.map(\.path)
        #expect(paths.count == 8)
        var zeros = 0
        for path in paths {
            for family in ["received", "ignored", "processed", "failed"] {
                #expect(metrics["tide_webhook_events_\(family)_total{path=\"\(path)\"}"] == 0)
                zeros += 1
            }
            #expect(metrics["tide_webhook_refetch_retries_total{path=\"\(path)\"}"] == 0)
            #expect(metrics["tide_webhook_queue_depth{path=\"\(path)\"}"] == 0)
            for reason in WebhookMetrics.rejectionReasons {
                #expect(metrics["tide_webhook_events_rejected_total{path=\"\(path)\",reason=\"\(reason)\"}"] == 0)
                zeros += 1
            }
        }
        #expect(zeros == 8 * (4 + 6))
        for statusClass in ["1xx", "2xx", "3xx", "4xx", "5xx", "error"] {
            #expect(metrics["tide_http_client_requests_total{status_class=\"\(statusClass)\"}"] == 0)
        }
        for reason in ["disabled", "unauthorized"] { #expect(metrics["tide_control_requests_refused_total{reason=\"\(reason)\"}"] == 0) }
        for reason in ["body_timeout", "evicted", "header_timeout", "idle_timeout", "over_capacity"] {
            #expect(metrics["tide_http_connections_closed_total{reason=\"\(reason)\"}"] == 0)
        }
        #expect(metrics.types["tide_http_client_request_duration_seconds"] == "histogram")
        #expect(metrics["tide_http_client_request_duration_seconds_bucket{le=\"+Inf\"}"] == 0)
        #expect(metrics["tide_http_client_request_duration_seconds_count"] == 0)
        #expect(metrics.family("tide_http_client_request_duration_seconds").count == DurationHistogram.requestBounds.count + 3)
        #expect(metrics["tide_resync_duration_seconds_count"] == 0)
        #expect(metrics["tide_resyncs_total{outcome=\"started\"}"] == 0)
        #expect(metrics["tide_build_info{version=\"\(TideVersion.current)\"}"] == 1)
        // WEBHOOKS_ONLY runs no resync: ready as soon as it listens.
        #expect(metrics["tide_ready"] == 1)
        #expect(try await h.get("/ready").status == 200)
    }

    @Test func readinessWaitsForTheFirstResyncToStart() async throws {
        // With Port, POLLING asks Port first; held here, so no resync has started yet.
        let asked = Gate()
        let resyncHeld = Gate()
        let h = try await Harness.start(listener: .polling, resyncGate: resyncHeld) { settings in
            settings.resyncRequested = {
                try? await asked.wait()
                return true
            }
        }
        defer { Task { await h.stop() } }
        try await eventually("Port asked") { asked.arrived == 1 }
        let waiting = try await h.get("/ready")
        #expect(waiting.status == 503)
        #expect(waiting.text.contains("waiting for the first resync"))
        #expect(Exposition(try await h.get("/metrics").text)["tide_ready"] == 0)
        // Liveness is another question: /health answers all along.
        #expect(try await h.get("/health").status == 200)
        asked.release()
        // Started (and still running, held at its gate) is enough.
        try await eventually("the first resync started") { resyncHeld.arrived == 1 }
        try await eventually("ready") { try await h.get("/ready").status == 200 }
        #expect(h.service.metrics.snapshot.resyncRunning)
        #expect(Exposition(try await h.get("/metrics").text)["tide_ready"] == 1)
        resyncHeld.release()
    }

    @Test func upstreamRequestsAndResyncsAreMeasuredWithoutURLs() async throws {
        let h = try await Harness.start(listener: .webhook)
        defer { Task { await h.stop() } }
        h.thirdParty.set("a", name: "A")
        try await eventually("the start resync") { h.service.metrics.snapshot.resyncsSucceeded == 1 }
        var metrics = Exposition(try await h.get("/metrics").text)
        let resyncRequests = h.thirdParty.state.current.requests.values.reduce(0, +)
        #expect(resyncRequests >= 1)
        #expect(metrics["tide_http_client_requests_total{status_class=\"2xx\"}"] == Double(resyncRequests))
        #expect(metrics["tide_http_client_request_duration_seconds_count"] == Double(resyncRequests))
        #expect((metrics["tide_http_client_request_duration_seconds_sum"] ?? 0) > 0)
        #expect(metrics["tide_resync_duration_seconds_count"] == 1)
        #expect(metrics["tide_resync_duration_seconds_bucket{le=\"+Inf\"}"] == 1)

        // A live refetch that the API fails twice (500, retried by the event) and then answers.
        h.thirdParty.set("r1", name: "R")
        h.thirdParty.state.withLock { $0.failuresLeft["r1"] = 2 }
        #expect(try await h.hmac(event("refetch", id: "r1")).status == 202)
        try await eventually("the refetch applied") { h.title("r1") == "R" }
        let text = try await h.get("/metrics").text
        metrics = Exposition(text)
        #expect(metrics["tide_http_client_requests_total{status_class=\"5xx\"}"] == 2)
        #expect(metrics["tide_http_client_requests_total{status_class=\"2xx\"}"] == Double(resyncRequests + 1))
        #expect(metrics["tide_http_client_request_duration_seconds_count"] == Double(resyncRequests + 3))
        #expect(metrics["tide_webhook_refetch_retries_total{path=\"/hmac\"}"] == 2)
        // Hosts, URLs and secrets stay out.
        #expect(!text.contains("127.0.0.1") && !text.contains("/items") && !text.contains(Hooks.secret))
    }

    @Test func labelValuesAreEscaped() {
        let metrics = WebhookMetrics()
        let odd = "/a\"b\\c\nd"
        metrics.register(paths: [odd])
        metrics.received(odd)
        let text = metrics.render(depths: [odd: 3])
        #expect(text.contains(#"tide_webhook_events_received_total{path="/a\"b\\c\nd"} 1"#))
        #expect(text.contains(#"tide_webhook_queue_depth{path="/a\"b\\c\nd"} 3"#))
        // No raw line break inside a label: every line is a comment or starts with a metric name.
        let lines = text.split(separator: "\n")
        #expect(lines.count > 50)
        #expect(lines.allSatisfy { $0.hasPrefix("#") || $0.hasPrefix("tide_") })
        #expect(PrometheusText.escape(#"x"\y"#) == #"x\"\\y"#)
    }

    @Test func histogramsAreCumulative() {
        var histogram = DurationHistogram(bounds: [0.1, 1, 10])
        for seconds in [0.05, 0.1, 0.5, 5, 50] { histogram.observe(seconds) }
        let text = histogram.render("h")
        #expect(text == """
        h_bucket{le="0.1"} 2
        h_bucket{le="1"} 3
        h_bucket{le="10"} 4
        h_bucket{le="+Inf"} 5
        h_sum 55.65
        h_count 5

        """)
    }
}
