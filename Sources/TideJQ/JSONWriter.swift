import CJQ

/// Compact JSON text, byte for byte what libjq's `jv_dump_string(value, 0)` gives, written into
/// one growing buffer instead of libjq's chain of string values. The mapping writes every entity
/// through it, so a record's output costs one allocation rather than one per value.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private static let hexDigits = Array("0123456789abcdef".utf8)

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// The text so far; the writer starts again empty, keeping its capacity.
    public mutating func take() -> String {
        defer { bytes.removeAll(keepingCapacity: true) }
        return text
    }

    /// Appends text that is already JSON (punctuation, or a value serialized earlier).
    public mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    public mutating func string(_ text: String) {
        var copy = text
        copy.withUTF8 { escape($0) }
    }

    public mutating func value(_ json: JSON) {
        write(json.raw)
    }

    /// Borrows `value` (no reference is consumed).
    mutating func write(_ value: jv) {
        switch jv_get_kind(value) {
        case JV_KIND_NULL: raw("null")
        case JV_KIND_TRUE: raw("true")
        case JV_KIND_FALSE: raw("false")
        case JV_KIND_NUMBER: number(value)
        case JV_KIND_STRING:
            let length = Int(jv_string_length_bytes(jv_copy(value)))
            guard length > 0, let pointer = jv_string_value(value) else { return raw("\"\"") }
            pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
                escape(UnsafeBufferPointer(start: $0, count: length))
            }
        case JV_KIND_ARRAY:
            let count = jv_array_length(jv_copy(value))
            bytes.append(UInt8(ascii: "["))
            for index in 0..<count {
                if index > 0 { bytes.append(UInt8(ascii: ",")) }
                let element = jv_array_get(jv_copy(value), index)
                write(element)
                jv_free(element)
            }
            bytes.append(UInt8(ascii: "]"))
        default:
            // libjq's iteration order: insertion order for objects built by jq or the parser.
            bytes.append(UInt8(ascii: "{"))
            var iterator = jv_object_iter(value)
            var first = true
            while jv_object_iter_valid(value, iterator) != 0 {
                if !first { bytes.append(UInt8(ascii: ",")) }
                first = false
                let key = jv_object_iter_key(value, iterator)
                write(key)
                jv_free(key)
                bytes.append(UInt8(ascii: ":"))
                let member = jv_object_iter_value(value, iterator)
                write(member)
                jv_free(member)
                iterator = jv_object_iter_next(value, iterator)
            }
            bytes.append(UInt8(ascii: "}"))
        }
    }

    /// Integers that print the same in every notation are written here; anything else (fractions,
    /// exponents, -0, NaN, infinities) takes libjq's own formatting so the text stays identical.
    private mutating func number(_ value: jv) {
        let number = jv_number_value(value)
        if number == number.rounded(.towardZero), abs(number) < 1e15, !(number == 0 && number.sign == .minus) {
            raw(String(Int64(number)))
        } else {
            let text = jv_dump_string(jv_copy(value), 0)
            raw(JSON.contents(ofString: text))
            jv_free(text)
        }
    }

    /// jq's string escaping: `"` and `\`, the short escapes for \b \t \r \n \f, `\u00XX` (lower-case
    /// hex) for other control characters and DEL; every other byte as it is (libjq strings are
    /// valid UTF-8).
    private mutating func escape(_ text: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<text.count {
            let byte = text[index]
            guard byte < 0x20 || byte == 0x7F || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<index])) }
            start = index + 1
            switch byte {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x08: raw("\\b")
            case 0x09: raw("\\t")
            case 0x0A: raw("\\n")
            case 0x0C: raw("\\f")
            case 0x0D: raw("\\r")
            default:
                raw("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0xF)])
            }
        }
        if start < text.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<text.count])) }
        bytes.append(UInt8(ascii: "\""))
    }
}
