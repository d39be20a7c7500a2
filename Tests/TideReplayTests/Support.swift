import TideHTTP

extension RetryPolicy {
    /// Short waits so retries against the fixture server stay quick.
    static let fast = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(10), maxDelay: .milliseconds(50),
                                  jitter: .none, maxTotalWait: .seconds(10))
}
