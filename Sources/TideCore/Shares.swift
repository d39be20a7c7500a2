import Dispatch

/// Runs `body` at once on `shares` contiguous slices of `0..<count`, one thread each, and returns
/// the results in slice order. For CPU work split by hand (a page of records, a batch of lines):
/// the caller guarantees that each slice touches only its own data, which is why `body` need not
/// be `Sendable`. Returns after every slice is done.
public func inShares<T>(count: Int, shares: Int, _ body: (_ share: Int, _ range: Range<Int>) -> T) -> [T] {
    let shares = max(1, min(shares, count))
    let size = (count + shares - 1) / shares
    let ranges = (0..<shares).map { ($0 * size)..<min(($0 + 1) * size, count) }
    guard shares > 1 else { return [body(0, ranges[0])] }
    var results = [T?](repeating: nil, count: shares)
    withoutActuallyEscaping(body) { body in
        results.withUnsafeMutableBufferPointer { buffer in
            let buffer = UncheckedSendable(buffer), body = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: shares) { index in
                buffer.value[index] = body.value(index, ranges[index])
            }
        }
    }
    return results.map { $0! }
}
