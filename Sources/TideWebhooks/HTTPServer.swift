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

/// A small HTTP/1.1 server on SwiftNIO.
public final class WebhookHTTPServer: Sendable {
    public let host: String
    public let port: Int
    private let channel: any Channel
    private let connections: Locked<[ObjectIdentifier: any Channel]>

    public static func start(host: String, port: Int, routes: any ServerRoutes) async throws -> WebhookHTTPServer {
        let connections = Locked<[ObjectIdentifier: any Channel]>([:])
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 512)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                let key = ObjectIdentifier(channel)
                connections.withLock { $0[key] = channel }
                channel.closeFuture.whenComplete { _ in _ = connections.withLock { $0.removeValue(forKey: key) } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(routes: routes))
                }
            }
            .bind(host: host, port: port)
            .get()
        guard let bound = channel.localAddress?.port else {
            try? await channel.close()
            throw WebhookServerError.noPort
        }
        return WebhookHTTPServer(host: host, port: bound, channel: channel, connections: connections)
    }

    private init(host: String, port: Int, channel: any Channel, connections: Locked<[ObjectIdentifier: any Channel]>) {
        self.host = host
        self.port = port
        self.channel = channel
        self.connections = connections
    }

    public var baseURL: String { "http://\(host):\(port)" }

    /// Stops accepting connections; open ones finish their current request and are closed.
    public func stopAccepting() async { try? await channel.close() }

    public func closeConnections() async {
        for child in connections.withLock({ Array($0.values) }) { try? await child.close() }
    }
}

public enum WebhookServerError: Error, Sendable { case noPort }

/// One connection: read a request within the route's body limit, answer it.
final class RequestHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let routes: any ServerRoutes
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var limit = 0
    /// Set once a 413 is sent: the rest of that request is dropped.
    private var discarding = false

    init(routes: any ServerRoutes) { self.routes = routes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = []
            discarding = false
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
