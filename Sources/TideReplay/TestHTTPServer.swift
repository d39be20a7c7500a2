import Foundation
import TideCore
import NIOCore
import NIOHTTP1
import NIOPosix

/// A header line, kept in order; names compare case-insensitively wherever they are looked up.
public struct TestHeader: Sendable, Hashable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) { self.name = name; self.value = value }
}

/// One query parameter, percent-decoded (`+` reads as a space).
public struct QueryItem: Sendable, Hashable {
    public var name: String
    public var value: String?
    public init(_ name: String, _ value: String?) { self.name = name; self.value = value }
}

/// A request as the test server received it.
public struct RecordedRequest: Sendable, Hashable {
    public var method: String
    /// The request target exactly as sent (`/rest/api/3/search?startAt=50`).
    public var uri: String
    /// The percent-decoded path, without the query.
    public var path: String
    public var query: [QueryItem]
    public var headers: [TestHeader]
    public var body: [UInt8]
    /// Which accepted connection carried it (1, 2, … in accept order).
    public var connectionID: Int
    /// Arrival order across the whole server (1, 2, …).
    public var sequence: Int

    public init(method: String, uri: String, headers: [TestHeader] = [], body: [UInt8] = [],
                connectionID: Int = 0, sequence: Int = 0)
    {
        self.method = method.uppercased()
        self.uri = uri
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let rawPath = parts.first.map(String.init) ?? uri
        path = rawPath.removingPercentEncoding ?? rawPath
        query = parts.count > 1 ? Self.parseQuery(String(parts[1])) : []
        self.headers = headers
        self.body = body
        self.connectionID = connectionID
        self.sequence = sequence
    }

    /// The first value of header `name`.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    public func headerValues(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The first value of query parameter `name`.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value ?? nil
    }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }

    static func parseQuery(_ query: String) -> [QueryItem] {
        func decode(_ text: Substring) -> String {
            let spaced = text.replacingOccurrences(of: "+", with: " ")
            return spaced.removingPercentEncoding ?? spaced
        }
        return query.split(separator: "&").map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return QueryItem(decode(pair[..<equals]), decode(pair[pair.index(after: equals)...]))
            }
            return QueryItem(decode(pair), nil)
        }
    }
}

/// What the test server sends back.
public struct TestResponse: Sendable, Hashable {
    public enum Framing: Sendable, Hashable {
        case contentLength
        /// `Transfer-Encoding: chunked`, the body split over several chunks.
        case chunked
    }

    public var status: Int
    public var headers: [TestHeader]
    public var body: [UInt8]
    /// Wait this long before answering (for timeout tests).
    public var delay: Duration?
    public var framing: Framing
    /// Send the body gzip-compressed with `Content-Encoding: gzip`.
    public var gzip: Bool
    /// Close the connection after this response.
    public var closeConnection: Bool
    /// Close the connection without answering at all (a dropped connection).
    public var dropConnection: Bool

    public init(status: Int = 200, headers: [TestHeader] = [], body: [UInt8] = [], delay: Duration? = nil,
                framing: Framing = .contentLength, gzip: Bool = false, closeConnection: Bool = false,
                dropConnection: Bool = false)
    {
        self.status = status
        self.headers = headers
        self.body = body
        self.delay = delay
        self.framing = framing
        self.gzip = gzip
        self.closeConnection = closeConnection
        self.dropConnection = dropConnection
    }

    /// A response with a JSON body and `Content-Type: application/json`.
    public static func json(_ json: String, status: Int = 200, headers: [TestHeader] = []) -> TestResponse {
        TestResponse(status: status, headers: [TestHeader("Content-Type", "application/json")] + headers,
                     body: Array(json.utf8))
    }

    /// A response with a plain-text body.
    public static func text(_ text: String, status: Int = 200, headers: [TestHeader] = []) -> TestResponse {
        TestResponse(status: status, headers: [TestHeader("Content-Type", "text/plain; charset=utf-8")] + headers,
                     body: Array(text.utf8))
    }

    /// Closes the connection without a response.
    public static var drop: TestResponse { TestResponse(dropConnection: true) }

    public var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A real HTTP/1.1 server on loopback for tests, built on SwiftNIO.
///
/// Every request is passed to an async handler; the server records requests, counts accepted
/// connections and tracks how many requests are being handled at once, so tests can assert
/// connection reuse and concurrency limits from the outside. Keep-alive is on (HTTP/1.1's
/// default); pipelined requests on one connection are answered in order.
///
/// Thread-safe: the handler may be called concurrently from NIO's event loop threads, and the
/// statistics may be read from any task.
public final class TestHTTPServer: Sendable {
    public typealias Handler = @Sendable (RecordedRequest) async -> TestResponse

    public let host: String
    /// The port the OS assigned (or the one asked for).
    public let port: Int
    private let channel: any Channel
    let state: ServerState

    /// Starts listening on `host:port` (port 0 lets the OS choose). With `recordsRequests` false
    /// the request log stays empty, so a long load run does not grow the server's memory.
    public static func start(host: String = "127.0.0.1", port: Int = 0, recordsRequests: Bool = true,
                             handler: @escaping Handler) async throws -> TestHTTPServer
    {
        let state = ServerState(handler: handler, recordsRequests: recordsRequests)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let connectionID = state.accepted(channel)
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
                    try channel.pipeline.syncOperations.addHandler(
                        ConnectionHandler(state: state, connectionID: connectionID))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close()
            throw TestServerError.noPort
        }
        return TestHTTPServer(host: host, port: bound, channel: channel, state: state)
    }

    private init(host: String, port: Int, channel: any Channel, state: ServerState) {
        self.host = host
        self.port = port
        self.channel = channel
        self.state = state
    }

    /// `http://127.0.0.1:<port>`
    public var baseURL: String { "http://\(host):\(port)" }

    /// `baseURL` + `path` (which should start with `/`).
    public func url(_ path: String) -> String { baseURL + path }

    /// Every request received so far, in arrival order.
    public var requests: [RecordedRequest] { state.snapshot.requests }
    /// Connections accepted since start.
    public var connectionsAccepted: Int { state.snapshot.connections }
    /// The most requests ever being handled at the same moment.
    public var maxConcurrentRequests: Int { state.snapshot.maxInFlight }
    /// Requests received whose response has not been written yet.
    public var requestsInFlight: Int { state.snapshot.inFlight }

    /// Stops listening and closes every open connection.
    public func stop() async {
        try? await channel.close()
        for child in state.openChannels() { try? await child.close() }
    }
}

public enum TestServerError: Error, Sendable {
    case noPort
}


/// The server's shared, lock-protected bookkeeping.
final class ServerState: Sendable {
    struct Snapshot {
        var requests: [RecordedRequest] = []
        var received = 0
        var connections = 0
        var inFlight = 0
        var maxInFlight = 0
        var channels: [ObjectIdentifier: any Channel] = [:]
    }

    let handler: TestHTTPServer.Handler
    let recordsRequests: Bool
    private let data = Locked(Snapshot())

    init(handler: @escaping TestHTTPServer.Handler, recordsRequests: Bool = true) {
        self.handler = handler
        self.recordsRequests = recordsRequests
    }

    var snapshot: Snapshot { data.withLock { $0 } }

    func accepted(_ channel: any Channel) -> Int {
        let key = ObjectIdentifier(channel)
        let id = data.withLock { state -> Int in
            state.connections += 1
            state.channels[key] = channel
            return state.connections
        }
        channel.closeFuture.whenComplete { [self] _ in _ = data.withLock { $0.channels.removeValue(forKey: key) } }
        return id
    }

    func openChannels() -> [any Channel] { data.withLock { Array($0.channels.values) } }

    /// Records a complete request and returns it with its sequence number.
    func begin(_ request: RecordedRequest) -> RecordedRequest {
        data.withLock { state in
            var request = request
            state.received += 1
            request.sequence = state.received
            if recordsRequests { state.requests.append(request) }
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return request
        }
    }

    func end() { data.withLock { $0.inFlight -= 1 } }
}

/// Where request handlers run: Dispatch's threads rather than Swift's cooperative pool.
final class HandlerExecutor: TaskExecutor {
    static let shared = HandlerExecutor()
    private let queue = DispatchQueue(label: "tide.test-http-server.handlers", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// One connection's HTTP handling: collect a request, ask the handler, write the answer.
final class ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let state: ServerState
    private let connectionID: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []

    init(state: ServerState, connectionID: Int) {
        self.state = state
        self.connectionID = connectionID
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
        case .body(let buffer):
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard let head else { return }
            self.head = nil
            let request = state.begin(RecordedRequest(
                method: head.method.rawValue, uri: head.uri,
                headers: head.headers.map { TestHeader($0.name, $0.value) }, body: body,
                connectionID: connectionID))
            let handler = state.handler
            let promise = context.eventLoop.makePromise(of: TestResponse.self)
            // Handlers run on the server's own threads: tests that keep Swift's cooperative threads
            // busy with synchronous work (2 threads on a 2-core machine) must not stall the
            // servers other tests are waiting on.
            Task(executorPreference: HandlerExecutor.shared) {
                let response = await handler(request)
                if let delay = response.delay { try? await Task.sleep(for: delay) }
                promise.succeed(response)
            }
            let keepAlive = head.isKeepAlive
            let isHead = head.method == .HEAD
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.write(response, keepAlive: keepAlive, isHead: isHead, context: context)
            }
        }
    }

    private func write(_ response: TestResponse, keepAlive: Bool, isHead: Bool, context: ChannelHandlerContext) {
        if response.dropConnection {
            state.end()
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders()
        for header in response.headers { headers.add(name: header.name, value: header.value) }
        var payload = response.body
        if response.gzip {
            payload = Gzip.wrap(payload)
            headers.replaceOrAdd(name: "Content-Encoding", value: "gzip")
        }
        switch response.framing {
        case .contentLength: headers.replaceOrAdd(name: "Content-Length", value: String(payload.count))
        case .chunked: headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked")
        }
        let close = !keepAlive || response.closeConnection
        if close { headers.replaceOrAdd(name: "Connection", value: "close") }

        // Counted as finished before the bytes leave, so a client that has its response never
        // sees the request still in flight.
        state.end()
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                      promise: nil)
        if !isHead && !payload.isEmpty {
            // Chunked responses go out in several pieces so the client really reassembles them.
            let pieces = response.framing == .chunked ? max(1, min(4, payload.count)) : 1
            let size = (payload.count + pieces - 1) / pieces
            var offset = 0
            while offset < payload.count {
                let end = min(payload.count, offset + size)
                let buffer = context.channel.allocator.buffer(bytes: payload[offset..<end])
                context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                offset = end
            }
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if close { context.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// Gzip framing around *stored* (uncompressed) deflate blocks. Any gzip decoder accepts it, which
/// is all a test of a client's decoding needs, and it needs no zlib.
enum Gzip {
    static func wrap(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 0xFF]
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let final = offset + length == data.count
            out.append(final ? 1 : 0)
            out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
            out += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        out += littleEndian(crc32(data))
        out += littleEndian(UInt32(truncatingIfNeeded: data.count))
        return out
    }

    private static func littleEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value & 0xFF), UInt8((value >> 8) & 0xFF), UInt8((value >> 16) & 0xFF), UInt8(value >> 24)]
    }

    private static let table: [UInt32] = (0..<256).map { index in
        var c = UInt32(index)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in data { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
