import CJQ
import Foundation

/// A `JSONProjection` flattened for `JSON.parse(bytes:projection:)`: nodes in one array with
/// integer links and member keys as contiguous UTF-8 bytes, so the parser's inner loop touches no
/// Swift collections and no reference counts. Build one per mapping and share it: it is immutable.
public final class JSONProjectionPlan: @unchecked Sendable {
    public let projection: JSONProjection
    /// True when the projection keeps everything: a plain parse is then as good.
    public var keepsEverything: Bool { root == Self.wholeNode }

    struct Node {
        var memberStart: Int32
        var memberCount: Int32
        /// Node for the values of keys no member names; `skip` to drop them.
        var otherKeys: Int32
        /// Node for array elements: the elements child if there is one (named members do not
        /// matter for an array: naming one only raises an error that does not show the array),
        /// else `wholeNode`, since an array is then not what this node expects.
        var elements: Int32
        /// Bit `min(length, 63)` is set for each member key's length: most keys fail this test.
        var keyLengths: UInt64
    }

    struct Member {
        var keyStart: Int32
        var keyLength: Int32
        var child: Int32
    }

    static let wholeNode: Int32 = 0
    static let skip: Int32 = -1

    let root: Int32
    let nodes: UnsafeMutablePointer<Node>
    let members: UnsafeMutablePointer<Member>
    let keys: UnsafeMutablePointer<UInt8>

    public init(_ projection: JSONProjection) {
        self.projection = projection
        var builder = Builder()
        // Node 0 keeps everything: all keys and elements, whole.
        builder.nodes.append(Node(memberStart: 0, memberCount: 0, otherKeys: Self.wholeNode, elements: Self.wholeNode, keyLengths: 0))
        root = builder.add(projection)
        nodes = .allocate(capacity: builder.nodes.count)
        nodes.initialize(from: builder.nodes, count: builder.nodes.count)
        members = .allocate(capacity: max(1, builder.members.count))
        members.initialize(from: builder.members, count: builder.members.count)
        keys = .allocate(capacity: max(1, builder.keys.count))
        keys.initialize(from: builder.keys, count: builder.keys.count)
    }

    deinit {
        nodes.deallocate()
        members.deallocate()
        keys.deallocate()
    }

    private struct Builder {
        var nodes: [Node] = []
        var members: [Member] = []
        var keys: [UInt8] = []

        mutating func add(_ tree: JSONProjection) -> Int32 {
            // A node only tested for its type or truthiness is kept whole (see JSONProjection).
            if tree.isWhole || tree.readsNothingBelow { return JSONProjectionPlan.wholeNode }
            // Merging elements into members copies subtrees; past any sane size, keep whole.
            if nodes.count > 100_000 { return JSONProjectionPlan.wholeNode }
            let index = nodes.count
            nodes.append(Node(memberStart: 0, memberCount: 0, otherKeys: JSONProjectionPlan.skip,
                              elements: JSONProjectionPlan.wholeNode, keyLengths: 0))
            // `.[]` on an object reads every value, named ones included: merge it into each member.
            let every = tree.elements
            var entries: [(key: [UInt8], child: Int32)] = []
            for field in tree.fields {
                entries.append((field.key, add(every.map { field.projection.union($0) } ?? field.projection)))
            }
            var node = nodes[index]
            if let every {
                node.otherKeys = add(every)
                node.elements = node.otherKeys
            }
            node.memberStart = Int32(members.count)
            node.memberCount = Int32(entries.count)
            for entry in entries {
                members.append(Member(keyStart: Int32(keys.count), keyLength: Int32(entry.key.count), child: entry.child))
                keys.append(contentsOf: entry.key)
                node.keyLengths |= 1 << UInt64(min(entry.key.count, 63))
            }
            nodes[index] = node
            return Int32(index)
        }
    }
}

extension JSON {
    /// Parses one JSON text, building only what `projection` keeps: members it does not name are
    /// skipped (but still validated), whole nodes and values of an unexpected type are built in
    /// full. Running a program on the result gives the outputs and errors it gives on the full
    /// parse, for every program whose analysis the projection covers.
    ///
    /// Returns nil on anything it does not handle exactly as libjq's parser would (invalid JSON
    /// anywhere, nesting past libjq's limit, a byte-order mark, several values, control characters
    /// in strings…): parse normally then, which also gives libjq's error message.
    public static func parse(bytes: UnsafeRawBufferPointer, projection: JSONProjectionPlan) -> JSON? {
        guard bytes.count < Int(Int32.max), let base = bytes.baseAddress, !bytes.isEmpty else { return nil }
        let start = base.assumingMemoryBound(to: UInt8.self)
        var parser = ProjectedParser(cursor: start, end: start + bytes.count, plan: projection)
        let value = withExtendedLifetime(projection) { parser.parseDocument(root: projection.root) }
        return parser.failed ? nil : JSON(owning: value)
    }

    /// Convenience for one-off use; build a `JSONProjectionPlan` once when parsing many documents.
    public static func parse(bytes: UnsafeRawBufferPointer, projection: JSONProjection) -> JSON? {
        parse(bytes: bytes, projection: JSONProjectionPlan(projection))
    }
}

/// The scanner. A failing function sets `failed` (a flag rather than `jv_get_kind` calls, which
/// cost a libjq call per value) and returns `jv_invalid()` or false, having freed what it built.
/// `depth` is libjq's parser stack height where a value starts: containers plus pending object
/// keys, which libjq caps at 256 when opening a container.
struct ProjectedParser {
    var failed = false
    var cursor: UnsafePointer<UInt8>
    let end: UnsafePointer<UInt8>
    let nodes: UnsafePointer<JSONProjectionPlan.Node>
    let members: UnsafePointer<JSONProjectionPlan.Member>
    let keys: UnsafePointer<UInt8>

    static let maximumDepth = 256

    init(cursor: UnsafePointer<UInt8>, end: UnsafePointer<UInt8>, plan: JSONProjectionPlan) {
        self.cursor = cursor
        self.end = end
        nodes = UnsafePointer(plan.nodes)
        members = UnsafePointer(plan.members)
        keys = UnsafePointer(plan.keys)
    }

    mutating func parseDocument(root: Int32) -> jv {
        skipWhitespace()
        let value = parseValue(node: root, depth: 0)
        if failed { return value }
        skipWhitespace()
        guard cursor == end else {
            jv_free(value)
            return fail()
        }
        return value
    }

    @inline(__always)
    private mutating func fail() -> jv {
        failed = true
        return jv_invalid()
    }

    // MARK: Building

    @inline(__always)
    mutating func skipWhitespace() {
        while cursor < end {
            let byte = cursor.pointee
            guard byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 else { return }
            cursor += 1
        }
    }

    mutating func parseValue(node: Int32, depth: Int) -> jv {
        guard cursor < end else { return fail() }
        switch cursor.pointee {
        case UInt8(ascii: "{"): return parseObject(node: node, depth: depth)
        case UInt8(ascii: "["): return parseArray(node: node, depth: depth)
        case UInt8(ascii: "\""): return parseString()
        case UInt8(ascii: "t"): return literal("true") ? jv_true() : fail()
        case UInt8(ascii: "f"): return literal("false") ? jv_false() : fail()
        case UInt8(ascii: "n"): return literal("null") ? jv_null() : fail()
        default: return parseNumber()
        }
    }

    private mutating func parseObject(node nodeIndex: Int32, depth: Int) -> jv {
        guard depth < Self.maximumDepth else { return fail() }
        let node = nodes[Int(nodeIndex)]
        cursor += 1
        var object = jv_object()
        skipWhitespace()
        if cursor < end, cursor.pointee == UInt8(ascii: "}") {
            cursor += 1
            return object
        }
        while true {
            guard cursor < end, cursor.pointee == UInt8(ascii: "\"") else { break }
            cursor += 1
            let keyStart = cursor
            guard let escaped = scanString() else { break }
            let keyLength = cursor - 1 - keyStart
            skipWhitespace()
            guard cursor < end, cursor.pointee == UInt8(ascii: ":") else { break }
            cursor += 1
            skipWhitespace()

            var key = jv_invalid()
            var haveKey = false
            var child = node.otherKeys
            if node.memberCount > 0 {
                if !escaped && isASCII(keyStart, keyLength) {
                    child = lookup(node, keyStart, keyLength)
                } else {
                    // Compare the key as libjq stores it: escapes decoded, bad UTF-8 replaced.
                    key = makeString(keyStart, keyLength, escaped: escaped)
                    haveKey = true
                    let bytes = UnsafeRawPointer(jv_string_value(key)!).assumingMemoryBound(to: UInt8.self)
                    child = lookup(node, bytes, Int(jv_string_length_bytes(jv_copy(key))))
                }
            }
            if child == JSONProjectionPlan.skip {
                jv_free(key)
                guard skipValue(depth: depth + 2) else { break }
            } else {
                let value = parseValue(node: child, depth: depth + 2)
                if failed {
                    jv_free(key)
                    break
                }
                if !haveKey { key = makeString(keyStart, keyLength, escaped: escaped) }
                // Duplicate keys: the last value wins, in the first one's place, as in libjq.
                object = jv_object_set(object, key, value)
            }
            skipWhitespace()
            guard cursor < end else { break }
            if cursor.pointee == UInt8(ascii: ",") {
                cursor += 1
                skipWhitespace()
                continue
            }
            if cursor.pointee == UInt8(ascii: "}") {
                cursor += 1
                return object
            }
            break
        }
        jv_free(object)
        return fail()
    }

    private mutating func parseArray(node nodeIndex: Int32, depth: Int) -> jv {
        guard depth < Self.maximumDepth else { return fail() }
        let elementNode = nodes[Int(nodeIndex)].elements
        cursor += 1
        var array = jv_array()
        skipWhitespace()
        if cursor < end, cursor.pointee == UInt8(ascii: "]") {
            cursor += 1
            return array
        }
        while true {
            let element = parseValue(node: elementNode, depth: depth + 1)
            if failed { break }
            array = jv_array_append(array, element)
            skipWhitespace()
            guard cursor < end else { break }
            if cursor.pointee == UInt8(ascii: ",") {
                cursor += 1
                skipWhitespace()
                continue
            }
            if cursor.pointee == UInt8(ascii: "]") {
                cursor += 1
                return array
            }
            break
        }
        jv_free(array)
        return fail()
    }

    @inline(__always)
    private func lookup(_ node: JSONProjectionPlan.Node, _ key: UnsafePointer<UInt8>, _ length: Int) -> Int32 {
        guard node.keyLengths & (1 << UInt64(min(length, 63))) != 0 else { return node.otherKeys }
        var index = Int(node.memberStart)
        let last = index + Int(node.memberCount)
        while index < last {
            let member = members[index]
            if Int(member.keyLength) == length, memcmp(keys + Int(member.keyStart), key, length) == 0 {
                return member.child
            }
            index += 1
        }
        return node.otherKeys
    }

    @inline(__always)
    private func isASCII(_ start: UnsafePointer<UInt8>, _ length: Int) -> Bool {
        var bits: UInt8 = 0
        for offset in 0..<length { bits |= start[offset] }
        return bits < 0x80
    }

    private mutating func parseString() -> jv {
        cursor += 1
        let start = cursor
        guard let escaped = scanString() else { return fail() }
        return makeString(start, cursor - 1 - start, escaped: escaped)
    }

    /// A string `jv` from a validated string body, as libjq's parser makes it: escapes decoded
    /// into bytes, then `jv_string_sized` (which replaces invalid UTF-8).
    private func makeString(_ start: UnsafePointer<UInt8>, _ length: Int, escaped: Bool) -> jv {
        guard escaped else {
            return jv_string_sized(UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self), Int32(length))
        }
        // Decoding never lengthens: `\uXXXX` (6 bytes) gives at most 3, a pair (12) gives 4.
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(1, length)) { buffer in
            let out = buffer.baseAddress!
            var written = 0
            var index = 0
            while index < length {
                let byte = start[index]
                index += 1
                guard byte == UInt8(ascii: "\\") else {
                    out[written] = byte
                    written += 1
                    continue
                }
                let kind = start[index]
                index += 1
                switch kind {
                case UInt8(ascii: "b"): out[written] = 0x08; written += 1
                case UInt8(ascii: "f"): out[written] = 0x0C; written += 1
                case UInt8(ascii: "n"): out[written] = 0x0A; written += 1
                case UInt8(ascii: "r"): out[written] = 0x0D; written += 1
                case UInt8(ascii: "t"): out[written] = 0x09; written += 1
                case UInt8(ascii: "u"):
                    var codepoint = UInt32(Self.hex4(start + index))
                    index += 4
                    if codepoint >= 0xD800 && codepoint <= 0xDBFF {
                        // scanString checked that a low surrogate escape follows.
                        let low = UInt32(Self.hex4(start + index + 2))
                        index += 6
                        codepoint = 0x10000 + (((codepoint - 0xD800) << 10) | (low - 0xDC00))
                    }
                    written += Self.encodeUTF8(codepoint, out + written)
                default:
                    out[written] = kind  // `"`, `\`, `/`
                    written += 1
                }
            }
            return jv_string_sized(UnsafeRawPointer(out).assumingMemoryBound(to: CChar.self), Int32(written))
        }
    }

    /// UTF-8 as libjq's `jvp_utf8_encode` writes it (surrogates too, as three bytes).
    private static func encodeUTF8(_ codepoint: UInt32, _ out: UnsafeMutablePointer<UInt8>) -> Int {
        if codepoint <= 0x7F {
            out[0] = UInt8(codepoint)
            return 1
        }
        if codepoint <= 0x7FF {
            out[0] = UInt8(0xC0 | (codepoint >> 6))
            out[1] = UInt8(0x80 | (codepoint & 0x3F))
            return 2
        }
        if codepoint <= 0xFFFF {
            out[0] = UInt8(0xE0 | (codepoint >> 12))
            out[1] = UInt8(0x80 | ((codepoint >> 6) & 0x3F))
            out[2] = UInt8(0x80 | (codepoint & 0x3F))
            return 3
        }
        out[0] = UInt8(0xF0 | (codepoint >> 18))
        out[1] = UInt8(0x80 | ((codepoint >> 12) & 0x3F))
        out[2] = UInt8(0x80 | ((codepoint >> 6) & 0x3F))
        out[3] = UInt8(0x80 | (codepoint & 0x3F))
        return 4
    }

    /// The value of 4 hex digits, or -1.
    @inline(__always)
    private static func hex4(_ digits: UnsafePointer<UInt8>) -> Int {
        var value = 0
        for offset in 0..<4 {
            let byte = digits[offset]
            let digit: Int
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = Int(byte - UInt8(ascii: "A")) + 10
            default: return -1
            }
            value = value << 4 | digit
        }
        return value
    }

    private mutating func parseNumber() -> jv {
        let start = cursor
        guard let isSmallInteger = scanNumber() else { return fail() }
        if isSmallInteger {
            // At most 15 digits: exact in a double, as strtod would give.
            var digits = start
            let negative = digits.pointee == UInt8(ascii: "-")
            if negative { digits += 1 }
            var magnitude: Int64 = 0
            while digits < cursor {
                magnitude = magnitude * 10 + Int64(digits.pointee - UInt8(ascii: "0"))
                digits += 1
            }
            let value = Double(magnitude)
            return jv_number(negative ? -value : value)
        }
        // Fractions, exponents and long integers: libjq's own conversion.
        let parsed = jv_parse_sized(UnsafeRawPointer(start).assumingMemoryBound(to: CChar.self), Int32(cursor - start))
        guard jv_get_kind(parsed) == JV_KIND_NUMBER else {
            jv_free(parsed)
            return fail()
        }
        return parsed
    }

    // MARK: Validating and skipping

    private mutating func literal(_ text: StaticString) -> Bool {
        let length = text.utf8CodeUnitCount
        guard end - cursor >= length, memcmp(cursor, text.utf8Start, length) == 0 else { return false }
        cursor += length
        return true
    }

    /// JSON's number grammar, strictly (libjq accepts more, e.g. `01` or `1.`; those fall back).
    /// Returns whether it is an integer of at most 15 digits, or nil when invalid.
    private mutating func scanNumber() -> Bool? {
        if cursor < end, cursor.pointee == UInt8(ascii: "-") { cursor += 1 }
        let digitsStart = cursor
        guard cursor < end, Self.isDigit(cursor.pointee) else { return nil }
        if cursor.pointee == UInt8(ascii: "0") {
            cursor += 1
        } else {
            while cursor < end, Self.isDigit(cursor.pointee) { cursor += 1 }
        }
        var isInteger = true
        if cursor < end, cursor.pointee == UInt8(ascii: ".") {
            cursor += 1
            guard cursor < end, Self.isDigit(cursor.pointee) else { return nil }
            while cursor < end, Self.isDigit(cursor.pointee) { cursor += 1 }
            isInteger = false
        }
        if cursor < end, cursor.pointee | 0x20 == UInt8(ascii: "e") {
            cursor += 1
            if cursor < end, cursor.pointee == UInt8(ascii: "+") || cursor.pointee == UInt8(ascii: "-") { cursor += 1 }
            guard cursor < end, Self.isDigit(cursor.pointee) else { return nil }
            while cursor < end, Self.isDigit(cursor.pointee) { cursor += 1 }
            isInteger = false
        }
        return isInteger && cursor - digitsStart <= 15
    }

    @inline(__always)
    private static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    /// From just after an opening quote to just after the closing one. Returns whether the string
    /// has escapes, or nil when it is invalid for libjq or unusual (any control character,
    /// which libjq mostly rejects; U+001E would even reset its parser).
    private mutating func scanString() -> Bool? {
        var escaped = false
        while true {
            cursor = Self.nextSpecialByte(cursor, end)
            guard cursor < end else { return nil }
            let byte = cursor.pointee
            if byte == UInt8(ascii: "\"") {
                cursor += 1
                return escaped
            }
            guard byte == UInt8(ascii: "\\"), end - cursor >= 2 else { return nil }
            escaped = true
            switch cursor[1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                cursor += 2
            case UInt8(ascii: "u"):
                guard end - cursor >= 6 else { return nil }
                let codepoint = Self.hex4(cursor + 2)
                guard codepoint >= 0 else { return nil }
                cursor += 6
                if codepoint >= 0xD800 && codepoint <= 0xDBFF {
                    // libjq requires the low half right after the high one.
                    guard end - cursor >= 6, cursor[0] == UInt8(ascii: "\\"), cursor[1] == UInt8(ascii: "u") else { return nil }
                    let low = Self.hex4(cursor + 2)
                    guard low >= 0xDC00 && low <= 0xDFFF else { return nil }
                    cursor += 6
                }
            default:
                return nil
            }
        }
    }

    /// The first `"`, `\` or control character at or after `start`, or `end`. Eight bytes at a
    /// time: the lowest flagged byte of each zero-byte test is exact.
    @inline(__always)
    private static func nextSpecialByte(_ start: UnsafePointer<UInt8>, _ end: UnsafePointer<UInt8>) -> UnsafePointer<UInt8> {
        var pointer = start
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        while end - pointer >= 8 {
            let word = UInt64(littleEndian: UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self))
            let quotes = word ^ (ones &* 0x22)
            let backslashes = word ^ (ones &* 0x5C)
            let found = (((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes) | ((word &- ones &* 0x20) & ~word)) & highs
            if found != 0 { return pointer + (found.trailingZeroBitCount >> 3) }
            pointer += 8
        }
        while pointer < end {
            let byte = pointer.pointee
            if byte == 0x22 || byte == 0x5C || byte < 0x20 { return pointer }
            pointer += 1
        }
        return end
    }

    mutating func skipValue(depth: Int) -> Bool {
        guard cursor < end else { return false }
        switch cursor.pointee {
        case UInt8(ascii: "\""):
            cursor += 1
            return scanString() != nil
        case UInt8(ascii: "{"):
            guard depth < Self.maximumDepth else { return false }
            cursor += 1
            skipWhitespace()
            if cursor < end, cursor.pointee == UInt8(ascii: "}") {
                cursor += 1
                return true
            }
            while true {
                guard cursor < end, cursor.pointee == UInt8(ascii: "\"") else { return false }
                cursor += 1
                guard scanString() != nil else { return false }
                skipWhitespace()
                guard cursor < end, cursor.pointee == UInt8(ascii: ":") else { return false }
                cursor += 1
                skipWhitespace()
                guard skipValue(depth: depth + 2) else { return false }
                skipWhitespace()
                guard cursor < end else { return false }
                if cursor.pointee == UInt8(ascii: "}") {
                    cursor += 1
                    return true
                }
                guard cursor.pointee == UInt8(ascii: ",") else { return false }
                cursor += 1
                skipWhitespace()
            }
        case UInt8(ascii: "["):
            guard depth < Self.maximumDepth else { return false }
            cursor += 1
            skipWhitespace()
            if cursor < end, cursor.pointee == UInt8(ascii: "]") {
                cursor += 1
                return true
            }
            while true {
                guard skipValue(depth: depth + 1) else { return false }
                skipWhitespace()
                guard cursor < end else { return false }
                if cursor.pointee == UInt8(ascii: "]") {
                    cursor += 1
                    return true
                }
                guard cursor.pointee == UInt8(ascii: ",") else { return false }
                cursor += 1
                skipWhitespace()
            }
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        default: return scanNumber() != nil
        }
    }
}
