import CJQ
import Foundation

/// Reads a sequence of JSON texts (JSON lines, or values simply concatenated) from a file
/// descriptor in fixed-size chunks, so memory follows the largest value, not the input size.
public final class JSONStream {
    private let parser: OpaquePointer
    private let descriptor: Int32
    private var buffer: [UInt8]
    private var finished = false
    private var fedEnd = false
    /// Values handed out so far (1-based position of the next value is `count + 1`).
    public private(set) var count = 0

    /// `descriptor` stays owned by the caller.
    public init(descriptor: Int32, chunkSize: Int = 1 << 16) {
        parser = jv_parser_new(0)
        self.descriptor = descriptor
        buffer = [UInt8](repeating: 0, count: chunkSize)
    }

    deinit { jv_parser_free(parser) }

    /// The next value, nil at the end of input.
    public func next() throws(JSONStreamError) -> JSON? {
        while !finished {
            let value = jv_parser_next(parser)
            if jv_get_kind(value) != JV_KIND_INVALID {
                count += 1
                return JSON(owning: value)
            }
            if let message = JSON.consumeInvalidMessage(value) {
                finished = true
                throw JSONStreamError(message: message, valueIndex: count + 1)
            }
            // The parser needs more bytes.
            if fedEnd {
                finished = true
                return nil
            }
            try feed()
        }
        return nil
    }

    private func feed() throws(JSONStreamError) {
        let readCount: Int
        do { readCount = try Self.read(descriptor, into: &buffer, valueIndex: count + 1) } catch {
            finished = true
            throw error
        }
        if readCount == 0 {
            // An empty final buffer tells the parser the input is complete.
            fedEnd = true
            jv_parser_set_buf(parser, "", 0, 0)
            return
        }
        // jv_parser keeps a pointer into the buffer until it asks for more, which is after this
        // chunk is consumed, so reusing one buffer across feeds is safe.
        buffer.withUnsafeBufferPointer { bytes in
            bytes.baseAddress!.withMemoryRebound(to: CChar.self, capacity: readCount) {
                jv_parser_set_buf(parser, $0, Int32(readCount), 1)
            }
        }
    }
}

extension JSONStream {
    /// Fills `chunk` from `descriptor` (retrying reads a signal interrupted); 0 at the end.
    static func read(_ descriptor: Int32, into chunk: inout [UInt8], valueIndex: Int) throws(JSONStreamError) -> Int {
        var readCount = 0
        repeat {
            readCount = chunk.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
        } while readCount < 0 && errno == EINTR
        guard readCount >= 0 else {
            throw JSONStreamError(message: "read failed: \(String(cString: strerror(errno)))", valueIndex: valueIndex)
        }
        return readCount
    }
}

public struct JSONStreamError: Error, Sendable, Equatable, CustomStringConvertible {
    /// libjq's message, which names the line and column.
    public var message: String
    /// Which value of the stream (1-based) failed.
    public var valueIndex: Int
    public var description: String { "\(message) (value \(valueIndex) of the input)" }
}
