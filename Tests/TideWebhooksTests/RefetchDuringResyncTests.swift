import Foundation
import Testing
import TideCatalog
import TideCore
import TideEngine
import TideHTTP
import TideIntegration
import TideModel
import TideTesting
@testable import TideWebhooks

/// Issue 15: a resync whose partitions saturate the API's budget cannot starve the webhook
/// service: its refetches get the share kept for live requests, end to end (a real webhook
/// server, a real API on loopback, one budget for both).
@Suite struct RefetchDuringResyncTests {
    static let integration = """
    name: busy
    configuration:
      - {name: host, type: url, required: true}
      - {name: secret, type: string, sensitive: true}
    http:
      baseUrl: "{{ .config.host }}"
      concurrency: 4
      liveShare: 0.25
      retry: {attempts: 1}
    kinds:
      item:
        selector:
          id: {type: string, description: One item (live events).}
        request:
          path: /items
          query:
            region: "{{ .partition }}"
            id: "{{ .selector.id }}"
        records: .items
        concurrency: 12
        partitions:
          values: '[range(24) | "r\\(.)"]'
          complete: true
    webhooks:
      - path: /webhook
        verify: {type: token, secret: "{{ .config.secret }}", header: X-Token}
        retry: {attempts: 1}
        events:
          - name: changed
            match: .payload.action == "changed"
            kinds: [item]
            item: .payload.item
            action: refetch
            refetch: {id: .item.id}
    """

    static let mapping = """
    resources:
      - kind: item
        selector: {query: 'true'}
        port:
          entity:
            mappings: {identifier: .id, title: .name, blueprint: '"item"'}
    """

    @Test func refetchesAreServedWhileAResyncSaturatesTheBudget() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-busy-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory + "/.port/resources", withIntermediateDirectories: true)
        try Self.integration.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
        try Self.mapping.write(toFile: directory + "/.port/resources/port-app-config.yml", atomically: true, encoding: .utf8)
        try #"[{"identifier": "item", "schema": {"properties": {}}}]"#
            .write(toFile: directory + "/.port/resources/blueprints.json", atomically: true, encoding: .utf8)

        // Each partition's page takes 1.5 s; a refetch (no region, one id) answers at once.
        let api = try await TestHTTPServer.start { request in
            if let id = request.queryValue("id") {
                return .json(#"{"items": [{"id": "\#(id)", "name": "refetched"}]}"#)
            }
            let region = request.queryValue("region") ?? "?"
            var response = TestResponse.json(#"{"items": [{"id": "\#(region)-1", "name": "from \#(region)"}]}"#)
            response.delay = .milliseconds(1500)
            return response
        }
        let integration = try Integration.load(directory: directory)
        let secret = "busy-token-not-real"
        let configuration = try ConfigurationResolver(overrides: ["host": api.baseURL, "secret": secret], environment: [:])
            .resolve(for: integration)
        let catalog = try Catalog(path: directory + "/catalog.sqlite")
        let sink = CatalogSink(catalog: catalog, datasource: Datasource(integrationType: "busy", installationIdentifier: "busy-test"))
        let service = try LiveService(integration: integration, mapping: integration.defaultMapping!, configuration: configuration,
                                      sink: sink, settings: LiveSettings(host: "127.0.0.1", port: 0, listener: .webhooksOnly)) { true }
        try await service.start()
        let client = HTTPClient(configuration: .init(retry: .never))
        defer {
            Task {
                await service.shutdown()
                await client.shutdown()
                await api.stop()
            }
        }

        // 24 partitions of 1.5 s through 3 bulk slots: about 12 s of resync, 12 runs at once, so
        // bulk requests are always waiting for the budget while the refetches arrive.
        let resync = Task {
            try await Resync(integration: integration, mapping: integration.defaultMapping!, configuration: configuration, sink: sink)
                .run(observer: NoObserver())
        }
        try await eventually("the resync saturating the budget") { api.requestsInFlight >= 3 }

        var waits: [Duration] = []
        for index in 0..<3 {
            let clock = ContinuousClock(), sent = clock.now
            let body = #"{"action": "changed", "item": {"id": "live-\#(index)"}}"#
            let status = try await client.send(HTTPRequest(method: .post, url: service.baseURL! + "/integration/webhook",
                                                           headers: ["Content-Type": "application/json", "X-Token": secret],
                                                           body: Array(body.utf8), throwsOnErrorStatus: false)).status
            #expect(status == 202)
            try await eventually("live-\(index) written") { (try? catalog.entity(blueprint: "item", identifier: "live-\(index)")) != nil }
            waits.append(clock.now - sent)
        }
        let resyncStillRunning = api.requests.filter { $0.queryValue("region") != nil }.count < 24
        let summary = try await resync.value
        #expect(summary.succeeded)
        #expect(summary.kinds.first?.entities == 24)
        // Every refetch was applied while partitions were still waiting their turn, each well
        // before a bulk slot would have come free for it in turn.
        #expect(resyncStillRunning, "the resync had finished before the refetches: the test proved nothing")
        #expect(waits.count == 3)
        // A refetch that queued behind the bulk requests would wait a 1.5 s page at least.
        #expect(waits.allSatisfy { $0 < .seconds(1) }, "\(waits)")
    }
}
