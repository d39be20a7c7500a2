import TideCore

/// The parent graph of an integration's kinds: every `parent` (or `partitions.fromKind`, a kind
/// read before this one just the same) names a kind here, and no chain of them loops. Part of the
/// loader's cross-checks (`Integration.read`), which `tide lint` reports as they are.
public enum KindParents {
    public static let unknownParentRule = "unknown-parent"
    public static let cycleRule = "parent-cycle"

    public struct Link: Sendable {
        public var kind: String
        public var parent: String?
        /// Where a problem with this kind's parent is reported.
        public var location: SourceLocation?
        /// The field that names it: `parent`, or `partitions.fromKind` (whose kind is read first too).
        public var field: String
        public init(kind: String, parent: String?, location: SourceLocation?, field: String = "parent") {
            self.kind = kind
            self.parent = parent
            self.location = location
            self.field = field
        }
    }

    public static func problems(_ links: [Link]) -> [Diagnostic] {
        let parents = Dictionary(links.map { ($0.kind, $0.parent) }) { first, _ in first }
        var diagnostics: [Diagnostic] = []
        for link in links {
            guard let parent = link.parent else { continue }
            guard parents[parent] != nil else {
                let suggestion = DidYouMean.closest(to: parent, in: links.map(\.kind)).map { " (did you mean \"\($0)\"?)" } ?? ""
                diagnostics.append(Diagnostic(at: link.location, "kind \"\(link.kind)\" names \(link.field) \"\(parent)\", which is not a kind here\(suggestion)",
                                              rule: unknownParentRule))
                continue
            }
            var seen: Set<String> = [link.kind]
            var next: String? = parent
            while let current = next {
                if !seen.insert(current).inserted {
                    diagnostics.append(Diagnostic(at: link.location, "kind \"\(link.kind)\" has a parent cycle through \"\(current)\"",
                                                  rule: cycleRule))
                    break
                }
                next = parents[current] ?? nil
            }
        }
        return diagnostics
    }
}
