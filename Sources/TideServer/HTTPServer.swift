import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import TideCore

/// What the HTTP layer asks of the application: the one seam between the server and what it serves.
public protocol HTTPRoutes: Sendable {
    /// The most body bytes accepted for this route; checked against Content-Length and while
    /// reading, so an oversized body is refused (413) before it is buffered.
    func bodyLimit(method: String, path: String) -> Int
    /// The answer when it is at hand: called on an event loop thread, so it must be quick and must
    /// not block. nil hands the request to `respond`.
    func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse?
    /// The answer that needs waiting for; runs on the server's own threads, never on Swift's
    /// cooperative pool, so a process busy with synchronous work still answers.
    func respond(to request: HTTPServerRequest) async -> HTTPServerResponse
}

extension HTTPRoutes {
    public func bodyLimit(method: String, path: String) -> Int { 64 << 20 }
    public func respondImmediately(to request: HTTPServerRequest) -> HTTPServerResponse? { nil }
    public func respond(to request: HTTPServerRequest) async -> HTTPServerResponse {
        respondImmediately(to: request) ?? .json(#"{"status":"error","message":"not found"}"#, status: 404)
    }
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

/// Counts what the server did to connections, for /metrics and tests.
public final class ConnectionStats: Sendable {
    private let state = Locked<(open: Int, accepted: Int, closed: [String: Int])>((0, 0, [:]))
    public init() {}
    public var open: Int { state.current.open }
    /// Connections accepted since start (refused ones included).
    public var accepted: Int { state.current.accepted }
    /// Counts an accepted connection and returns its number (1, 2, … in accept order).
    func accept() -> Int { state.withLock { $0.accepted += 1; return $0.accepted } }
    /// Closed by the server, by reason: header_timeout, idle_timeout, body_timeout, evicted, over_capacity.
    public var closed: [String: Int] { state.current.closed }
    func opened() { state.withLock { $0.open += 1 } }
    func ended() { state.withLock { $0.open -= 1 } }
    func closedByServer(_ reason: String) { state.withLock { $0.closed[reason, default: 0] += 1 } }
}

/// An HTTP/1.1 server on SwiftNIO: webhooks, `--replay`'s fixture server and the tests' servers
/// all run on it. Every connection has a header, body and idle deadline; open connections are
/// capped (the oldest idle one makes room for a new one); draining answers 503 while connections
/// are still accepted, so a load balancer sees the instance going away.
public final class HTTPServer: Sendable {
    public let host: String
    /// The port the OS assigned (or the one asked for).
    public let port: Int
    /// The connection cap in force (see `ServerLimits.effectiveMaxConnections`).
    public let maxConnections: Int
    public let stats: ConnectionStats
    private let channel: any Channel
    private let connections: ConnectionTable
    private let shared: ServerShared

    /// Starts listening on `host:port` (port 0 lets the OS choose).
    public static func start(host: String = "127.0.0.1", port: Int = 0, routes: any HTTPRoutes,
                             limits: ServerLimits = ServerLimits(), stats: ConnectionStats = ConnectionStats()) async throws -> HTTPServer {
        let cap = ServerLimits.effectiveMaxConnections(limits.maxConnections, descriptorLimit: ServerLimits.descriptorLimit())
        let connections = ConnectionTable(cap: cap)
        let shared = ServerShared(routes: routes, limits: limits, connections: connections, stats: stats)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let connectionID = stats.accept()
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
                    try channel.pipeline.syncOperations.addHandler(ConnectionHandler(shared: shared, connectionID: connectionID))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close()
            throw HTTPServerError.noPort
        }
        return HTTPServer(host: host, port: bound, maxConnections: cap, stats: stats, channel: channel,
                          connections: connections, shared: shared)
    }

    private init(host: String, port: Int, maxConnections: Int, stats: ConnectionStats, channel: any Channel,
                 connections: ConnectionTable, shared: ServerShared) {
        self.host = host
        self.port = port
        self.maxConnections = maxConnections
        self.stats = stats
        self.channel = channel
        self.connections = connections
        self.shared = shared
    }

    /// `http://host:port`
    public var baseURL: String { "http://\(host):\(port)" }

    /// `baseURL` + `path` (which should start with `/`).
    public func url(_ path: String) -> String { baseURL + path }

    /// From now on every request is answered 503 with `Retry-After` and `Connection: close`, while
    /// connections are still accepted.
    public func beginDraining() { shared.draining.withLock { $0 = true } }

    /// Stops accepting connections.
    public func stopAccepting() async { try? await channel.close() }

    public func closeConnections() async {
        for child in connections.channels { try? await child.close() }
    }

    /// Stops accepting and closes every open connection.
    public func stop() async {
        await stopAccepting()
        await closeConnections()
    }
}

public enum HTTPServerError: Error, Sendable { case noPort }

/// What every connection of one server shares.
final class ServerShared: Sendable {
    let routes: any HTTPRoutes
    let limits: ServerLimits
    let connections: ConnectionTable
    let stats: ConnectionStats
    let draining = Locked(false)
    private let received = Locked(0)

    init(routes: any HTTPRoutes, limits: ServerLimits, connections: ConnectionTable, stats: ConnectionStats) {
        self.routes = routes
        self.limits = limits
        self.connections = connections
        self.stats = stats
    }

    /// The next request's arrival number.
    func nextSequence() -> Int { received.withLock { $0 += 1; return $0 } }
}
