/// Which parts of a JSON document some jq programs can read, as a tree of object keys and
/// array/object elements. It lets a record be parsed partially (`JSON.parse(bytes:projection:)`):
/// a mapping that reads 20 small fields of a 3 KB record need not build the other 3 KB.
///
/// A node is either *whole* (everything under it is needed) or lists what is read below it:
/// named members (`.a`, `."a"`, `.["a"]`) and an *elements* child (`.[]`, `.[n]`, slices, and
/// `.[]` on an object: every value). A node with neither, reached only to test its type or
/// truthiness, is kept whole by the parser too, so it costs nothing in precision that matters.
///
/// Keys compare as UTF-8 bytes, as libjq compares them (Swift's `String ==` would merge
/// canonically equivalent spellings, which jq keeps apart).
public struct JSONProjection: Sendable, Hashable, CustomStringConvertible {
    /// One step of a path into a document.
    public enum Step: Sendable, Hashable {
        case member(String)
        /// Every element of an array, or every value of an object.
        case elements
    }

    struct Field: Sendable, Hashable {
        var key: [UInt8]
        var projection: JSONProjection
    }

    public private(set) var isWhole: Bool
    /// Sorted by key bytes, no duplicates; empty when whole.
    var fields: [Field]
    /// Zero or one element (an array keeps the recursive type sized); empty when whole.
    var each: [JSONProjection]

    /// The whole document: no projection.
    public static let whole = JSONProjection(isWhole: true, fields: [], each: [])
    /// Nothing below this point is read (only the value's presence, type or truthiness).
    public static let nothing = JSONProjection(isWhole: false, fields: [], each: [])

    init(isWhole: Bool, fields: [Field], each: [JSONProjection]) {
        self.isWhole = isWhole
        self.fields = isWhole ? [] : fields
        self.each = isWhole ? [] : each
    }

    /// A node reading the given members and, optionally, every element. (Keys given in a
    /// dictionary merge canonically equivalent spellings; keys from jq text never do.)
    public init(members: [String: JSONProjection] = [:], elements: JSONProjection? = nil) {
        var result = JSONProjection.nothing
        for (key, child) in members { result.formUnion(child.grafted(under: [.member(key)])) }
        if let elements { result.formUnion(elements.grafted(under: [.elements])) }
        self = result
    }

    /// Members read, in the byte order of their keys.
    public var members: [(key: String, projection: JSONProjection)] {
        fields.map { (String(decoding: $0.key, as: UTF8.self), $0.projection) }
    }

    public func member(_ key: String) -> JSONProjection? {
        let bytes = Array(key.utf8)
        return fields.first { $0.key == bytes }?.projection
    }

    public var elements: JSONProjection? { each.first }

    /// True when only the value itself is tested (the parser then keeps it whole).
    public var readsNothingBelow: Bool { !isWhole && fields.isEmpty && each.isEmpty }

    // MARK: Union and grafting

    public func union(_ other: JSONProjection) -> JSONProjection {
        var copy = self
        copy.formUnion(other)
        return copy
    }

    public mutating func formUnion(_ other: JSONProjection) {
        if isWhole { return }
        if other.isWhole {
            self = .whole
            return
        }
        if !other.fields.isEmpty {
            var merged: [Field] = []
            merged.reserveCapacity(fields.count + other.fields.count)
            var i = 0, j = 0
            while i < fields.count || j < other.fields.count {
                if j == other.fields.count || (i < fields.count && fields[i].key.lexicographicallyPrecedes(other.fields[j].key)) {
                    merged.append(fields[i]); i += 1
                } else if i == fields.count || other.fields[j].key.lexicographicallyPrecedes(fields[i].key) {
                    merged.append(other.fields[j]); j += 1
                } else {
                    merged.append(Field(key: fields[i].key, projection: fields[i].projection.union(other.fields[j].projection)))
                    i += 1; j += 1
                }
            }
            fields = merged
        }
        if let theirs = other.each.first {
            each = [each.first.map { $0.union(theirs) } ?? theirs]
        }
    }

    /// This tree placed under `path` (e.g. the records of a page: `[.member("issues"), .elements]`).
    public func grafted(under path: [Step]) -> JSONProjection {
        var result = JSONProjection.nothing
        result.graft(self, at: path.map(PathStep.init)[...])
        return result
    }

    // MARK: Building (used by the analysis)

    /// Unions `tree` at `path`, creating the nodes on the way.
    mutating func graft(_ tree: JSONProjection, at path: ArraySlice<PathStep>) {
        if isWhole { return }
        guard let step = path.first else {
            formUnion(tree)
            return
        }
        switch step {
        case .each:
            var child = each.first ?? .nothing
            child.graft(tree, at: path.dropFirst())
            each = [child]
        case .key(let key):
            var low = 0, high = fields.count
            while low < high {
                let mid = (low + high) / 2
                if fields[mid].key.lexicographicallyPrecedes(key) { low = mid + 1 } else { high = mid }
            }
            if low < fields.count, fields[low].key == key {
                fields[low].projection.graft(tree, at: path.dropFirst())
            } else {
                var child = JSONProjection.nothing
                child.graft(tree, at: path.dropFirst())
                fields.insert(Field(key: key, projection: child), at: low)
            }
        }
    }

    // MARK: Description

    /// `*` for whole, `{}` for a node only tested, else `{key: …, "odd key": …, []: …}`.
    public var description: String {
        if isWhole { return "*" }
        var parts: [String] = fields.map { field in
            let key = String(decoding: field.key, as: UTF8.self)
            return (Self.isPlainKey(field.key) ? key : JSON(key).serialized()) + ": " + field.projection.description
        }
        if let child = each.first { parts.append("[]: " + child.description) }
        return "{" + parts.joined(separator: ", ") + "}"
    }

    private static func isPlainKey(_ key: [UInt8]) -> Bool {
        guard let first = key.first, first == UInt8(ascii: "_") || (first | 0x20) >= UInt8(ascii: "a") && (first | 0x20) <= UInt8(ascii: "z") else {
            return false
        }
        return key.allSatisfy { byte in
            byte == UInt8(ascii: "_") || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
                || ((byte | 0x20) >= UInt8(ascii: "a") && (byte | 0x20) <= UInt8(ascii: "z"))
        }
    }
}

/// A path step with its key as bytes (see `JSONProjection` on why not `String`).
enum PathStep: Hashable {
    case key([UInt8])
    case each

    init(_ step: JSONProjection.Step) {
        switch step {
        case .member(let key): self = .key(Array(key.utf8))
        case .elements: self = .each
        }
    }
}
