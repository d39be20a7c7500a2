import Foundation
import NIOCore
import NIOHTTP1
import TideCore

/// Closes a connection over the cap as soon as it is open.
final class CloseOnActive: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    func channelActive(context: ChannelHandlerContext) { context.close(promise: nil) }
}

/// Where asynchronous answers are computed: Dispatch's threads rather than Swift's cooperative
/// pool, which synchronous work (mapping, jq, tests) may keep busy on a 2-core machine.
final class HandlerExecutor: TaskExecutor {
    static let shared = HandlerExecutor()
    private let queue = DispatchQueue(label: "tide.http-server.handlers", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

/// One connection: read a request within the route's body limit and the deadlines, answer it.
/// Pipelined requests wait their turn (NIO's pipelining assistance), so answers keep their order.
final class ConnectionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let shared: ServerShared
    private let connectionID: Int
    private var head: HTTPRequestHead?
    private var body: [UInt8] = []
    private var limit = 0
    /// Set once a 413 is sent: the rest of that request is dropped.
    private var discarding = false
    /// The one deadline in force: for the head, the body, or the next request. None while the
    /// application works on an answer.
    private var deadline: Scheduled<Void>?

    init(shared: ServerShared, connectionID: Int) {
        self.shared = shared
        self.connectionID = connectionID
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(shared.limits.headerTimeout, "header_timeout", context: context)
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
        let channel = context.channel, stats = shared.stats
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
            shared.connections.setWaiting(context.channel, false)
            arm(shared.limits.bodyTimeout, "body_timeout", context: context)
            limit = shared.routes.bodyLimit(method: head.method.rawValue, path: HTTPServerRequest.path(of: head.uri))
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
            deadline?.cancel()
            deadline = nil
            let keepAlive = head.isKeepAlive, isHead = head.method == .HEAD
            // Answered once the body is read, so the client is not cut off while still sending it.
            if shared.draining.current {
                body = []
                write(.json(#"{"status":"error","message":"shutting down"}"#, status: 503, headers: [HTTPField("Retry-After", "5")]),
                      keepAlive: false, isHead: isHead, context: context)
                return
            }
            let request = HTTPServerRequest(method: head.method.rawValue, uri: head.uri,
                                            headers: head.headers.map { HTTPField($0.name, $0.value) }, body: body,
                                            connectionID: connectionID, sequence: shared.nextSequence())
            body = []
            let routes = shared.routes
            let immediate = routes.respondImmediately(to: request)
            if let immediate, immediate.delay == nil {
                write(immediate, keepAlive: keepAlive, isHead: isHead, context: context)
                return
            }
            let promise = context.eventLoop.makePromise(of: HTTPServerResponse.self)
            Task(executorPreference: HandlerExecutor.shared) {
                let response: HTTPServerResponse
                if let immediate { response = immediate } else { response = await routes.respond(to: request) }
                if let delay = response.delay { try? await Task.sleep(for: delay) }
                promise.succeed(response)
            }
            promise.futureResult.assumeIsolated().whenSuccess { response in
                self.write(response, keepAlive: keepAlive, isHead: isHead, context: context)
            }
        }
    }

    private func tooLarge(context: ChannelHandlerContext) {
        discarding = true
        body = []
        // Closing is the only way not to read the rest of a body the client insists on sending.
        write(.json(#"{"status":"error","message":"body too large"}"#, status: 413), keepAlive: false, isHead: false, context: context)
    }

    private func write(_ response: HTTPServerResponse, keepAlive: Bool, isHead: Bool, context: ChannelHandlerContext) {
        guard context.channel.isActive else { return }
        if response.dropConnection {
            context.close(promise: nil)
            return
        }
        var headers = HTTPHeaders()
        for field in response.headers { headers.add(name: field.name, value: field.value) }
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
        // Before the response ends: writing its end may hand this handler the next pipelined head
        // at once, which must find the connection's state already reset.
        if !close {
            shared.connections.setWaiting(context.channel, true)
            arm(shared.limits.idleTimeout, "idle_timeout", context: context)
        }
        let status = HTTPResponseStatus(statusCode: response.status)
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if !isHead && !payload.isEmpty {
            // Chunked responses go out in several pieces, so that clients really reassemble them.
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
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        if close {
            let channel = context.channel
            done.futureResult.whenComplete { _ in channel.close(promise: nil) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
