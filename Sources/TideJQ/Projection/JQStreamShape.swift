/// Whether a jq expression is written to give a stream of values (`.values[]`, `.a, .b`,
/// `.items[] | select(.x)`) rather than one value (`.values`, `.`, `.a // .b`).
///
/// The fetcher uses it to tell a page's records given one by one (each output a record) from one
/// value that should have been the list: `records: .` over `{"errorMessages": [...]}` gives one
/// object that is not a record, while `records: .values[]` over one record gives the same shape.
/// Only the syntax can tell them apart.
public enum JQStreamShape {
    /// True when `source` iterates or otherwise yields several outputs at its top level. An
    /// expression the parser does not model answers false: the caller then treats it as one value,
    /// the strict reading.
    public static func givesStream(_ source: String) -> Bool {
        guard let ast = try? JQParser.parse(source) else { return false }
        return streams(ast)
    }

    private static let generators: Set<String> = [
        "range", "recurse", "recurse_down", "paths", "leaf_paths", "splits", "scan", "match", "env", "inputs",
        "getpath_stream", "tostream", "limit", "until_stream", "repeat", "while", "combinations", "ascii", "to_entries_stream",
    ]

    private static func streams(_ ast: JQAST) -> Bool {
        switch ast {
        case .each, .comma, .recurseAll, .foreach: return true
        case .field(let base, _): return streams(base)
        case .index(let base, let index): return streams(base) || streams(index)
        case .slice(let base, _, _): return streams(base)
        case .pipe(let left, let right): return streams(left) || streams(right)
        case .alternative(let left, let right): return streams(left) || streams(right)
        case .conditional(_, let then, let otherwise): return streams(then) || otherwise.map(streams) ?? false
        case .tryCatch(let body, _): return streams(body)
        case .bind(_, _, let body): return streams(body)
        case .label(let body): return streams(body)
        case .call(let name, _):
            // `select(f)`, `map(f)`… give at most one value each; their input's shape is the pipe's.
            return generators.contains(name)
        default: return false
        }
    }
}
