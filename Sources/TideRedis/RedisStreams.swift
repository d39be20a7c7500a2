import Foundation

/// An entry of a stream: its id (`1700000000000-0`) and its fields.
public struct StreamEntry: Sendable, Equatable {
    public var id: String
    public var fields: [String: [UInt8]]
    public init(id: String, fields: [String: [UInt8]]) {
        self.id = id
        self.fields = fields
    }
    public func text(_ field: String) -> String? { fields[field].map { String(decoding: $0, as: UTF8.self) } }
}

/// The commands of streams, consumer groups, scripts and leases that Tide uses.
extension RedisConnection {
    public func ping() async throws(RedisError) {
        let reply = try await command(["PING"])
        guard reply.text == "PONG" else { throw .unexpected("PING answered \(reply)") }
    }

    /// `EVAL script numkeys keys… args…`.
    public func eval(_ script: String, keys: [String], arguments: [RedisArgument] = []) async throws(RedisError) -> RedisValue {
        try await command(["EVAL", .text(script), .text(String(keys.count))] + keys.map { .text($0) } + arguments)
    }

    /// `XGROUP CREATE stream group id MKSTREAM`; a group that exists already is left as it is.
    public func createGroup(stream: String, group: String, from id: String = "0") async throws(RedisError) {
        let reply = try await send(["XGROUP", "CREATE", .text(stream), .text(group), .text(id), "MKSTREAM"])
        if case .error(let message) = reply, !message.hasPrefix("BUSYGROUP") { throw .server(message) }
    }

    /// `XREADGROUP GROUP group consumer COUNT n BLOCK ms STREAMS stream >`: new entries for this
    /// consumer, waiting up to `block` seconds for one; empty when none came.
    public func readGroup(stream: String, group: String, consumer: String, count: Int, block: Double) async throws(RedisError) -> [StreamEntry] {
        let milliseconds = max(1, Int(block * 1000))
        let reply = try await command(["XREADGROUP", "GROUP", .text(group), .text(consumer), "COUNT", .text(String(count)),
                                       "BLOCK", .text(String(milliseconds)), "STREAMS", .text(stream), ">"],
                                      blocking: block)
        guard let streams = reply.array else { return [] }
        var entries: [StreamEntry] = []
        for item in streams {
            guard let pair = item.array, pair.count == 2, let list = pair[1].array else { throw .unexpected("XREADGROUP: \(item)") }
            entries += try Self.entries(list)
        }
        return entries
    }

    /// `XAUTOCLAIM stream group consumer min-idle start COUNT n`: pending entries idle for at least
    /// `minIdle` seconds become this consumer's, in id order. Also the cursor to continue from
    /// ("0-0" once the whole list was scanned) and the ids of entries that no longer exist.
    public func autoClaim(stream: String, group: String, consumer: String, minIdle: Double, start: String = "0-0",
                          count: Int) async throws(RedisError) -> (next: String, entries: [StreamEntry], deleted: [String]) {
        let reply = try await command(["XAUTOCLAIM", .text(stream), .text(group), .text(consumer),
                                       .text(String(Int(minIdle * 1000))), .text(start), "COUNT", .text(String(count))])
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].text, let list = parts[1].array else {
            throw .unexpected("XAUTOCLAIM: \(reply)")
        }
        let deleted = parts.count > 2 ? (parts[2].array ?? []).compactMap(\.text) : []
        return (next, try Self.entries(list), deleted)
    }

    /// `XPENDING stream group`: how many entries were delivered and not acknowledged.
    public func pendingCount(stream: String, group: String) async throws(RedisError) -> Int {
        let reply = try await command(["XPENDING", .text(stream), .text(group)])
        return reply.array?.first?.integer ?? 0
    }

    public func streamLength(_ stream: String) async throws(RedisError) -> Int {
        try await command(["XLEN", .text(stream)]).integer ?? 0
    }

    static func entries(_ list: [RedisValue]) throws(RedisError) -> [StreamEntry] {
        var entries: [StreamEntry] = []
        for item in list {
            // XAUTOCLAIM on Redis 6.2 lists an entry trimmed meanwhile as [id, nil].
            guard let pair = item.array, pair.count == 2, let id = pair[0].text else { throw .unexpected("stream entry: \(item)") }
            guard let flat = pair[1].array else { continue }
            var fields: [String: [UInt8]] = [:]
            var index = 0
            while index + 1 < flat.count {
                if let name = flat[index].text, case .string(let bytes) = flat[index + 1] { fields[name] = bytes }
                index += 2
            }
            entries.append(StreamEntry(id: id, fields: fields))
        }
        return entries
    }
}

/// A lease in Redis: a key that holds its owner's token and expires unless renewed. Taking it is
/// `SET key token NX PX ttl`; renewing and releasing compare the token first (a Lua script, so
/// the compare and the change are one step), so a holder whose lease expired and was taken by
/// another can neither extend nor delete the new holder's. A holder that dies stops renewing, and
/// the lease is free once `ttl` has passed.
public struct RedisLease: Sendable {
    public let key: String
    public let token: String
    public let ttl: Double

    public init(key: String, token: String, ttl: Double) {
        self.key = key
        self.token = token
        self.ttl = ttl
    }

    static let renewScript = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
    if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
    return 0
    """
    static let releaseScript = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
    return 0
    """

    private var milliseconds: String { String(max(1, Int(ttl * 1000))) }

    /// Takes the lease when it is free, or extends it when this token holds it; false when another holds it.
    public func acquire(on connection: RedisConnection) async throws(RedisError) -> Bool {
        try await connection.eval(Self.renewScript, keys: [key], arguments: [.text(token), .text(milliseconds)]).integer == 1
    }

    /// Lets the lease go, if this token still holds it.
    public func release(on connection: RedisConnection) async throws(RedisError) {
        _ = try await connection.eval(Self.releaseScript, keys: [key], arguments: [.text(token)])
    }

    /// Who holds the lease now (their token), if anyone.
    public func holder(on connection: RedisConnection) async throws(RedisError) -> String? {
        try await connection.command(["GET", .text(key)]).text
    }
}
