import CJQ
import Foundation

/// A source of JSON values read one at a time.
public protocol JSONValueStream: AnyObject {
    /// The next value, nil at the end of input.
    func next() throws(JSONStreamError) -> JSON?
    /// Values handed out so far.
    var count: Int { get }
}

extension JSONStream: JSONValueStream {}

/// Reads a sequence of JSON values (JSON lines, or values simply concatenated) from a file
/// descriptor like `JSONStream`, but parses each value only as far as `plan` keeps, skipping the
/// rest of it unbuilt. Top-level arrays are taken as arrays of records: the plan applies to them
/// and to each of their elements.
///
/// Values are delimited by a byte scan (strings, escapes and nesting), then each is handed to the
/// projected parser; a value it does not vouch for is parsed whole by libjq, which also words the
/// error of invalid input. Memory follows the largest value, not the input size.
public final class ProjectedJSONStream: JSONValueStream {
    private let descriptor: Int32
    private let plan: JSONProjectionPlan
    private var buffer: [UInt8] = []
    /// Each read lands here first (one allocation for the stream's life).
    private var chunk = [UInt8](repeating: 0, count: 1 << 16)
    /// Where the unread part of `buffer` starts.
    private var start = 0
    private var finished = false
    /// Values handed out so far.
    public private(set) var count = 0

    /// - Parameter recordPaths: what is read of each record. `descriptor` stays the caller's.
    public init(descriptor: Int32, recordPaths: JSONProjection) {
        self.descriptor = descriptor
        plan = JSONProjectionPlan(recordPaths.union(recordPaths.grafted(under: [.elements])))
    }

    /// The next value, nil at the end of input.
    public func next() throws(JSONStreamError) -> JSON? {
        // Drop what was consumed before scanning (scan positions must not move while it runs).
        if start > 0, start >= buffer.count / 2 {
            buffer.removeSubrange(..<start)
            start = 0
        }
        // Skip whitespace, reading more as needed.
        while true {
            while start < buffer.count, Self.isSpace(buffer[start]) { start += 1 }
            if start < buffer.count { break }
            if finished { return nil }
            try fill()
        }
        var scanner = ValueScanner()
        var position = start
        while true {
            if let end = scanner.scan(buffer, from: &position, atEnd: finished) {
                let value = try parse(start..<end)
                start = end
                count += 1
                return value
            }
            if finished {
                // An unfinished value: libjq's parser says what is wrong with it.
                let range = start..<buffer.count
                start = buffer.count
                _ = try parse(range)
                throw JSONStreamError(message: "unfinished JSON value at the end of input", valueIndex: count + 1)
            }
            try fill()
        }
    }

    private func parse(_ range: Range<Int>) throws(JSONStreamError) -> JSON {
        let result = buffer.withUnsafeBufferPointer { all -> Result<JSON, JSONParseError> in
            let slice = UnsafeBufferPointer(rebasing: all[range])
            if let value = JSON.parse(bytes: UnsafeRawBufferPointer(slice), projection: plan) { return .success(value) }
            return Result { () throws(JSONParseError) -> JSON in try JSON(parsing: slice) }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw JSONStreamError(message: error.message, valueIndex: count + 1)
        }
    }

    /// Appends more input to the buffer.
    private func fill() throws(JSONStreamError) {
        let readCount: Int
        do { readCount = try JSONStream.read(descriptor, into: &chunk, valueIndex: count + 1) } catch {
            finished = true
            throw error
        }
        if readCount == 0 { finished = true } else { buffer += chunk[..<readCount] }
    }

    static func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }

    /// Finds where one JSON value ends, resumable across reads. It only delimits: validation is
    /// the parser's.
    struct ValueScanner {
        var depth = 0
        var inString = false
        var escaped = false
        var started = false
        var scalar = false

        /// The end (exclusive) of the value starting at the first `from`, or nil when the buffer
        /// ends first (`from` is then where to resume).
        mutating func scan(_ array: [UInt8], from position: inout Int, atEnd: Bool) -> Int? {
            array.withUnsafeBufferPointer { scan($0, from: &position, atEnd: atEnd) }
        }

        private mutating func scan(_ bytes: UnsafeBufferPointer<UInt8>, from position: inout Int, atEnd: Bool) -> Int? {
            while position < bytes.count {
                let byte = bytes[position]
                if !started {
                    started = true
                    scalar = byte != UInt8(ascii: "{") && byte != UInt8(ascii: "[") && byte != UInt8(ascii: "\"")
                }
                if inString {
                    if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") {
                        inString = false
                        if depth == 0 { return position + 1 }
                    }
                } else if scalar {
                    // A number or literal ends at whitespace or a structural character.
                    if ProjectedJSONStream.isSpace(byte) || byte == UInt8(ascii: "{") || byte == UInt8(ascii: "[")
                        || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "]") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: ",") {
                        return position
                    }
                } else {
                    switch byte {
                    case UInt8(ascii: "\""): inString = true
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth <= 0 { return position + 1 }
                    default: break
                    }
                }
                position += 1
            }
            return scalar && atEnd && started ? position : nil
        }
    }
}
