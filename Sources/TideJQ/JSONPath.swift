import CJQ
import Foundation

/// A path of object keys and array indexes whose keys are made once, for reading the same place
/// in many documents without allocating per read (the mapping checks every plain field of every
/// entity this way). Not thread-safe, like `JSON`: its keys are libjq values.
public final class JSONPath {
    public enum Step: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    private enum Compiled {
        case key(jv)
        case index(Int32)
    }

    private let steps: [Compiled]

    /// The steps of a jq program that is a plain path of identifier keys (`.`, `.fields.status`),
    /// whose one output is what `read` gives; nil for anything else.
    public static func plainSteps(_ program: String) -> [Step]? {
        let trimmed = program.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed == "." { return [] }
        guard trimmed.utf8.count < 512, trimmed.wholeMatch(of: /(\.[A-Za-z_][A-Za-z0-9_]*)+/) != nil else { return nil }
        return trimmed.split(separator: ".").map { .key(String($0)) }
    }

    public init(_ steps: [Step]) {
        self.steps = steps.map { step in
            switch step {
            case .key(let key): .key(JSON.string(key))
            case .index(let index): .index(Int32(clamping: index))
            }
        }
    }

    deinit {
        for case .key(let key) in steps { jv_free(key) }
    }

    /// What jq's `.a.b` (or `.[0]`) gives on `document`: nil where jq raises (a key step into
    /// anything but an object or null, an index step into anything but an array or null).
    /// A missing key, an index out of range, and any step from null give null.
    public func read(in document: JSON) -> JSON? {
        var current = document.retained()
        for step in steps {
            let kind = jv_get_kind(current)
            if kind == JV_KIND_NULL { continue }
            switch step {
            case .key(let key):
                guard kind == JV_KIND_OBJECT else {
                    jv_free(current)
                    return nil
                }
                current = jv_object_get(current, jv_copy(key))
            case .index(let index):
                guard kind == JV_KIND_ARRAY else {
                    jv_free(current)
                    return nil
                }
                let length = jv_array_length(jv_copy(current))
                let position = index < 0 ? length + index : index
                guard position >= 0, position < length else {
                    jv_free(current)
                    current = jv_null()
                    continue
                }
                current = jv_array_get(current, position)
            }
            if jv_get_kind(current) == JV_KIND_INVALID {
                jv_free(current)
                current = jv_null()
            }
        }
        return JSON(owning: current)
    }

    /// True when the path leads to null, or to nothing (a missing key, an index out of range, a
    /// step into a value that is not an object or array).
    public func isNullOrAbsent(in document: JSON) -> Bool {
        var current = document.retained()
        for step in steps {
            switch step {
            case .key(let key):
                guard jv_get_kind(current) == JV_KIND_OBJECT else {
                    jv_free(current)
                    return true
                }
                current = jv_object_get(current, jv_copy(key))
            case .index(let index):
                guard jv_get_kind(current) == JV_KIND_ARRAY, index >= 0, index < jv_array_length(jv_copy(current)) else {
                    jv_free(current)
                    return true
                }
                current = jv_array_get(current, index)
            }
            if jv_get_kind(current) == JV_KIND_INVALID {
                jv_free(current)
                return true
            }
        }
        defer { jv_free(current) }
        return jv_get_kind(current) == JV_KIND_NULL
    }
}
