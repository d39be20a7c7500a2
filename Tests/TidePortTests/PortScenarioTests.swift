import Foundation
import Testing
import TideEngine
import TideIntegration
import TideModel
import TidePort
import TideRuntime
import TideTesting
import TideHTTP
import TideCore

/// Whole runs against the Port stand-in, in Ocean's order of calls.
@Suite struct PortScenarioTests {
    func run(_ things: Things, _ standIn: PortStandIn) async throws -> PortRun.Outcome {
        let integration = try things.integration()
        let settings = portSettings(standIn)
        let client = PortClient(credentials: settings.credentials, datasource: settings.datasource, retry: testRetry)
        let run = PortRun(integration: integration, configuration: try things.configuration(integration), settings: settings, client: client)
        defer { Task { await client.shutdown() } }
        return try await run.run(observer: Silent())
    }

    func summary(_ outcome: PortRun.Outcome) -> ResyncSummary? {
        if case .finished(let summary) = outcome { return summary }
        return nil
    }

    /// The calls without repeats of the same call in a row (pages, batches), for comparing orders.
    func collapsed(_ calls: [String]) -> [String] {
        calls.reduce(into: [String]()) { if $0.last != $1 { $0.append($1) } }
    }

    @Test func firstAndSecondResyncCallPortInOceansOrder() async throws {
        let standIn = try await PortStandIn.start()
        let things = try await Things(records: Things.ids(30))
        let first = summary(try await run(things, standIn))
        #expect(first?.succeeded == true)
        #expect(standIn.identifiers(blueprint: "thing") == Things.ids(30))
        #expect(standIn.blueprintIdentifiers == ["thing"])
        #expect(standIn.integration("things-test")?["installationAppType"]?.stringValue == "things")
        #expect(standIn.entities(blueprint: "thing").allSatisfy { $0.datasource == "port-ocean/things/1.2.3/things-test/exporter" })
        #expect(collapsed(standIn.calls) == [
            "POST /v1/auth/access_token",
            "GET /v1/integration/things-test",            // 404
            "POST /v1/integration",
            "GET /v1/blueprints/thing",                   // none exists
            "POST /v1/blueprints",                        // bare
            "PATCH /v1/blueprints/thing",                 // relations, then full
            "PATCH /v1/integration/things-test",          // arePortResourcesInitialized
            "PATCH /v1/integration/things-test/resync-state",
            "GET /v1/integration/things-test",            // the mapping
            "POST /v1/entities/search",                   // page 1 (25 > 10 entities)
            "POST /v1/blueprints/thing/entities/bulk",
            "POST /v1/blueprints/entities/datasource-entities",
            "PATCH /v1/integration/things-test/resync-state",
        ])
        #expect(standIn.resyncStates == ["running", "completed"])

        standIn.clearCalls()
        try await Task.sleep(for: .milliseconds(20))
        things.records.withLock { $0.removeAll { ["t003", "t027"].contains($0) } }
        let second = summary(try await run(things, standIn))
        #expect(second?.reconciliation == .deleted(count: 2, protected: 0))
        #expect(standIn.identifiers(blueprint: "thing") == Things.ids(30).filter { !["t003", "t027"].contains($0) })
        #expect(collapsed(standIn.calls) == [
            "POST /v1/auth/access_token",
            "GET /v1/integration/things-test",
            "PATCH /v1/integration/things-test/resync-state",
            "GET /v1/integration/things-test",
            "POST /v1/entities/search",                   // page 1: 25 unchanged entities, none sent
            "POST /v1/blueprints/thing/entities/bulk",    // page 2: 3 entities (≤ 10) are sent without comparing
            "POST /v1/blueprints/entities/datasource-entities",
            "POST /v1/blueprints/thing/bulk/entities/delete",
            "PATCH /v1/integration/things-test/resync-state",
        ])
        // Only the small last page was sent again; the 25 compared entities were not.
        #expect(standIn.entities(blueprint: "thing").filter { $0.writes > 1 }.count == 3)
        await things.stop(); await standIn.stop()
    }

    @Test func anEmptyMappingInPortSkipsTheResync() async throws {
        let standIn = try await PortStandIn.start()
        let things = try await Things(records: Things.ids(3))
        _ = try await run(things, standIn)
        standIn.setMapping("things-test", json: "{}")
        let outcome = try await run(things, standIn)
        guard case .skippedEmptyMapping = outcome else { Issue.record("expected a skip"); return }
        await things.stop(); await standIn.stop()
    }

    @Test func aFailedFetchDeletesNothingAndReportsFailed() async throws {
        let standIn = try await PortStandIn.start()
        let things = try await Things(records: Things.ids(12))
        _ = try await run(things, standIn)
        things.failing.withLock { $0 = true }
        let second = summary(try await run(things, standIn))
        #expect(second?.reconciliation == .skippedAfterErrors)
        #expect(standIn.identifiers(blueprint: "thing").count == 12)
        #expect(standIn.resyncStates == ["running", "completed", "running", "failed"])
        await things.stop(); await standIn.stop()
    }

    @Test func aTokenThatExpiresMidResyncIsRenewed() async throws {
        var options = PortStandIn.Options()
        options.tokenMaxUses = 4
        let standIn = try await PortStandIn.start(options: options)
        let things = try await Things(pageSize: 5, records: Things.ids(40))
        let result = summary(try await run(things, standIn))
        #expect(result?.succeeded == true)
        #expect(result?.kinds.first?.writeFailures == 0)
        #expect(standIn.identifiers(blueprint: "thing").count == 40)
        #expect(standIn.tokensIssued > 1)
        await things.stop(); await standIn.stop()
    }

    @Test func aStormOf429sIsWaitedOut() async throws {
        let standIn = try await PortStandIn.start()
        let things = try await Things(records: Things.ids(20))
        // Registration first, then a storm over the resync's writes.
        let client = PortClient(credentials: portSettings(standIn).credentials, datasource: portSettings(standIn).datasource, retry: testRetry)
        try await PortIntegrationLifecycle(client: client, settings: portSettings(standIn), integration: try things.integration()).start()
        await client.shutdown()
        standIn.rateLimit(next: 6, retryAfter: "0")
        let result = summary(try await run(things, standIn))
        #expect(result?.succeeded == true)
        #expect(standIn.identifiers(blueprint: "thing").count == 20)
        #expect(standIn.calls.count > 6)
        await things.stop(); await standIn.stop()
    }

    @Test func a413FallsBackToSingleUpserts() async throws {
        var options = PortStandIn.Options()
        options.maxBodyBytes = 600
        let standIn = try await PortStandIn.start(options: options)
        let things = try await Things(pageSize: 8, records: Things.ids(8))
        let result = summary(try await run(things, standIn))
        #expect(result?.succeeded == true)
        #expect(standIn.identifiers(blueprint: "thing") == Things.ids(8))
        #expect(standIn.calls.contains("POST /v1/blueprints/thing/entities"))
        await things.stop(); await standIn.stop()
    }

    @Test func perEntityErrorsAreReportedAndDoNotStopTheResync() async throws {
        let standIn = try await PortStandIn.start()
        let things = try await Things(records: Things.ids(5) + ["bad1"])
        let result = summary(try await run(things, standIn))
        #expect(result?.kinds.first?.writeFailures == 1)
        #expect(result?.kinds.first?.entities == 5)
        #expect(standIn.identifiers(blueprint: "thing") == Things.ids(5))

        // The failure carries the identifier and Port's message.
        let client = PortClient(credentials: portSettings(standIn).credentials, datasource: portSettings(standIn).datasource, retry: testRetry)
        let sink = PortSink(client: client)
        let results = try await sink.upsert([Entity(identifier: "\"bad2\"", blueprint: "thing", properties: #"{"size":"huge"}"#),
                                             Entity(identifier: "\"x\"", blueprint: "nope")], options: WriteOptions())
        #expect(results[0].identifier == "bad2")
        #expect(results[0].failureReason?.contains("must be of type number") == true)
        #expect(results[1].failureReason?.contains("Blueprint with identifier \"nope\" was not found") == true)
        await client.shutdown()
        await things.stop(); await standIn.stop()
    }

    @Test func retryAfterIsHonoured() async throws {
        let standIn = try await PortStandIn.start()
        let settings = portSettings(standIn)
        let client = PortClient(credentials: settings.credentials, datasource: settings.datasource, retry: testRetry)
        _ = try await client.call(.get, "/v1/blueprints/none", accepting: [404])
        standIn.rateLimit(next: 1, retryAfter: "1")
        let clock = ContinuousClock()
        let started = clock.now
        let response = try await client.call(.get, "/v1/blueprints/none", accepting: [404])
        #expect(response.status == 404)
        #expect(clock.now - started >= .milliseconds(900))
        await client.shutdown(); await standIn.stop()
    }

    @Test func badCredentialsNameTheEndpointAndNeverTheSecret() async throws {
        let standIn = try await PortStandIn.start()
        let credentials = PortCredentials(clientID: "client-id", clientSecret: "wrong-s3cret-value", baseURL: standIn.baseURL)
        let client = PortClient(credentials: credentials, datasource: portSettings(standIn).datasource, retry: testRetry)
        do {
            _ = try await client.call(.get, "/v1/integration/x")
            Issue.record("expected a failure")
        } catch {
            #expect(error.description.contains("/v1/auth/access_token"))
            #expect(error.description.contains("Invalid client credentials"))
            #expect(!error.description.contains("wrong-s3cret-value"))
        }
        await client.shutdown(); await standIn.stop()
    }

    @Test func aFailedBlueprintIsRolledBack() async throws {
        let standIn = try await PortStandIn.start()
        let things = try await Things(records: Things.ids(2))
        try """
        [{"identifier": "thing", "schema": {"properties": {"name": {"type": "string"}}}},
         {"identifier": "broken", "schema": {"properties": {}}}]
        """.write(to: things.folder.appendingPathComponent(".port/resources/blueprints.json"), atomically: true, encoding: .utf8)
        standIn.failBlueprintCreation(["broken"])
        await #expect(throws: PortError.self) { _ = try await run(things, standIn) }
        #expect(standIn.blueprintIdentifiers.isEmpty)
        #expect(standIn.integration("things-test")?["arePortResourcesInitialized"]?.boolValue == true)
        #expect(standIn.resyncStates.isEmpty)
        await things.stop(); await standIn.stop()
    }

    @Test func anExistingBlueprintMeansNoDefaultsAreCreated() async throws {
        let standIn = try await PortStandIn.start()
        standIn.addBlueprint(json: #"{"identifier": "thing", "schema": {"properties": {"name": {"type": "string"}, "size": {"type": "number"}}}}"#)
        let things = try await Things(records: Things.ids(2))
        _ = try await run(things, standIn)
        #expect(!standIn.calls.contains("POST /v1/blueprints"))
        #expect(standIn.identifiers(blueprint: "thing") == Things.ids(2))
        await things.stop(); await standIn.stop()
    }
}

/// POLLING with the Port sink asks Port for resync requests, as Ocean does.
@Suite struct ResyncRequestTests {
    @Test func aResyncRequestIsSeenOnceAndANewerOneAgain() async throws {
        let port = try await PortStandIn.start()
        let integration = try Integration.load(directory: RunPaths.jira)
        var settings = PortSettings(credentials: PortCredentials(clientID: port.options.clientID,
                                                                 clientSecret: port.options.clientSecret, baseURL: port.baseURL),
                                    identifier: "jira-polling", type: "jira", version: "0.1.0")
        settings.defaultMappingFile = nil
        let configuration = ResolvedConfiguration(json: "{}", secrets: [])
        let watcher = PortRun(integration: integration, configuration: configuration, settings: settings).resyncRequestWatcher()
        #expect(await watcher() == false)  // none yet: Port answers 404
        port.requestResync("jira-polling", at: Date(timeIntervalSince1970: 1_000))
        #expect(await watcher() == true)
        #expect(await watcher() == false)  // the same request is not a new one
        port.requestResync("jira-polling", at: Date(timeIntervalSince1970: 2_000))
        #expect(await watcher() == true)
        await port.stop()
    }
}

enum RunPaths {
    static let jira = #filePath.replacingOccurrences(of: "Tests/TidePortTests/PortScenarioTests.swift", with: "integrations/jira")
}
