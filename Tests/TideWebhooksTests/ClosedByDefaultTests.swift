import Foundation
import Testing
import TideCatalog
import TideCore
import TideHTTP
import TideIntegration
import TideJQ
import TideModel
import TideTesting
import TideServer
@testable import TideWebhooks

/// Issue #12, item 4: the server is closed by default. Real requests to the running server.
@Suite struct UnsignedEventTests {
    @Test func withoutASecretUnsignedUpsertsAndDeletesAreRefused() async throws {
        let h = try await Harness.start(secret: nil)
        defer { Task { await h.stop() } }
        // An entity a forged delete would remove, written as a resync would.
        _ = try await h.sink.upsert([Entity(identifier: #""kept""#, blueprint: "item", title: #""kept""#)], options: WriteOptions())
        #expect(h.title("kept") != nil)

        let upsert = try await h.post("/integration/hmac", body: event("updated", id: "forged"))
        let delete = try await h.post("/integration/hmac", body: event("deleted", id: "kept"))
        let tokenPath = try await h.post("/integration/token-header", body: event("updated", id: "forged2"), headers: ["X-Token": ""])
        #expect(upsert.status == 401)
        #expect(delete.status == 401)
        #expect(tokenPath.status == 401)
        #expect(upsert.text.contains("no webhook secret is configured"))
        #expect(h.service.metrics.snapshot.rejected["/hmac"]?["no_secret"] == 2)
        #expect(h.service.metrics.snapshot.rejected["/token-header"]?["no_secret"] == 1)
        // Nothing was queued, so nothing can have been applied.
        #expect(h.service.endpoints.allSatisfy { $0.queueDepth == 0 })
        // (Every path's series is there from the start, at zero.)
        #expect(h.service.metrics.snapshot.processed.values.allSatisfy { $0 == 0 } && h.service.metrics.snapshot.failed.values.allSatisfy { $0 == 0 })
        #expect(h.title("forged") == nil)
        #expect(h.title("kept") == "kept")
        // Every webhook without a secret is named in a warning at start (8 webhooks, none has one).
        let warnings = h.logs.current.filter { $0.level == .warning && $0.line.contains("refuses every event") }
        #expect(warnings.count == h.integration.webhooks.count)
        #expect(warnings.allSatisfy { $0.line.contains("--allow-unsigned-webhooks") })
    }

    @Test func theOperatorsOptOutAcceptsUnsignedEventsAndWarnsOnEveryStart() async throws {
        let h = try await Harness.start(secret: nil) { $0.allowUnsignedWebhooks = true }
        defer { Task { await h.stop() } }
        #expect(try await h.post("/integration/hmac", body: event("updated", id: "open")).status == 202)
        try await eventually("open written") { h.title("open") == "n" }
        let warnings = h.logs.current.filter { $0.level == .warning && $0.line.contains("accepts UNSIGNED events") }
        #expect(warnings.count == h.integration.webhooks.count)
    }

    @Test func theOptOutNeverTurnsOffAConfiguredSecret() async throws {
        let h = try await Harness.start { $0.allowUnsignedWebhooks = true }
        defer { Task { await h.stop() } }
        #expect(try await h.post("/integration/hmac", body: event("updated", id: "x")).status == 401)
        #expect(h.service.metrics.snapshot.rejected["/hmac"]?["verification"] == 1)
        #expect(h.logs.current.contains { $0.line.contains("UNSIGNED") } == false)
    }
}

@Suite struct ControlEndpointTests {
    @Test func resyncWithoutAConfiguredTokenIsDisabled() async throws {
        let h = try await Harness.start(listener: .webhook) { $0.controlToken = nil }
        defer { Task { await h.stop() } }
        try await eventually("the start resync") { h.service.metrics.snapshot.resyncsSucceeded == 1 }
        let refused = try await h.resync()
        #expect(refused.status == 403)
        #expect(try await h.resync(token: nil).status == 403)
        #expect(h.service.metrics.snapshot.controlRefused["disabled"] == 2)
        #expect(h.service.metrics.snapshot.resyncsStarted == 1)
        // Health and metrics stay open.
        #expect(try await h.get("/health").status == 200)
        #expect(try await h.get("/metrics").status == 200)
    }

    @Test func resyncNeedsTheBearerTokenAndNoSecretLeaks() async throws {
        let h = try await Harness.start(listener: .webhook)
        defer { Task { await h.stop() } }
        try await eventually("the start resync") { h.service.metrics.snapshot.resyncsSucceeded == 1 }
        let statuses = [
            try await h.resync(token: nil).status,
            try await h.resync(token: "wrong").status,
            try await h.resync(token: Hooks.controlToken + "x").status,
            try await h.post("/resync", body: "", headers: ["Authorization": Hooks.controlToken]).status,
            try await h.post("/resync", body: "", headers: ["Authorization": "Basic " + Hooks.controlToken]).status,
        ]
        #expect(statuses == [401, 401, 401, 401, 401])
        #expect(h.service.metrics.snapshot.controlRefused["unauthorized"] == 5)
        #expect(h.service.metrics.snapshot.resyncsStarted == 1)
        let accepted = try await h.post("/resync", body: "", headers: ["Authorization": "bearer " + Hooks.controlToken])
        #expect(accepted.status == 202)
        try await eventually("the requested resync") { h.service.metrics.snapshot.resyncsSucceeded == 2 }
        let metrics = try await h.get("/metrics").text
        #expect(metrics.contains(#"tide_control_requests_refused_total{reason="unauthorized"} 5"#))
        for secret in [Hooks.controlToken, Hooks.secret] {
            #expect(!metrics.contains(secret))
            #expect(!h.logs.current.contains { $0.line.contains(secret) })
        }
    }

    @Test func triggersDuringAResyncCoalesceIntoOneInsteadOfAbortingIt() async throws {
        let gate = Gate()
        let h = try await Harness.start(listener: .webhook, resyncGate: gate)
        defer { Task { await h.stop() } }
        try await eventually("the start resync waiting") { gate.arrived == 1 && h.service.metrics.snapshot.resyncRunning }
        for _ in 0..<20 { #expect(try await h.resync().status == 202) }
        try await eventually("the 20 triggers handled") { h.service.metrics.snapshot.resyncTriggersCoalesced == 20 }
        // The running resync was not touched: still the first one, waiting.
        #expect(h.service.metrics.snapshot.resyncsStarted == 1)
        #expect(h.service.metrics.snapshot.resyncsAborted == 0)
        gate.release()
        try await eventually("the first and the one pending resync done") {
            h.service.metrics.snapshot.resyncsSucceeded == 2 && !h.service.metrics.snapshot.resyncRunning
        }
        await h.service.resyncs.waitIdle()
        let snapshot = h.service.metrics.snapshot
        #expect(snapshot.resyncsStarted == 2)
        #expect(snapshot.resyncsAborted == 0)
        #expect(snapshot.resyncsFailed == 0)
        #expect(gate.arrived == 2)
    }

    @Test func sigtermStillCancelsTheRunningResyncAndDropsThePendingOne() async throws {
        let gate = Gate()
        let h = try await Harness.start(listener: .webhook, resyncGate: gate)
        try await eventually("the start resync waiting") { gate.arrived == 1 }
        #expect(try await h.resync().status == 202)
        try await eventually("the trigger handled") { h.service.metrics.snapshot.resyncTriggersCoalesced == 1 }
        await h.service.shutdown()
        let snapshot = h.service.metrics.snapshot
        #expect(snapshot.resyncsAborted == 1)
        #expect(snapshot.resyncsStarted == 1)
        #expect(!snapshot.resyncRunning)
        await h.client.shutdown()
        await h.thirdParty.server.stop()
    }
}

@Suite struct ConnectionLimitTests {
    @Test func theDescriptorLimitLowersTheCap() {
        #expect(ServerLimits.effectiveMaxConnections(512, descriptorLimit: 256) == 256 - ServerLimits.descriptorHeadroom)
        #expect(ServerLimits.effectiveMaxConnections(512, descriptorLimit: 20000) == 512)
        #expect(ServerLimits.effectiveMaxConnections(100, descriptorLimit: nil) == 100)
        #expect(ServerLimits.effectiveMaxConnections(512, descriptorLimit: 10) == 1)
    }

    @Test func connectionsThatSendNoCompleteHeadAreClosed() async throws {
        // Only the head has a short deadline here, so load on the machine cannot change the reason.
        let h = try await Harness.start { $0.limits = ServerLimits(headerTimeout: 0.3, idleTimeout: 600, bodyTimeout: 600) }
        defer { Task { await h.stop() } }
        let port = Int(h.base.split(separator: ":").last!)!
        let silent = try RawConnection(port: port)
        let halfHead = try RawConnection(port: port)
        halfHead.send("POST /integration/hmac HTTP/1.1\r\nHost: x\r\n")
        try await silent.waitClosed("the silent connection closed")
        try await halfHead.waitClosed("the half head closed")
        #expect(silent.received.isEmpty && halfHead.received.isEmpty)
        #expect(try #require(h.service.connectionStats).closed["header_timeout", default: 0] == 2)
        #expect(try await h.get("/health").status == 200)
    }

    @Test func stalledBodiesAndIdleKeptAliveConnectionsAreClosed() async throws {
        let h = try await Harness.start { $0.limits = ServerLimits(headerTimeout: 600, idleTimeout: 0.3, bodyTimeout: 0.3) }
        defer { Task { await h.stop() } }
        let port = Int(h.base.split(separator: ":").last!)!
        let halfBody = try RawConnection(port: port)
        halfBody.send("POST /integration/hmac HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        let keptAlive = try RawConnection(port: port)
        keptAlive.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        try await halfBody.waitClosed("the stalled body closed")
        try await keptAlive.waitClosed("the kept-alive connection closed")
        #expect(halfBody.received.isEmpty)
        #expect(keptAlive.text.hasPrefix("HTTP/1.1 200"))
        #expect(!keptAlive.text.lowercased().contains("connection: close"))
        let closed = try #require(h.service.connectionStats).closed
        #expect(closed["body_timeout", default: 0] == 1)
        #expect(closed["idle_timeout", default: 0] == 1)
        #expect(closed["header_timeout", default: 0] == 0)
        // No event was queued from the stalled body.
        #expect(h.service.metrics.snapshot.received.values.allSatisfy { $0 == 0 })
    }

    @Test func healthAnswersWhileManyHalfOpenConnectionsFillTheCap() async throws {
        let cap = 16
        // Timeouts far away: only the cap can make room.
        let h = try await Harness.start { $0.limits = ServerLimits(headerTimeout: 600, idleTimeout: 600, bodyTimeout: 600, maxConnections: cap) }
        defer { Task { await h.stop() } }
        let port = Int(h.base.split(separator: ":").last!)!
        let stats = try #require(h.service.connectionStats)
        var flood: [RawConnection] = []
        for index in 0..<48 {
            let connection = try RawConnection(port: port)
            if index % 2 == 0 { connection.send("GET /health HTTP/1.1\r\nHost: x\r\n") }
            flood.append(connection)
        }
        try await eventually("the flood accepted") { stats.closed["evicted", default: 0] >= 48 - cap }
        // Evicted connections close asynchronously: the count settles at the cap.
        try await eventually("open connections at the cap") { stats.open <= cap }
        let health = try RawConnection(port: port)
        health.send("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        try await health.waitClosed("the health answer")
        #expect(health.text.hasPrefix("HTTP/1.1 200"))
        #expect(health.text.contains(#"{"ok":true}"#))
        // The oldest idle ones made room, and learnt it: closed, with nothing sent.
        var closedCount = 0
        try await eventually("the evicted connections closed") {
            closedCount = flood.filter { $0.poll(); return $0.closed }.count
            return closedCount >= 48 - cap + 1
        }
        #expect(flood.filter(\.closed).allSatisfy { $0.received.isEmpty })
        try await eventually("open connections at the cap") { stats.open <= cap }
        let metrics = try await h.get("/metrics").text
        #expect(metrics.contains("tide_http_connections_closed_total{reason=\"evicted\"}"))
    }
}

@Suite struct DrainingTests {
    @Test func whileDrainingRequestsGet503WithRetryAfterAndConnectionClose() async throws {
        let gate = Gate()
        let h = try await Harness.start(sinkGate: gate)
        // An event held in progress keeps the drain going until the gate opens.
        #expect(try await h.hmac(event("updated", id: "held")).status == 202)
        try await eventually("the event in progress") { gate.arrived == 1 }
        let shutdown = Task { await h.service.shutdown() }
        let port = Int(h.base.split(separator: ":").last!)!
        var answer = ""
        // Each try on a new connection, kept alive by the client: only the server may close it.
        var draining: RawConnection?
        try await eventually("a 503 while draining") {
            let connection = try RawConnection(port: port)
            connection.send("GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            try await connection.waitResponse("the answer")
            answer = connection.text
            draining = connection
            return answer.hasPrefix("HTTP/1.1 503")
        }
        try await #require(draining).waitClosed("the server closing the draining connection")
        let head = answer.lowercased()
        #expect(head.contains("retry-after: 5"))
        #expect(head.contains("connection: close"))
        // A webhook event gets the same answer (with its body read first).
        let late = try RawConnection(port: port)
        let body = event("updated", id: "late")
        late.send("POST /integration/hmac HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        try await late.waitClosed("the late event's answer")
        #expect(late.text.hasPrefix("HTTP/1.1 503"))
        gate.release()
        await shutdown.value
        // The held event was applied; the late one never was; the server is gone.
        #expect(h.title("held") == "n")
        #expect(h.title("late") == nil)
        #expect(throws: RawConnection.Failed.self) { _ = try RawConnection(port: port) }
        await h.client.shutdown()
        await h.thirdParty.server.stop()
    }
}

@Suite struct PayloadValueTests {
    @Test func aRefetchWithoutItsKeyIsRefusedAtIntakeAndCounted() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let noItem = try await h.hmac(#"{"action": "refetch"}"#)
        #expect(noItem.status == 400)
        #expect(noItem.text.contains("names no record"))
        // An item without any id: nothing to read again.
        let noKey = try await h.hmac(#"{"action": "refetch", "item": {"status": "open"}}"#)
        #expect(noKey.status == 400)
        #expect(h.service.metrics.snapshot.rejected["/hmac"]?["no_record"] == 2)
        #expect(h.thirdParty.state.current.requests.isEmpty)
    }

    @Test func aRefetchWhoseSelectorValueIsNullFailsInsteadOfReadingEverything() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        h.thirdParty.set("a", name: "A")
        h.thirdParty.set("b", name: "B")
        // Keyed by name (the default key), but the refetch reads `.item.id`: null.
        #expect(try await h.hmac(#"{"action": "refetch", "item": {"name": "nameless"}}"#).status == 202)
        try await eventually("the event finished") { h.processed == 1 }
        #expect(h.service.metrics.snapshot.failed["/hmac"] == 1)
        // The unnarrowed list request was never sent, so nothing was written.
        #expect(h.thirdParty.state.current.requests.isEmpty)
        #expect(h.title("a") == nil && h.title("b") == nil)
        // A failed event is an error in the log, not an info line.
        let failure = h.logs.current.filter { $0.line.contains("event failed") }
        #expect(failure.count == 1)
        #expect(failure.first?.level == .error)
        #expect(failure.first?.line.contains("refetch selector id is null") == true)
    }

    @Test func jqlQuoteMakesOneStringLiteralAndRefusesNull() throws {
        let program = try JQProgram(WebhookDefinition.refetchHelpers + #""key = \(.k | jql_quote)""#)
        let cases: [(String, String)] = [
            (#"{"k": "APP-1"}"#, #"key = "APP-1""#),
            (#"{"k": "APP-1 OR key = APP-2"}"#, #"key = "APP-1 OR key = APP-2""#),
            (#"{"k": "a\"b\\c\nd"}"#, #"key = "a\"b\\c\nd""#),
            (#"{"k": 12}"#, #"key = "12""#),
        ]
        for (input, expected) in cases {
            #expect(try program.first(try JSON(parsing: input))?.stringValue == expected, "\(input)")
        }
        #expect(cases.count == 4)
        #expect(throws: (any Error).self) { try program.first(try JSON(parsing: #"{"k": null}"#)) }
    }
}
