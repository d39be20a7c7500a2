import CHiredis
import Foundation
import TideCore

/// A reply, as RESP2 gives it.
public enum RedisValue: Sendable, Equatable {
    case string([UInt8])
    case status(String)
    case integer(Int)
    case array([RedisValue])
    case null
    /// An error reply (`-ERR …`, `-BUSYGROUP …`): the command ran and was refused.
    case error(String)

    public var text: String? {
        switch self {
        case .string(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        case .integer(let value): String(value)
        default: nil
        }
    }
    public var integer: Int? {
        switch self {
        case .integer(let value): value
        case .string, .status: text.flatMap { Int($0) }
        default: nil
        }
    }
    public var array: [RedisValue]? { if case .array(let values) = self { values } else { nil } }
    public var isNull: Bool { self == .null }
}

public enum RedisError: Error, Sendable, CustomStringConvertible {
    /// The server could not be reached, or the connection broke: the command may or may not have run.
    case connection(String)
    /// The server refused the command.
    case server(String)
    /// A reply Tide did not expect.
    case unexpected(String)

    public var description: String {
        switch self {
        case .connection(let message): message
        case .server(let message): "Redis refused the command: \(message)"
        case .unexpected(let message): "unexpected reply from Redis: \(message)"
        }
    }
}

/// An argument of a command: text or bytes, sent as a binary-safe bulk string.
public enum RedisArgument: Sendable, ExpressibleByStringLiteral {
    case text(String)
    case bytes([UInt8])
    public init(stringLiteral value: String) { self = .text(value) }
    var bytes: [UInt8] {
        switch self {
        case .text(let text): Array(text.utf8)
        case .bytes(let bytes): bytes
        }
    }
}

/// One connection to Redis through hiredis' blocking API, on a thread of its own: a command
/// (a `XREADGROUP … BLOCK` above all) waits there, never on Swift's cooperative threads. Commands
/// run one at a time, in the order they are sent. A broken connection is dropped and made again
/// by the next command. The URL's password goes to AUTH and nowhere else.
public final class RedisConnection: @unchecked Sendable {
    public let url: RedisURL
    /// Seconds to connect, and to wait for a reply beyond a command's own blocking time.
    public let timeout: Double
    private let thread: CommandThread
    // Only touched on `thread`.
    private var context: UnsafeMutablePointer<redisContext>?

    public init(url: RedisURL, timeout: Double = 5, name: String = "tide-redis") {
        self.url = url
        self.timeout = timeout
        thread = CommandThread(name: name)
    }

    deinit {
        thread.stop()
        if let context { redisFree(context) }
    }

    /// Sends a command and waits for its reply; `blocking` is how long the command itself may wait
    /// on the server (XREADGROUP's BLOCK), added to the reply timeout. An error reply is returned as
    /// `.error`, not thrown; only a failure to talk to the server throws.
    public func send(_ arguments: [RedisArgument], blocking: Double = 0) async throws(RedisError) -> RedisValue {
        let result: Result<RedisValue, RedisError> = await thread.run { [self] in
            self.sendNow(arguments, blocking: blocking)
        }
        return try result.get()
    }

    /// `send`, with an error reply thrown as `.server`.
    public func command(_ arguments: [RedisArgument], blocking: Double = 0) async throws(RedisError) -> RedisValue {
        let value = try await send(arguments, blocking: blocking)
        if case .error(let message) = value { throw .server(message) }
        return value
    }

    /// Closes the connection (the next command opens a new one).
    public func disconnect() async {
        await thread.run { [self] in
            if let context { redisFree(context) }
            context = nil
        }
    }

    /// Ends the connection's thread for good.
    public func close() async {
        await disconnect()
        thread.stop()
    }

    // MARK: On the connection's thread

    private func sendNow(_ arguments: [RedisArgument], blocking: Double) -> Result<RedisValue, RedisError> {
        let context: UnsafeMutablePointer<redisContext>
        switch connected() {
        case .success(let value): context = value
        case .failure(let error): return .failure(error)
        }
        _ = redisSetTimeout(context, Self.timeval(timeout + blocking))
        let reply = Self.call(context, arguments)
        guard let reply else {
            let message = Self.errorText(context)
            redisFree(context)
            self.context = nil
            return .failure(.connection("lost the connection to Redis at \(url.address): \(message)"))
        }
        defer { freeReplyObject(reply) }
        return .success(Self.value(reply.assumingMemoryBound(to: redisReply.self)))
    }

    private func connected() -> Result<UnsafeMutablePointer<redisContext>, RedisError> {
        if let context { return .success(context) }
        guard let made = redisConnectWithTimeout(url.host, Int32(url.port), Self.timeval(timeout)) else {
            return .failure(.connection("cannot reach Redis at \(url.address): out of memory"))
        }
        if made.pointee.err != 0 {
            let message = Self.errorText(made)
            redisFree(made)
            return .failure(.connection("cannot reach Redis at \(url.address): \(message)"))
        }
        _ = redisEnableKeepAlive(made)
        _ = redisSetTimeout(made, Self.timeval(timeout))
        let password = url.password ?? url.parameters["password"]
        var setup: [[RedisArgument]] = []
        if let password {
            setup.append(url.username.map { ["AUTH", .text($0), .text(password)] } ?? ["AUTH", .text(password)])
        }
        if url.database != 0 { setup.append(["SELECT", .text(String(url.database))]) }
        for arguments in setup {
            guard let reply = Self.call(made, arguments) else {
                let message = Self.errorText(made)
                redisFree(made)
                return .failure(.connection("cannot reach Redis at \(url.address): \(message)"))
            }
            let value = Self.value(reply.assumingMemoryBound(to: redisReply.self))
            freeReplyObject(reply)
            if case .error(let message) = value {
                redisFree(made)
                // The server's words (WRONGPASS, NOAUTH, DB index out of range) name no secret.
                let what = arguments.first.map { String(decoding: $0.bytes, as: UTF8.self) } ?? ""
                return .failure(.connection("Redis at \(url.address) refused \(what): \(message)"))
            }
        }
        context = made
        return .success(made)
    }

    private static func call(_ context: UnsafeMutablePointer<redisContext>, _ arguments: [RedisArgument]) -> UnsafeMutableRawPointer? {
        let buffers = arguments.map(\.bytes)
        let lengths = buffers.map { $0.count }
        // Bulk strings are binary-safe: pointers and lengths, no terminators needed.
        let pointers = buffers.map { bytes -> UnsafeMutablePointer<CChar> in
            let pointer = UnsafeMutablePointer<CChar>.allocate(capacity: max(bytes.count, 1))
            bytes.withUnsafeBufferPointer { source in
                if let base = source.baseAddress {
                    pointer.withMemoryRebound(to: UInt8.self, capacity: bytes.count) { $0.update(from: base, count: bytes.count) }
                }
            }
            return pointer
        }
        defer { for pointer in pointers { pointer.deallocate() } }
        var constPointers = pointers.map { UnsafePointer<CChar>?(UnsafePointer($0)) }
        return constPointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { lengths in
                redisCommandArgv(context, Int32(arguments.count), argv.baseAddress, lengths.baseAddress)
            }
        }
    }

    private static func value(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            guard let str = r.str else { return .string([]) }
            return .string(Array(UnsafeRawBufferPointer(start: str, count: Int(r.len))))
        case REDIS_REPLY_STATUS:
            return .status(r.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_ERROR:
            return .error(r.str.map { String(cString: $0) } ?? "")
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_ARRAY:
            var values: [RedisValue] = []
            values.reserveCapacity(Int(r.elements))
            for index in 0..<Int(r.elements) {
                if let element = r.element[index] { values.append(value(element)) } else { values.append(.null) }
            }
            return .array(values)
        default:
            return .null
        }
    }

    private static func errorText(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? "the connection closed" : text
    }

    private static func timeval(_ seconds: Double) -> Glibc.timeval {
        let whole = Int(seconds)
        return Glibc.timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
    }
}

/// One thread that runs jobs in order, for blocking calls that must not hold Swift's cooperative threads.
final class CommandThread: @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var stopped = false

    init(name: String) {
        let thread = Thread { [self] in loop() }
        thread.name = name
        thread.start()
    }

    func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let accepted = enqueue { continuation.resume(returning: body()) }
            // Stopped: the job runs here, on the caller's thread, so the caller is never left waiting.
            if !accepted { continuation.resume(returning: body()) }
        }
    }

    private func enqueue(_ job: @escaping @Sendable () -> Void) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopped else { return false }
        jobs.append(job)
        condition.signal()
        return true
    }

    func stop() {
        condition.lock()
        stopped = true
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while jobs.isEmpty && !stopped { condition.wait() }
            if jobs.isEmpty && stopped {
                condition.unlock()
                return
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job()
        }
    }
}
