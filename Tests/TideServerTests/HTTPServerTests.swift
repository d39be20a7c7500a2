import Foundation
import Testing
import TideCore
import TideHTTP
import TideTesting
@testable import TideServer

/// The one HTTP server, driven by real requests over loopback (libcurl through TideHTTP, or a
/// raw socket for what a client would not do).
@Suite struct HTTPServerTests {
    /// Routes that answer `/now` on the event loop and everything else asynchronously, noting
    /// which connection and arrival number each request had.
    struct Routes: HTTPRoutes {
        let seen = Locked<[(path: String, connection: Int, sequence: Int)]>([])
        var limit = 64 << 20

        func bodyLimit(method: String, path: String) -> Int { limit }

        func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? {
            guard request.path == "/now" else { return nil }
            seen.withLock { $0.append((request.path, request.connectionID, request.sequence)) }
            return .text("now")
        }

        func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
            seen.withLock { $0.append((request.path, request.connectionID, request.sequence)) }
            let text = String(repeating: "0123456789", count: 100)
            switch request.path {
            case "/chunked": return HTTPServerResponse(body: Array(text.utf8), framing: .chunked)
            case "/gzip": return HTTPServerResponse(body: Array(text.utf8), gzip: true)
            case "/drop": return .drop
            default: return HTTPServerResponse(body: Array(request.path.utf8), delay: .milliseconds(20))
            }
        }
    }

    func client() -> HTTPClient { HTTPClient(configuration: .init(retry: .never)) }

    @Test func immediateAndAsynchronousAnswersShareAKeptAliveConnectionInOrder() async throws {
        let routes = Routes()
        let server = try await HTTPServer.start(routes: routes)
        let client = client()
        var bodies: [String] = []
        for path in ["/now", "/later", "/now", "/later"] {
            let response = try await client.send(HTTPRequest(url: server.url(path)))
            #expect(response.status == 200)
            bodies.append(String(decoding: response.body, as: UTF8.self))
        }
        await client.shutdown()
        await server.stop()
        #expect(bodies == ["now", "/later", "now", "/later"])
        let seen = routes.seen.current
        #expect(seen.map(\.sequence) == [1, 2, 3, 4])
        #expect(seen.map(\.path) == ["/now", "/later", "/now", "/later"])
        // Connections are numbered in accept order (libcurl keeps one alive between the requests,
        // unless the machine is so loaded that it opens another).
        let connections = Set(seen.map(\.connection))
        #expect(connections.contains(1))
        #expect(connections.count == server.stats.accepted)
    }

    @Test func framingGzipAndDroppedConnectionsReachTheClientAsSent() async throws {
        let server = try await HTTPServer.start(routes: Routes())
        let client = client()
        let expected = String(repeating: "0123456789", count: 100)
        let chunked = try await client.send(HTTPRequest(url: server.url("/chunked")))
        let gzip = try await client.send(HTTPRequest(url: server.url("/gzip")))
        #expect(chunked.headers["Transfer-Encoding"]?.lowercased() == "chunked")
        #expect(String(decoding: chunked.body, as: UTF8.self) == expected)
        #expect(gzip.headers["Content-Encoding"] == "gzip")
        #expect(String(decoding: gzip.body, as: UTF8.self) == expected)
        await #expect(throws: HTTPError.self) { _ = try await client.send(HTTPRequest(url: server.url("/drop"))) }
        await client.shutdown()
        await server.stop()
    }

    @Test func anOversizedBodyIsRefusedBeforeTheRoutesSeeIt() async throws {
        var routes = Routes()
        routes.limit = 10
        let server = try await HTTPServer.start(routes: routes)
        let client = client()
        let small = try await client.send(HTTPRequest(method: .post, url: server.url("/later"), body: Array("12345".utf8)))
        let large = try await client.send(HTTPRequest(method: .post, url: server.url("/later"), body: Array(repeating: 65, count: 100),
                                                      throwsOnErrorStatus: false))
        await client.shutdown()
        await server.stop()
        #expect(small.status == 200)
        #expect(large.status == 413)
        #expect(large.headers["Connection"]?.lowercased() == "close")
        #expect(routes.seen.current.count == 1)
    }

    @Test func drainingAnswers503AndClosesWhileStillAccepting() async throws {
        let routes = Routes()
        let server = try await HTTPServer.start(routes: routes)
        server.beginDraining()
        let client = client()
        let response = try await client.send(HTTPRequest(url: server.url("/now"), throwsOnErrorStatus: false))
        await client.shutdown()
        await server.stop()
        #expect(response.status == 503)
        #expect(response.headers["Retry-After"] == "5")
        #expect(response.headers["Connection"]?.lowercased() == "close")
        #expect(routes.seen.current.isEmpty)
    }

    @Test func aConnectionThatSendsNoHeadIsClosedAtItsDeadline() async throws {
        let server = try await HTTPServer.start(routes: Routes(), limits: ServerLimits(headerTimeout: 0.2, idleTimeout: 600, bodyTimeout: 600))
        let silent = try RawConnection(port: server.port)
        try await silent.waitClosed("the silent connection closed")
        await server.stop()
        #expect(silent.received.isEmpty)
        #expect(server.stats.closed["header_timeout"] == 1)
        #expect(server.stats.accepted == 1)
    }
}
