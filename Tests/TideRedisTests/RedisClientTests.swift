import Foundation
import Testing
import TideCore
import TideRedis

@Suite struct RedisURLTests {
    @Test func partsOfTheURL() throws {
        let url = try RedisURL("redis://:pa%40ss@cache.internal:6380/2?visibilityTimeout=5")
        #expect(url.host == "cache.internal")
        #expect(url.port == 6380)
        #expect(url.username == nil)
        #expect(url.password == "pa@ss")
        #expect(url.database == 2)
        #expect(url.parameters["visibilitytimeout"] == "5")
        let plain = try RedisURL("redis://localhost")
        #expect(plain.port == 6379 && plain.database == 0 && plain.password == nil && plain.host == "localhost")
        let acl = try RedisURL("redis://tide:secret-value@[::1]:7000")
        #expect(acl.username == "tide" && acl.password == "secret-value" && acl.host == "::1" && acl.port == 7000)
        #expect(acl.address == "[::1]:7000")
    }

    @Test func thePasswordNeverShows() throws {
        let cases = [
            ("redis://:hunter2-long@h:1/0", "redis://:***@h:1/0"),
            ("redis://user:hunter2-long@h", "redis://user:***@h"),
            ("redis://h:1/0?password=hunter2-long&visibilityTimeout=3", "redis://h:1/0?password=***&visibilityTimeout=3"),
            ("redis://h:1", "redis://h:1"),
        ]
        for (raw, shown) in cases {
            #expect(RedisURL.redact(raw) == shown)
            #expect(try RedisURL(raw).description == shown)
            #expect(!"\(try RedisURL(raw))".contains("hunter2"))
        }
        #expect(cases.count == 4)
        // Refusals name the URL redacted too.
        for bad in ["rediss://:hunter2-long@h", "redis://:hunter2-long@h:99999", "redis://:hunter2-long@h/x"] {
            let error = #expect(throws: RedisURL.Invalid.self) { try RedisURL(bad) }
            #expect(error.map { !$0.description.contains("hunter2") && $0.description.contains("***") } == true, "\(String(describing: error))")
        }
        #expect(!RedisURL.matches("postgresql://x") && RedisURL.matches("REDIS://x"))
    }
}

@Suite(.enabled(if: TestRedis.enabled)) struct RedisConnectionTests {
    @Test func commandsAndReplies() async throws {
        let connection = RedisConnection(url: try TestRedis.requireURL())
        try await connection.ping()
        let key = TestRedis.namespace("kv")
        #expect(try await connection.command(["SET", .text(key), .bytes([0, 1, 255])]) == .status("OK"))
        #expect(try await connection.command(["GET", .text(key)]) == .string([0, 1, 255]))
        #expect(try await connection.command(["INCR", .text(key + ":n")]) == .integer(1))
        #expect(try await connection.command(["GET", .text(key + ":missing")]) == .null)
        // An error reply is a value of `send`, and thrown by `command`.
        if case .error(let message) = try await connection.send(["INCR", .text(key)]) { #expect(message.contains("not an integer")) } else {
            Issue.record("INCR of binary text should be refused")
        }
        await #expect(throws: RedisError.self) { try await connection.command(["NOSUCHCOMMAND"]) }
        // The connection survives a refused command.
        try await connection.ping()
        await connection.close()
    }

    @Test func aWrongPasswordOrServerIsReportedWithoutThePassword() async throws {
        let url = try TestRedis.requireURL()
        let wrong = RedisConnection(url: try RedisURL("redis://:not-the-password-123@\(url.address)/0"))
        let error = await #expect(throws: RedisError.self) { try await wrong.ping() }
        let text = error.map { "\($0)" } ?? ""
        #expect(text.contains(url.address) && text.contains("AUTH") && !text.contains("not-the-password-123"), "\(text)")
        // Nobody listens on port 1.
        let nowhere = RedisConnection(url: try RedisURL("redis://:also-secret-456@127.0.0.1:1"), timeout: 2)
        let refused = await #expect(throws: RedisError.self) { try await nowhere.ping() }
        let refusedText = refused.map { "\($0)" } ?? ""
        #expect(refusedText.contains("127.0.0.1:1") && !refusedText.contains("also-secret-456"), "\(refusedText)")
        // The right password works on the same code path.
        try await RedisConnection(url: url).ping()
    }

    /// A blocking read waits on the connection's own thread: many at once do not hold Swift's
    /// cooperative threads (two on this machine), so other work goes on meanwhile.
    @Test func blockingReadsDoNotHoldTheCooperativeThreads() async throws {
        let url = try TestRedis.requireURL()
        let stream = TestRedis.namespace("block")
        let setup = RedisConnection(url: url)
        try await setup.createGroup(stream: stream, group: "g")
        let readers = (0..<6).map { RedisConnection(url: url, name: "reader-\($0)") }
        let started = ContinuousClock.now
        async let reads: [Int] = withTaskGroup(of: Int.self) { group in
            for (index, reader) in readers.enumerated() {
                group.addTask { (try? await reader.readGroup(stream: stream, group: "g", consumer: "c\(index)", count: 1, block: 1.5).count) ?? -1 }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        // While six reads block, a seventh connection gets through at once.
        try await Task.sleep(for: .milliseconds(200))
        let pingStarted = ContinuousClock.now
        try await setup.ping()
        #expect(ContinuousClock.now - pingStarted < .milliseconds(1000))
        let counts = await reads
        #expect(counts == Array(repeating: 0, count: 6))
        #expect(ContinuousClock.now - started >= .milliseconds(1400))
    }

    @Test func consumerGroupsPendingAndClaims() async throws {
        let url = try TestRedis.requireURL()
        let connection = RedisConnection(url: url)
        let stream = TestRedis.namespace("stream")
        try await connection.createGroup(stream: stream, group: "g")
        try await connection.createGroup(stream: stream, group: "g") // exists: left alone
        var ids: [String] = []
        for n in 0..<5 {
            ids.append(try await connection.command(["XADD", .text(stream), "*", "n", .text(String(n)), "body", .bytes([0, UInt8(n)])]).text ?? "")
        }
        #expect(try await connection.streamLength(stream) == 5)
        let first = try await connection.readGroup(stream: stream, group: "g", consumer: "a", count: 2, block: 0.1)
        #expect(first.map(\.id) == Array(ids[0..<2]))
        #expect(first.map { $0.text("n") } == ["0", "1"])
        #expect(first[1].fields["body"] == [0, 1])
        #expect(try await connection.pendingCount(stream: stream, group: "g") == 2)
        // "a" dies holding two entries: a claim with a visibility timeout not yet over takes nothing…
        let early = try await connection.autoClaim(stream: stream, group: "g", consumer: "b", minIdle: 60, count: 10)
        #expect(early.entries.isEmpty)
        // …and once it is over, both, in id order, before anything new.
        try await Task.sleep(for: .milliseconds(150))
        let claimed = try await connection.autoClaim(stream: stream, group: "g", consumer: "b", minIdle: 0.1, count: 10)
        #expect(claimed.entries.map(\.id) == Array(ids[0..<2]))
        #expect(claimed.next == "0-0")
        #expect(try await connection.command(["XACK", .text(stream), "g", .text(ids[0]), .text(ids[1])]) == .integer(2))
        #expect(try await connection.pendingCount(stream: stream, group: "g") == 0)
        let rest = try await connection.readGroup(stream: stream, group: "g", consumer: "b", count: 10, block: 0.1)
        #expect(rest.map(\.id) == Array(ids[2...]))
        let none = try await connection.readGroup(stream: stream, group: "g", consumer: "b", count: 10, block: 0.1)
        #expect(none.isEmpty)
    }

    @Test func aLeaseHasOneHolderAndIsFreeAfterItsHolderStopsRenewing() async throws {
        let url = try TestRedis.requireURL()
        let key = TestRedis.namespace("lease")
        let a = RedisLease(key: key, token: "replica-a", ttl: 1)
        let b = RedisLease(key: key, token: "replica-b", ttl: 1)
        let connection = RedisConnection(url: url)
        #expect(try await a.acquire(on: connection))
        #expect(try await !b.acquire(on: connection))
        #expect(try await a.holder(on: connection) == "replica-a")
        // Renewed by its holder, it outlives its first time to live.
        for _ in 0..<4 {
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await a.acquire(on: connection))
            #expect(try await !b.acquire(on: connection))
        }
        // "a" dies (stops renewing): the lease is free after the time to live, and "b" takes it.
        try await Task.sleep(for: .milliseconds(1100))
        #expect(try await b.acquire(on: connection))
        // "a" comes back: it can neither renew nor release what "b" holds.
        #expect(try await !a.acquire(on: connection))
        try await a.release(on: connection)
        #expect(try await b.holder(on: connection) == "replica-b")
        try await b.release(on: connection)
        #expect(try await b.holder(on: connection) == nil)
    }
}
