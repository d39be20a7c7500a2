import TideCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Loads YAML into `YAMLNode` trees with a position on every node.
///
/// Decisions that differ between YAML loaders, made here once:
/// - Plain scalars resolve by the YAML 1.2 core schema (see `CoreSchema`): `yes`/`no`/`on`/`off`
///   stay strings. Quoted and block scalars, and `!!str`, are always strings. `!!null`,
///   `!!bool`, `!!int` and `!!float` force that type and are an error when the text is not one.
///   Other tags are kept in `tag` and do not change resolution.
/// - One document per file, as Ocean's files are: a second document is an error at its start
///   (rule `yaml-multiple-documents`) rather than silently ignored.
/// - Repeated keys are all kept in `pairs` (lint reports them); `subscript` returns the last.
/// - Merge keys follow PyYAML: `<<: *a` or `<<: [*a, *b]` add the pairs of those mappings that
///   the mapping does not itself define, and in a list the earlier mapping wins. Merged pairs
///   come first in `pairs`, carrying the positions where they were written.
/// - Errors are thrown as one `Diagnostic` at the offending position, rule `yaml-syntax` for
///   what libyaml rejects (bad syntax, invalid UTF-8, control characters), or one of the
///   other `YAML.Rule` values.
public enum YAML {
    /// The `Diagnostic.rule` values this module reports.
    public enum Rule {
        public static let syntax = "yaml-syntax"
        /// An alias naming no earlier anchor, or naming a node that contains the alias.
        public static let alias = "yaml-alias"
        /// A `<<` merge key whose value is not a mapping or a list of mappings.
        public static let merge = "yaml-merge"
        /// A value that does not fit its explicit `!!int`/`!!float`/`!!bool`/`!!null` tag.
        public static let tag = "yaml-tag"
        /// Too deep or (after alias expansion) too many nodes; see `YAMLLimits`.
        public static let limit = "yaml-limit"
        public static let multipleDocuments = "yaml-multiple-documents"
        public static let io = "io"
    }

    /// The first (and only allowed) document; an empty stream gives a null scalar at 1:1.
    /// Errors are Diagnostics with file:line:col.
    public static func parse(_ text: String, file: String, limits: YAMLLimits = .default)
        throws(Diagnostic) -> YAMLNode
    {
        try parse(bytes: Array(text.utf8), file: file, limits: limits)
    }

    /// Reads and parses a file; the file's path is the `file` of every location. An unreadable
    /// file is a Diagnostic with rule `io` naming the path.
    public static func parse(contentsOf path: String, limits: YAMLLimits = .default)
        throws(Diagnostic) -> YAMLNode
    {
        try parse(bytes: try readFile(path), file: path, limits: limits)
    }

    /// Parses raw bytes, which need not be valid UTF-8 (that is then a `yaml-syntax` error).
    public static func parse(bytes: [UInt8], file: String, limits: YAMLLimits = .default)
        throws(Diagnostic) -> YAMLNode
    {
        try EventReader.parse(bytes, file: file, limits: limits)
    }

    private static func readFile(_ path: String) throws(Diagnostic) -> [UInt8] {
        func failure(_ code: Int32) -> Diagnostic {
            Diagnostic(at: nil, "cannot read '\(path)': \(String(cString: strerror(code)))", rule: Rule.io)
        }
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else { throw failure(errno) }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw failure(errno)
            }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
        }
    }
}
