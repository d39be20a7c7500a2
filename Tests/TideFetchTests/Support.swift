import Foundation
import Testing
import TideCore
import TideFetch
import TideHTTP
import TideIntegration
import TideJQ
import TideTesting


/// Writes `integration.yml` into a fresh temporary directory and loads it the way `tide` does.
func loadIntegration(_ yaml: String) throws -> Integration {
    let directory = FileManager.default.temporaryDirectory
        .appendingPathComponent("tide-fetch-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try yaml.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
    return try Integration.load(directory: directory)
}

/// An integration file: a `host` setting (plus `configuration`), `http` (plus `http`) and `kinds`.
func integrationYAML(kinds: String, http: String = "", configuration: String = "") -> String {
    """
    name: test
    configuration:
      - name: host
        type: url
        required: true
    \(configuration.indented(2))
    http:
      baseUrl: "{{ .config.host }}"
      retry: {attempts: 3, maxWait: 5}
    \(http.indented(2))
    kinds:
    \(kinds.indented(2))
    """
}

extension String {
    func indented(_ spaces: Int) -> String {
        split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.isEmpty ? "" : String(repeating: " ", count: spaces) + $0 }
            .joined(separator: "\n")
    }
}

/// JSON text of a string, for configuration and selector values.
func jsonString(_ text: String) -> String { JSON(text).serialized() }

/// What a fetcher produced, as plain values.
struct Outcome {
    struct Page {
        var number: Int
        var ids: [String]
        var parent: String?
        var request: String
    }
    var pages: [Page] = []
    var error: FetchError?
    var ids: [String] { pages.flatMap(\.ids) }
}

/// Pulls every page; records are reduced to their `id` (or their JSON when they have none).
func drain(_ fetcher: any PageSource) async -> Outcome {
    var outcome = Outcome()
    do {
        while let page = try await fetcher.next() {
            outcome.pages.append(Outcome.Page(
                number: page.number,
                ids: page.records.map { record in record["id"].map { $0.stringValue ?? $0.serialized() } ?? record.serialized() },
                parent: page.parent?["key"]?.stringValue,
                request: page.request))
        }
    } catch {
        outcome.error = error
    }
    // A fetcher that has failed or finished stays finished.
    if (try? await fetcher.next()) != nil { Issue.record("next() returned a page after the end") }
    return outcome
}

/// A fixture server, a client configured from the integration and a session on them.
struct Harness {
    let server: FixtureServer
    let integration: Integration
    let client: HTTPClient
    let session: FetchSession

    static func start(_ yaml: String, fixtures: [Fixture] = [], config: [String: String] = [:]) async throws -> Harness {
        let server = try await FixtureServer.start(fixtures)
        do {
            return try await start(yaml, server: server, config: config)
        } catch {
            await server.stop()
            throw error
        }
    }

    static func start(_ yaml: String, server: FixtureServer, config: [String: String] = [:]) async throws -> Harness {
        let integration = try loadIntegration(yaml)
        var config = config
        if config["host"] == nil { config["host"] = jsonString(server.baseURL) }
        let client = HTTPClient(configuration: FetchSession.clientConfiguration(for: integration, config: config))
        do {
            let session = try FetchSession(integration: integration, config: config, client: client)
            return Harness(server: server, integration: integration, client: client, session: session)
        } catch {
            await client.shutdown()
            throw error
        }
    }

    func fetcher(_ kind: String, selector: [String: String] = [:]) throws -> KindFetcher {
        try KindFetcher(session: session, kind: kind, selector: selector)
    }

    func fetchAll(_ kind: String, selector: [String: String] = [:]) async throws -> Outcome {
        await drain(try fetcher(kind, selector: selector))
    }

    /// The source a resync reads `kind` from (its runs side by side when it has partitions or a parent).
    func resyncSource(_ kind: String, selector: [String: String] = [:]) throws -> any PageSource {
        try KindFetcher.forResync(compiled: CompiledKind(session: session, kind: kind), selector: selector)
    }

    func stop() async {
        await client.shutdown()
        await server.stop()
    }
}

/// `{"values": [{"id": …}, …], extra…}` as a JSON response.
func page(_ ids: [Int], key: String = "values", extra: String = "", headers: [TestHeader] = []) -> TestResponse {
    let records = ids.map { "{\"id\": \($0)}" }.joined(separator: ", ")
    return .json("{\"\(key)\": [\(records)]\(extra.isEmpty ? "" : ", " + extra)}", headers: headers)
}

func get(_ path: String, _ query: [String: String] = [:], headers: [String: String] = [:]) -> FixtureMatch {
    FixtureMatch(method: "GET", path: path, query: query, headers: headers)
}
