import Foundation
import TideCore
@_exported import TideServer

/// The names tests and stand-ins have always used for the server's messages.
public typealias TestHeader = HTTPField
public typealias RecordedRequest = HTTPServerRequest
public typealias TestResponse = HTTPServerResponse

/// An `HTTPServer` on loopback that hands every request to one async handler and keeps a record:
/// the requests received, the connections accepted, how many requests were handled at once — so
/// tests (and the fixture server of `--replay`) can assert connection reuse and concurrency
/// limits from the outside. A response's `delay` counts as handling time.
///
/// Thread-safe: the handler may be called concurrently, and the record read from any task.
public final class TestHTTPServer: Sendable {
    public typealias Handler = @Sendable (RecordedRequest) async -> TestResponse

    private let server: HTTPServer
    private let log: RequestLog

    public var host: String { server.host }
    /// The port the OS assigned (or the one asked for).
    public var port: Int { server.port }

    /// Starts listening on `host:port` (port 0 lets the OS choose). With `recordsRequests` false
    /// the request log stays empty, so a long load run does not grow the server's memory.
    public static func start(host: String = "127.0.0.1", port: Int = 0, recordsRequests: Bool = true,
                             limits: ServerLimits = ServerLimits(),
                             handler: @escaping Handler) async throws -> TestHTTPServer {
        let log = RequestLog(recordsRequests: recordsRequests)
        let server = try await HTTPServer.start(host: host, port: port, routes: Recording(handler: handler, log: log), limits: limits)
        return TestHTTPServer(server: server, log: log)
    }

    private init(server: HTTPServer, log: RequestLog) {
        self.server = server
        self.log = log
    }

    /// `http://127.0.0.1:<port>`
    public var baseURL: String { server.baseURL }

    /// `baseURL` + `path` (which should start with `/`).
    public func url(_ path: String) -> String { server.url(path) }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] { log.snapshot.requests }
    /// Connections accepted since start.
    public var connectionsAccepted: Int { server.stats.accepted }
    /// The most requests ever being handled at the same moment.
    public var maxConcurrentRequests: Int { log.snapshot.maxInFlight }
    /// Requests received whose response has not been written yet.
    public var requestsInFlight: Int { log.snapshot.inFlight }

    /// Stops listening and closes every open connection.
    public func stop() async { await server.stop() }
}

/// The record of what a `TestHTTPServer` received.
final class RequestLog: Sendable {
    struct Snapshot {
        var requests: [RecordedRequest] = []
        var inFlight = 0
        var maxInFlight = 0
    }

    let recordsRequests: Bool
    private let data = Locked(Snapshot())

    init(recordsRequests: Bool) { self.recordsRequests = recordsRequests }

    var snapshot: Snapshot { data.withLock { $0 } }

    func begin(_ request: RecordedRequest) {
        data.withLock { state in
            if recordsRequests { state.requests.append(request) }
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
        }
    }

    func end() { data.withLock { $0.inFlight -= 1 } }
}

/// Routes every request to the handler, recording it.
struct Recording: HTTPRoutes {
    let handler: TestHTTPServer.Handler
    let log: RequestLog

    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        log.begin(request)
        var response = await handler(request)
        if let delay = response.delay {
            try? await Task.sleep(for: delay)
            response.delay = nil
        }
        // Counted as finished before the bytes leave, so a client that has its response never
        // sees the request still in flight.
        log.end()
        return response
    }
}
