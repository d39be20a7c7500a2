import Foundation
import TideCore
import TideRedis

/// Live events in Redis, shared by the replicas of one installation (`tide run --events redis://…`).
public struct RedisEventSettings: Sendable {
    public var url: RedisURL
    /// Keys are prefixed `tide:{<namespace>…}`: the installation's identifier, so replicas of one
    /// installation share their streams and leases, and other installations on the same Redis do not.
    public var namespace: String
    /// Seconds after which a partition (and the resync lease) whose holder stopped renewing it is
    /// free for another replica, which then claims the events left pending (XAUTOCLAIM).
    public var visibilityTimeout: Double
    /// This replica's name in the consumer groups and leases.
    public var consumer: String

    public init(url: RedisURL, namespace: String, visibilityTimeout: Double? = nil, consumer: String? = nil) {
        self.url = url
        self.namespace = namespace
        self.visibilityTimeout = visibilityTimeout ?? url.parameters["visibilitytimeout"].flatMap(Double.init) ?? 30
        self.consumer = consumer ?? Self.replicaName()
    }

    /// `HOST-PID-RANDOM`: unique per process, so a restarted replica never inherits a dead one's pending entries by name.
    public static func replicaName() -> String {
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "tide"
        return "\(host)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 36))"
    }

    /// The key of the resync lease.
    public var resyncLeaseKey: String { "tide:{\(namespace)}:resync-lease" }
    func streamKey(path: String, partition: Int) -> String { "tide:{\(namespace):\(path)}:events:\(partition)" }
    func ownerKey(path: String, partition: Int) -> String { "tide:{\(namespace):\(path)}:owner:\(partition)" }
}

/// A webhook path's events in Redis streams, one per partition (the path's `workers`). An event
/// goes to the partition chosen by a hash of its key, so one entity's events share a stream and
/// keep their arrival order there. Each partition is consumed by one replica at a time: the one
/// holding its owner lease (`RedisLease`, renewed every third of the visibility timeout by a task
/// of its own, so a long event does not lose it). The owner reads with `XREADGROUP`, one entry at
/// a time, applies it, then acknowledges and deletes it (`XACK` + `XDEL` in one script). A
/// replica that dies leaves its entry pending; once its lease expires, the next owner first
/// claims what is pending in the stream, in id order (`XAUTOCLAIM`), and applies it before it
/// reads anything new: so an entity's events are applied in arrival order across a take-over.
///
/// The cap: intake adds an entry with a script that first sums the partitions' lengths (entries
/// waiting or in progress, since applied ones are deleted) and refuses at `queueSize`: 503 with
/// Retry-After. No `MAXLEN` trimming: it would drop events that were answered 202 and not applied.
final class RedisEventQueue: EventQueue {
    let settings: RedisEventSettings
    let path: String
    let partitions: Int
    let capacity: Int
    let group = "tide"
    private let log: LiveLog
    private let intake: RedisConnection
    private let lastDepth = Locked(0)
    private let closed = Locked(false)
    /// Until when this replica holds each partition's lease (nil: not held).
    private let owned: Locked<[Date?]>

    init(settings: RedisEventSettings, path: String, partitions: Int, capacity: Int, log: @escaping LiveLog) {
        self.settings = settings
        self.path = path
        self.partitions = max(1, partitions)
        self.capacity = capacity
        self.log = log
        intake = RedisConnection(url: settings.url, name: "tide-redis-intake")
        owned = Locked(Array(repeating: nil, count: max(1, partitions)))
    }

    var streams: [String] { (0..<partitions).map { settings.streamKey(path: path, partition: $0) } }
    var depth: Int { lastDepth.current }

    /// Creates the streams and their consumer group (from the first entry, so nothing added before is missed).
    func prepare() async throws {
        try await intake.ping()
        for stream in streams { try await intake.createGroup(stream: stream, group: group, from: "0") }
        let total = try await Self.total(streams, on: intake)
        lastDepth.withLock { $0 = total }
    }

    static func total(_ streams: [String], on connection: RedisConnection) async throws(RedisError) -> Int {
        var total = 0
        for stream in streams { total += try await connection.streamLength(stream) }
        return total
    }

    static let addScript = """
    local total = 0
    for i = 1, #KEYS do total = total + redis.call('XLEN', KEYS[i]) end
    if total >= tonumber(ARGV[1]) then return {0, total} end
    local id = redis.call('XADD', KEYS[tonumber(ARGV[2])], '*', unpack(ARGV, 3))
    return {1, total + 1, id}
    """
    static let ackScript = """
    redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
    return redis.call('XDEL', KEYS[1], ARGV[2])
    """

    func admitNow(_ event: QueuedEvent, key: String) -> Admission? { nil }
    var answersAtOnce: Bool { false }

    func admit(_ event: QueuedEvent, key: String) async -> Admission {
        let partition = Int(WebhookEndpoint.fnv1a(key) % UInt64(partitions))
        let headers = (try? JSONSerialization.data(withJSONObject: event.headers, options: [.sortedKeys])).map { [UInt8]($0) } ?? Array("{}".utf8)
        let fields: [RedisArgument] = ["key", .text(key), "matchers", .text(event.matchers.map(String.init).joined(separator: ",")),
                                       "headers", .bytes(headers), "body", .bytes(event.body)]
        do {
            let reply = try await intake.eval(Self.addScript, keys: streams,
                                              arguments: [.text(String(capacity)), .text(String(partition + 1))] + fields)
            guard let parts = reply.array, parts.count >= 2, let added = parts[0].integer, let total = parts[1].integer else {
                return .unavailable("the event stream answered unexpectedly")
            }
            lastDepth.withLock { $0 = total }
            return added == 1 ? .accepted : .full
        } catch {
            log(.error, "webhook \(path): the event was not queued (answered 503): \(error)")
            return .unavailable("the event stream is unavailable")
        }
    }

    func start(apply: @escaping @Sendable (_ lane: Int, QueuedEvent) async -> Void) async -> [Task<Void, Never>] {
        var tasks = [Task { await self.keepLeases() }]
        for partition in 0..<partitions {
            tasks.append(Task { await self.consume(partition: partition, apply: apply) })
        }
        return tasks
    }

    func closeIntake() { closed.withLock { $0 = true } }
    private var isClosed: Bool { closed.current }

    private func holds(_ partition: Int) -> Bool {
        guard let until = owned.current[partition] else { return false }
        return until > Date()
    }

    /// Takes free partitions and renews held ones, every third of the visibility timeout, until
    /// closed and every consumer stopped; then lets the leases go, so another replica takes over at once.
    private func keepLeases() async {
        let connection = RedisConnection(url: settings.url, name: "tide-redis-leases")
        let ttl = settings.visibilityTimeout
        let leases = (0..<partitions).map {
            RedisLease(key: settings.ownerKey(path: path, partition: $0), token: settings.consumer, ttl: ttl)
        }
        var failing = false
        while !isClosed {
            for (partition, lease) in leases.enumerated() where !isClosed {
                let asked = Date()
                do {
                    let held = try await lease.acquire(on: connection)
                    let before = owned.current[partition] != nil
                    owned.withLock { $0[partition] = held ? asked.addingTimeInterval(ttl * 0.9) : nil }
                    if held != before {
                        log(.info, "webhook \(path): partition \(partition) \(held ? "taken" : "lost") by this replica (\(settings.consumer))")
                    }
                    failing = false
                } catch {
                    // The lease runs out by itself (`holds` compares its time); say so once per outage.
                    if !failing { log(.error, "webhook \(path): cannot renew the partition leases: \(error)") }
                    failing = true
                }
            }
            if let depth = try? await Self.total(streams, on: connection) { lastDepth.withLock { $0 = depth } }
            try? await Task.sleep(for: .seconds(max(0.05, ttl / 3)))
        }
        // Stopping: wait for the consumers' current events, then free the partitions.
        while consuming.current > 0 { try? await Task.sleep(for: .milliseconds(20)) }
        for (partition, lease) in leases.enumerated() where owned.current[partition] != nil {
            try? await lease.release(on: connection)
        }
        owned.withLock { $0 = Array(repeating: nil, count: partitions) }
        await connection.close()
    }

    private let consuming = Locked(0)

    /// One partition's consumer: while this replica holds the partition, what is pending first (in
    /// id order), then new entries; each applied, then acknowledged and deleted.
    private func consume(partition: Int, apply: @escaping @Sendable (_ lane: Int, QueuedEvent) async -> Void) async {
        consuming.withLock { $0 += 1 }
        defer { consuming.withLock { $0 -= 1 } }
        let connection = RedisConnection(url: settings.url, name: "tide-redis-p\(partition)")
        let stream = settings.streamKey(path: path, partition: partition)
        var recovering = true
        var failing = false
        while !isClosed {
            guard holds(partition) else {
                recovering = true
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            do {
                let entry: StreamEntry?
                if recovering {
                    // Held exclusively: whatever is pending here was left by a replica that lost the
                    // partition (or by this one, unacknowledged); apply it before anything newer.
                    let claimed = try await connection.autoClaim(stream: stream, group: group, consumer: settings.consumer,
                                                                 minIdle: 0, count: 1)
                    for id in claimed.deleted { log(.warning, "webhook \(path): pending event \(id) no longer exists in its stream") }
                    entry = claimed.entries.first
                    if entry == nil { recovering = false; continue }
                    log(.info, "webhook \(path): partition \(partition): applying pending event \(claimed.entries[0].id) (claimed)")
                } else {
                    entry = try await connection.readGroup(stream: stream, group: group, consumer: settings.consumer,
                                                           count: 1, block: 1).first
                }
                failing = false
                guard let entry else { continue }
                if let event = Self.event(entry) {
                    await apply(partition, event)
                } else {
                    log(.error, "webhook \(path): event \(entry.id) in \(stream) cannot be read; it is dropped")
                }
                // The write committed (or the event failed for good): acknowledge and delete it.
                // Should this fail, the entry stays pending and is applied again after recovery.
                do {
                    _ = try await connection.eval(Self.ackScript, keys: [stream], arguments: [.text(group), .text(entry.id)])
                } catch {
                    recovering = true
                    throw error
                }
            } catch {
                if !failing { log(.error, "webhook \(path): reading partition \(partition) failed: \(error); retrying") }
                failing = true
                recovering = true
                try? await Task.sleep(for: .milliseconds(500))
            }
        }
        await connection.close()
    }

    static func event(_ entry: StreamEntry) -> QueuedEvent? {
        guard let body = entry.fields["body"], let matchers = entry.text("matchers") else { return nil }
        var headers: [String: String] = [:]
        if let data = entry.fields["headers"],
           let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: String] {
            headers = object
        }
        return QueuedEvent(body: body, headers: headers, matchers: matchers.split(separator: ",").compactMap { Int($0) }, received: .now)
    }
}

/// Lets one replica at a time run a resync.
public protocol ResyncGate: Sendable {
    /// Takes the gate; false while another replica holds it.
    func enter() async -> Bool
    /// Keeps it while the resync runs; false when it was lost.
    func renew() async -> Bool
    func leave() async
    /// Seconds between renewals.
    var renewalInterval: Double { get }
}

/// The resync lease in Redis (`tide:{<namespace>}:resync-lease`): taken with SET NX PX, renewed
/// every third of the visibility timeout while the resync runs, released when it ends. A replica
/// that dies stops renewing, and the lease is free once the visibility timeout has passed.
public final class RedisResyncGate: ResyncGate {
    let lease: RedisLease
    let connection: RedisConnection

    public init(settings: RedisEventSettings) {
        lease = RedisLease(key: settings.resyncLeaseKey, token: settings.consumer, ttl: settings.visibilityTimeout)
        connection = RedisConnection(url: settings.url, name: "tide-redis-resync")
    }

    public var renewalInterval: Double { max(0.05, lease.ttl / 3) }
    /// An unreachable Redis holds no lease for anyone: the resync is skipped rather than run twice.
    public func enter() async -> Bool { (try? await lease.acquire(on: connection)) ?? false }
    public func renew() async -> Bool { (try? await lease.acquire(on: connection)) ?? false }
    public func leave() async { try? await lease.release(on: connection) }
}
