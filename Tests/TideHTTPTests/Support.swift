import Foundation
import TideCore
import TideHTTP
import TideTesting


/// Runs `body` against a fresh loopback server and client, then shuts both down.
func withServer<R>(
    client configuration: HTTPClient.Configuration = .init(retry: .fast),
    handler: @escaping TestHTTPServer.Handler,
    _ body: (TestHTTPServer, HTTPClient) async throws -> R
) async throws -> R {
    let server = try await TestHTTPServer.start(handler: handler)
    let client = HTTPClient(configuration: configuration)
    do {
        let result = try await body(server, client)
        await client.shutdown()
        await server.stop()
        return result
    } catch {
        await client.shutdown()
        await server.stop()
        throw error
    }
}

/// Answers the n-th request (0-based) with `responses[n]`, repeating the last.
func sequence(_ responses: [TestResponse]) -> TestHTTPServer.Handler {
    let count = Locked(0)
    return { _ in
        let index = count.withLock { n -> Int in defer { n += 1 }; return n }
        return responses[min(index, responses.count - 1)]
    }
}

extension RetryPolicy {
    /// Short waits so retry tests stay quick.
    static let fast = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50),
                                  jitter: .none, maxTotalWait: .seconds(10))
}

extension HTTPClient {
    /// Sends and expects an `HTTPError`; fails the test helper with a plain error otherwise.
    func expectFailure(_ request: HTTPRequest) async -> HTTPError? {
        do {
            _ = try await send(request)
            return nil
        } catch {
            return error
        }
    }
}
