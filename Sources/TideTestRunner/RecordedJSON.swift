import TideCore
import TideFetch

/// JSON as an API sent it, for `tide record`: key order and number text are kept exactly (libjq
/// and Foundation would round an id past 2^53 and reorder keys), so that what is written differs
/// from the recorded response only where it was scrubbed or cut.
indirect enum RecordedJSON: Equatable {
    case null
    case bool(Bool)
    /// The number as written.
    case number(String)
    case string(String)
    case array([RecordedJSON])
    case object([(key: String, value: RecordedJSON)])

    static func == (a: RecordedJSON, b: RecordedJSON) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case let (.bool(x), .bool(y)): x == y
        case let (.number(x), .number(y)): x == y
        case let (.string(x), .string(y)): x == y
        case let (.array(x), .array(y)): x == y
        case let (.object(x), .object(y)): x.count == y.count && zip(x, y).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        default: false
        }
    }

    // MARK: Reading

    static func parse(_ bytes: [UInt8]) -> RecordedJSON? {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        guard let value = parser.value() else { return nil }
        parser.skipSpace()
        return parser.index == bytes.count ? value : nil
    }

    static func parse(_ text: String) -> RecordedJSON? { parse(Array(text.utf8)) }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0
        var depth = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[index]) { index += 1 }
        }

        mutating func literal(_ word: String) -> Bool {
            let expected = Array(word.utf8)
            guard index + expected.count <= bytes.count, Array(bytes[index..<(index + expected.count)]) == expected else { return false }
            index += expected.count
            return true
        }

        mutating func value() -> RecordedJSON? {
            guard index < bytes.count, depth < 512 else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                depth += 1
                defer { depth -= 1 }
                index += 1
                var members: [(key: String, value: RecordedJSON)] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                while true {
                    skipSpace()
                    guard let key = string() else { return nil }
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { return nil }
                    index += 1
                    skipSpace()
                    guard let member = value() else { return nil }
                    members.append((key, member))
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(members) }
                    return nil
                }
            case UInt8(ascii: "["):
                depth += 1
                defer { depth -= 1 }
                index += 1
                var elements: [RecordedJSON] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                while true {
                    skipSpace()
                    guard let element = value() else { return nil }
                    elements.append(element)
                    skipSpace()
                    guard index < bytes.count else { return nil }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                    return nil
                }
            case UInt8(ascii: "\""):
                return string().map(RecordedJSON.string)
            case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default:
                let start = index
                while index < bytes.count, "0123456789+-.eE".utf8.contains(bytes[index]) { index += 1 }
                guard index > start else { return nil }
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                return Double(text) == nil ? nil : .number(text)
            }
        }

        mutating func string() -> String? {
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { return nil }
            index += 1
            var out: [UInt8] = []
            var pendingHigh: UInt32?
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                if byte == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                guard byte == UInt8(ascii: "\\") else { out.append(byte); continue }
                guard index < bytes.count else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    guard index + 4 <= bytes.count, let code = UInt32(String(decoding: bytes[index..<(index + 4)], as: UTF8.self), radix: 16) else { return nil }
                    index += 4
                    var scalarValue = code
                    if (0xD800..<0xDC00).contains(code) {
                        pendingHigh = code
                        continue
                    }
                    if (0xDC00..<0xE000).contains(code), let high = pendingHigh {
                        scalarValue = 0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)
                    }
                    pendingHigh = nil
                    out += Array(String(Unicode.Scalar(scalarValue).map(Character.init) ?? "\u{FFFD}").utf8)
                default: out.append(escape)
                }
            }
            return nil
        }
    }

    // MARK: Writing

    /// Two-space indented JSON (what a person reads in a fixture), or compact.
    func text(pretty: Bool = true) -> String {
        var out = ""
        write(into: &out, indent: pretty ? "" : nil)
        return out
    }

    private func write(into out: inout String, indent: String?) {
        switch self {
        case .null: out += "null"
        case .bool(let value): out += value ? "true" : "false"
        case .number(let text): out += text
        case .string(let text): out += JSONText.quoted(text)
        case .array(let elements):
            guard !elements.isEmpty else { out += "[]"; return }
            out += "["
            let inner = indent.map { $0 + "  " }
            for (offset, element) in elements.enumerated() {
                if offset > 0 { out += inner == nil ? "," : "," }
                if let inner { out += "\n" + inner } else if offset > 0 { out += " " }
                element.write(into: &out, indent: inner)
            }
            if let indent { out += "\n" + indent }
            out += "]"
        case .object(let members):
            guard !members.isEmpty else { out += "{}"; return }
            out += "{"
            let inner = indent.map { $0 + "  " }
            for (offset, member) in members.enumerated() {
                if offset > 0 { out += "," }
                if let inner { out += "\n" + inner } else if offset > 0 { out += " " }
                out += JSONText.quoted(member.key) + ": "
                member.value.write(into: &out, indent: inner)
            }
            if let indent { out += "\n" + indent }
            out += "}"
        }
    }

    // MARK: Paths

    func value(at path: ArraySlice<FetchRecording.PathStep>) -> RecordedJSON? {
        guard let step = path.first else { return self }
        switch (self, step) {
        case let (.object(members), .key(key)): return members.first { $0.key == key }?.value.value(at: path.dropFirst())
        case let (.array(elements), .index(index)) where elements.indices.contains(index): return elements[index].value(at: path.dropFirst())
        default: return nil
        }
    }

    /// Puts `value` at `path`, creating a missing last key; false when the path leads nowhere.
    mutating func set(_ value: RecordedJSON, at path: ArraySlice<FetchRecording.PathStep>) -> Bool {
        guard let step = path.first else { self = value; return true }
        switch (self, step) {
        case (.object(var members), .key(let key)):
            if let position = members.firstIndex(where: { $0.key == key }) {
                guard members[position].value.set(value, at: path.dropFirst()) else { return false }
            } else {
                guard path.count == 1 else { return false }
                members.append((key, value))
            }
            self = .object(members)
            return true
        case (.array(var elements), .index(let index)) where elements.indices.contains(index):
            guard elements[index].set(value, at: path.dropFirst()) else { return false }
            self = .array(elements)
            return true
        default:
            return false
        }
    }

    /// Every value changed by `transform`, children before their parent; `key` is the member
    /// name a value sits under (nil in arrays and at the top).
    func rewritten(key: String? = nil, path: [FetchRecording.PathStep] = [],
                   _ transform: (RecordedJSON, String?, [FetchRecording.PathStep]) -> RecordedJSON?) -> RecordedJSON {
        if let replaced = transform(self, key, path) { return replaced }
        switch self {
        case .array(let elements):
            return .array(elements.enumerated().map { $0.element.rewritten(key: nil, path: path + [.index($0.offset)], transform) })
        case .object(let members):
            return .object(members.map { ($0.key, $0.value.rewritten(key: $0.key, path: path + [.key($0.key)], transform)) })
        default:
            return self
        }
    }
}
