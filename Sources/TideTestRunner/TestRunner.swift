import Foundation
import TideCatalog
import TideCore
import TideEngine
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping
import TideModel
import TideReplay
import TideRuntime
import TideWebhooks

/// How one case went.
public struct TestCaseResult: Sendable {
    public enum Status: String, Sendable {
        case passed, failed
        /// The case file (or what it names) could not be read: no resync ran.
        case invalid
    }

    public var name: String
    public var file: String
    public var status: Status
    /// Why it failed, each a readable paragraph (diffs and requests included).
    public var failures: [String]
    /// Things worth knowing that do not fail the case (unchecked webhook expectations).
    public var notes: [String]
    /// Per resource: `kind[index]: pages, records, entities`.
    public var kinds: [String]
    public var entityCount: Int
    public var requestCount: Int
    /// Webhook events sent.
    public var eventCount: Int = 0
    public var elapsed: Duration
    /// The entities the catalog held at the end, each as JSON text in the shape `expect.entities`
    /// compares (what `tide record` writes into the case it makes).
    public var actualEntities: [String] = []
    /// Fixtures no request used, by name, whether or not the case allows them.
    public var unusedFixtures: [String] = []

    public var passed: Bool { status == .passed }
}

/// The cases of one integration directory.
public struct IntegrationTestReport: Sendable {
    public var directory: String
    /// Set when the integration itself could not be loaded, or has no cases.
    public var error: String?
    public var cases: [TestCaseResult]
    /// Webhook event matchers that no case's event reaches (only when every case ran), each as
    /// `file:line:col: webhook /path, event "name"`.
    public var untestedWebhookEvents: [String] = []

    public var passed: Bool { error == nil && cases.allSatisfy(\.passed) }
    public var isUsable: Bool { error == nil && !cases.contains { $0.status == .invalid } }
}

/// Runs `tide test` cases: each a real resync (the engine `tide run` uses) into a temporary
/// catalog, against a loopback fixture server standing in for the API.
public enum TestRunner {
    /// Every case in `DIR/tests`, or the given case files, in order. With `postgreSQL`, each
    /// case's temporary catalog is a schema of its own in that database, dropped afterwards,
    /// instead of a scratch SQLite file.
    public static func run(directory: String, caseFiles: [String]? = nil,
                           postgreSQL: PostgreSQLURL? = nil) async -> IntegrationTestReport {
        let files = caseFiles ?? TestCase.files(in: directory)
        guard !files.isEmpty else {
            return IntegrationTestReport(directory: directory,
                                         error: "\(directory) has no test cases (tests/*.yml); see docs/authoring-guide.md",
                                         cases: [])
        }
        let integration: Integration
        do { integration = try Integration.load(directory: directory) } catch {
            return IntegrationTestReport(directory: directory, error: error.description, cases: [])
        }
        var results: [TestCaseResult] = []
        var loaded: [TestCase] = []
        for file in files {
            let testCase: TestCase
            do { testCase = try TestCase.load(contentsOf: file) } catch {
                results.append(TestCaseResult(name: URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent,
                                              file: file, status: .invalid, failures: [error.description], notes: [],
                                              kinds: [], entityCount: 0, requestCount: 0, elapsed: .zero))
                continue
            }
            results.append(await run(testCase, integration: integration, postgreSQL: postgreSQL))
            loaded.append(testCase)
        }
        var report = IntegrationTestReport(directory: directory, error: nil, cases: results)
        if caseFiles == nil { report.untestedWebhookEvents = untestedWebhookEvents(integration, cases: loaded) }
        return report
    }

    /// For an integration directory: how many webhook event matchers it declares, and those no
    /// case reaches. Cases that cannot be read are left out.
    public static func webhookCoverage(directory: String) throws(Diagnostics) -> (matchers: Int, untested: [String]) {
        let integration = try Integration.load(directory: directory)
        let cases = TestCase.files(in: directory).compactMap { try? TestCase.load(contentsOf: $0) }
        return (integration.webhooks.reduce(0) { $0 + $1.events.count }, untestedWebhookEvents(integration, cases: cases))
    }

    /// The event matchers of `integration`'s webhooks that no accepted event of `cases` matches.
    public static func untestedWebhookEvents(_ integration: Integration, cases: [TestCase]) -> [String] {
        var untested: [String] = []
        for webhook in integration.webhooks {
            let sent: [JSON] = cases.flatMap { testCase in
                testCase.webhooks.filter { expectation in
                    (expectation.path ?? (integration.webhooks.count == 1 ? webhook.path : nil)) == webhook.path
                        && (200..<300).contains(expectation.status)
                }.compactMap { expectation -> JSON? in
                    guard let payload = try? expectation.body.withUnsafeBufferPointer({ pointer throws(JSONParseError) in try JSON(parsing: pointer) })
                    else { return nil }
                    let headers = expectation.headers.map { ($0.name.lowercased(), JSON($0.value)) }
                    return JSON(object: ["payload": payload, "headers": JSON(orderedObject: headers)])
                }
            }
            for event in webhook.events {
                // A matcher that does not compile or raises matches nothing, as in the server.
                let program = try? JQProgram(event.match.source)
                let reached = sent.contains { input in (try? program?.first(input))??.isTruthyInPython == true }
                if !reached {
                    let place = event.location.map { "\($0): " } ?? ""
                    untested.append("\(place)webhook \(webhook.path), event \"\(event.name)\"")
                }
            }
        }
        return untested
    }

    /// One case against a loaded integration.
    public static func run(_ testCase: TestCase, integration original: Integration,
                           postgreSQL: PostgreSQLURL? = nil) async -> TestCaseResult {
        let clock = ContinuousClock()
        let started = clock.now
        var result = TestCaseResult(name: testCase.name, file: testCase.file, status: .passed, failures: [], notes: [],
                                    kinds: [], entityCount: 0, requestCount: 0, elapsed: .zero)
        func invalid(_ message: String) -> TestCaseResult {
            result.status = .invalid
            result.failures.append(message)
            result.elapsed = clock.now - started
            return result
        }

        // The mapping: the case's, the integration's, then narrowed and overridden.
        guard var mapping = testCase.mapping ?? original.defaultMapping else {
            return invalid("the integration has no .port/resources/port-app-config.yml and the case gives no mapping")
        }
        let kindNames = Set(original.kinds.map(\.name))
        if let kinds = testCase.kinds {
            for kind in kinds where !kindNames.contains(kind) {
                return invalid("kinds: \(original.name) has no kind \"\(kind)\"")
            }
            mapping.resources = mapping.resources.filter { kinds.contains($0.kind) }
        }
        for (kind, fields) in testCase.selectors {
            guard let definition = original.kind(kind) else { return invalid("selectors: \(original.name) has no kind \"\(kind)\"") }
            for field in fields where !definition.selector.contains(where: { $0.name == field.name }) {
                return invalid("selectors.\(kind): kind \"\(kind)\" has no selector field \"\(field.name)\"")
            }
            for index in mapping.resources.indices where mapping.resources[index].kind == kind {
                for field in fields {
                    var selector = mapping.resources[index].selector
                    selector.fields.removeAll { $0.name == field.name }
                    selector.fields.append((name: field.name, json: field.json, location: nil))
                    mapping.resources[index].selector = selector
                }
            }
        }
        if mapping.resources.isEmpty { return invalid("the mapping has no resources to resync") }
        var webhookPaths: [String] = []
        for expectation in testCase.webhooks {
            let declared = original.webhooks.map(\.path)
            let place = "\(expectation.location): \(expectation.name)"
            guard let path = expectation.path ?? (declared.count == 1 ? declared[0] : nil) else {
                return invalid(declared.isEmpty ? "\(place): \(original.name) declares no webhooks"
                               : "\(place): event.path is needed, as \(original.name) has several webhooks (\(declared.joined(separator: ", ")))")
            }
            guard declared.contains(path) else {
                return invalid("\(place): event.path \(path) is not a webhook of \(original.name) (its webhooks: \(declared.joined(separator: ", ")))")
            }
            webhookPaths.append(path)
        }

        // Configuration, as `tide run --replay` reads it, without the caller's environment.
        let defaultConfig = (original.directory as NSString).appendingPathComponent("fixtures/config.yml")
        let configFile = testCase.configFile ?? (FileManager.default.fileExists(atPath: defaultConfig) ? defaultConfig : nil)
        let configuration: ResolvedConfiguration
        do {
            configuration = try ConfigurationResolver(overrides: testCase.config, environment: [:], file: configFile)
                .resolve(for: original)
        } catch { return invalid(error.description) }

        let server: FixtureServer
        do { server = try await FixtureServer.start(testCase.fixtures) } catch {
            return invalid("cannot start the fixture server: \(error)")
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("tide-test-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: scratch) }
        var scratchSchema: Catalog?
        defer { try? scratchSchema?.dropSchema() }

        // Every request the integration makes goes to the fixture server, paths kept.
        var integration = original.replayed(at: server.baseURL, configJSON: configuration.json)
        let observer = CollectingObserver()
        var summary: ResyncSummary?
        let catalog: Catalog
        let sink: CatalogSink
        do {
            if let postgreSQL {
                let schema = "tide_test_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")
                catalog = try Catalog(postgreSQL: postgreSQL, schema: schema)
                scratchSchema = catalog
            } else {
                try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
                catalog = try Catalog(path: scratch.appendingPathComponent("catalog.sqlite").path)
            }
            let datasource = Datasource(integrationType: integration.name, integrationVersion: integration.version,
                                        installationIdentifier: "tide-test")
            sink = CatalogSink(catalog: catalog, datasource: datasource)
            if testCase.resync {
                // The same assembly `tide run` executes, into a scratch catalog.
                var assembly = RunAssembly(integration: integration, mapping: mapping, configuration: configuration, sink: sink)
                assembly.cursors = sink
                var resync = assembly.resync()
                if let incremental = testCase.incremental {
                    // The cursors as an earlier pass would have left them, under each resource's selector.
                    for seeded in incremental.cursors {
                        guard let index = mapping.resources.firstIndex(where: { "\($0.kind)[\($0.index)]" == seeded.resource }) else {
                            throw TestCaseFailure(message: "incremental.cursors names \(seeded.resource), which is no resource of the mapping (\(mapping.resources.map { "\($0.kind)[\($0.index)]" }.joined(separator: ", ")))")
                        }
                        for (key, start) in seeded.runs {
                            try await sink.saveCursors(resource: seeded.resource, selector: mapping.resources[index].cursorSelector,
                                                       runs: [key], start: start)
                        }
                    }
                    resync.mode = .incremental
                    resync.cursorTime = incremental.at
                }
                summary = try await resync.run(observer: observer)
            } else {
                try await sink.prepare(blueprints: integration.blueprints)
            }
        } catch {
            await server.stop()
            result.status = .failed
            result.failures.append(configuration.secretStore.redact("the resync failed: \(error)"))
            result.elapsed = clock.now - started
            return result
        }

        // Webhook events, through the real server, after the resync.
        var eventFailures: [String] = []
        if !testCase.webhooks.isEmpty {
            let outcome = await WebhookDriver.run(testCase, paths: webhookPaths, integration: integration, mapping: mapping,
                                                  configuration: configuration, catalog: catalog, sink: sink)
            eventFailures = outcome.failures
            result.eventCount = outcome.sent
        }

        let unmatched = server.unmatchedRequests
        // Said while the fixtures are at hand: which one came nearest to each, and why not.
        let nearest = unmatched.map { request -> String in
            guard let (fixture, reasons) = server.nearest(to: request) else { return "" }
            let place = testCase.fixtureLocations[fixture.name].map { "\($0): " } ?? ""
            return "\n    nearest fixture: \(place)\(fixture.name): " + reasons.joined(separator: "; ")
        }
        let unused = server.unusedFixtures
        result.unusedFixtures = unused.map(\.name)
        // A pagination that loops was fed by a fixture that answered more than once: name it.
        let repeatedAnswers = server.callCounts.filter { $0.value > 1 }.sorted { $0.key < $1.key }.map { name, count in
            "\(testCase.fixtureLocations[name].map { "\($0): " } ?? "")\(name) answered \(count) requests"
        }
        result.requestCount = server.requests.count
        await server.stop()

        result.kinds = (summary?.kinds ?? []).map { "\($0.label): \($0.pages) pages, \($0.records) records, \($0.entities) entities" }
        var failures: [String] = []

        // Requests: every one answered by a fixture, every fixture used.
        if !unmatched.isEmpty {
            failures.append("no fixture matched \(unmatched.count == 1 ? "this request" : "these \(unmatched.count) requests"):\n"
                + zip(unmatched, nearest).map { "  " + describe($0) + configuration.secretStore.redact($1) }.joined(separator: "\n"))
        }
        if !unused.isEmpty, !testCase.allowUnusedFixtures {
            failures.append("\(unused.count == 1 ? "this fixture was" : "these \(unused.count) fixtures were") never requested:\n"
                + unused.map { fixture in
                    let place = testCase.fixtureLocations[fixture.name].map { "\($0): " } ?? ""
                    return "  \(place)\(fixture.name) (\(fixture.match))"
                }.joined(separator: "\n"))
        }

        // Kind failures and item errors, against expect.errors.
        var problems: [(kind: String, message: String)] = []
        for (progress, resource) in zip(summary?.kinds ?? [], mapping.resources) {
            if var failure = progress.failure {
                if failure.contains("pagination would loop"), !repeatedAnswers.isEmpty {
                    failure += " (fixtures that answered more than once: " + repeatedAnswers.joined(separator: "; ")
                        + "; the next page's cursor or link in their response points back at a page already read)"
                }
                problems.append((resource.kind, failure))
            }
            if progress.report.errorCount > 0 {
                let reasons = progress.report.errors.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value))" }
                problems.append((resource.kind, "\(progress.report.errorCount) items had mapping errors: \(reasons.joined(separator: "; "))"))
            }
            if progress.writeFailures > 0 {
                problems.append((resource.kind, "\(progress.writeFailures) entities were not written"))
            }
        }
        var explained = Array(repeating: false, count: problems.count)
        for expected in testCase.expectedErrors {
            let found = problems.indices.first { index in
                problems[index].kind == expected.kind && (expected.message.map { problems[index].message.contains($0) } ?? true)
            }
            if let found {
                explained[found] = true
            } else {
                let text = expected.message.map { " with \"\($0)\"" } ?? ""
                let actual = problems.filter { $0.kind == expected.kind }.map { "\n  it failed with: \($0.message)" }.joined()
                failures.append("expected kind \"\(expected.kind)\" to fail\(text)\(actual.isEmpty ? ", but it did not fail" : actual)")
            }
        }
        for (index, problem) in problems.enumerated() where !explained[index] {
            failures.append("kind \"\(problem.kind)\" failed: \(problem.message)")
        }
        for note in observer.notes { result.notes.append(note) }
        failures += eventFailures

        // Entities.
        do {
            let stored = try catalog.entities()
            result.entityCount = stored.count
            result.actualEntities = stored.map { EntityComparison.json($0).serialized() }
            if let expected = testCase.expectedEntities,
               let diff = EntityComparison.diff(expected: expected.compactMap { try? JSON(parsing: $0) }, actual: stored, subset: testCase.subset) {
                let what = testCase.subset ? "the listed entities differ" : "the entities differ"
                failures.append("\(what) (- expected, + actual):\n\(diff)")
            }
            var counts: [String: Int] = [:]
            for entity in stored { counts[entity.blueprint, default: 0] += 1 }
            for (blueprint, count) in testCase.expectedCounts where counts[blueprint, default: 0] != count {
                failures.append("expected \(count) \(blueprint) entities, found \(counts[blueprint, default: 0])")
            }
        } catch {
            failures.append("cannot read the catalog: \(error)")
        }

        result.failures = failures.map(configuration.secretStore.redact)
        result.status = failures.isEmpty ? .passed : .failed
        result.elapsed = clock.now - started
        return result
    }

    /// `GET /path?a=1&b=2` and the body, as the server received them.
    static func describe(_ request: RecordedRequest) -> String {
        var text = "\(request.method) \(request.path)"
        if !request.query.isEmpty {
            text += "?" + request.query.map { item in item.value.map { "\(item.name)=\($0)" } ?? item.name }.joined(separator: "&")
        }
        if !request.body.isEmpty { text += "\n    body: \(request.bodyText)" }
        return text
    }
}

/// Keeps the engine's notes (entities the sink refused) for the report; progress is not shown.
final class CollectingObserver: ResyncObserver {
    private let collected = Locked<[String]>([])
    var notes: [String] { collected.current }
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) { collected.withLock { $0.append(message) } }
}

/// A case that asks for something its mapping cannot give (a cursor for a resource it lacks).
struct TestCaseFailure: Error, CustomStringConvertible {
    var message: String
    var description: String { message }
}
