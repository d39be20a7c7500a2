import Foundation
import TideCore
import TideSpec
import TideYAML

/// A `fixtures.yml` file (docs/fixtures.md): recorded requests and the responses to replay,
/// read into `Fixture`s for a `FixtureServer`.
///
/// ```swift
/// let file = try FixtureFile.load(contentsOf: "integrations/jira/fixtures/fixtures.yml")
/// let server = try await FixtureServer.start(file.fixtures)
/// ```
public struct FixtureFile: Sendable {
    /// One `{request, response}` entry as written.
    public struct Entry: Sendable {
        public var name: String
        public var match: FixtureMatch
        public var response: TestResponse
        /// Where the entry starts, for messages such as "never requested".
        public var location: SourceLocation
    }

    public var path: String
    /// The entries in file order.
    public var entries: [Entry]
    /// What to hand to `FixtureServer.start`: entries with identical matchers merged into one
    /// fixture answering them in turn (the last repeats), and every fixture placed before the
    /// less specific ones it overlaps, so file order matters only within a sequence.
    public var fixtures: [Fixture]

    /// Diagnostic rules, for filtering and docs.
    public enum Rule {
        /// An entry whose values make no sense as a request or response (a path without its
        /// leading /, a method that is not a word, both body and json); keys and types are checked
        /// by the spec (`FixturesSpec`) under its own rules.
        public static let entry = "fixture-entry"
        /// A response body file that is missing, unreadable or not the JSON its name promises.
        public static let bodyFile = "fixture-body-file"
    }

    /// Reads `path`; body files are resolved against its folder.
    public static func load(contentsOf path: String) throws(Diagnostics) -> FixtureFile {
        let root: YAMLNode
        do { root = try YAML.parse(contentsOf: path) } catch { throw Diagnostics([error]) }
        let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
        return try FixtureFile(node: root, path: path, directory: directory)
    }

    /// Reads `path` through `cache`: each file is read (and its body files checked) once however
    /// many cases share it, and its findings are the same each time.
    public static func load(contentsOf path: String, cache: FixtureFileCache?) throws(Diagnostics) -> FixtureFile {
        guard let cache else { return try load(contentsOf: path) }
        let key = URL(fileURLWithPath: path).standardized.path
        if let known = cache.files[key] { return try known.get() }
        let result: Result<FixtureFile, Diagnostics>
        do { result = .success(try load(contentsOf: path)) } catch { result = .failure(error) }
        cache.files[key] = result
        return try result.get()
    }

    /// Parses text; `directory` is where relative body files are looked for.
    public static func parse(_ text: String, file: String, directory: String) throws(Diagnostics) -> FixtureFile {
        let root: YAMLNode
        do { root = try YAML.parse(text, file: file) } catch { throw Diagnostics([error]) }
        return try FixtureFile(node: root, path: file, directory: directory)
    }

    /// Reads a parsed tree, reporting every bad entry at once.
    public init(node root: YAMLNode, path: String, directory: String) throws(Diagnostics) {
        var reader = Reader(directory: directory)
        var entries: [Entry] = []
        if case .scalar(let scalar) = root.kind, scalar.value == .null {
            // An empty file is an empty list: nothing is served.
        } else {
            // Keys and types by the spec; what the values mean by the reader, for every entry, so
            // that all problems are reported at once.
            reader.diagnostics = SpecValidator.validate(root, against: FixturesSpec.root)
            for item in root.items ?? [] {
                if let entry = reader.entry(item) { entries.append(entry) }
            }
        }
        var seen: [String: SourceLocation] = [:]
        for entry in entries {
            if let first = seen[entry.name] {
                reader.fail(at: entry.location, "the name \"\(entry.name)\" is already used by the entry at \(first)")
            } else {
                seen[entry.name] = entry.location
            }
        }
        if reader.diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(reader.diagnostics) }
        self.path = path
        self.entries = entries
        fixtures = Self.arrange(entries)
    }

    /// Where the entry (or, for a sequence, the first entry) behind a fixture name was written.
    public func location(of fixtureName: String) -> SourceLocation? {
        entries.first { fixtureName == $0.name || fixtureName.hasPrefix($0.name + " → ") }?.location
    }

    // MARK: - Ordering

    /// A matcher in canonical form: header names lower-cased and the body parsed, so two entries
    /// written differently but matching the same requests count as identical.
    private struct Key: Hashable {
        var method: String?
        var path: String
        var query: [String: String]
        var headers: [String: String]
        var body: JSONValue?

        init(_ match: FixtureMatch) {
            method = match.method
            path = match.path
            query = match.query
            headers = Dictionary(match.headers.map { ($0.key.lowercased(), $0.value) }, uniquingKeysWith: { _, last in last })
            body = match.jsonBody.flatMap { JSONValue.parse(Array($0.utf8)) }
        }

        /// Whether every request this matcher accepts is also accepted by `other`.
        func implies(_ other: Key) -> Bool {
            if let method = other.method, method != self.method { return false }
            guard path == other.path,
                  other.query.allSatisfy({ query[$0.key] == $0.value }),
                  other.headers.allSatisfy({ headers[$0.key] == $0.value }) else { return false }
            guard let expected = other.body else { return true }
            guard let body else { return false }
            return expected.isSubset(of: body)
        }
    }

    /// Merges sequences, then orders fixtures so that a stricter matcher comes before any looser
    /// one it overlaps (the server answers with the first match): a topological order of
    /// "implies", ties broken by file order.
    static func arrange(_ entries: [Entry]) -> [Fixture] {
        var keys: [Key] = []
        var groups: [[Entry]] = []
        var index: [Key: Int] = [:]
        for entry in entries {
            let key = Key(entry.match)
            if let existing = index[key] {
                groups[existing].append(entry)
            } else {
                index[key] = groups.count
                keys.append(key)
                groups.append([entry])
            }
        }
        // stricter[j] counts the groups that must be served before group j.
        var stricter = Array(repeating: 0, count: groups.count)
        var looser = Array(repeating: [Int](), count: groups.count)
        for i in keys.indices {
            for j in keys.indices where i != j && keys[i].implies(keys[j]) {
                stricter[j] += 1
                looser[i].append(j)
            }
        }
        var order: [Int] = []
        var placed = Array(repeating: false, count: groups.count)
        while order.count < groups.count {
            // Distinct keys cannot imply each other both ways, so some group is always free.
            guard let next = groups.indices.first(where: { !placed[$0] && stricter[$0] == 0 }) else { break }
            placed[next] = true
            order.append(next)
            for j in looser[next] { stricter[j] -= 1 }
        }
        return order.map { i in
            let group = groups[i]
            return Fixture(group.map(\.name).joined(separator: " → "), match: group[0].match,
                           responses: group.map(\.response))
        }
    }

    // MARK: - Reading entries

    private struct Reader {
        var directory: String
        var diagnostics: [Diagnostic] = []

        mutating func fail(_ node: YAMLNode, _ message: String, hint: String? = nil) {
            fail(at: node.location, message, hint: hint)
        }

        mutating func fail(at location: SourceLocation, _ message: String, hint: String? = nil, rule: String = Rule.entry) {
            diagnostics.append(Diagnostic(.error, at: location, message, rule: rule, hint: hint))
        }

        /// The mapping's values by key (the spec has checked keys and types).
        func fields(_ node: YAMLNode) -> [String: YAMLNode] {
            var values: [String: YAMLNode] = [:]
            for pair in node.pairs ?? [] {
                if let key = pair.key.string { values[key] = pair.value }
            }
            return values
        }

        func isNull(_ node: YAMLNode) -> Bool { node.value == .null }

        /// Query values and headers are compared as text, so `startAt: 0` means "startAt=0".
        func textMap(_ node: YAMLNode?) -> [String: String] {
            var map: [String: String] = [:]
            for pair in node?.pairs ?? [] {
                if let key = pair.key.scalar?.text, let value = pair.value.scalar { map[key] = value.text }
            }
            return map
        }

        mutating func entry(_ node: YAMLNode) -> Entry? {
            let values = fields(node)
            let failures = diagnostics.count
            let match = values["request"].flatMap { request($0) }
            let response = values["response"].flatMap { self.response($0) }
            guard diagnostics.count == failures, let match, let response else { return nil }
            // Unnamed entries are known by their line and matcher in reports.
            let label = values["name"]?.string ?? "line \(node.location.line): \(match.description)"
            return Entry(name: label, match: match, response: response, location: node.location)
        }

        mutating func request(_ node: YAMLNode) -> FixtureMatch? {
            let values = fields(node), spec = SpecReader(node, FixturesSpec.request)
            let method = spec.string(specified: "method")
            if method.isEmpty || !method.allSatisfy({ $0.isLetter }) {
                fail(values["method"] ?? node, "'\(method)' is not an HTTP method")
            }
            guard let pathNode = values["path"], let path = pathNode.string else { return nil }
            if !path.hasPrefix("/") {
                fail(pathNode, "'path' must start with '/'")
            }
            if path.contains("?") {
                fail(pathNode, "'path' contains a query string", hint: "list the parameters under 'query:' instead")
            }
            // The body is a JSON subset of what the request sends: written as YAML, compared as JSON.
            let body = values["body"].flatMap { isNull($0) ? nil : $0.jsonText() }
            return FixtureMatch(method: method.uppercased(), path: path, query: textMap(values["query"]),
                                headers: textMap(values["headers"]), jsonBody: body)
        }

        mutating func response(_ node: YAMLNode) -> TestResponse? {
            let values = fields(node), spec = SpecReader(node, FixturesSpec.response)
            var headers = textMap(values["headers"]).sorted { $0.key < $1.key }.map { TestHeader($0.key, $0.value) }
            let hasContentType = headers.contains { $0.name.lowercased() == "content-type" }
            var body: [UInt8] = []
            var isJSON = false
            switch (values["body"], values["json"]) {
            case let (file?, json?):
                fail(json, "a response has either 'body' (a file) or 'json' (inline), not both",
                     hint: "'body' is at \(file.location)")
                return nil
            case let (file?, nil):
                guard let relative = file.string else { return nil }
                guard let bytes = readBody(relative, at: file) else { return nil }
                body = bytes
                isJSON = relative.lowercased().hasSuffix(".json")
                if isJSON, JSONValue.parse(bytes) == nil {
                    fail(at: file.location, "body file '\(relative)' is not valid JSON", rule: Rule.bodyFile)
                    return nil
                }
            case let (nil, json?):
                body = Array(json.jsonText().utf8)
                isJSON = true
            case (nil, nil):
                break
            }
            if isJSON && !hasContentType { headers.insert(TestHeader("Content-Type", "application/json"), at: 0) }
            return TestResponse(status: spec.int(specified: "status"), headers: headers, body: body)
        }

        mutating func readBody(_ relative: String, at node: YAMLNode) -> [UInt8]? {
            if relative.hasPrefix("/") {
                fail(at: node.location, "body file '\(relative)' must be relative to the fixtures file's folder",
                     rule: Rule.bodyFile)
                return nil
            }
            let full = URL(fileURLWithPath: directory).appendingPathComponent(relative).path
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else {
                fail(at: node.location, "body file '\(relative)' does not exist", hint: "looked for \(full)",
                     rule: Rule.bodyFile)
                return nil
            }
            guard let data = FileManager.default.contents(atPath: full) else {
                fail(at: node.location, "body file '\(relative)' cannot be read", hint: "path: \(full)", rule: Rule.bodyFile)
                return nil
            }
            return Array(data)
        }
    }
}

/// fixtures.yml files already read, by absolute path, for readers of many cases that share one
/// (`tide lint` reads an integration's fixtures.yml and then each case that names it).
public final class FixtureFileCache {
    var files: [String: Result<FixtureFile, Diagnostics>] = [:]
    public init() {}
}
