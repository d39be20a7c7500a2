/// Rewrites a jq program written for jq 1.8 (Ocean's) into libjq 1.6 syntax with 1.8's meaning,
/// before it is compiled. What it changes, and why:
///
/// - `try B catch H` → `try (B | _tide_pass) catch _tide_caught(H)`, `T?` likewise. libjq 1.6's
///   `try` also catches errors raised *after* its body produced a value (fixed in 1.7), and `break`
///   is such an error: `first(try 1 catch "c")` yields 1 then "c", a field `[.xs[]? | .name]`
///   silently drops the rest of the list, and every guarded field re-ran everything after it when
///   a later one raised. `_tide_pass` (JQPrelude) marks errors from downstream as they unwind into
///   the `try`, and `_tide_caught` re-raises those instead of handling them. (A `break` out of the
///   body itself is still caught, as in 1.8.)
/// - `.e1`, `.E5` (names of e and digits) → `."e1"`: 1.6 lexes them as numbers.
/// - `.a.[0]`, `.a.["b"]`, `.a.[]` → `.a[0]`, `.a["b"]`, `.a[]` (1.7 syntax; 1.8 has no `.a.[1:]`).
/// - `.[1.5]` → `.[1]`: 1.8 truncates literal fractional indices; 1.6 answers null.
/// - `if c then a end` → `if c then a else . end` (1.7 syntax).
///
/// A program the parser does not handle (function definitions, `?//`, modules) is left as written.
public enum JQRewrite {
    /// The program as libjq 1.6 should compile it.
    public static func for16(_ program: String) -> String {
        guard let edits = try? JQParser.parseWithEdits(program).edits, !edits.isEmpty else { return program }
        return apply(edits, to: program)
    }

    static func apply(_ edits: [JQEdit], to program: String) -> String {
        let ordered = edits.sorted { a, b in
            if a.offset != b.offset { return a.offset < b.offset }
            if a.kind != b.kind { return a.kind.rawValue < b.kind.rawValue }
            return a.kind == .open ? a.sequence > b.sequence : a.sequence < b.sequence
        }
        let bytes = Array(program.utf8)
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count + edits.count * 24)
        var cursor = 0
        for edit in ordered {
            if edit.offset > cursor {
                output.append(contentsOf: bytes[cursor..<edit.offset])
                cursor = edit.offset
            }
            output.append(contentsOf: Array(edit.text.utf8))
            if edit.deleting > 0 { cursor = max(cursor, edit.offset + edit.deleting) }
        }
        if cursor < bytes.count { output.append(contentsOf: bytes[cursor...]) }
        return String(decoding: output, as: UTF8.self)
    }
}
