import Foundation
import Testing
import TideTestRunner

/// `expect.webhooks`: events sent through the real webhook server after (or without) the resync.
@Suite struct WebhookCaseTests {
    static let secret = "runner-test-secret"

    /// `item` records over `/items` (or `/items/ID` by the `id` selector), mapped to `widget`
    /// entities unless grey; one signed webhook with a delete, an upsert and a refetch matcher.
    func integration(cases: [String: String]) throws -> String {
        let files: [String: String] = [
            "integration.yml": """
            name: widgets
            configuration:
              - {name: apiUrl, type: url, required: true}
              - {name: webhookSecret, type: string, sensitive: true}
            http:
              baseUrl: "{{ .config.apiUrl }}"
            kinds:
              item:
                selector:
                  id: {type: string}
                request:
                  path: '/{{ ["items", (.selector.id // empty)] }}'
                records: .items // .item
                objectIsOneRecord: true
            webhooks:
              - path: /hook
                verify: {type: hmac, secret: "{{ .config.webhookSecret // \\"\\" }}", header: X-Signature, prefix: "sha256="}
                retry: {attempts: 2}
                events:
                  - {name: removed, match: '.headers["x-event"] == "removed"', kinds: [item], item: .payload.item, action: delete}
                  - {name: changed, match: '.headers["x-event"] == "changed"', kinds: [item], item: .payload.item}
                  - name: touched
                    match: '.headers["x-event"] == "touched"'
                    kinds: [item]
                    item: .payload.item
                    action: refetch
                    refetch: {id: .item.id}
              - path: /other
                events:
                  - {match: 'true', kinds: [item]}
            """,
            ".port/resources/port-app-config.yml": """
            resources:
              - kind: item
                selector: {query: '.color != "grey"'}
                port:
                  entity:
                    mappings:
                      identifier: .id
                      title: .name
                      blueprint: '"widget"'
                      properties: {color: .color}
            """,
            "fixtures/config.yml": "apiUrl: https://api.example.com\nwebhookSecret: \(Self.secret)\n",
            "fixtures/items.json": #"{"items": [{"id": "w1", "name": "One", "color": "red"}, {"id": "w2", "name": "Two", "color": "blue"}]}"#,
            "fixtures/w2.json": #"{"item": {"id": "w2", "name": "Two, renamed", "color": "blue"}}"#,
        ]
        return try writeIntegration(files, cases: cases)
    }

    func run(_ text: String) async throws -> TestCaseResult {
        try await runOnlyCase(in: try integration(cases: ["case": text]))
    }

    static let resyncFixtures = """
        fixtures:
          - name: items
            request: {path: /items}
            response: {body: ../fixtures/items.json}
        """

    @Test func eventsAfterTheResyncPassWhenTheirEffectsMatch() async throws {
        let result = try await run(Self.resyncFixtures + """

              - name: w2 read again
                request: {path: /items/w2}
                response: {body: ../fixtures/w2.json}
            expect:
              subset: true
              webhooks:
                - name: signed with the configured secret
                  event:
                    path: /hook
                    headers: {X-Event: changed}
                    body: {item: {id: w1, name: One again, color: red}}
                  upserts:
                    - {blueprint: widget, identifier: w1, title: One again, properties: {color: red}}
                - name: a refetch reads the fixture server
                  event:
                    path: /hook
                    headers: {X-Event: touched}
                    body: {item: {id: w2}}
                  upserts:
                    - {blueprint: widget, identifier: w2, title: "Two, renamed"}
                - name: failing the selector deletes
                  event:
                    path: /hook
                    headers: {X-Event: changed}
                    body: {item: {id: w1, name: One, color: grey}}
                  deletes:
                    - {blueprint: widget, identifier: w1}
                - name: unsigned
                  event:
                    path: /hook
                    signed: false
                    headers: {X-Event: removed}
                    body: {item: {id: w2}}
                  status: 401
                - name: nothing matches
                  event:
                    path: /hook
                    headers: {X-Event: renamed}
                    body: {}
              counts: {widget: 1}
              entities:
                - {blueprint: widget, identifier: w2, title: "Two, renamed"}
            """)
        #expect(result.status == .passed, "\(result.failures)")
        #expect(result.eventCount == 5)
        #expect(result.requestCount == 2)
    }

    @Test func wrongEffectsAreShownAsDiffsAtTheEventsPosition() async throws {
        let result = try await run(Self.resyncFixtures + """

            expect:
              subset: true
              webhooks:
                - name: the wrong title
                  event:
                    path: /hook
                    headers: {X-Event: changed}
                    body: {item: {id: w1, name: Uno, color: red}}
                  upserts:
                    - {blueprint: widget, identifier: w1, title: One}
                - name: an upsert nobody listed, and a delete that did not happen
                  event:
                    path: /hook
                    headers: {X-Event: changed}
                    body: {item: {id: w9, name: Nine, color: red}}
                  deletes:
                    - {blueprint: widget, identifier: w2}
                - name: the wrong status
                  event:
                    path: /hook
                    headers: {X-Event: removed}
                    body: {item: {id: w2}}
                  status: 401
            """)
        #expect(result.status == .failed)
        let text = result.failures.joined(separator: "\n")
        #expect(text.contains("tests/case.yml:8:7: webhook event \"the wrong title\""), "\(text)")
        #expect(text.contains("the upserts differ (- expected, + actual)"))
        #expect(text.contains(#"-  "title": "One""#) && text.contains(#"+  "title": "Uno""#), "\(text)")
        #expect(text.contains("tests/case.yml:15:7: webhook event \"an upsert nobody listed, and a delete that did not happen\""))
        #expect(text.contains(#"+  "identifier": "w9""#), "\(text)")
        #expect(text.contains("-widget/w2"), "\(text)")
        #expect(text.contains("the server answered 202 {\"status\":\"ok\"}, expected 401"), "\(text)")
        #expect(result.eventCount == 3)
        // The secret the events were signed with appears nowhere.
        #expect(!text.contains(Self.secret))
    }

    @Test func aRefetchNoFixtureAnswersFailsTheEventAndTheCase() async throws {
        let result = try await run("""
            resync: false
            expect:
              webhooks:
                - name: refetch of an unknown item
                  event:
                    path: /hook
                    headers: {X-Event: touched}
                    body: {item: {id: w7}}
                - name: a failure that was expected, but does not happen
                  event:
                    path: /hook
                    headers: {X-Event: changed}
                    body: {item: {id: w8, name: Eight, color: red}}
                  error: "404"
                  upserts:
                    - {blueprint: widget, identifier: w8, title: Eight, properties: {color: red}}
            """)
        #expect(result.status == .failed)
        let text = result.failures.joined(separator: "\n")
        #expect(text.contains("no fixture matched these 2 requests"), "\(text)")
        #expect(text.contains("GET /items/w7"), "\(text)")
        #expect(text.contains("webhook event \"refetch of an unknown item\""))
        #expect(text.contains("processing the event failed: refetch failed:"), "\(text)")
        #expect(text.contains("expected the event to fail with \"404\", but it did not fail"), "\(text)")
    }

    @Test func withoutResyncTheCatalogStartsEmptyAndAnExpectedFailurePasses() async throws {
        let result = try await run("""
            resync: false
            fixtures:
              - name: w7 is gone
                request: {path: /items/w7}
                response: {status: 404, json: {message: not found}}
            expect:
              webhooks:
                - event:
                    path: /hook
                    headers: {X-Event: touched}
                    body: {item: {id: w7}}
                  error: "404"
                - event:
                    path: /hook
                    headers: {X-Event: changed}
                    body: {item: {id: w8, name: Eight, color: red}}
                  upserts:
                    - {blueprint: widget, identifier: w8, title: Eight, properties: {color: red}}
              entities:
                - {blueprint: widget, identifier: w8, title: Eight, properties: {color: red}}
            """)
        #expect(result.status == .passed, "\(result.failures)")
        #expect(result.kinds.isEmpty)
        // Two attempts (retry.attempts), both answered by the fixture.
        #expect(result.requestCount == 2)
        #expect(result.entityCount == 1)
    }

    @Test func matchersNoCaseReachesAreListed() async throws {
        let directory = try integration(cases: ["case": """
            resync: false
            expect:
              webhooks:
                - event: {path: /hook, headers: {X-Event: changed}, body: {item: {id: w1, name: One, color: red}}}
                  upserts: [{blueprint: widget, identifier: w1, title: One, properties: {color: red}}]
                # Refused: it reaches no matcher.
                - event: {path: /hook, signed: false, headers: {X-Event: removed}, body: {item: {id: w1}}}
                  status: 401
            """])
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let report = await TestRunner.run(directory: directory)
        #expect(report.passed, "\(report.cases.flatMap(\.failures))")
        let untested = report.untestedWebhookEvents
        #expect(untested.count == 3, "\(untested)")
        #expect(untested.contains { $0.hasSuffix("webhook /hook, event \"removed\"") && $0.contains("integration.yml:") })
        #expect(untested.contains { $0.hasSuffix("webhook /hook, event \"touched\"") })
        #expect(untested.contains { $0.contains("webhook /other") })
        #expect(!untested.contains { $0.hasSuffix("event \"changed\"") })
    }

    @Test func anEventForAnUndeclaredPathOrWithoutOneIsInvalid() async throws {
        let unknown = try await run("""
            resync: false
            expect:
              webhooks:
                - event: {path: /nope, body: {}}
            """)
        #expect(unknown.status == .invalid)
        #expect(unknown.failures.first?.contains("tests/case.yml:4:7: event 1: event.path /nope is not a webhook of widgets (its webhooks: /hook, /other)") == true,
                "\(unknown.failures)")
        let missing = try await run("""
            resync: false
            expect:
              webhooks:
                - event: {body: {}}
            """)
        #expect(missing.status == .invalid)
        #expect(missing.failures.first?.contains("event.path is needed, as widgets has several webhooks (/hook, /other)") == true,
                "\(missing.failures)")
    }
}
