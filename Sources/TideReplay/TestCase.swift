import Foundation
import TideCore
import TideJQ
import TideMapping
import TideModel
import TideSpec
import TideYAML

/// One `tests/*.yml` file, read and checked against `TestCaseSpec` (docs/reference.md).
public struct TestCase: Sendable {
    public struct ExpectedError: Sendable {
        public var kind: String
        public var message: String?
    }

    /// One `expect.webhooks` entry: a request for the webhook server and its expected effects.
    public struct WebhookExpectation: Sendable {
        public var name: String
        /// Where the entry is written, for reports.
        public var location: SourceLocation
        /// nil: the integration's only webhook.
        public var path: String?
        public var headers: [(name: String, value: String)]
        public var query: [(name: String, value: String)]
        public var body: [UInt8]
        public var signed: Bool
        public var status: Int
        /// JSON text of each expected entity.
        public var upserts: [String]
        public var deletes: [EntityKey]
        /// nil: the case's `expect.subset`.
        public var subset: Bool?
        public var error: String?
    }

    public var file: String
    public var name: String
    public var description: String?
    /// Configuration values as text, as `--config name=value` gives them.
    public var config: [String: String]
    public var configFile: String?
    /// nil: the integration's default mapping.
    public var mapping: PortAppConfig?
    public var kinds: [String]?
    /// Selector fields to set, by kind: (name, JSON text).
    public var selectors: [(kind: String, fields: [(name: String, json: String)])]
    /// Inline entries first: they are consulted before the fixtures file's.
    public var fixtures: [Fixture]
    /// Where each fixture was written, by fixture name, for "never requested" reports.
    public var fixtureLocations: [String: SourceLocation]
    public var allowUnusedFixtures: Bool
    /// nil: entities are not checked. JSON text (libjq values are not Sendable).
    public var expectedEntities: [String]?
    public var subset: Bool
    public var expectedCounts: [(blueprint: String, count: Int)]
    public var expectedErrors: [ExpectedError]
    /// false: no resync; the catalog starts empty.
    public var resync: Bool
    /// `incremental:`: the resync is an incremental pass starting at `at`, from these cursors.
    public var incremental: Incremental?

    public struct Incremental: Sendable {
        public var at: Date
        /// By resource (`kind[index]`), by run key (JSON text), the last pass's start.
        public var cursors: [(resource: String, runs: [(key: String, start: Date)])]
    }
    public var webhooks: [WebhookExpectation]

    /// Reads and validates a case; every problem is reported at once with its position. A shared
    /// fixtures file is read through `fixtureFiles` when given.
    public static func load(contentsOf path: String, fixtureFiles: FixtureFileCache? = nil) throws(Diagnostics) -> TestCase {
        let root: YAMLNode
        do { root = try YAML.parse(contentsOf: path) } catch { throw Diagnostics([error]) }
        let diagnostics = SpecValidator.validate(root, against: TestCaseSpec.root)
        if diagnostics.contains(where: { $0.severity == .error }) { throw Diagnostics(diagnostics) }
        return try TestCase(root: root, file: path, fixtureFiles: fixtureFiles)
    }

    init(root: YAMLNode, file: String, fixtureFiles: FixtureFileCache? = nil) throws(Diagnostics) {
        let folder = URL(fileURLWithPath: file).deletingLastPathComponent().path
        func relative(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: folder).appendingPathComponent(path).standardized.path
        }
        let reader = SpecReader(root, TestCaseSpec.root)
        var diagnostics: [Diagnostic] = []
        self.file = file
        name = reader.string("name") ?? URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        description = reader.string("description")

        config = [:]
        for pair in root["config"]?.pairs ?? [] {
            guard let key = pair.key.scalar?.text else { continue }
            // Scalars as written (typed by the setting's declared type); objects and arrays as JSON.
            config[key] = pair.value.scalar?.text ?? pair.value.jsonText()
        }
        configFile = reader.string("configFile").map(relative)
        if let path = configFile, !FileManager.default.fileExists(atPath: path) {
            diagnostics.append(Diagnostic(at: root["configFile"]?.location, "configFile \(path) does not exist", rule: "test-case"))
        }

        mapping = nil
        if let node = root["mapping"] {
            do {
                if let path = node.string, node.pairs == nil {
                    mapping = try PortAppConfig.load(contentsOf: relative(path))
                } else {
                    mapping = try PortAppConfig(node: node)
                }
            } catch { diagnostics += error.items.filter { $0.severity == .error } }
        }
        kinds = root["kinds"]?.items?.compactMap(\.string)
        selectors = (root["selectors"]?.pairs ?? []).map { pair in
            (kind: pair.key.scalar?.text ?? "",
             fields: (pair.value.pairs ?? []).map { (name: $0.key.scalar?.text ?? "", json: $0.value.jsonText()) })
        }

        fixtures = []
        fixtureLocations = [:]
        if let node = root["fixtures"] {
            do {
                let inline = try FixtureFile(node: node, path: file, directory: folder)
                fixtures += inline.fixtures
                for fixture in inline.fixtures { fixtureLocations[fixture.name] = inline.location(of: fixture.name) }
            } catch { diagnostics += error.items }
        }
        if let path = reader.string("fixturesFile").map(relative) {
            do {
                let shared = try FixtureFile.load(contentsOf: path, cache: fixtureFiles)
                // Inline names may repeat the file's; the reports keep them apart by location.
                fixtures += shared.fixtures
                for fixture in shared.fixtures where fixtureLocations[fixture.name] == nil {
                    fixtureLocations[fixture.name] = shared.location(of: fixture.name)
                }
            } catch { diagnostics += error.items }
        }
        allowUnusedFixtures = reader.bool(specified: "allowUnusedFixtures")

        let expect = root["expect"]
        expectedEntities = expect?["entities"]?.items?.map { $0.jsonText() }
        subset = expect?["subset"]?.value == .bool(true)
        expectedCounts = (expect?["counts"]?.pairs ?? []).compactMap { pair in
            guard let blueprint = pair.key.scalar?.text, case .int(let count)? = pair.value.value else { return nil }
            return (blueprint, count)
        }
        expectedErrors = (expect?["errors"]?.items ?? []).map {
            ExpectedError(kind: $0["kind"]?.string ?? "", message: $0["message"]?.string)
        }
        resync = reader.bool(specified: "resync")
        incremental = nil
        if let node = root["incremental"] {
            func time(_ node: YAMLNode?) -> Date? {
                guard let text = node?.string else { return nil }
                let formatter = ISO8601DateFormatter()
                if let date = formatter.date(from: text) { return date }
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                if let date = formatter.date(from: text) { return date }
                diagnostics.append(Diagnostic(at: node?.location, "\"\(text)\" is not an ISO 8601 date-time", rule: "test-case",
                                              hint: "write it as 2026-12-06T12:00:00Z"))
                return nil
            }
            let at = time(node["at"]) ?? Date(timeIntervalSince1970: 0)
            let cursors = (node["cursors"]?.pairs ?? []).map { resource in
                (resource: resource.key.scalar?.text ?? "",
                 runs: (resource.value.pairs ?? []).compactMap { run in
                     time(run.value).map { (key: run.key.jsonText(), start: $0) }
                 })
            }
            incremental = Incremental(at: at, cursors: cursors)
        }
        webhooks = []
        for (index, item) in (expect?["webhooks"]?.items ?? []).enumerated() {
            let event = item["event"]
            func strings(_ node: YAMLNode?) -> [(name: String, value: String)] {
                (node?.pairs ?? []).map { (name: $0.key.scalar?.text ?? "", value: $0.value.scalar?.text ?? $0.value.jsonText()) }
            }
            var body: [UInt8] = []
            if let node = event?["bodyFile"], let name = node.string {
                if event?["body"] != nil {
                    diagnostics.append(Diagnostic(at: node.location, "an event has body or bodyFile, not both", rule: "test-case"))
                }
                let path = relative(name)
                if let data = FileManager.default.contents(atPath: path) {
                    body = Array(data)
                } else {
                    diagnostics.append(Diagnostic(at: node.location, "bodyFile \(path) cannot be read", rule: "test-case",
                                                  hint: "the path is relative to the case file"))
                }
            } else if let node = event?["body"] {
                body = Array(node.jsonText().utf8)
            }
            var subset: Bool?
            if case .bool(let value)? = item["subset"]?.value { subset = value }
            var status = 202
            if case .int(let value)? = item["status"]?.value { status = value }
            webhooks.append(WebhookExpectation(
                name: item["name"]?.string ?? "event \(index + 1)",
                location: item.location,
                path: event?["path"]?.string,
                headers: strings(event?["headers"]),
                query: strings(event?["query"]),
                body: body,
                signed: event?["signed"]?.value != .bool(false),
                status: status,
                upserts: (item["upserts"]?.items ?? []).map { $0.jsonText() },
                deletes: (item["deletes"]?.items ?? []).map {
                    EntityKey(blueprint: $0["blueprint"]?.string ?? "", identifier: $0["identifier"]?.string ?? "")
                },
                subset: subset,
                error: item["error"]?.string))
        }

        if !diagnostics.isEmpty { throw Diagnostics(diagnostics) }
    }

    /// The case files of an integration directory (`DIR/tests/*.yml`, `*.yaml`), sorted.
    public static func files(in directory: String) -> [String] {
        let tests = URL(fileURLWithPath: directory).appendingPathComponent("tests")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: tests.path)) ?? []
        return names.filter { $0.hasSuffix(".yml") || $0.hasSuffix(".yaml") }.sorted()
            .map { tests.appendingPathComponent($0).path }
    }
}
