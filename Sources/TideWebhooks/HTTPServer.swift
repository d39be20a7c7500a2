import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TideCore

/// A request as routes see it: raw body, lower-cased header names, decoded query.
public struct ServerRequest: Sendable {
    public var method: String
    public var path: String
    public var query: [String: String]
    public var headers: [String: String]
    public var body: [UInt8]
}

public struct ServerResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }
    public static func json(_ status: Int, _ text: String, headers: [(String, String)] = []) -> ServerResponse {
        ServerResponse(status: status, headers: [("Content-Type", "application/json")] + headers, body: Array(text.utf8))
    }
}

/// What the HTTP layer asks of the application. Both calls run on an event loop thread, so they
/// must be quick and must not block: anything slow goes to a queue or a task.
public protocol ServerRoutes: Sendable {
    /// The most body bytes accepted for this route; checked against Content-Length and while
    /// reading, so an oversized body is refused (413) before it is buffered.
    func bodyLimit(method: String, path: String) -> Int
    func respond(to request: ServerRequest) -> ServerResponse
}

/// How long a connection may take and how many may be open. A peer that connects and sends
/// nothing (or a head byte by byte) would otherwise hold a descriptor forever.
public struct ServerLimits: Sendable {
    /// Seconds a new connection has to deliver a complete request head.
    public var headerTimeout: Double
    /// Seconds a kept-alive connection may wait for its next request head.
    public var idleTimeout: Double
    /// Seconds a request's body has, from its head, to arrive.
    public var bodyTimeout: Double
    /// Open connections at most (lowered to fit the process's descriptor limit, see `effectiveMaxConnections`).
    public var maxConnections: Int

    public init(headerTimeout: Double = 10, idleTimeout: Double = 60, bodyTimeout: Double = 30, maxConnections: Int = 512) {
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.maxConnections = maxConnections
    }

    /// Descriptors left for everything else the process opens (catalog, HTTP client, listening
    /// socket, logs), so that connections alone never exhaust the limit and an accept still works.
    public static let descriptorHeadroom = 64

    /// The cap actually applied: `configured`, but below the descriptor limit by the headroom.
    public static func effectiveMaxConnections(_ configured: Int, descriptorLimit: Int?) -> Int {
        let wanted = max(configured, 1)
        guard let descriptorLimit else { return wanted }
        return max(1, min(wanted, descriptorLimit - descriptorHeadroom))
    }

    /// The soft `RLIMIT_NOFILE`, nil when unlimited or unknown.
    public static func descriptorLimit() -> Int? {
        var limit = rlimit()
        #if canImport(Glibc)
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        #else
        guard getrlimit(RLIMIT_NOFILE, &limit) == 0 else { return nil }
        #endif
        return limit.rlim_cur == rlim_t.max || limit.rlim_cur > rlim_t(Int.max) ? nil : Int(limit.rlim_cur)
    }
}

/// The open connections, oldest first, and whether each is between requests (waiting for a head:
/// fresh, kept alive, or a slow head). At the cap, the oldest such connection makes room for a new
/// one, so a flood of idle connections cannot keep `/health` or a real sender out.
final class ConnectionTable: Sendable {
    private struct Entry {
        let channel: any Channel
        var waiting: Bool
        let order: UInt64
    }
    private let state = Locked<(entries: [ObjectIdentifier: Entry], next: UInt64)>(([:], 0))
    let cap: Int

    init(cap: Int) { self.cap = cap }

    enum Admission { case admitted(evicting: (any Channel)?), refused }

    func admit(_ channel: any Channel) -> Admission {
        state.withLock { state in
            var evicted: (any Channel)?
            if state.entries.count >= cap {
                guard let oldest = state.entries.filter({ $0.value.waiting }).min(by: { $0.value.order < $1.value.order }) else {
                    return .refused
                }
                state.entries.removeValue(forKey: oldest.key)
                evicted = oldest.value.channel
            }
            state.entries[ObjectIdentifier(channel)] = Entry(channel: channel, waiting: true, order: state.next)
            state.next += 1
            return .admitted(evicting: evicted)
        }
    }

    func setWaiting(_ channel: any Channel, _ waiting: Bool) {
        state.withLock { $0.entries[ObjectIdentifier(channel)]?.waiting = waiting }
    }

    /// Whether the channel was still listed (an evicted one no longer is).
    @discardableResult
    func remove(_ channel: any Channel) -> Bool {
        state.withLock { $0.entries.removeValue(forKey: ObjectIdentifier(channel)) != nil }
    }

    var count: Int { state.withLock { $0.entries.count } }
    var channels: [any Channel] { state.withLock { $0.entries.values.map(\.channel) } }
}

/// Counts what the server did to connections, for /metrics.
public final class ConnectionStats: Sendable {
    private let state = Locked<(open: Int, closed: [String: Int])>((0, [:]))
    public init() {}
    public var open: Int { state.current.open }
    /// Closed by the server, by reason: header_timeout, idle_timeout, body_timeout, evicted, over_capacity.
    public var closed: [String: Int] { state.current.closed }
    func opened() { state.withLock { $0.open += 1 } }
    func ended() { state.withLock { $0.open -= 1 } }
    func closedByServer(_ reason: String) { state.withLock { $0.closed[reason, default: 0] += 1 } }
}

/// A small HTTP/1.1 server on SwiftNIO.
public final class WebhookHTTPServer: Sendable {
    public let host: String
    public let port: Int
    /// The connection cap in force (see `ServerLimits.effectiveMaxConnections`).
    public let maxConnections: Int
    public let stats: ConnectionStats
    private let channel: any Channel
    private let connections: ConnectionTable
    private let draining: Locked<Bool>

    public static func start(host: String, port: Int, routes: any ServerRoutes, limits: ServerLimits = ServerLimits(),
                             stats: ConnectionStats = ConnectionStats()) async throws -> WebhookHTTPServer {
        let cap = ServerLimits.effectiveMaxConnections(limits.maxConnections, descriptorLimit: ServerLimits.descriptorLimit())
        let connections = ConnectionTable(cap: cap)
        let draining = Locked(false)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                switch connections.admit(channel) {
                case .refused:
                    // Every open connection is mid-request: this one is closed at once.
                    stats.closedByServer("over_capacity")
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(CloseOnActive())
                    }
                case .admitted(let evicted):
                    if let evicted {
                        stats.closedByServer("evicted")
                        evicted.close(promise: nil)
                    }
                }
                stats.opened()
                channel.closeFuture.whenComplete { _ in
                    connections.remove(channel)
                    stats.ended()
                }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
                    try channel.pipeline.syncOperations.addHandler(
                        RequestHandler(routes: routes, limits: limits, connections: connections, stats: stats, draining: draining))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close()
            throw WebhookServerError.noPort
        }
        return WebhookHTTPServer(host: host, port: bound, maxConnections: cap, stats: stats, channel: channel,
                                 connections: connections, draining: draining)
    }

    private init(host: String, port: Int, maxConnections: Int, stats: ConnectionStats, channel: any Channel,
                 connections: ConnectionTable, draining: Locked<Bool>) {
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.stats = stats
        self.channel = channel
        self.connections = connections
        self.draining = draining
    }

    public var baseURL: String { "http://\(host):\(port)" }

    /// From now on every request is answered 503 with `Retry-After` and `Connection: close`, while
    /// connections are still accepted: a load balancer sees the instance going away instead of a
    /// refused connection.
    public func beginDraining() { draining.withLock { $0 = true } }

    /// Stops accepting connections.
    public func stopAccepting() async { try? await channel.close() }

    public func closeConnections() async {
        for child in connections.channels { try? await child.close() }
    }
}

public enum WebhookServerError: Error, Sendable { case noPort }

/// Closes a connection over the cap as soon as it is open.
final class CloseOnActive: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelActive(context: ChannelHandlerContext) { context.close(promise: nil) }
}

/// One connection: read a request within the route's body limit and the timeouts, answer it.
final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: any ServerRoutes
    private let limits: ServerLimits
    private let connections: ConnectionTable
    private let stats: ConnectionStats
    private let draining: Locked<Bool>
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var limit = 0
    /// Set once a 413 is sent: the rest of that request is dropped.
    private var discarding = false
    /// The one deadline in force: for the head, the body, or the next request.
    private var deadline: Scheduled<Void>?

    init(routes: any ServerRoutes, limits: ServerLimits, connections: ConnectionTable, stats: ConnectionStats, draining: Locked<Bool>) {
        self.routes = routes
        self.limits = limits
        self.connections = connections
        self.stats = stats
        self.draining = draining
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(limits.headerTimeout, "header_timeout", context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    /// Closes the connection unless the next step comes first. Only Sendable values are captured:
    /// the task runs on this channel's event loop, after the handler may be gone.
    private func arm(_ seconds: Double, _ reason: String, context: ChannelHandlerContext) {
        deadline?.cancel()
        let channel = context.channel, stats = self.stats
        deadline = context.eventLoop.scheduleTask(in: .nanoseconds(Int64(max(seconds, 0.001) * 1e9))) {
            guard channel.isActive else { return }
            stats.closedByServer(reason)
            channel.close(promise: nil)
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            discarding = false
            connections.setWaiting(context.channel, false)
            arm(limits.bodyTimeout, "body_timeout", context: context)
            limit = routes.bodyLimit(method: head.method.rawValue, path: Self.split(head.uri).path)
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > limit {
                tooLarge(context: context)
            }
        case .body(let buffer):
            guard !discarding else { return }
            if body.count + buffer.readableBytes > limit {
                tooLarge(context: context)
                return
            }
            body.append(contentsOf: buffer.readableBytesView)
        case .end:
            guard !discarding, let head else { return }
            self.head = nil
            // Answered once the body is read, so the client is not cut off while still sending it.
            if draining.current {
                body = []
                write(.json(503, #"{"status":"error","message":"shutting down"}"#, headers: [("Retry-After", "5")]),
                      keepAlive: false, context: context)
                return
            }
            let (path, query) = Self.split(head.uri)
            var headers: [String: String] = [:]
            for (name, value) in head.headers { headers[name.lowercased()] = value }
            let request = ServerRequest(method: head.method.rawValue, path: path, query: query, headers: headers, body: body)
            body = []
            write(routes.respond(to: request), keepAlive: head.isKeepAlive, context: context)
        }
    }

    private func tooLarge(context: ChannelHandlerContext) {
        discarding = true
        body = []
        // Closing is the only way not to read the rest of a body the client insists on sending.
        write(.json(413, #"{"status":"error","message":"body too large"}"#), keepAlive: false, context: context)
    }

    private func write(_ response: ServerResponse, keepAlive: Bool, context: ChannelHandlerContext) {
        var headers = HTTPHeaders(response.headers)
        headers.replaceOrAdd(name: "Content-Length", value: String(response.body.count))
        if !keepAlive { headers.replaceOrAdd(name: "Connection", value: "close") }
        // Before the response ends: writing its end may hand this handler the next pipelined head
        // at once, which must find the connection's state already reset.
        if keepAlive {
            connections.setWaiting(context.channel, true)
            arm(limits.idleTimeout, "idle_timeout", context: context)
        }
        let head = HTTPResponseHead(version: .http1_1, status: HTTPResponseStatus(statusCode: response.status), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: response.body.count)
        buffer.writeBytes(response.body)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let done = context.writeAndFlushPromise(wrapOutboundOut(.end(nil)))
        if !keepAlive {
            let channel = context.channel
            done.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    static func split(_ uri: String) -> (path: String, query: [String: String]) {
        let parts = uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let path = String(parts.first ?? "")
        var query: [String: String] = [:]
        if parts.count > 1 {
            for pair in parts[1].split(separator: "&") {
                let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                func decode(_ s: Substring) -> String {
                    let spaced = s.replacingOccurrences(of: "+", with: " ")
                    return spaced.removingPercentEncoding ?? spaced
                }
                query[decode(kv[0])] = kv.count > 1 ? decode(kv[1]) : ""
            }
        }
        return (path.removingPercentEncoding ?? path, query)
    }
}

extension ChannelHandlerContext {
    fileprivate func writeAndFlushPromise(_ data: NIOAny) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        writeAndFlush(data, promise: promise)
        return promise.futureResult
    }
}
