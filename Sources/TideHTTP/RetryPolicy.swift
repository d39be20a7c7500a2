import Foundation

/// When and how long to wait before sending a failed request again.
///
/// A request is retried when it may be repeated (`HTTPRequest.mayRetry`), the failure is
/// retryable (a status in `retryableStatuses`, or a connection error or timeout), fewer than
/// `maxAttempts` attempts have been made, and the wait fits in what is left of `maxTotalWait`.
/// A connection that could not be made at all is retried even for a non-retryable request,
/// because nothing was sent.
///
/// The wait is what the server asked for (`Retry-After`, or `X-RateLimit-Reset`), or else
/// exponential backoff `baseDelay × multiplier^(attempt-1)`, capped at `maxDelay`, with jitter.
/// A server that asks for more than the remaining budget fails the request at once: sleeping
/// an hour on a 429 would look like a hang.
public struct RetryPolicy: Sendable, Hashable {
    public enum Jitter: Sendable, Hashable {
        /// The computed delay exactly.
        case none
        /// A uniform random delay in 0...computed ("full jitter"), which spreads a thundering herd best.
        case full
        /// The computed delay ± this fraction (Ocean uses ±10 %).
        case proportional(Double)
    }

    /// Attempts in total, the first included; 1 disables retries.
    public var maxAttempts: Int
    public var retryableStatuses: Set<Int>
    /// Retry connection failures and timeouts (for requests that may be repeated).
    public var retryConnectionErrors: Bool
    public var baseDelay: Duration
    public var multiplier: Double
    public var maxDelay: Duration
    public var jitter: Jitter
    /// The most the client sleeps between attempts of one request, summed.
    public var maxTotalWait: Duration
    /// Use `Retry-After` and `X-RateLimit-Reset` when the server sends them.
    public var honourServerDelay: Bool

    public init(maxAttempts: Int = 5, retryableStatuses: Set<Int> = [429, 502, 503, 504],
                retryConnectionErrors: Bool = true, baseDelay: Duration = .milliseconds(500),
                multiplier: Double = 2, maxDelay: Duration = .seconds(30), jitter: Jitter = .proportional(0.1),
                maxTotalWait: Duration = .seconds(120), honourServerDelay: Bool = true)
    {
        self.maxAttempts = max(1, maxAttempts)
        self.retryableStatuses = retryableStatuses
        self.retryConnectionErrors = retryConnectionErrors
        self.baseDelay = baseDelay
        self.multiplier = multiplier
        self.maxDelay = maxDelay
        self.jitter = jitter
        self.maxTotalWait = maxTotalWait
        self.honourServerDelay = honourServerDelay
    }

    public static let `default` = RetryPolicy()
    /// One attempt only.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The backoff before attempt `attempt + 1`, after `attempt` attempts failed (1-based), with jitter.
    public func backoff(afterAttempt attempt: Int) -> Duration {
        let base = baseDelay.seconds * pow(multiplier, Double(max(0, attempt - 1)))
        let capped = min(base, maxDelay.seconds)
        let jittered: Double
        switch jitter {
        case .none: jittered = capped
        case .full: jittered = Double.random(in: 0...max(capped, 0))
        case .proportional(let fraction):
            let spread = abs(fraction) * capped
            jittered = capped + (spread > 0 ? Double.random(in: -spread...spread) : 0)
        }
        return .seconds(max(0, jittered))
    }

    /// The wait a response asks for: `Retry-After` first, then `X-RateLimit-Reset`; nil when neither
    /// is present or readable. Past times give zero.
    public static func serverDelay(in headers: HTTPHeaders, now: Date = Date()) -> Duration? {
        if let value = headers["Retry-After"], let delay = parseDelay(value, now: now, epochs: false) { return delay }
        if let value = headers["X-RateLimit-Reset"], let delay = parseDelay(value, now: now, epochs: true) { return delay }
        return nil
    }

    /// Reads a delay header value: a number of seconds or an HTTP-date (RFC 9110), or an ISO-8601
    /// date. With `epochs` (X-RateLimit-Reset), a number that can only be a Unix time (after 2001)
    /// is read as one, as Ocean does. `Retry-After: 999999` is therefore 999,999 seconds, which the
    /// client refuses to wait, never an epoch long past that would mean "retry now".
    public static func parseDelay(_ value: String, now: Date = Date(), epochs: Bool = true) -> Duration? {
        let trimmed = value.trimmingSpaces()
        guard !trimmed.isEmpty else { return nil }
        if let number = Double(trimmed), number.isFinite {
            let seconds = epochs && number > 1_000_000_000 ? number - now.timeIntervalSince1970 : number
            return .seconds(min(max(0, seconds), 1e12))
        }
        if let date = parseHTTPDate(trimmed) ?? parseISODate(trimmed) {
            return .seconds(max(0, date.timeIntervalSince(now)))
        }
        return nil
    }

    static func parseHTTPDate(_ text: String) -> Date? {
        // IMF-fixdate first; the two obsolete forms RFC 9110 still requires recipients to accept after.
        for format in ["EEE, dd MMM yyyy HH:mm:ss zzz", "EEEE, dd-MMM-yy HH:mm:ss zzz", "EEE MMM d HH:mm:ss yyyy"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }

    static func parseISODate(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }
}

extension Duration {
    /// The duration in seconds as a floating-point number.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }

    var milliseconds: Int {
        let (s, attoseconds) = components
        return Int(s) * 1000 + Int(attoseconds / 1_000_000_000_000_000)
    }
}
