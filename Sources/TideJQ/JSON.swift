import CJQ

/// A JSON value held as libjq's `jv`, so records flow from the parser through jq programs
/// to the output without being copied into Swift collections.
///
/// The class owns exactly one reference to its `jv`: `init(owning:)` takes ownership, and
/// every accessor hands libjq a `jv_copy`. libjq's reference counts are not atomic, so a value
/// must stay on the thread that made it; cross threads with `serialized()` text instead.
public final class JSON {
    public enum Kind: Sendable, Equatable {
        case null, bool, number, string, array, object
    }

    @usableFromInline let raw: jv

    /// Takes ownership of `value`, which must be valid (not `jv_invalid`).
    init(owning value: jv) {
        raw = value
    }

    deinit { jv_free(raw) }

    /// A new reference to the underlying `jv` that the caller must consume or free.
    @inlinable func retained() -> jv { jv_copy(raw) }

    // MARK: Construction

    public static var null: JSON { JSON(owning: jv_null()) }
    public convenience init(_ value: Bool) { self.init(owning: jv_bool(value ? 1 : 0)) }
    public convenience init(_ value: Double) { self.init(owning: jv_number(value)) }
    public convenience init(_ value: Int) { self.init(owning: jv_number(Double(value))) }
    public convenience init(_ value: String) {
        let made = value.withCString { pointer in
            jv_string_sized(pointer, Int32(clamping: value.utf8.count))
        }
        self.init(owning: made)
    }
    public convenience init(array elements: [JSON]) {
        var made = jv_array_sized(Int32(clamping: elements.count))
        for element in elements { made = jv_array_append(made, element.retained()) }
        self.init(owning: made)
    }
    /// An object whose keys keep the given order when serialized.
    public convenience init(object pairs: KeyValuePairs<String, JSON>) {
        self.init(orderedObject: pairs.map { ($0.key, $0.value) })
    }
    public convenience init(orderedObject pairs: [(String, JSON)]) {
        var made = jv_object()
        for (key, value) in pairs { made = jv_object_set(made, JSON.string(key), value.retained()) }
        self.init(owning: made)
    }

    /// Parses one JSON text. libjq refuses nesting deeper than 256 levels, with a message.
    public convenience init(parsing text: String) throws(JSONParseError) {
        var copy = text
        let parsed = copy.withUTF8 { bytes in JSON.parse(bytes) }
        switch parsed {
        case .success(let value): self.init(owning: value)
        case .failure(let error): throw error
        }
    }

    public convenience init(parsing bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) {
        switch JSON.parse(bytes) {
        case .success(let value): self.init(owning: value)
        case .failure(let error): throw error
        }
    }

    static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<jv, JSONParseError> {
        guard bytes.count < Int(Int32.max) else {
            return .failure(JSONParseError(message: "document of \(bytes.count) bytes is larger than libjq accepts (2 GiB)"))
        }
        guard let base = bytes.baseAddress, !bytes.isEmpty else {
            return .failure(JSONParseError(message: "empty input where a JSON value was expected"))
        }
        let parsed = base.withMemoryRebound(to: CChar.self, capacity: bytes.count) { chars in
            jv_parse_sized(chars, Int32(bytes.count))
        }
        if jv_get_kind(parsed) == JV_KIND_INVALID {
            return .failure(JSONParseError(message: JSON.consumeInvalidMessage(parsed) ?? "invalid JSON"))
        }
        return .success(parsed)
    }

    /// Frees an invalid `jv` and returns its message, if it carried one.
    static func consumeInvalidMessage(_ invalid: jv) -> String? {
        guard jv_invalid_has_msg(jv_copy(invalid)) != 0 else {
            jv_free(invalid)
            return nil
        }
        let message = jv_invalid_get_msg(invalid)
        defer { jv_free(message) }
        if jv_get_kind(message) == JV_KIND_STRING { return contents(ofString: message) }
        // jq 1.8 words a non-string error value this way.
        return JSON.dump(jv_copy(message), flags: 0) + " (not a string)"
    }

    static func string(_ value: String) -> jv {
        value.withCString { jv_string_sized($0, Int32(clamping: value.utf8.count)) }
    }

    // MARK: Inspection

    public var kind: Kind {
        switch jv_get_kind(raw) {
        case JV_KIND_NULL: .null
        case JV_KIND_TRUE, JV_KIND_FALSE: .bool
        case JV_KIND_NUMBER: .number
        case JV_KIND_STRING: .string
        case JV_KIND_ARRAY: .array
        default: .object
        }
    }

    public var isNull: Bool { jv_get_kind(raw) == JV_KIND_NULL }
    public var boolValue: Bool? {
        switch jv_get_kind(raw) {
        case JV_KIND_TRUE: true
        case JV_KIND_FALSE: false
        default: nil
        }
    }
    public var numberValue: Double? { jv_get_kind(raw) == JV_KIND_NUMBER ? jv_number_value(raw) : nil }
    public var stringValue: String? {
        guard jv_get_kind(raw) == JV_KIND_STRING else { return nil }
        return JSON.contents(ofString: raw)
    }

    /// Number of elements of an array or keys of an object; 0 otherwise.
    public var count: Int {
        switch jv_get_kind(raw) {
        case JV_KIND_ARRAY: Int(jv_array_length(jv_copy(raw)))
        case JV_KIND_OBJECT: Int(jv_object_length(jv_copy(raw)))
        default: 0
        }
    }

    public subscript(index: Int) -> JSON? {
        guard jv_get_kind(raw) == JV_KIND_ARRAY, index >= 0, index < count else { return nil }
        return JSON(owning: jv_array_get(jv_copy(raw), Int32(index)))
    }

    public subscript(key: String) -> JSON? {
        guard jv_get_kind(raw) == JV_KIND_OBJECT else { return nil }
        let found = jv_object_get(jv_copy(raw), JSON.string(key))
        guard jv_get_kind(found) != JV_KIND_INVALID else {
            jv_free(found)
            return nil
        }
        return JSON(owning: found)
    }

    public var arrayElements: [JSON] {
        guard jv_get_kind(raw) == JV_KIND_ARRAY else { return [] }
        return (0..<count).map { JSON(owning: jv_array_get(jv_copy(raw), Int32($0))) }
    }

    /// Object members in libjq's iteration order (insertion order for objects built here).
    public var objectMembers: [(key: String, value: JSON)] {
        guard jv_get_kind(raw) == JV_KIND_OBJECT else { return [] }
        var members: [(key: String, value: JSON)] = []
        var iterator = jv_object_iter(raw)
        while jv_object_iter_valid(raw, iterator) != 0 {
            let key = JSON(owning: jv_object_iter_key(raw, iterator))
            let value = JSON(owning: jv_object_iter_value(raw, iterator))
            members.append((key.stringValue ?? "", value))
            iterator = jv_object_iter_next(raw, iterator)
        }
        return members
    }

    // MARK: Derivation

    /// A copy of this object with `key` set (an object is made from anything else).
    public func setting(_ key: String, to value: JSON) -> JSON {
        let base = jv_get_kind(raw) == JV_KIND_OBJECT ? retained() : jv_object()
        return JSON(owning: jv_object_set(base, JSON.string(key), value.retained()))
    }

    /// A shallow merge: keys of `other` replace keys of `self` (libjq's `jv_object_merge`).
    public func merging(_ other: JSON) -> JSON {
        guard jv_get_kind(raw) == JV_KIND_OBJECT, jv_get_kind(other.raw) == JV_KIND_OBJECT else { return other }
        return JSON(owning: jv_object_merge(retained(), other.retained()))
    }

    public func appending(_ element: JSON) -> JSON {
        let base = jv_get_kind(raw) == JV_KIND_ARRAY ? retained() : jv_array()
        return JSON(owning: jv_array_append(base, element.retained()))
    }

    /// Python's truthiness, which Ocean applies to identifiers and blueprints:
    /// null, false, 0, "", [] and {} are false.
    public var isTruthyInPython: Bool {
        switch jv_get_kind(raw) {
        case JV_KIND_NULL, JV_KIND_FALSE: false
        case JV_KIND_TRUE: true
        case JV_KIND_NUMBER: jv_number_value(raw) != 0
        case JV_KIND_STRING: jv_string_length_bytes(jv_copy(raw)) > 0
        default: count > 0
        }
    }

    // MARK: Output

    /// Compact JSON text, keys in their stored order (or sorted).
    public func serialized(sortedKeys: Bool = false) -> String {
        JSON.dump(retained(), flags: sortedKeys ? Int32(JV_PRINT_SORTED.rawValue) : 0)
    }

    public func prettyPrinted(sortedKeys: Bool = false) -> String {
        // JV_PRINT_INDENT_FLAGS(2), a macro Swift cannot import.
        var flags = (2 << 8) | Int32(JV_PRINT_PRETTY.rawValue)
        if sortedKeys { flags |= Int32(JV_PRINT_SORTED.rawValue) }
        return JSON.dump(retained(), flags: flags)
    }

    /// Consumes `value`.
    static func dump(_ value: jv, flags: Int32) -> String {
        let text = jv_dump_string(value, flags)
        defer { jv_free(text) }
        return contents(ofString: text)
    }

    /// The UTF-8 bytes of a string `jv` (borrowed), embedded NULs included.
    static func contents(ofString value: jv) -> String {
        let length = Int(jv_string_length_bytes(jv_copy(value)))
        guard let pointer = jv_string_value(value), length > 0 else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}

extension JSON: Equatable, CustomStringConvertible {
    /// JSON equality as libjq defines it (objects compare by content, numbers by value).
    public static func == (a: JSON, b: JSON) -> Bool { jv_equal(a.retained(), b.retained()) != 0 }
    public var description: String { serialized() }
}

public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(message: String) { self.message = message }
    public var description: String { message }
}
