import Foundation
import TideSpec

/// An operator's say over an integration's request budget (`http.concurrency`, `http.rateLimit`),
/// from `tide run`'s flags or the environment: the integration sets the defaults, the operator
/// who knows the account's real limits has the last word.
public struct HTTPOverrides: Sendable, Equatable {
    /// A rate written as text: `20/s`, `600/min`, `5000/h`, `100/10s`, `1.5/s`; or `none`.
    public enum Rate: Sendable, Equatable {
        /// No rate limit, even if the integration sets one.
        case unlimited
        case limit(requests: Int, per: Double)
    }

    public var concurrency: Int?
    public var rateLimit: Rate?

    public init(concurrency: Int? = nil, rateLimit: Rate? = nil) {
        self.concurrency = concurrency
        self.rateLimit = rateLimit
    }

    /// The values `http.concurrency` accepts, as the spec states them.
    public static var concurrencyRange: ClosedRange<Int> {
        if case .object(let http) = IntegrationSpec.http, case .integer(let minimum, let maximum)? = http.field("concurrency")?.type {
            return (minimum ?? 1)...(maximum ?? Int.max)
        }
        return 1...Int.max
    }

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case concurrency(String)
        case rate(String)
        public var description: String {
            switch self {
            case .concurrency(let text):
                let range = HTTPOverrides.concurrencyRange
                return "takes a number of requests in flight, \(range.lowerBound) to \(range.upperBound); got \"\(text)\""
            case .rate(let text):
                return "takes requests per time, such as 20/s, 600/min, 5000/h or 100/10s, or none; got \"\(text)\""
            }
        }
    }

    public static func concurrency(_ text: String) throws(ParseError) -> Int {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), concurrencyRange.contains(value) else {
            throw .concurrency(text)
        }
        return value
    }

    /// Reads `N/UNIT`, where UNIT is `s`, `min`, `h` (or `sec`, `second`, `m`, `minute`, `hour`),
    /// optionally preceded by a count (`100/10s`); or `none`/`off`/`0` for no limit. A fractional
    /// N (`0.5/s`) is kept exact by stretching the interval (1 per 2 s).
    public static func rate(_ text: String) throws(ParseError) -> Rate {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if ["none", "off", "0", "unlimited"].contains(trimmed) { return .unlimited }
        let parts = trimmed.split(separator: "/", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, let count = Double(parts[0]), count.isFinite, count > 0 else { throw .rate(text) }
        var unit = Substring(parts[1])
        let digits = unit.prefix { $0.isNumber || $0 == "." }
        unit = unit.dropFirst(digits.count)
        let multiple = digits.isEmpty ? 1 : Double(digits)
        let seconds: Double
        switch unit.trimmingCharacters(in: .whitespaces) {
        case "s", "sec", "second", "seconds": seconds = 1
        case "m", "min", "minute", "minutes": seconds = 60
        case "h", "hour", "hours": seconds = 3600
        default: throw .rate(text)
        }
        guard let multiple, multiple.isFinite, multiple > 0 else { throw .rate(text) }
        // A whole number of requests per a (possibly longer) interval: 0.5/s is 1 per 2 s.
        let requests = max(1, count.rounded(.down))
        let per = seconds * multiple * requests / count
        return .limit(requests: Int(requests), per: per)
    }
}

extension HTTPSettings {
    /// These settings with the operator's overrides applied.
    public mutating func apply(_ overrides: HTTPOverrides) {
        if let concurrency = overrides.concurrency { self.concurrency = concurrency }
        switch overrides.rateLimit {
        case .unlimited?: rateLimit = nil
        case .limit(let requests, let per)?: rateLimit = (requests, per)
        case nil: break
        }
    }
}
