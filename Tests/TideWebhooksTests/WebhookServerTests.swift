import Foundation
import Testing
import TideCatalog
import TideCore
import TideHTTP
import TideIntegration
import TideTesting
@testable import TideWebhooks

/// Real HTTP requests to the running server, one harness per test.
@Suite struct VerificationTests {
    @Test func hmacSHA256GoodBadAndMissing() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let body = event("updated", id: "a")
        #expect(try await h.hmac(body).status == 202)
        let bad = try await h.post("/integration/hmac", body: body, headers: ["X-Hub-Signature-256": "sha256=" + String(repeating: "0", count: 64)])
        #expect(bad.status == 401)
        let wrongPrefix = try await h.post("/integration/hmac", body: body,
                                           headers: ["X-Hub-Signature-256": Signatures.hmacSHA256Hex(Array(body.utf8), secret: Hooks.secret)])
        #expect(wrongPrefix.status == 401)
        #expect(try await h.post("/integration/hmac", body: body).status == 401)
        // Signed for another body: the signature covers the raw bytes.
        let other = try await h.post("/integration/hmac", body: body + " ",
                                     headers: ["X-Hub-Signature-256": "sha256=" + Signatures.hmacSHA256Hex(Array(body.utf8), secret: Hooks.secret)])
        #expect(other.status == 401)
        try await eventually("a written") { h.title("a") == "n" }
        #expect(h.service.metrics.snapshot.rejected["/hmac"]?["verification"] == 4)
    }

    @Test func hmacWithASeparatorAcceptsAnyOfSeveralSignatures() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let body = event("updated", id: "rot")
        let good = "v1=" + Signatures.hmacSHA256Hex(Array(body.utf8), secret: Hooks.secret)
        let other = "v1=" + Signatures.hmacSHA256Hex(Array(body.utf8), secret: "the-previous-secret")
        func send(_ header: String?) async throws -> Int {
            try await h.post("/integration/rotating", body: body, headers: header.map { ["X-PagerDuty-Signature": $0] } ?? [:]).status
        }
        // During a rotation the old and the new secret both sign, in either order.
        #expect(try await send(other + "," + good) == 202)
        #expect(try await send(good + ", " + other) == 202)
        #expect(try await send(good) == 202)
        #expect(try await send(other) == 401)
        #expect(try await send(other + "," + other) == 401)
        // Each signature needs its prefix.
        #expect(try await send(other + "," + String(good.dropFirst(3))) == 401)
        #expect(try await send(nil) == 401)
        try await eventually("rot written") { h.title("rot") == "n" }
        #expect(h.service.metrics.snapshot.rejected["/rotating"]?["verification"] == 4)
    }

    @Test func theCredentialsASenderWouldAddPassVerification() throws {
        let integration = try Integration.load(directory: try Hooks.directory())
        let configuration = try ConfigurationResolver(
            overrides: ["baseUrl": "http://127.0.0.1:9", "secret": Hooks.secret, "standardSecret": Hooks.standardSecret],
            environment: [:]).resolve(for: integration)
        let body = Array(event("updated", id: "signed").utf8)
        var checked = 0
        for definition in integration.webhooks {
            let verifiers = Verifier.make(definition.verify, configJSON: configuration.json)
            #expect(verifiers.count == 1, "\(definition.path)")
            for verifier in verifiers {
                let credentials = verifier.credentials(for: body)
                let headers = Dictionary(credentials.headers.map { ($0.0.lowercased(), $0.1) }) { $1 }
                let query = Dictionary(credentials.query.map { ($0.0, $0.1) }) { $1 }
                #expect(throws: Never.self, "\(definition.path)") { try verifier.verify(body: body, headers: headers, query: query) }
                // Signatures cover the body: the same ones do not pass for another (a token does not).
                if case .token = verifier.scheme {} else {
                    #expect(throws: VerificationFailure.self, "\(definition.path)") {
                        try verifier.verify(body: body + [0x20], headers: headers, query: query)
                    }
                }
                checked += 1
            }
        }
        #expect(checked == integration.webhooks.count)
    }

    @Test func hmacSHA1GoodBadAndMissing() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let body = event("updated", id: "b")
        let good = "sha1=" + Signatures.hmacSHA1Hex(Array(body.utf8), secret: Hooks.secret)
        #expect(try await h.post("/integration/sha1", body: body, headers: ["X-Hub-Signature": good]).status == 202)
        #expect(try await h.post("/integration/sha1", body: body, headers: ["X-Hub-Signature": "sha1=deadbeef"]).status == 401)
        #expect(try await h.post("/integration/sha1", body: body).status == 401)
    }

    @Test func standardWebhooksGoodBadMissingReplayedAndRotated() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let body = event("updated", id: "c")
        let now = Int(Date().timeIntervalSince1970)
        func send(secret: String, timestamp: Int, id: String = "msg_1") async throws -> Int {
            let signature = Signatures.standardWebhooks(id: id, timestamp: timestamp, body: Array(body.utf8), secret: secret)
            return try await h.post("/integration/standard", body: body, headers: [
                "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": "v1,bm90LWl0 " + signature,
            ]).status
        }
        #expect(try await send(secret: Hooks.standardSecret, timestamp: now) == 202)
        // Rotation: a signature with the older secret still passes.
        #expect(try await send(secret: Hooks.oldStandardSecret, timestamp: now) == 202)
        #expect(try await send(secret: "whsec_" + Data("someone-else".utf8).base64EncodedString(), timestamp: now) == 401)
        // A replay of an old delivery: correctly signed, but outside the tolerance.
        #expect(try await send(secret: Hooks.standardSecret, timestamp: now - 3600) == 401)
        #expect(try await send(secret: Hooks.standardSecret, timestamp: now + 3600) == 401)
        #expect(try await h.post("/integration/standard", body: body, headers: ["webhook-id": "x", "webhook-timestamp": String(now)]).status == 401)
        #expect(try await h.post("/integration/standard", body: body).status == 401)
    }

    @Test func sharedTokenInHeaderAndQuery() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let body = event("updated", id: "d")
        #expect(try await h.post("/integration/token-header", body: body, headers: ["X-Token": Hooks.secret]).status == 202)
        #expect(try await h.post("/integration/token-header", body: body, headers: ["X-Token": Hooks.secret + "x"]).status == 401)
        #expect(try await h.post("/integration/token-header", body: body).status == 401)
        #expect(try await h.post("/integration/token-query", body: body, query: "?token=\(Hooks.secret)").status == 202)
        #expect(try await h.post("/integration/token-query", body: body, query: "?token=nope").status == 401)
        #expect(try await h.post("/integration/token-query", body: body).status == 401)
    }
}

@Suite struct IntakeTests {
    @Test func malformedJSONOversizedBodyUnknownEventAndRoutes() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        let malformed = try await h.hmac(#"{"action": "updated", "item": "#)
        #expect(malformed.status == 400)
        let oversized = try await h.token("/small", event("updated", id: String(repeating: "x", count: 200)))
        #expect(oversized.status == 413)
        // The server still answers after refusing a body.
        let unknown = try await h.hmac(#"{"action": "renamed-the-moon"}"#)
        #expect(unknown.status == 202)
        #expect(unknown.text.contains("ignored"))
        #expect(h.service.metrics.snapshot.ignored["/hmac"] == 1)
        #expect(try await h.get("/health").status == 200)
        #expect(try await h.post("/integration/nowhere", body: "{}").status == 404)
        #expect(try await h.get("/integration/hmac").status == 405)
        // /resync exists only with the WEBHOOK listener.
        #expect(try await h.post("/resync", body: "").status == 404)
        let metrics = try await h.get("/metrics")
        #expect(metrics.status == 200)
        #expect(metrics.text.contains(#"tide_webhook_events_rejected_total{path="/hmac",reason="json"} 1"#))
        #expect(metrics.text.contains(#"tide_webhook_events_rejected_total{path="/small",reason="body"}"#) == false)
        #expect(metrics.text.contains(#"tide_webhook_events_ignored_total{path="/hmac"} 1"#))
        #expect(metrics.text.contains("tide_webhook_queue_depth"))
        #expect(metrics.text.contains(#"tide_resyncs_total{outcome="started"} 0"#))
    }

    @Test func fullQueueAnswers503WithRetryAfter() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        h.thirdParty.set("slow", name: "slow")
        h.thirdParty.state.withLock { $0.delays["slow"] = .seconds(2) }
        var statuses: [Int] = []
        var retryAfter: String?
        for _ in 0..<6 {
            let response = try await h.token("/slow", event("refetch", id: "slow"))
            statuses.append(response.status)
            if response.status == 503 { retryAfter = response.headers["Retry-After"] }
        }
        // One event in the worker and one waiting fill the queue of 2.
        #expect(statuses.prefix(2).allSatisfy { $0 == 202 })
        #expect(statuses.contains(503))
        #expect(retryAfter == "1")
        #expect(h.service.metrics.snapshot.rejected["/slow"]?["queue_full"] == statuses.filter { $0 == 503 }.count)
        try await eventually("the queue drained") { h.service.endpoints.allSatisfy { $0.queueDepth == 0 } }
        #expect(h.title("slow") == "slow")
    }
}

@Suite struct ProcessingTests {
    @Test func refetchThatFailsTwiceThenSucceeds() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        h.thirdParty.set("flaky", name: "from the API")
        h.thirdParty.state.withLock { $0.failuresLeft["flaky"] = 2 }
        #expect(try await h.hmac(event("refetch", id: "flaky", name: "from the payload")).status == 202)
        try await eventually("flaky written") { h.title("flaky") != nil }
        #expect(h.title("flaky") == "from the API")
        #expect(h.thirdParty.state.current.requests["flaky"] == 3)
        #expect(h.service.metrics.snapshot.retries["/hmac"] == 2)
    }

    @Test func emptyRefetchDeleteEventAndSelectorFalseDelete() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        for id in ["gone", "deleted", "archived"] {
            #expect(try await h.hmac(event("updated", id: id)).status == 202)
        }
        try await eventually("three written") { ["gone", "deleted", "archived"].allSatisfy { h.title($0) != nil } }
        // Not found through the narrowed request: deleted.
        #expect(try await h.hmac(event("refetch", id: "gone")).status == 202)
        // A delete event, even when the deleted record would fail the selector.
        #expect(try await h.hmac(event("deleted", id: "deleted", status: "archived")).status == 202)
        // An update that no longer passes the selector: deleted.
        #expect(try await h.hmac(event("updated", id: "archived", status: "archived")).status == 202)
        try await eventually("three deleted") { ["gone", "deleted", "archived"].allSatisfy { h.title($0) == nil } }
    }

    @Test func quickEventsForOneEntityApplyInArrivalOrder() async throws {
        let h = try await Harness.start()
        defer { Task { await h.stop() } }
        // The first goes through a slow refetch, the second is a plain upsert: only ordering per
        // entity makes the second win.
        h.thirdParty.set("same", name: "first")
        h.thirdParty.state.withLock { $0.delays["same"] = .milliseconds(300) }
        #expect(try await h.hmac(event("refetch", id: "same")).status == 202)
        #expect(try await h.hmac(event("updated", id: "same", name: "second")).status == 202)
        try await eventually("both processed") { h.processed >= 2 }
        #expect(h.title("same") == "second")
        for index in 0..<20 { _ = try await h.hmac(event("updated", id: "burst", name: "v\(index)")) }
        try await eventually("burst processed") { h.processed >= 22 }
        #expect(h.title("burst") == "v19")
    }

    @Test func resyncRunningWhileEventsArriveKeepsWhatTheyWrote() async throws {
        let h = try await Harness.start(listener: .webhook, resyncDelay: .seconds(1))
        defer { Task { await h.stop() } }
        // Written before the resync and not returned by it: reconciliation deletes it.
        h.thirdParty.set("kept-by-api", name: "api")
        try await eventually("the start resync") { h.service.metrics.snapshot.resyncsStarted >= 1 && !h.service.metrics.snapshot.resyncRunning }
        #expect(try await h.hmac(event("updated", id: "stale")).status == 202)
        try await eventually("stale written") { h.title("stale") != nil }

        #expect(try await h.resync().status == 202)
        try await eventually("the resync running") { h.service.metrics.snapshot.resyncRunning && h.service.metrics.snapshot.resyncsStarted >= 2 }
        for index in 0..<5 { #expect(try await h.hmac(event("updated", id: "live-\(index)")).status == 202) }
        try await eventually("the resync finished") { h.service.metrics.snapshot.resyncsSucceeded >= 2 }
        #expect(h.title("kept-by-api") == "api")
        #expect(h.title("stale") == nil)
        // On a loaded machine some events may still be queued when the resync ends; once applied,
        // none may be missing (a reconciliation that deleted them would leave them missing).
        try await eventually("the live events applied") { (0..<5).allSatisfy { h.title("live-\($0)") == "n" } }
    }

    @Test func pollingWithPortResyncsOnlyWhenARequestIsNew() async throws {
        let polls = Locked(0)
        let h = try await Harness.start(listener: .polling) { settings in
            settings.pollingInterval = 0.05
            // Port answers "new request" on the third poll only.
            settings.resyncRequested = { polls.withLock { count in count += 1; return count == 3 } }
        }
        defer { Task { await h.stop() } }
        try await eventually("several polls") { polls.current >= 8 }
        try await eventually("the requested resync finished") { h.service.metrics.snapshot.resyncsSucceeded >= 1 }
        #expect(h.service.metrics.snapshot.resyncsStarted == 1)
    }

    @Test func shutdownDrainsTheQueue() async throws {
        let h = try await Harness.start()
        h.thirdParty.set("drain", name: "drained")
        h.thirdParty.state.withLock { $0.delays["drain"] = .milliseconds(200) }
        #expect(try await h.token("/slow", event("refetch", id: "drain")).status == 202)
        #expect(try await h.token("/slow", event("updated", id: "drain2", name: "queued")).status == 202)
        await h.service.shutdown()
        #expect(h.title("drain") == "drained")
        #expect(h.title("drain2") == "queued")
        await h.client.shutdown()
        await h.thirdParty.server.stop()
    }
}
