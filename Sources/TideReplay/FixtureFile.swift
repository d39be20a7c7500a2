import Foundation
import TideCore
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
        /// An entry that is not shaped as docs/fixtures.md says.
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
        if let items = root.items {
            for item in items {
                if let entry = reader.entry(item) { entries.append(entry) }
            }
        } else if case .scalar(let scalar) = root.kind, scalar.value == .null {
            // An empty file is an empty list: nothing is served.
        } else {
            reader.fail(root, "expected a list of {request, response} entries, found a \(root.typeName)")
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

        /// The mapping's values by key, after reporting unknown, repeated and missing keys.
        mutating func fields(_ node: YAMLNode, of what: String, allowed: [String], required: [String] = [])
            -> [String: YAMLNode]?
        {
            guard let pairs = node.pairs else {
                fail(node, "\(what) must be a mapping, found a \(node.typeName)")
                return nil
            }
            var values: [String: YAMLNode] = [:]
            for pair in pairs {
                guard let key = pair.key.string else {
                    fail(pair.key, "keys of \(what) must be strings")
                    continue
                }
                if !allowed.contains(key) {
                    let suggestion = DidYouMean.closest(to: key, in: allowed)
                    fail(pair.key, "unknown key '\(key)' in \(what)",
                         hint: suggestion.map { "did you mean '\($0)'?" } ?? "expected one of: \(allowed.joined(separator: ", "))")
                } else if values[key] != nil {
                    fail(pair.key, "'\(key)' is given twice in \(what)")
                } else {
                    values[key] = pair.value
                }
            }
            for key in required where values[key] == nil {
                fail(node, "\(what) has no '\(key)'")
            }
            return values
        }

        func isNull(_ node: YAMLNode) -> Bool { node.value == .null }

        mutating func string(_ node: YAMLNode, _ what: String) -> String? {
            if let text = node.string { return text }
            fail(node, "\(what) must be a string, found a \(node.typeName)")
            return nil
        }

        /// Query values and headers are compared as text, so `startAt: 0` means "startAt=0".
        mutating func textMap(_ node: YAMLNode, _ what: String) -> [String: String] {
            guard let pairs = node.pairs else {
                if !isNull(node) { fail(node, "\(what) must be a mapping, found a \(node.typeName)") }
                return [:]
            }
            var map: [String: String] = [:]
            for pair in pairs {
                guard let key = pair.key.scalar?.text else {
                    fail(pair.key, "names in \(what) must be scalars")
                    continue
                }
                guard let value = pair.value.scalar, pair.value.value != .null else {
                    fail(pair.value, "'\(key)' in \(what) must be a string, number or boolean, found a \(pair.value.typeName)")
                    continue
                }
                if map[key] != nil { fail(pair.key, "'\(key)' is given twice in \(what)") }
                map[key] = value.text
            }
            return map
        }

        mutating func entry(_ node: YAMLNode) -> Entry? {
            guard let values = fields(node, of: "a fixture entry", allowed: ["name", "request", "response"],
                                      required: ["request", "response"]) else { return nil }
            let failures = diagnostics.count
            var name: String?
            if let value = values["name"] { name = string(value, "'name'") }
            let match = values["request"].flatMap { request($0) }
            let response = values["response"].flatMap { self.response($0) }
            guard diagnostics.count == failures, let match, let response else { return nil }
            // Unnamed entries are known by their line and matcher in reports.
            let label = name ?? "line \(node.location.line): \(match.description)"
            return Entry(name: label, match: match, response: response, location: node.location)
        }

        mutating func request(_ node: YAMLNode) -> FixtureMatch? {
            guard let values = fields(node, of: "'request'", allowed: ["method", "path", "query", "headers", "body"],
                                      required: ["path"]) else { return nil }
            var method = "GET"
            if let value = values["method"], let text = string(value, "'method'") {
                if text.isEmpty || !text.allSatisfy({ $0.isLetter }) {
                    fail(value, "'\(text)' is not an HTTP method")
                }
                method = text.uppercased()
            }
            guard let pathNode = values["path"], let path = string(pathNode, "'path'") else { return nil }
            if !path.hasPrefix("/") {
                fail(pathNode, "'path' must start with '/'")
            }
            if path.contains("?") {
                fail(pathNode, "'path' contains a query string", hint: "list the parameters under 'query:' instead")
            }
            let query = values["query"].map { textMap($0, "'query'") } ?? [:]
            let headers = values["headers"].map { textMap($0, "'headers'") } ?? [:]
            // The body is a JSON subset of what the request sends: written as YAML, compared as JSON.
            let body = values["body"].flatMap { isNull($0) ? nil : $0.jsonText() }
            return FixtureMatch(method: method, path: path, query: query, headers: headers, jsonBody: body)
        }

        mutating func response(_ node: YAMLNode) -> TestResponse? {
            guard let values = fields(node, of: "'response'", allowed: ["status", "headers", "body", "json"]) else {
                return nil
            }
            var status = 200
            if let value = values["status"] {
                if case .int(let code)? = value.value, (100...599).contains(code) {
                    status = code
                } else {
                    fail(value, "'status' must be an HTTP status code (100–599), found \(value.scalar?.text ?? "a \(value.typeName)")")
                }
            }
            var headers = (values["headers"].map { textMap($0, "'headers'") } ?? [:])
                .sorted { $0.key < $1.key }
                .map { TestHeader($0.key, $0.value) }
            let hasContentType = headers.contains { $0.name.lowercased() == "content-type" }
            var body: [UInt8] = []
            var isJSON = false
            switch (values["body"], values["json"]) {
            case let (file?, json?):
                fail(json, "a response has either 'body' (a file) or 'json' (inline), not both",
                     hint: "'body' is at \(file.location)")
                return nil
            case let (file?, nil):
                guard let relative = string(file, "'body' (a file path relative to the fixtures file)") else { return nil }
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
            return TestResponse(status: status, headers: headers, body: body)
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
