import Foundation
import Testing
import TideHTTP
import TideTesting

@Suite("Retries, limits and timeouts", .timeLimit(.minutes(3)))
struct RetryTests {
    @Test func retries429WithRetryAfterZero() async throws {
        try await withServer(handler: sequence([
            .json(#"{"message":"slow down"}"#, status: 429, headers: [TestHeader("Retry-After", "0")]),
            .json("{}"),
        ])) { server, client in
            let response = try await client.send(HTTPRequest(url: server.url("/limited")))
            #expect(response.status == 200)
            #expect(response.timing.attempts == 2)
            #expect(server.requests.count == 2)
        }
    }

    @Test func retries503AfterRetryAfterOneSecond() async throws {
        try await withServer(handler: sequence([
            TestResponse(status: 503, headers: [TestHeader("Retry-After", "1")]),
            .json("{}"),
        ])) { server, client in
            let started = ContinuousClock.now
            let response = try await client.send(HTTPRequest(url: server.url("/busy")))
            #expect(ContinuousClock.now - started >= .milliseconds(990))
            #expect(response.timing.retryWait >= .seconds(1))
            #expect(response.timing.attempts == 2)
        }
    }

    @Test func retriesOnRateLimitResetInSecondsAndAsEpoch() async throws {
        let epoch = String(Int(Date().timeIntervalSince1970) + 1)
        try await withServer(handler: sequence([
            TestResponse(status: 429, headers: [TestHeader("X-RateLimit-Reset", "0")]),
            TestResponse(status: 429, headers: [TestHeader("X-RateLimit-Reset", epoch)]),
            .json("{}"),
        ])) { server, client in
            let response = try await client.send(HTTPRequest(url: server.url("/reset")))
            #expect(response.timing.attempts == 3)
            #expect(server.requests.count == 3)
        }
    }

    @Test func retriesOnDroppedConnection() async throws {
        try await withServer(handler: sequence([.drop, .drop, .json(#"{"ok":true}"#)])) { server, client in
            let response = try await client.send(HTTPRequest(url: server.url("/flaky")))
            #expect(response.text == #"{"ok":true}"#)
            #expect(server.requests.count == 3)
        }
    }

    @Test func doesNotRetryPostUnlessMarkedRetryable() async throws {
        try await withServer(handler: sequence([
            TestResponse(status: 503), TestResponse(status: 503), .json("{}"),
        ])) { server, client in
            let error = try #require(await client.expectFailure(.json(url: server.url("/write"), body: "{}")))
            #expect(error.kind == .status)
            #expect(error.status == 503)
            #expect(error.attempts == 1)
            #expect(server.requests.count == 1)

            // Jira's search is a POST that only reads: the caller marks it retryable.
            let search = try await client.send(.json(url: server.url("/rest/api/3/search/jql"), body: "{}", retryable: true))
            #expect(search.status == 200)
            #expect(search.timing.attempts == 2)
        }
    }

    @Test func doesNotRetryDroppedNonRetryablePost() async throws {
        try await withServer(handler: sequence([.drop, .json("{}")])) { server, client in
            let error = try #require(await client.expectFailure(.json(url: server.url("/write"), body: "{}")))
            #expect(error.kind == .connection)
            #expect(error.attempts == 1)
        }
    }

    @Test func stopsAtTheAttemptCap() async throws {
        var policy = RetryPolicy.fast
        policy.maxAttempts = 3
        try await withServer(client: .init(retry: policy), handler: { _ in
            .json(#"{"errorMessages":["down"]}"#, status: 503)
        }) { server, client in
            let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/down"))))
            #expect(error.attempts == 3)
            #expect(server.requests.count == 3)
            #expect(error.description.contains("503 Service Unavailable after 3 attempts"))
        }
    }

    @Test func retryAfterBeyondTheWaitCapFailsAtOnce() async throws {
        var policy = RetryPolicy.fast
        policy.maxTotalWait = .seconds(5)
        try await withServer(client: .init(retry: policy), handler: { _ in
            TestResponse(status: 429, headers: [TestHeader("Retry-After", "3600")])
        }) { server, client in
            let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/hour"))))
            #expect(error.status == 429)
            #expect(error.attempts == 1)
            #expect(error.detail?.contains("asked to wait 3600 s") == true, "\(error)")
            #expect(server.requests.count == 1)
        }
    }

    /// Retry-After is seconds (RFC 9110), never an epoch: a huge value is a wait past the cap, not
    /// a time long gone that would mean "retry at once".
    @Test func aHugeRetryAfterFailsAtOnceInsteadOfRetryingImmediately() async throws {
        var compared = 0
        for value in ["999999", "86400", "1e9"] {
            try await withServer(handler: { _ in
                TestResponse(status: 429, headers: [TestHeader("Retry-After", value)])
            }) { server, client in
                let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/limited"))))
                #expect(error.status == 429)
                #expect(error.attempts == 1, "Retry-After: \(value)")
                #expect(error.detail?.contains("more than the retry wait limit") == true, "\(error)")
                #expect(server.requests.count == 1)
                compared += 1
            }
        }
        #expect(compared == 3)
    }

    @Test func backoffStopsWhenTheWaitBudgetIsSpent() async throws {
        let policy = RetryPolicy(maxAttempts: 10, baseDelay: .milliseconds(100), multiplier: 2,
                                 maxDelay: .seconds(10), jitter: .none, maxTotalWait: .milliseconds(250))
        try await withServer(client: .init(retry: policy), handler: { _ in TestResponse(status: 502) }) { server, client in
            // Waits 100 ms, then 200 ms would pass the 250 ms budget.
            let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/bad"))))
            #expect(error.status == 502)
            #expect(error.attempts == 2)
            #expect(error.detail?.contains("retry wait limit") == true)
        }
    }

    @Test func totalTimeoutWhileTheServerDelays() async throws {
        try await withServer(client: .init(retry: .never), handler: { _ in
            TestResponse(body: Array("late".utf8), delay: .seconds(3))
        }) { server, client in
            var request = HTTPRequest(url: server.url("/slow"))
            request.timeout = .milliseconds(200)
            let error = try #require(await client.expectFailure(request))
            #expect(error.kind == .timeout)
        }
    }

    @Test func timeoutsAreRetriedForRetryableRequests() async throws {
        try await withServer(handler: sequence([TestResponse(delay: .seconds(5)), .text("fast")])) { server, client in
            var request = HTTPRequest(url: server.url("/slow-then-fast"))
            // Generous, so a loaded machine still answers the fast attempt in time.
            request.timeout = .seconds(1)
            let response = try await client.send(request)
            #expect(response.text == "fast")
            #expect(response.timing.attempts >= 2)
            #expect(server.requests.count == response.timing.attempts)
        }
    }

    @Test func connectionRefusedIsAConnectionError() async throws {
        let server = try await TestHTTPServer.start { _ in .text("") }
        let url = server.url("/gone")
        await server.stop()
        let client = HTTPClient(configuration: .init(retry: .fast))
        // Nothing listens there: it fails at once instead of hiding a wrong host behind retries.
        let error = try #require(await client.expectFailure(.json(url: url, body: "{}")))
        #expect(error.kind == .connection)
        #expect(error.attempts == 1)
        #expect(RetryPolicy.fast.maxAttempts > 1)
        await client.shutdown()
    }

    @Test func connectTimeoutToAnUnroutableAddress() async throws {
        // 192.0.2.0/24 is TEST-NET-1: never routed, so the connect either times out or is refused
        // by the sandbox's network; either way the request must fail promptly and typed.
        let client = HTTPClient(configuration: .init(connectTimeout: .milliseconds(200), retry: .never))
        let error = try #require(await client.expectFailure(HTTPRequest(url: "http://192.0.2.1:81/")))
        #expect(error.kind == .timeout || error.kind == .connection, "\(error)")
        await client.shutdown()
    }

    @Test func refusesBodiesOverTheLimit() async throws {
        try await withServer(client: .init(maxResponseBodyBytes: 1024, retry: .fast), handler: { request in
            var response = TestResponse(body: Array(repeating: UInt8(ascii: "x"), count: 4096))
            response.framing = request.path == "/chunked" ? .chunked : .contentLength
            response.gzip = request.path == "/gzip"
            return response
        }) { server, client in
            for path in ["/length", "/chunked", "/gzip"] {
                let error = try #require(await client.expectFailure(HTTPRequest(url: server.url(path))))
                #expect(error.kind == .tooLarge, "\(path): \(error)")
                #expect(error.attempts == 1)
                #expect(error.description.contains("1024 bytes"))
            }
        }
    }

    @Test func concurrencyLimitIsRespected() async throws {
        try await withServer(client: .init(maxConcurrentRequests: 3, retry: .fast), handler: { _ in
            TestResponse(body: Array("ok".utf8), delay: .milliseconds(30))
        }) { server, client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<15 { group.addTask { _ = try await client.send(HTTPRequest(url: server.url("/c"))) } }
                try await group.waitForAll()
            }
            #expect(server.requests.count == 15)
            #expect(server.maxConcurrentRequests <= 3)
            #expect(server.maxConcurrentRequests >= 1)
        }
    }

    @Test func rateLimitSpacesRequests() async throws {
        let started = ContinuousClock.now
        try await withServer(client: .init(rateLimit: RateLimit(requests: 2, per: .milliseconds(200)), retry: .fast),
                             handler: { _ in .text("ok") }) { server, client in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 { group.addTask { _ = try await client.send(HTTPRequest(url: server.url("/r"))) } }
                try await group.waitForAll()
            }
            // Two at once, then one every 100 ms: the sixth cannot start before 400 ms.
            #expect(ContinuousClock.now - started >= .milliseconds(400))
            #expect(server.requests.count == 6)
        }
    }

    @Test func retryAttemptsAlsoCountAgainstTheRateLimit() async throws {
        let started = ContinuousClock.now
        try await withServer(client: .init(rateLimit: RateLimit(requests: 1, per: .milliseconds(150)), retry: .fast),
                             handler: sequence([TestResponse(status: 503, headers: [TestHeader("Retry-After", "0")]),
                                                TestResponse(status: 503, headers: [TestHeader("Retry-After", "0")]),
                                                .text("ok")]))
        { server, client in
            let response = try await client.send(HTTPRequest(url: server.url("/r")))
            #expect(response.timing.attempts == 3)
            #expect(ContinuousClock.now - started >= .milliseconds(300))
        }
    }
}

@Suite("Server delay headers")
struct ServerDelayTests {
    let now = Date(timeIntervalSince1970: 1_700_000_000)

    @Test func secondsAndEpochs() {
        #expect(RetryPolicy.parseDelay("5", now: now) == .seconds(5))
        #expect(RetryPolicy.parseDelay(" 0 ", now: now) == .zero)
        #expect(RetryPolicy.parseDelay("10000", now: now) == .seconds(10_000))
        #expect(RetryPolicy.parseDelay("1700000030", now: now) == .seconds(30))
        #expect(RetryPolicy.parseDelay("1699999000", now: now) == .zero)  // in the past
        #expect(RetryPolicy.parseDelay("soon", now: now) == nil)
        #expect(RetryPolicy.parseDelay("", now: now) == nil)
    }

    @Test func dates() throws {
        // 1_700_000_000 is Tue, 14 Nov 2023 22:13:20 GMT.
        let http = try #require(RetryPolicy.parseDelay("Tue, 14 Nov 2023 22:13:50 GMT", now: now))
        #expect(http == .seconds(30))
        let iso = try #require(RetryPolicy.parseDelay("2023-11-14T22:14:20Z", now: now))
        #expect(iso == .seconds(60))
    }

    @Test func retryAfterWinsOverRateLimitReset() {
        let headers: HTTPHeaders = ["X-RateLimit-Reset": "9", "retry-after": "2"]
        #expect(RetryPolicy.serverDelay(in: headers, now: now) == .seconds(2))
        #expect(RetryPolicy.serverDelay(in: ["X-RateLimit-Reset": "9"], now: now) == .seconds(9))
        #expect(RetryPolicy.serverDelay(in: [:], now: now) == nil)
    }

    @Test func backoffGrowsAndIsCapped() {
        let policy = RetryPolicy(baseDelay: .milliseconds(100), multiplier: 2, maxDelay: .milliseconds(350), jitter: .none)
        #expect(policy.backoff(afterAttempt: 1) == .milliseconds(100))
        #expect(policy.backoff(afterAttempt: 2) == .milliseconds(200))
        #expect(policy.backoff(afterAttempt: 3) == .milliseconds(350))
        var full = policy
        full.jitter = .full
        for attempt in 1...5 { #expect(full.backoff(afterAttempt: attempt) <= .milliseconds(350)) }
        var plusMinus = policy
        plusMinus.jitter = .proportional(0.1)
        for _ in 0..<20 {
            let delay = plusMinus.backoff(afterAttempt: 2)
            #expect(delay >= .milliseconds(180) && delay <= .milliseconds(220))
        }
    }
}
