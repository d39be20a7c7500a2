import Foundation
import Testing
import TideCatalog
import TideCore
import TideHTTP
import TideModel
import TideRedis
import TideTesting

/// Two `tide run` replicas (the real binary) sharing live events through Redis and one catalog.
@Suite(.enabled(if: TestRedis.enabled), .serialized) struct ReplicaTests {
    static let secret = "replica-token-\(UUID().uuidString.prefix(8))"

    /// A webhook whose events refetch their item from `thirdParty` (so applying one takes a
    /// request's time, and a replica is killed in the middle of events, not between them).
    static func integration(workers: Int, queueSize: Int, timeout: Int) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-replicas-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/.port/resources", withIntermediateDirectories: true)
        try """
        name: relay
        configuration:
          - {name: baseUrl, type: url, required: true}
          - {name: secret, type: string, sensitive: true}
        http:
          baseUrl: "{{ .config.baseUrl }}"
        kinds:
          item:
            selector:
              id: {type: string, description: One item (live events).}
              seq: {type: string, description: Its version (live events).}
            request:
              path: /items
              query: {id: "{{ .selector.id }}", seq: "{{ .selector.seq }}"}
            records: .items
        webhooks:
          - path: /webhook
            workers: \(workers)
            queueSize: \(queueSize)
            timeout: \(timeout)
            verify: {type: token, secret: "{{ .config.secret }}", header: X-Token}
            events:
              - name: changed
                match: .payload.action == "changed"
                kinds: [item]
                item: .payload.item
                action: refetch
                refetch: {id: .item.id, seq: .item.seq | tostring}
                key: .item.id
        """.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
        try """
        resources:
          - kind: item
            selector: {query: 'true'}
            port:
              entity:
                mappings: {identifier: .id, title: .id, blueprint: '"item"', properties: {seq: .seq}}
        """.write(toFile: directory + "/.port/resources/port-app-config.yml", atomically: true, encoding: .utf8)
        try #"[{"identifier":"item","title":"Item","schema":{"properties":{"seq":{"type":"number"}},"required":[]},"relations":{}}]"#
            .write(toFile: directory + "/.port/resources/blueprints.json", atomically: true, encoding: .utf8)
        return directory
    }

    /// The third party: an item as the refetch asks for it, after `delay` (longer for held ids).
    static func thirdParty(delay: Duration, held: Set<String> = []) async throws -> TestHTTPServer {
        try await TestHTTPServer.start(recordsRequests: true) { request in
            let id = request.queryValue("id") ?? "", seq = request.queryValue("seq") ?? "0"
            var response = TestResponse.json(#"{"items": [{"id": "\#(id)", "seq": \#(Int(seq) ?? 0)}]}"#)
            response.delay = held.contains(id) ? .seconds(600) : delay
            return response
        }
    }

    static func start(_ directory: String, catalog: String, events: String, namespace: String, baseURL: String,
                      viaEnvironment: Bool) async throws -> ServedTide {
        var arguments = ["run", directory, "--catalog", catalog, "--event-listener", "WEBHOOKS_ONLY", "--listen", "127.0.0.1:0",
                         "--config", "baseUrl=\(baseURL)"]
        var environment = ["OCEAN__INTEGRATION__IDENTIFIER": namespace]
        if viaEnvironment { environment["TIDE_EVENTS"] = events } else { arguments += ["--events", events] }
        // The secret through the environment (as sensitive settings are), not the command line.
        environment["OCEAN__INTEGRATION__CONFIG__SECRET"] = secret
        let replica = try ServedTide(arguments, environment: environment)
        try await replica.waitListening()
        return replica
    }

    enum Outcome { case accepted, refused(Int), unknown }

    static func post(_ client: HTTPClient, port: Int, id: String, seq: Int) async -> Outcome {
        let body = #"{"action": "changed", "item": {"id": "\#(id)", "seq": \#(seq)}}"#
        var headers = HTTPHeaders([("X-Token", secret)])
        headers.set("Content-Type", "application/json")
        do {
            let response = try await client.send(HTTPRequest(method: .post, url: "http://127.0.0.1:\(port)/integration/webhook",
                                                             headers: headers, body: Array(body.utf8), throwsOnErrorStatus: false))
            return response.status == 202 ? .accepted : .refused(response.status)
        } catch {
            // No answer: the event may or may not be in the stream.
            return .unknown
        }
    }

    /// Two replicas take a burst of webhooks alternately; one is killed with SIGKILL in the middle
    /// of it, while applying events. Every event answered 202 is applied, in arrival order per
    /// entity, none lost; the survivor takes the dead replica's partitions over after the
    /// visibility timeout and applies what it left pending.
    @Test func aReplicaKilledMidBurstLosesNoAcceptedEvent() async throws {
        let url = try TestRedis.requireURL()
        let thirdParty = try await Self.thirdParty(delay: .milliseconds(15))
        let directory = try Self.integration(workers: 3, queueSize: 100_000, timeout: 30)
        let catalog = directory + "/catalog.sqlite"
        let namespace = TestRedis.namespace("kill")
        let events = url.value + (url.value.contains("?") ? "&" : "?") + "visibilityTimeout=2"
        let a = try await Self.start(directory, catalog: catalog, events: events, namespace: namespace, baseURL: thirdParty.baseURL,
                                     viaEnvironment: false)
        defer { a.kill() }
        // A has taken every partition before B starts, so A applies events until it dies.
        try await eventually("A holds the partitions") { a.log.components(separatedBy: "taken by this replica").count - 1 == 3 }
        let b = try await Self.start(directory, catalog: catalog, events: events, namespace: namespace, baseURL: thirdParty.baseURL,
                                     viaEnvironment: true)
        defer { b.kill() }
        #expect(!a.log.contains(Self.secret) && !b.log.contains(Self.secret))
        #expect(b.log.contains("live events go through Redis at redis://:***@"), "\(b.log)")

        // Events: odd ones create an entity of their own ("u-N"), even ones update one of six
        // entities ("k-J") with a rising seq. Four senders, each with its own entities, one request
        // at a time: so arrival order per entity is the order sent.
        let total = 480, senders = 4
        let outcomes = Locked<[Int: (id: String, outcome: Outcome)]>([:])
        let killed = Locked(false)
        let client = HTTPClient(configuration: .init(retry: .never))
        await withTaskGroup(of: Void.self) { group in
            for sender in 0..<senders {
                group.addTask {
                    for n in stride(from: sender, to: total, by: senders) {
                        // n ≡ sender (mod 4): senders 0 and 2 update three entities each, 1 and 3 create.
                        let id = sender % 2 == 1 ? "u-\(n)" : "k-\(sender)-\((n / senders) % 3)"
                        // Alternately to A and B (an entity's consecutive events too); once A is dead, to B only.
                        let port = ((n / senders) % 2 == 1 || killed.current) ? b.port : a.port
                        let outcome = await Self.post(client, port: port, id: id, seq: n)
                        outcomes.withLock { $0[n] = (id, outcome) }
                    }
                }
            }
            group.addTask {
                try? await eventually("a third of the burst accepted") { outcomes.current.count >= total / 3 }
                // From now on senders go to B; what is in flight to A gets no answer.
                killed.withLock { $0 = true }
                a.kill()
            }
        }
        await client.shutdown()
        let all = outcomes.current
        let accepted = all.filter { if case .accepted = $0.value.outcome { true } else { false } }
        let unknown = Set(all.filter { if case .unknown = $0.value.outcome { true } else { false } }.map(\.key))
        let refused = all.filter { if case .refused = $0.value.outcome { true } else { false } }
        #expect(all.count == total)
        #expect(refused.isEmpty, "\(refused.map { ($0.key, $0.value.outcome) })")
        // Few requests can be in flight to A when it dies: at most one per sender.
        #expect(unknown.count <= senders, "\(unknown.sorted())")
        #expect(accepted.count >= total - senders)

        // Expected: every accepted unique entity, and each updated entity at its last accepted seq
        // (or a later one whose answer was lost with A).
        var expectedUnique = Set<String>(), lastAccepted: [String: Int] = [:], possible: [String: Set<Int>] = [:]
        for (n, value) in all where value.id.hasPrefix("k-") {
            if case .accepted = value.outcome { lastAccepted[value.id] = max(lastAccepted[value.id] ?? -1, n) }
            possible[value.id, default: []].insert(n)
        }
        for (n, value) in accepted where value.id.hasPrefix("u-") { _ = n; expectedUnique.insert(value.id) }
        let opened = try Catalog(path: catalog)
        func snapshot() throws -> [String: StoredEntity] {
            Dictionary(try opened.entities(blueprint: "item").map { ($0.identifier, $0) }) { first, _ in first }
        }
        func seq(_ entity: StoredEntity?) -> Int? {
            guard let text = entity?.properties.text, let object = JSONValue.parse(text) else { return nil }
            return object["seq"].flatMap { Int($0.text()) }
        }
        // B takes A's partitions after the visibility timeout and applies what A left.
        try await eventually("every accepted event applied") {
            let entities = try snapshot()
            return expectedUnique.allSatisfy { entities[$0] != nil }
                && lastAccepted.allSatisfy { id, last in (seq(entities[id]) ?? -1) >= last }
        }
        // Nothing left in Redis: every event was acknowledged and deleted.
        let connection = RedisConnection(url: url)
        try await eventually("the streams emptied") {
            var left = 0
            for partition in 0..<3 {
                left += try await connection.streamLength("tide:{\(namespace):/webhook}:events:\(partition)")
            }
            return left == 0
        }
        let entities = try snapshot()
        var compared = 0
        for id in expectedUnique {
            #expect(entities[id] != nil, "\(id) was accepted and is missing")
            compared += 1
        }
        for (id, last) in lastAccepted {
            let final = seq(entities[id]) ?? -1
            // In arrival order: the entity ends at its last accepted version (or a later one that
            // was taken while A died), never at an older one.
            #expect(final >= last && possible[id, default: []].contains(final), "\(id): \(final), last accepted \(last)")
            compared += 1
        }
        // Nothing that was never sent, and nothing refused, is in the catalog.
        let sent = Set(all.map(\.value.id))
        #expect(Set(entities.keys).isSubset(of: sent))
        let stray = Set(entities.keys).subtracting(expectedUnique).subtracting(lastAccepted.keys)
        #expect(stray.allSatisfy { id in all.contains { $0.value.id == id && unknown.contains($0.key) } }, "\(stray)")
        // An event A had applied but not yet acknowledged when it died is applied again by B
        // (idempotent: same entity, same values); at most one per partition A was in.
        let reapplied = expectedUnique.filter { id in entities[id].map { $0.updatedAt != $0.createdAt } ?? false }
        #expect(reapplied.count <= 3, "\(reapplied)")
        #expect(compared == expectedUnique.count + lastAccepted.count && compared > 200)
        // B took A's partitions over, and applied the events A had read and not acknowledged.
        #expect(b.log.components(separatedBy: "taken by this replica").count - 1 == 3, "\(b.log)")
        let claimed = b.log.components(separatedBy: "(claimed)").count - 1
        #expect(claimed >= 1, "A died between events: nothing was pending")
        await thirdParty.stop()
        print("replica kill: \(all.count) sent, \(accepted.count) accepted, \(unknown.count) unknown, \(compared) compared, \(reapplied.count) applied again, \(claimed) claimed from A")
    }

    /// The stream's cap is shared by the replicas: once `queueSize` events wait or are in
    /// progress, intake on either answers 503 with Retry-After, and takes events again once
    /// they are applied.
    @Test func aFullStreamAnswers503WithRetryAfter() async throws {
        let url = try TestRedis.requireURL()
        let thirdParty = try await Self.thirdParty(delay: .milliseconds(1), held: ["hold"])
        let directory = try Self.integration(workers: 1, queueSize: 3, timeout: 4)
        let catalog = directory + "/catalog.sqlite"
        let namespace = TestRedis.namespace("full")
        let a = try await Self.start(directory, catalog: catalog, events: url.value, namespace: namespace, baseURL: thirdParty.baseURL,
                                     viaEnvironment: false)
        defer { a.kill() }
        let b = try await Self.start(directory, catalog: catalog, events: url.value, namespace: namespace, baseURL: thirdParty.baseURL,
                                     viaEnvironment: true)
        defer { b.kill() }
        let client = HTTPClient(configuration: .init(retry: .never))
        defer { Task { await client.shutdown() } }
        // One event in progress (its refetch hangs until the event's 4 s timeout), two waiting.
        guard case .accepted = await Self.post(client, port: a.port, id: "hold", seq: 1) else { Issue.record("hold refused"); return }
        try await eventually("the held event in progress") { thirdParty.requests.contains { $0.queryValue("id") == "hold" } }
        var statuses: [Int] = []
        for (n, port) in [b.port, a.port].enumerated() {
            if case .accepted = await Self.post(client, port: port, id: "w-\(n)", seq: n) { statuses.append(202) } else { statuses.append(0) }
        }
        #expect(statuses == [202, 202])
        // Full, whichever replica is asked.
        var headers = HTTPHeaders([("X-Token", Self.secret)])
        headers.set("Content-Type", "application/json")
        var refusals = 0
        for port in [a.port, b.port] {
            let response = try await client.send(HTTPRequest(method: .post, url: "http://127.0.0.1:\(port)/integration/webhook", headers: headers,
                                                             body: Array(#"{"action": "changed", "item": {"id": "over", "seq": 9}}"#.utf8),
                                                             throwsOnErrorStatus: false))
            #expect(response.status == 503)
            #expect(response.headers["Retry-After"] == "1")
            refusals += response.status == 503 ? 1 : 0
        }
        #expect(refusals == 2)
        let metrics = try await client.send(HTTPRequest(method: .get, url: "http://127.0.0.1:\(a.port)/metrics", throwsOnErrorStatus: false)).text
        #expect(metrics.contains(#"tide_webhook_events_rejected_total{path="/webhook",reason="queue_full"} 1"#), "\(metrics)")
        // The held event times out (failed, acknowledged), the two waiting ones are applied: room again.
        try await eventually("room in the stream") {
            if case .accepted = await Self.post(client, port: b.port, id: "after", seq: 10) { return true }
            try await Task.sleep(for: .milliseconds(200))
            return false
        }
        let opened = try Catalog(path: catalog)
        try await eventually("the waiting events applied") { try opened.entities(blueprint: "item").count == 3 }
        #expect(try Set(opened.entities(blueprint: "item").map(\.identifier)) == ["w-0", "w-1", "after"])
        await thirdParty.stop()
    }
}
