import Foundation
import TideCore
import TideEngine
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideMapping
import TideModel
import TideReplay
import TideRuntime

/// What `tide record` is asked to write, and how.
public struct RecordOptions: Sendable {
    /// Pages per pagination run; nil: the integration's `record.pages`.
    public var pages: Int?
    /// Where fixtures.yml, config.yml and the bodies go.
    public var fixturesDirectory: String
    /// The test case written.
    public var testFile: String
    /// Replace what is there.
    public var force = false
    /// `--scrub KEY`, besides the integration's rules.
    public var scrubKeys: [String] = []
    /// false: without the built-in rules, whatever `record.defaults` says.
    public var defaultScrub = true
    /// Entities listed in the case at most; past it the case lists a sample (`subset: true`), counts always.
    public var maxEntities = 100
    /// `--mapping FILE`, named by the case.
    public var mappingFile: String?

    public init(fixturesDirectory: String, testFile: String) {
        self.fixturesDirectory = fixturesDirectory
        self.testFile = testFile
    }
}

/// Why nothing was written.
public struct RecordError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
    public var description: String { message + (hint.map { "\n  hint: \($0)" } ?? "") }
}

/// What was written.
public struct RecordReport: Sendable {
    public var files: [String] = []
    public var exchanges = 0
    public var fixtures = 0
    /// Runs cut after the page limit, by kind.
    public var truncatedRuns: [String: Int] = [:]
    /// Entities per blueprint in the case (as its replay gives them).
    public var counts: [(blueprint: String, count: Int)] = []
    public var scrubbedValues = 0
    public var notes: [String] = []
}

/// `tide record`: one resync against the live API with every pagination run cut after a few
/// pages, its exchanges written as fixtures (secrets replaced by placeholders, chosen fields by
/// made-up values), and a test case holding the entities their replay gives. Everything is
/// written to a folder beside the destination first and checked there — the case replayed with
/// `tide test`'s runner, every file searched for secrets and scrubbed values — and only then
/// moved into place, so a failure leaves nothing behind.
public enum Recorder {
    public static func record(integration: Integration, mapping: PortAppConfig, configuration: ResolvedConfiguration,
                              mappingOptions: MappingOptions = MappingOptions(), options: RecordOptions,
                              log: @Sendable (String) -> Void = { _ in }) async throws(RecordError) -> RecordReport {
        let manager = FileManager.default
        let fixturesDirectory = URL(fileURLWithPath: options.fixturesDirectory).standardized
        let testFile = URL(fileURLWithPath: options.testFile).standardized
        if !options.force {
            for path in [fixturesDirectory.path, testFile.path] where manager.fileExists(atPath: path) {
                throw RecordError("\(path) exists, and tide record does not overwrite what is there",
                                  hint: "pass --force to replace it, or choose another place with --output and --test")
            }
        }
        let pages = options.pages ?? integration.record.pages
        let base = try liveBase(integration, configuration: configuration)

        // The live run: the resync `tide run --dry-run` makes, with the recording installed.
        let exchanges = ExchangeLog()
        let recording = FetchRecording(pagesPerRun: pages)
        let sink = CountingSink()
        let assembly = RunAssembly(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                                   mappingOptions: mappingOptions)
        log("recording \(integration.name) from \(base.origin)\(base.path), \(pages) page\(pages == 1 ? "" : "s") per run")
        let summary: ResyncSummary
        do {
            summary = try await HTTPClient.$exchangeRecorder.withValue(exchanges) {
                try await FetchRecording.$current.withValue(recording) {
                    try await assembly.resync(dryRun: true).run(observer: SilentObserver())
                }
            }
        } catch {
            throw RecordError(configuration.secretStore.redact("the live run failed: \(error)"), hint: "nothing was written")
        }
        let failures = summary.kinds.compactMap { progress -> String? in
            if let failure = progress.failure { return "\(progress.label): \(failure)" }
            if progress.report.errorCount > 0 { return "\(progress.label): \(progress.report.errorCount) items had mapping errors" }
            return nil
        }
        if !failures.isEmpty {
            throw RecordError(configuration.secretStore.redact("the live run failed, so nothing was written:\n  " + failures.joined(separator: "\n  ")),
                              hint: "fix what the request above says (the configuration, the credentials, the API's access) and run tide record again")
        }
        if !recording.problems.isEmpty {
            throw RecordError("the recording cannot be replayed, so nothing was written:\n  " + recording.problems.joined(separator: "\n  "),
                              hint: "raise --pages so these runs are read whole, or simplify the expressions named")
        }

        // Secrets: every one the run knows, sensitive settings by their name's placeholder.
        let redactor = configuration.secretStore.redactor
        let config = (try? JSON(parsing: configuration.json)) ?? JSON(object: [:])
        var placeholders: [(String, String)] = []
        for field in integration.configuration where field.sensitive {
            guard let value = config[field.name], !value.isNull else { continue }
            placeholders.append((value.stringValue ?? value.serialized(), "recorded-\(field.name)-placeholder"))
        }
        let named = Set(placeholders.map(\.0))
        for (index, secret) in redactor.secrets.filter({ !named.contains($0) }).enumerated() {
            placeholders.append((secret, "recorded-secret-\(index + 1)"))
        }
        let scrubber = Scrubber(settings: integration.record, extraKeys: options.scrubKeys,
                                defaults: options.defaultScrub && integration.record.defaults, redactor: redactor, placeholders: placeholders)

        var report = RecordReport()
        report.exchanges = exchanges.all.count
        report.truncatedRuns = recording.truncatedRuns
        var entries = FixtureBuilder(base: base, recording: recording, scrubber: scrubber, headerNames: pageHeaderNames(integration))
            .entries(from: exchanges.all, notes: &report.notes)
        if entries.isEmpty { throw RecordError("the live run made no request that can be replayed, so there is nothing to record") }

        // Settings for the replay: placeholders for the sensitive ones, the others scrubbed like the bodies.
        var settings: [(String, RecordedJSON)] = []
        for member in config.objectMembers where !member.value.isNull {
            let field = integration.configuration.first { $0.name == member.key }
            if field?.sensitive == true, let placeholder = placeholders.first(where: { $0.0 == (member.value.stringValue ?? member.value.serialized()) })?.1 {
                settings.append((member.key, .string(placeholder)))
                continue
            }
            let value = RecordedJSON.parse(member.value.serialized()) ?? .null
            settings.append((member.key, scrubber.scrub(value, isResponse: false)))
        }
        // Values replaced anywhere are replaced everywhere else too (the second pass needs them all).
        entries = entries.map { $0.propagated(scrubber) }
        FixtureBuilder.name(&entries, basePath: base.path)
        settings = settings.map { ($0.0, $0.1.rewritten { value, _, _ in
            if case .string(let text) = value { return .string(scrubber.propagate(text)) }
            return nil
        }) }
        report.scrubbedValues = scrubber.fakes.count

        // Written beside the destination, checked, then moved.
        let parent = fixturesDirectory.deletingLastPathComponent()
        let parentExisted = manager.fileExists(atPath: parent.path)
        let staging = parent.appendingPathComponent(".tide-record-\(UUID().uuidString)")
        var moved = false
        defer {
            try? manager.removeItem(at: staging)
            // A folder made only to hold the staging one goes with it.
            if !moved, !parentExisted, (try? manager.contentsOfDirectory(atPath: parent.path))?.isEmpty == true {
                try? manager.removeItem(at: parent)
            }
        }
        let stagedFixtures = staging.appendingPathComponent("fixtures")
        let stagedCase = staging.appendingPathComponent("case.yml")
        let mappingPath = options.mappingFile.map { URL(fileURLWithPath: $0).standardized.path }
        do {
            try manager.createDirectory(at: stagedFixtures.appendingPathComponent("bodies"), withIntermediateDirectories: true)
            try FixtureBuilder.write(entries, to: stagedFixtures, pages: pages)
            try write(settingsText(settings), to: stagedFixtures.appendingPathComponent("config.yml"))
        } catch {
            throw RecordError("cannot write into \(staging.path): \(error.localizedDescription)", hint: "check that the folder is writable")
        }

        // The first replay tells the entities, and the requests the engine made but did not need
        // (pages read ahead and cancelled): those fixtures are dropped.
        let probe = CaseText(name: "", fixtures: stagedFixtures.path + "/fixtures.yml", config: stagedFixtures.path + "/config.yml",
                             mapping: mappingPath, pages: pages, allowUnused: true)
        let first = try await replay(probe.text(entities: nil), at: stagedCase, integration: integration)
        let unmatched = first.failures.filter { $0.hasPrefix("no fixture matched") || $0.hasPrefix("kind ") || $0.hasPrefix("the resync failed") }
        if !unmatched.isEmpty {
            throw RecordError("the recorded fixtures do not replay, so nothing was written:\n" + unmatched.joined(separator: "\n"),
                              hint: "this is a bug in tide record or a pagination it cannot cut; run with a larger --pages, and report the request above")
        }
        if !first.unusedFixtures.isEmpty {
            let unused = Set(first.unusedFixtures)
            for entry in entries where unused.contains(entry.name) {
                if let file = entry.bodyFile { try? manager.removeItem(at: stagedFixtures.appendingPathComponent(file)) }
            }
            entries.removeAll { unused.contains($0.name) }
            do { try FixtureBuilder.write(entries, to: stagedFixtures, pages: pages, bodies: false) } catch {
                throw RecordError("cannot write into \(staging.path): \(error.localizedDescription)")
            }
        }

        // The case: counts always; every entity up to maxEntities, past it a sample of each blueprint.
        let entities = first.actualEntities.compactMap { RecordedJSON.parse($0) }.sorted { sortKey($0) < sortKey($1) }
        var counts: [String: Int] = [:]
        for entity in entities { if case .string(let blueprint)? = entity.value(at: [.key("blueprint")]) { counts[blueprint, default: 0] += 1 } }
        report.counts = counts.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        var listed = entities
        var subset = false
        if entities.count > options.maxEntities {
            subset = true
            let share = max(1, options.maxEntities / max(1, counts.count))
            var taken: [String: Int] = [:]
            listed = entities.filter { entity in
                guard case .string(let blueprint)? = entity.value(at: [.key("blueprint")]) else { return false }
                taken[blueprint, default: 0] += 1
                return taken[blueprint]! <= share
            }
            report.notes.append("the case lists \(listed.count) of \(entities.count) entities (subset: true; --max-entities raises it), and counts them all")
        }
        for (blueprint, live) in sink.counts where counts[blueprint] != live {
            report.notes.append("the live run mapped \(live) \(blueprint) entities and the replay of the recording \(counts[blueprint] ?? 0): scrubbed values may have merged identifiers")
        }

        // The second replay is `tide test` on the case as written: it must pass.
        var final = probe
        final.allowUnused = false
        final.counts = report.counts
        final.subset = subset
        let checked = try await replay(final.text(entities: listed), at: stagedCase, integration: integration)
        if !checked.passed {
            throw RecordError("the recorded case does not pass tide test, so nothing was written:\n" + checked.failures.joined(separator: "\n"),
                              hint: "this is a bug in tide record; report the failure above")
        }
        let caseDirectory = testFile.deletingLastPathComponent().path
        var written = final
        written.name = "recorded from the live API"
        written.fixtures = relativePath(from: caseDirectory, to: fixturesDirectory.appendingPathComponent("fixtures.yml").path)
        written.config = relativePath(from: caseDirectory, to: fixturesDirectory.appendingPathComponent("config.yml").path)
        written.mapping = mappingPath.map { relativePath(from: caseDirectory, to: $0) }
        do { try write(written.text(entities: listed), to: stagedCase) } catch {
            throw RecordError("cannot write \(stagedCase.path): \(error.localizedDescription)")
        }

        // No secret, in any form, and no scrubbed value may be in any byte written.
        let originals = Redactor(secrets: scrubber.fakes.keys.filter { $0.utf8.count >= Scrubber.propagationMinimum })
        for file in files(below: staging) {
            guard let data = manager.contents(atPath: file.path) else { continue }
            let text = String(decoding: data, as: UTF8.self)
            let name = file.path.replacingOccurrences(of: staging.path + "/", with: "")
            if redactor.containsSecret(text) {
                throw RecordError("\(name) would hold a secret in a form the recorder could not replace, so nothing was written",
                                  hint: "the API echoes a credential in a shape tide record does not know; add a record.scrub rule for that field")
            }
            if originals.containsSecret(text) {
                throw RecordError("\(name) would hold a scrubbed value in a form the recorder could not replace (encoded inside another field), so nothing was written",
                                  hint: "add a record.scrub rule (key or path) for the field that holds it")
            }
        }

        // Into place.
        do {
            if options.force {
                if manager.fileExists(atPath: fixturesDirectory.path) { try manager.removeItem(at: fixturesDirectory) }
                if manager.fileExists(atPath: testFile.path) { try manager.removeItem(at: testFile) }
            }
            try manager.createDirectory(at: fixturesDirectory.deletingLastPathComponent(), withIntermediateDirectories: true)
            try manager.createDirectory(at: testFile.deletingLastPathComponent(), withIntermediateDirectories: true)
            try manager.moveItem(at: stagedFixtures, to: fixturesDirectory)
            do { try manager.moveItem(at: stagedCase, to: testFile) } catch {
                try? manager.removeItem(at: fixturesDirectory)
                throw error
            }
        } catch {
            throw RecordError("cannot move the recording into place: \(error.localizedDescription)", hint: "nothing was left behind; check the folders are writable")
        }
        moved = true
        report.files = files(below: fixturesDirectory).map(\.path) + [testFile.path]
        report.fixtures = entries.count
        return report
    }

    // MARK: Parts

    /// The live API's base: its origin, and the path below which requests are recorded.
    static func liveBase(_ integration: Integration, configuration: ResolvedConfiguration) throws(RecordError) -> LiveBase {
        do {
            let template = try CompiledTemplate(integration.http.baseURL)
            let config = try JSON(parsing: configuration.json)
            let rendered = try template.renderString(JSON(object: ["config": config])) ?? ""
            guard let parts = URLComponents(string: rendered), let scheme = parts.scheme, let host = parts.host else {
                throw RecordError("http.baseUrl gives \"\(configuration.secretStore.redact(rendered))\", not an absolute URL")
            }
            let origin = "\(scheme.lowercased())://\(host.lowercased())" + (parts.port.map { ":\($0)" } ?? "")
            var path = parts.percentEncodedPath
            while path.hasSuffix("/") { path.removeLast() }
            return LiveBase(origin: origin, path: path)
        } catch let error as RecordError { throw error } catch {
            throw RecordError("http.baseUrl cannot be rendered: \(configuration.secretStore.redact(String(describing: error)))")
        }
    }

    /// Response headers a replay needs: the type, links, and those the kinds' pagination and rules read.
    static func pageHeaderNames(_ integration: Integration) -> Set<String> {
        var names: Set<String> = ["content-type", "link", "location"]
        var sources: [String] = []
        for kind in integration.kinds {
            sources += [kind.pagination.stop?.source].compactMap { $0 } + kind.responses.compactMap { $0.when?.source }
            switch kind.pagination.strategy {
            case .offset(_, _, _, _, _, let total), .page(_, _, _, _, _, let total): sources += [total?.source].compactMap { $0 }
            case .cursor(let cursor, _, _): sources.append(cursor.source)
            case .nextURL(let next): sources.append(next.source)
            default: break
            }
        }
        for source in sources {
            for match in source.matches(of: /\$headers\s*(?:\.|\[\s*")([A-Za-z0-9_-]+)/) { names.insert(String(match.1).lowercased()) }
        }
        return names
    }

    /// Runs `text` as a case (written at `file`) with `tide test`'s runner.
    static func replay(_ text: String, at file: URL, integration: Integration) async throws(RecordError) -> TestCaseResult {
        do { try write(text, to: file) } catch { throw RecordError("cannot write \(file.path): \(error.localizedDescription)") }
        let testCase: TestCase
        do { testCase = try TestCase.load(contentsOf: file.path) } catch {
            throw RecordError("the recorded case cannot be read back (a bug in tide record):\n\(error.description)")
        }
        return await TestRunner.run(testCase, integration: integration)
    }

    static func settingsText(_ settings: [(String, RecordedJSON)]) -> String {
        var text = "# Settings for replaying this recording (tide record); sensitive ones are placeholders.\n"
        for (name, value) in settings { text += "\(JSONText.quoted(name)): \(value.text(pretty: false))\n" }
        return text
    }

    static func sortKey(_ entity: RecordedJSON) -> String {
        func text(_ key: String) -> String {
            if case .string(let value)? = entity.value(at: [.key(key)]) { return value }
            return ""
        }
        return text("blueprint") + "\u{0}" + text("identifier")
    }

    static func write(_ text: String, to url: URL) throws {
        try Data(text.utf8).write(to: url)
    }

    static func files(below folder: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
        return walker.compactMap { $0 as? URL }.filter { (try? $0.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true }
            .sorted { $0.path < $1.path }
    }

    /// `target` relative to the folder `from` (both absolute).
    static func relativePath(from folder: String, to target: String) -> String {
        let from = URL(fileURLWithPath: folder).standardized.pathComponents
        let to = URL(fileURLWithPath: target).standardized.pathComponents
        var common = 0
        while common < from.count, common < to.count, from[common] == to[common] { common += 1 }
        let ups = Array(repeating: "..", count: from.count - common)
        return (ups + to[common...]).joined(separator: "/")
    }
}

/// The live API's address, split as a replay sees it.
struct LiveBase {
    /// `https://host[:port]`, lower-cased.
    var origin: String
    /// The base URL's path without its trailing slash (`/v2`), or empty.
    var path: String
}

/// The test case `tide record` writes (and the probes it replays first).
struct CaseText {
    var name: String
    var fixtures: String
    var config: String
    var mapping: String?
    var pages: Int
    var allowUnused: Bool
    var counts: [(blueprint: String, count: Int)] = []
    var subset = false

    func text(entities: [RecordedJSON]?) -> String {
        var lines = [
            "name: \(JSONText.quoted(name.isEmpty ? "recording probe" : name))",
            "description: \(JSONText.quoted("Written by tide record: one run against the live API, \(pages) page\(pages == 1 ? "" : "s") per pagination run, secrets and personal fields scrubbed. Record again rather than edit."))",
            "fixturesFile: \(JSONText.quoted(fixtures))",
            "configFile: \(JSONText.quoted(config))",
        ]
        if let mapping { lines.append("mapping: \(JSONText.quoted(mapping))") }
        if allowUnused { lines.append("allowUnusedFixtures: true") }
        if let entities {
            lines.append("expect:")
            lines.append("  counts: {" + counts.map { "\(JSONText.quoted($0.blueprint)): \($0.count)" }.joined(separator: ", ") + "}")
            if subset { lines.append("  subset: true") }
            lines.append("  entities:")
            for entity in entities { lines.append("    - " + entity.text(pretty: false)) }
        } else {
            // A probe: nothing expected, only the replay's entities and requests wanted.
            lines.append("expect: {subset: true}")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Every final exchange of the live run, in arrival order.
final class ExchangeLog: HTTPExchangeRecorder {
    private let exchanges = Locked<[HTTPExchange]>([])
    func exchangeFinished(_ exchange: HTTPExchange) { exchanges.withLock { $0.append(exchange) } }
    var all: [HTTPExchange] { exchanges.current }
}

/// The live run's sink: counts entities by blueprint and keeps nothing.
final class CountingSink: EntitySink {
    private let tally = Locked<[String: Int]>([:])
    var counts: [String: Int] { tally.current }

    func prepare(blueprints: [Blueprint]) async throws {}
    func upsert(_ entities: [Entity], options: WriteOptions) async throws -> [UpsertResult] {
        tally.withLock { for entity in entities { $0[entity.blueprint, default: 0] += 1 } }
        return entities.enumerated().map {
            UpsertResult(index: $0.offset, blueprint: $0.element.blueprint, identifier: $0.element.identifierString, outcome: .created)
        }
    }
    func staleEntities(resyncStart: Date) async throws -> StaleEntities { StaleEntities(keys: [], ownedBefore: 0) }
    func relationTargets(among candidates: [EntityKey], writtenSince resyncStart: Date) async throws -> Set<EntityKey> { [] }
    func delete(_ keys: [EntityKey], deleteDependents: Bool) async throws -> Int { 0 }
}

struct SilentObserver: ResyncObserver {
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) {}
}
