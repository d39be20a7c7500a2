import Foundation
import Testing
import TideCore
import TideHTTP
import TideTesting

/// What a metrics observer records of each attempt: method, status class and duration only.
final class RecordingObserver: HTTPRequestObserver {
    let seen = Locked<[(method: String, statusClass: String, duration: Duration)]>([])
    func requestFinished(method: String, statusClass: String, duration: Duration) {
        seen.withLock { $0.append((method, statusClass, duration)) }
    }
    var classes: [String] { seen.current.map(\.statusClass) }
}

@Suite("HTTP client observer", .timeLimit(.minutes(3)))
struct HTTPObserverTests {
    static let handler: TestHTTPServer.Handler = { request in
        switch request.path {
        case "/missing": .json(#"{"error":"no"}"#, status: 404)
        case "/boom": .json(#"{"error":"boom"}"#, status: 503)
        default: .json("{}")
        }
    }

    @Test func everyAttemptIsReportedByStatusClass() async throws {
        let observer = RecordingObserver()
        var configuration = HTTPClient.Configuration(retry: RetryPolicy(maxAttempts: 3, baseDelay: .milliseconds(1), maxDelay: .milliseconds(5)))
        configuration.observer = observer
        try await withServer(client: configuration, handler: Self.handler) { server, client in
            _ = try await client.send(HTTPRequest(url: server.url("/ok")))
            _ = try await client.send(HTTPRequest(method: .post, url: server.url("/missing"), throwsOnErrorStatus: false))
            // 503 is retried: three attempts, three reports.
            _ = try await client.send(HTTPRequest(url: server.url("/boom"), throwsOnErrorStatus: false))
        }
        // Port 9 (discard) is closed on loopback: no response at all.
        let closed = HTTPClient(configuration: configuration)
        await #expect(throws: HTTPError.self) { _ = try await closed.send(HTTPRequest(url: "http://127.0.0.1:9/x")) }
        await closed.shutdown()
        let seen = observer.seen.current
        // 1 + 1 + 3 attempts answered, then 1 that got no answer (a refused connection is not
        // repeated: nothing listens there).
        #expect(observer.classes == ["2xx", "4xx", "5xx", "5xx", "5xx", "error"])
        #expect(seen.prefix(5).map(\.method) == ["GET", "POST", "GET", "GET", "GET"])
        #expect(seen.allSatisfy { $0.duration > .zero })
    }

    @Test func theTaskLocalObserverReachesClientsConfiguredWithout() async throws {
        let fromTask = RecordingObserver(), configured = RecordingObserver()
        try await withServer(handler: Self.handler) { server, client in
            _ = try await client.send(HTTPRequest(url: server.url("/ok")))  // nobody is told
            try await HTTPClient.$observer.withValue(fromTask) {
                _ = try await client.send(HTTPRequest(url: server.url("/ok")))
                // Child tasks inherit it.
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<3 { group.addTask { _ = try await client.send(HTTPRequest(url: server.url("/ok"))) } }
                    try await group.waitForAll()
                }
            }
            // A client's own observer wins over the task's.
            var configuration = HTTPClient.Configuration()
            configuration.observer = configured
            let own = HTTPClient(configuration: configuration)
            try await HTTPClient.$observer.withValue(fromTask) {
                _ = try await own.send(HTTPRequest(url: server.url("/ok")))
            }
            await own.shutdown()
            #expect(server.requests.count == 6)
        }
        #expect(fromTask.classes == ["2xx", "2xx", "2xx", "2xx"])
        #expect(configured.classes == ["2xx"])
    }
}
