import TideCore
import Foundation
import Testing
import TideHTTP
import TideTesting

@Suite("Redaction", .timeLimit(.minutes(3)))
struct RedactionTests {
    let secret = "s3cr3t-T0KEN/+="

    @Test func secretsNeverReachTheError() async throws {
        let secret = self.secret
        try await withServer(client: .init(retry: .fast, secrets: [secret]), handler: { request in
            .json(#"{"error":"bad token \#(secret)","echo":"\#(request.header("Authorization") ?? "")"}"#, status: 401,
                  headers: [TestHeader("WWW-Authenticate", "Bearer \(secret)")])
        }) { server, client in
            let encoded = secret.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let url = server.baseURL.replacingOccurrences(of: "http://", with: "http://jira-user:pa55word@")
                + "/rest/api/3/myself?api_key=k3y-value&startAt=5&q=\(encoded)&client_secret=cs&Signature=sig"
            let error = try #require(await client.expectFailure(
                HTTPRequest(url: url, headers: ["Authorization": "Bearer \(secret)"])))
            let text = String(describing: error)
            for leak in [secret, encoded, "pa55word", "jira-user", "k3y-value", "=cs", "=sig"] {
                #expect(!text.contains(leak), "\(leak) leaked: \(text)")
                #expect(!String(reflecting: error).contains(leak))
            }
            #expect(error.responseHeaders?["www-authenticate"] == "Bearer ***")
            #expect(text.contains("startAt=5"))
            #expect(text.contains("401 Unauthorized"))
            #expect(text.contains("bad token ***"))
            #expect(error.url.hasPrefix("http://***@127.0.0.1"))
        }
    }

    @Test func secretsInConnectionErrors() async throws {
        let client = HTTPClient(configuration: .init(retry: .never, secrets: [secret]))
        let error = try #require(await client.expectFailure(HTTPRequest(url: "http://127.0.0.1:1/x?token=abc&q=\(secret)")))
        #expect(!String(describing: error).contains(secret))
        #expect(!String(describing: error).contains("abc"))
        #expect(error.url == "http://127.0.0.1:1/x?token=***&q=***")
        await client.shutdown()
    }

    @Test func urlRules() {
        let redactor = Redactor(secrets: ["hunter2"])
        #expect(redactor.redactURL("https://a:b@x.io/p?apikey=1&page=2#frag")
            == "https://***@x.io/p?apikey=***&page=2#frag")
        #expect(redactor.redactURL("https://x.io/p?ACCESS_TOKEN=1&x-api-key=2&nextPageToken=3")
            == "https://x.io/p?ACCESS_TOKEN=***&x-api-key=***&nextPageToken=3")
        #expect(redactor.redactURL("https://x.io/hunter2/p") == "https://x.io/***/p")
        #expect(redactor.redactURL("https://x.io/a/hunter%32/p?q=hunte%72%32&ok=1")
            == "https://x.io/a/***/p?q=***&ok=1")
        // A secret this short counts only as a whole word: "hunter2x" is another word.
        #expect(redactor.redactURL("https://x.io/p?q=hunter2x") == "https://x.io/p?q=hunter2x")
        #expect(redactor.redactURL("https://x.io") == "https://x.io")
        #expect(redactor.redactURL("/relative?token=1") == "/relative?token=***")
        #expect(redactor.redactURL("https://x.io/p?u=me@example.com") == "https://x.io/p?u=me@example.com")
        #expect(redactor.redact("no secrets here") == "no secrets here")
    }

    @Test func excerptIsShortValidUTF8() async throws {
        let body = String(repeating: "é", count: 600) + "TAIL"
        try await withServer(handler: { _ in .text(body, status: 500) }) { server, client in
            let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/e"))))
            let excerpt = try #require(error.bodyExcerpt)
            #expect(excerpt.utf8.count <= 504)
            #expect(!excerpt.contains("TAIL"))
            #expect(!excerpt.contains("\u{FFFD}"))
            #expect(excerpt.hasSuffix("…"))
        }
    }

    @Test func descriptionReadsLikeTheSpec() async throws {
        var policy = RetryPolicy.fast
        policy.maxAttempts = 4
        try await withServer(client: .init(retry: policy), handler: { _ in
            .json(#"{"errorMessages":["down for maintenance"]}"#, status: 503)
        }) { server, client in
            let error = try #require(await client.expectFailure(
                HTTPRequest(url: server.url("/rest/api/3/project/search?startAt=50"))))
            #expect(error.description == #"GET \#(server.baseURL)/rest/api/3/project/search?startAt=50 → 503 Service Unavailable after 4 attempts: {"errorMessages":["down for maintenance"]}"#)
        }
    }
}

@Suite("Cancellation", .timeLimit(.minutes(3)))
struct CancellationTests {
    @Test func cancellingTheTaskCancelsTheTransfer() async throws {
        try await withServer(handler: { request in
            // Long enough that a loaded machine cannot reach the cancel only after the answer.
            request.path == "/quick" ? .text("quick") : TestResponse(body: Array("late".utf8), delay: .seconds(120))
        }) { server, client in
            let task = Task { await client.expectFailure(HTTPRequest(url: server.url("/slow"))) }
            while server.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
            task.cancel()
            let error = try #require(await task.value)
            #expect(error.kind == .cancelled)
            // The client still works afterwards.
            let quick = try await client.send(HTTPRequest(url: server.url("/quick")))
            #expect(quick.text == "quick")
        }
    }

    @Test func cancellingWhileQueuedOrBackingOff() async throws {
        let gate = Locked(0)
        var policy = RetryPolicy.fast
        policy.maxTotalWait = .seconds(60)  // so the 30 s Retry-After is honoured, not refused
        try await withServer(client: .init(maxConcurrentRequests: 1, retry: policy), handler: { request in
            gate.withLock { $0 += 1 }
            if request.path == "/busy" { return TestResponse(status: 503, headers: [TestHeader("Retry-After", "30")]) }
            // Held far longer than the test takes even on a loaded machine: only cancelling ends it.
            return TestResponse(delay: .seconds(120))
        }) { server, client in
            let holder = Task { await client.expectFailure(HTTPRequest(url: server.url("/hold"))) }
            while gate.current == 0 { try await Task.sleep(for: .milliseconds(10)) }
            // Waits for the one slot.
            let queued = Task { await client.expectFailure(HTTPRequest(url: server.url("/queued"))) }
            try await Task.sleep(for: .milliseconds(50))
            queued.cancel()
            let queuedError = try #require(await queued.value)
            #expect(queuedError.kind == .cancelled)
            holder.cancel()
            let holderError = try #require(await holder.value)
            #expect(holderError.kind == .cancelled)

            // Sleeping 30 s on Retry-After.
            let backingOff = Task { await client.expectFailure(HTTPRequest(url: server.url("/busy"))) }
            while !server.requests.contains(where: { $0.path == "/busy" }) { try await Task.sleep(for: .milliseconds(10)) }
            backingOff.cancel()
            let error = try #require(await backingOff.value)
            #expect(error.kind == .cancelled)
            #expect(error.attempts == 1)
            #expect(!server.requests.contains { $0.path == "/queued" })
        }
    }

    @Test func alreadyCancelledTaskSendsNothing() async throws {
        try await withServer(handler: { _ in .text("x") }) { server, client in
            let task = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return await client.expectFailure(HTTPRequest(url: server.url("/never")))
            }
            let taskError = try #require(await task.value)
            #expect(taskError.kind == .cancelled)
            #expect(server.requests.isEmpty)
        }
    }
}
