import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Testing
import TideHTTP
import TideTesting

/// `tide run` serving webhooks as an operator starts it: the real binary, its flags and
/// environment, under `ulimit -n 256`, stopped with SIGTERM.
@Suite struct ServeCommandTests {
    /// A descriptor limit below 300 connections, as in the issue.
    static let descriptorLimit = 256

    static let token = "ctl-\(UUID().uuidString)"

    /// One webhook whose secret is a setting this test never sets.
    static func integration() throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-serve-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/.port/resources", withIntermediateDirectories: true)
        try """
        name: served
        configuration:
          - {name: secret, type: string, sensitive: true}
        http:
          baseUrl: http://127.0.0.1:9
        kinds:
          item:
            request: {path: /items}
            records: .items
        webhooks:
          - path: /webhook
            verify: {type: hmac, secret: "{{ .config.secret // \\"\\" }}", header: X-Hub-Signature-256, prefix: "sha256="}
            events:
              - {match: .payload.action == "updated", kinds: [item], item: .payload.item, key: .item.id}
        """.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
        try """
        resources:
          - kind: item
            selector: {query: 'true'}
            port:
              entity:
                mappings: {identifier: .id, title: .name, blueprint: '"item"'}
        """.write(toFile: directory + "/.port/resources/port-app-config.yml", atomically: true, encoding: .utf8)
        try #"[{"identifier":"item","title":"Item","schema":{"properties":{},"required":[]},"relations":{}}]"#
            .write(toFile: directory + "/.port/resources/blueprints.json", atomically: true, encoding: .utf8)
        return directory
    }

    func send(_ port: Int, _ method: String, _ path: String, body: String = "", headers: [String: String] = [:]) async throws -> HTTPResponse {
        let client = HTTPClient(configuration: .init(retry: .never))
        defer { Task { await client.shutdown() } }
        var all = HTTPHeaders(headers.map { ($0.key, $0.value) })
        all.set("Content-Type", "application/json")
        return try await client.send(HTTPRequest(method: method == "POST" ? .post : .get, url: "http://127.0.0.1:\(port)\(path)",
                                                 headers: all, body: Array(body.utf8), throwsOnErrorStatus: false))
    }

    @Test func closedByDefaultUnderALowDescriptorLimit() async throws {
        let directory = try Self.integration()
        let served = try ServedTide(["run", directory, "--catalog", directory + "/catalog.sqlite", "--event-listener", "WEBHOOK",
                                 "--listen", "127.0.0.1:0"], environment: ["TIDE_CONTROL_TOKEN": Self.token],
                                    descriptorLimit: Self.descriptorLimit)
        try await served.waitListening()
        let port = served.port
        let log = served.log
        #expect(log.contains("WARNING webhook /webhook refuses every event (401)"), "\(log)")
        #expect(log.contains("at most 192 connections"), "\(log)")

        // 300 connections that never send a byte, as many as the issue's: /health still answers.
        var flood: [Int32] = []
        defer { for descriptor in flood { close(descriptor) } }
        for _ in 0..<300 { flood.append(try Self.connect(port)) }
        let health = try await send(port, "GET", "/health")
        #expect(health.status == 200)

        let unsigned = #"{"action": "updated", "item": {"id": "forged", "name": "x"}}"#
        #expect(try await send(port, "POST", "/integration/webhook", body: unsigned).status == 401)
        #expect(try await send(port, "POST", "/resync").status == 401)
        #expect(try await send(port, "POST", "/resync", headers: ["Authorization": "Bearer " + Self.token]).status == 202)
        let metrics = try await send(port, "GET", "/metrics").text
        #expect(metrics.contains(#"tide_webhook_events_rejected_total{path="/webhook",reason="no_secret"} 1"#))
        #expect(metrics.contains("tide_http_connections_closed_total{reason=\"evicted\"}"))

        #expect(try await served.stop() == 0)
        let final = served.log
        #expect(final.contains("draining"))
        #expect(!final.contains(Self.token) && !metrics.contains(Self.token))
    }

    @Test func theOperatorsOptOutIsAWarningOnEveryStart() async throws {
        let directory = try Self.integration()
        for run in 1...2 {
            let served = try ServedTide(["run", directory, "--catalog", directory + "/catalog.sqlite", "--event-listener", "WEBHOOKS_ONLY",
                                     "--listen", "127.0.0.1:0"] + (run == 1 ? ["--allow-unsigned-webhooks"] : []),
                                    environment: run == 2 ? ["TIDE_ALLOW_UNSIGNED_WEBHOOKS": "true"] : [:],
                                    descriptorLimit: Self.descriptorLimit)
            try await served.waitListening()
            #expect(served.log.contains("WARNING webhook /webhook accepts UNSIGNED events"), "run \(run): \(served.log)")
            let body = #"{"action": "updated", "item": {"id": "open-\#(run)", "name": "x"}}"#
            #expect(try await send(served.port, "POST", "/integration/webhook", body: body).status == 202)
            #expect(try await served.stop() == 0)
        }
    }

    /// A TCP connection that sends nothing.
    static func connect(_ port: Int) throws -> Int32 {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard descriptor >= 0, result == 0 else { throw POSIXError(.ECONNREFUSED) }
        return descriptor
    }
}

/// Polls until `condition` holds; the limit only stops a broken test from hanging on a loaded machine.
private func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(180)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    struct Timeout: Error, CustomStringConvertible {
        var what: String
        var description: String { "gave up waiting for \(what)" }
    }
    throw Timeout(what: what)
}
