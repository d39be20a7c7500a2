import TideCore
import TideJQ
import Foundation

/// Ocean's `port-app-config.yml`: which kinds to fetch and how each record becomes an entity.
/// Field names, defaults and semantics follow port-ocean 0.56.2 so existing mappings drop in.
public struct PortAppConfig: Sendable {
    /// Sent to Port as `merge=` on upserts.
    public var enableMergeEntity = true
    /// Sent to Port as `delete_dependents=` on deletes.
    public var deleteDependentEntities = true
    /// Sent as `create_missing_related_entities=`; also protects relation targets from stale deletion.
    public var createMissingRelatedEntities = true
    /// Stale entities are deleted only when `deleted / owned <= threshold`; in [0, 1].
    public var entityDeletionThreshold = 0.9
    /// Processed in list order; a kind may appear several times.
    public var resources: [ResourceConfig] = []
    /// Where the configuration came from (nil when it came from Port's API).
    public var file: String?
    /// Findings that do not stop the mapping from running (unknown keys, Ocean quirks).
    public var warnings: [Diagnostic] = []

    public init() {}

    /// The resources of one kind, with their index among resources of that kind.
    public func resources(ofKind kind: String) -> [ResourceConfig] {
        resources.filter { $0.kind == kind }
    }
}

public struct ResourceConfig: Sendable {
    public var kind: String
    /// Position in `resources` (Ocean names a resource `<kind>-<index>` in metrics).
    public var index: Int
    public var selector: Selector
    public var port: PortMapping
    /// port-ocean 0.56's per-resource opt-out of stale deletion (nil = not set, which means allowed).
    public var enableDelete: Bool?
    public var location: SourceLocation?
    /// Where `kind` is written; nil when it is missing or null.
    public var kindLocation: SourceLocation? = nil
}

extension ResourceConfig {
    /// The blueprint the mapping names when it is a string literal (`'"jiraIssue"'`); empty when
    /// it is computed per record.
    public var literalBlueprints: Set<String> {
        guard case .expression(let expression)? = port.entity.tree("blueprint") else { return [] }
        let text = expression.oceanProgram.trimmingCharacters(in: .whitespacesAndNewlines)
        guard text.hasPrefix("\""), let name = (try? JSON(parsing: text))?.stringValue else { return [] }
        return [name]
    }
}

public struct Selector: Sendable {
    /// Must produce a JSON boolean for every record.
    public var query: JQExpression
    /// Integration-specific selector fields (`jql`, `expand`…) as JSON text, in file order, each
    /// with where its key is written.
    public var fields: [(name: String, json: String, location: SourceLocation?)]

    public func field(_ name: String) -> String? { fields.first { $0.name == name }?.json }
}

public struct PortMapping: Sendable {
    public var itemsToParse: JQExpression?
    public var itemsToParseName = "item"
    public var itemsToParseTopLevelTransform = true
    public var entity: EntityMapping
}

/// The `port.entity.mappings` object. Only the keys written are evaluated and sent.
public struct EntityMapping: Sendable {
    /// The mapped fields in Ocean's order: identifier, title, blueprint, icon, team, properties, relations.
    public var fields: [(name: String, tree: MappingTree)]
    /// Where `mappings` is written.
    public var location: SourceLocation? = nil
    /// Where keys are written, by path: `properties`, `properties.status`, `relations.project`…
    /// (the first of a repeated key, as its position is the one kept).
    public var keyLocations: [String: SourceLocation] = [:]

    public func tree(_ name: String) -> MappingTree? { fields.first { $0.name == name }?.tree }
}

/// A mapping value: a jq expression, or objects and arrays of them (search queries,
/// nested property objects). Ocean evaluates every string leaf as jq.
public indirect enum MappingTree: Sendable {
    case expression(JQExpression)
    case object([(key: String, value: MappingTree)])
    case array([MappingTree])
}

/// A jq expression as written in a mapping, with where it was written.
public struct JQExpression: Sendable, Hashable, CustomStringConvertible {
    /// The text as written.
    public var source: String
    /// Where the expression's text starts (for lint and error messages).
    public var location: SourceLocation?

    public init(_ source: String, location: SourceLocation? = nil) {
        self.source = source
        self.location = location
    }

    public var description: String { source }

    /// The program Ocean actually compiles: single-quoted string delimiters become double quotes.
    ///
    /// Ocean does this with one regular expression, `(^|\s)'(?!\s|")|(?<!\s|")'(\s|$)` → `\1"\2`.
    /// This scan reproduces its left-to-right, non-overlapping matching exactly, including its
    /// quirk that a whitespace consumed by one match cannot open the next (`'a' 'b'` → `"a" 'b"`).
    public var oceanProgram: String {
        let c = Array(source)
        guard c.contains("'") else { return source }
        func isSpace(_ i: Int) -> Bool { i >= 0 && i < c.count && c[i].isWhitespace }
        func isSpaceOrQuote(_ i: Int) -> Bool { isSpace(i) || (i >= 0 && i < c.count && c[i] == "\"") }
        var output = ""
        output.reserveCapacity(c.count)
        var i = 0
        while i < c.count {
            // First alternative: an opening quote at the start, or after one whitespace character.
            if i == 0, c[0] == "'", !isSpaceOrQuote(1) {
                output.append("\"")
                i += 1
                continue
            }
            if isSpace(i), i + 1 < c.count, c[i + 1] == "'", !isSpaceOrQuote(i + 2) {
                output.append(c[i])
                output.append("\"")
                i += 2
                continue
            }
            // Second alternative: a closing quote before whitespace (consumed) or the end.
            if c[i] == "'", !isSpaceOrQuote(i - 1), i + 1 == c.count || isSpace(i + 1) {
                output.append("\"")
                if i + 1 < c.count { output.append(c[i + 1]) }
                i += 2
                continue
            }
            output.append(c[i])
            i += 1
        }
        return output
    }
}
