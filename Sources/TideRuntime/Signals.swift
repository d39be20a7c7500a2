import Foundation

/// Process signals as an async sequence, so a run reacts to them in its own task (a drain, an
/// "aborted" report to Port) rather than inside a signal handler. The one place Tide takes over
/// SIGTERM and SIGINT; `cancel` gives them back.
final class Signals: Sendable {
    private let numbers: [Int32]
    // Dispatch sources are thread-safe, and the list never changes after init.
    nonisolated(unsafe) private let sources: [any DispatchSourceSignal]
    private let stream: AsyncStream<Int32>

    private init(_ numbers: [Int32]) {
        self.numbers = numbers
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        self.stream = stream
        sources = numbers.map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            return source
        }
    }

    static func watch(_ numbers: [Int32]) -> Signals { Signals(numbers) }

    /// The next signal received.
    func next() async -> Int32 {
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() ?? 0
    }

    func cancel() {
        for source in sources { source.cancel() }
        for number in numbers { signal(number, SIG_DFL) }
    }
}
