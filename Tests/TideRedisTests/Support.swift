import Foundation
import Testing
import TideRedis

/// The Redis server of the tests: `TIDE_TEST_REDIS_URL`, which scripts/test.sh (through
/// scripts/with-redis.sh) sets to a throwaway server on loopback.
enum TestRedis {
    static var url: RedisURL? {
        ProcessInfo.processInfo.environment["TIDE_TEST_REDIS_URL"].flatMap { $0.isEmpty ? nil : try? RedisURL($0) }
    }

    /// Under CI (or when asked), a missing server fails the Redis tests rather than leaving them out.
    static var required: Bool {
        let environment = ProcessInfo.processInfo.environment
        return !(environment["CI"] ?? "").isEmpty || !(environment["TIDE_TEST_REQUIRE_REDIS"] ?? "").isEmpty
    }

    /// Whether the tests that need a server run: a server is there, or it is required (and they fail without it).
    static var enabled: Bool { url != nil || required }

    struct Missing: Error, CustomStringConvertible {
        var description: String {
            "TIDE_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, or as scripts/with-redis.sh swift test --filter TideRedisTests"
        }
    }

    static func requireURL() throws -> RedisURL {
        guard let url else { throw Missing() }
        return url
    }

    /// A namespace no other test uses, so tests share the server and run in parallel.
    static func namespace(_ name: String) -> String { "test-\(name)-\(UUID().uuidString.prefix(8))" }
}
