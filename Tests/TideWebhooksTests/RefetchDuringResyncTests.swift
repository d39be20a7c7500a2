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
        // Each partition's page is held by the API until the refetches are applied: while the
        // first three are in flight, no bulk slot comes free, however loaded the machine is. A
        // refetch (no region, one id) answers at once.
        let held = Locked(true)
        let api = try await TestHTTPServer.start { request in
            if let id = request.queryValue("id") {
                return .json(#"{"items": [{"id": "\#(id)", "name": "refetched"}]}"#)
            }
            let region = request.queryValue("region") ?? "?"
            while held.current { try? await Task.sleep(for: .milliseconds(10)) }
            return TestResponse.json(#"{"items": [{"id": "\#(region)-1", "name": "from \#(region)"}]}"#)
        }
        let secret = "busy-token-not-real"
        let served = try await ServedIntegration.start(name: "busy", integration: Self.integration, mapping: Self.mapping,
                                                       blueprint: "item", config: ["host": api.baseURL, "secret": secret])
        let catalog = served.catalog
        defer {
            Task {
                await served.stop()
                await api.stop()
            }
        }

        // 12 runs at once through the 3 slots bulk may use (concurrency 4, a quarter kept live).
        let resync = Task {
            try await Resync(integration: served.integration, mapping: served.integration.defaultMapping!,
                             configuration: served.configuration, sink: served.sink).run(observer: NoObserver())
        }
        func bulkRequests() -> Int { api.requests.filter { $0.queryValue("region") != nil }.count }
        try await eventually("the resync holding every bulk slot") { bulkRequests() >= 3 }

        var applied = 0
        for index in 0..<2 {
            let body = #"{"action": "changed", "item": {"id": "live-\#(index)"}}"#
            let status = try await served.post(body, headers: ["X-Token": secret])
            #expect(status == 202)
            try await eventually("live-\(index) written") { (try? catalog.entity(blueprint: "item", identifier: "live-\(index)")) != nil }
            applied += 1
        }
        // Served through the share kept for live requests while every bulk slot stayed taken (no
        // bulk page can end before they are applied). Without the share (liveShare: 0) a refetch
        // would wait for a bulk slot that never comes free, and this test would time out.
        #expect(applied == 2)
        #expect(bulkRequests() == 3, "bulk requests started before the refetches were applied: \(bulkRequests())")
        held.withLock { $0 = false }
        resync.cancel()
        _ = try? await resync.value
    }
}
