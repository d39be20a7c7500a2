import Foundation
import Testing
import TideCore
import TideTesting

/// An integration folder for a `tide record` test (`acme` in a fresh temporary folder), the
/// recording run on it, and what it wrote. The "live" API is each test's own loopback server.
struct RecordingFolder {
    let folder: URL
    var integration: URL { folder.appendingPathComponent("acme") }
    var fixtures: URL { integration.appendingPathComponent("fixtures/recorded") }

    /// `blueprints` are the blueprints the mapping names, each given `identifier` and `title`
    /// from `.id` and `.title` of the kind paired with it.
    init(integrationYAML: String, resources: [(kind: String, blueprint: String)]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-record-\(UUID().uuidString)")
        let resourcesFolder = folder.appendingPathComponent("acme/.port/resources")
        try FileManager.default.createDirectory(at: resourcesFolder, withIntermediateDirectories: true)
        try integrationYAML.write(to: integration.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        var mapping = "resources:\n"
        for resource in resources {
            mapping += """
                  - kind: \(resource.kind)
                    selector: {query: 'true'}
                    port:
                      entity:
                        mappings: {identifier: .id, title: .title, blueprint: '"\(resource.blueprint)"'}

                """
        }
        try mapping.write(to: resourcesFolder.appendingPathComponent("port-app-config.yml"), atomically: true, encoding: .utf8)
        let blueprints = "[" + Set(resources.map(\.blueprint)).sorted()
            .map { #"{"identifier": "\#($0)", "schema": {"properties": {}}}"# }.joined(separator: ", ") + "]"
        try blueprints.write(to: resourcesFolder.appendingPathComponent("blueprints.json"), atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }

    /// `tide record` with `apiUrl` set to the server's `/api/v2`.
    func record(_ server: TestHTTPServer, _ extra: [String] = [], environment: [String: String] = [:]) async throws -> TideProcess.Result {
        try await TideProcess.run(["record", integration.path, "--config", "apiUrl=\(server.baseURL)/api/v2", "--pages", "2"] + extra,
                                  environment: environment)
    }

    /// `tide test` on what was recorded.
    func replay() async throws -> TideProcess.Result {
        try await TideProcess.run(["test", integration.path])
    }

    /// `tide test` on what was recorded passes its one case, which holds `count` (`"acmeUser": 4`).
    func expectReplayPasses(counting count: String, sourceLocation: Testing.SourceLocation = #_sourceLocation) async throws {
        let test = try await replay()
        #expect(test.status == 0, "\(test.stdout)\(test.stderr)", sourceLocation: sourceLocation)
        #expect(test.lines.last == "1 of 1 case passed", "\(test.stdout)", sourceLocation: sourceLocation)
        let written = try testCase
        #expect(written.contains(count), "\(written)", sourceLocation: sourceLocation)
    }

    var fixturesIndex: String { get throws { try String(contentsOf: fixtures.appendingPathComponent("fixtures.yml"), encoding: .utf8) } }
    var testCase: String { get throws { try String(contentsOf: integration.appendingPathComponent("tests/recorded.yml"), encoding: .utf8) } }

    /// Every body file written, by name (`items-1.json`), parsed.
    func bodies() throws -> [String: Any] {
        let folder = fixtures.appendingPathComponent("bodies")
        var out: [String: Any] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            out[name] = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent(name)), options: [.fragmentsAllowed])
        }
        return out
    }

    /// Every file the recording wrote: the fixtures folder and the case.
    var writtenFiles: [URL] {
        RecordCommandTests.writtenFiles(below: fixtures) + [integration.appendingPathComponent("tests/recorded.yml")]
    }
}

/// A JSON response of the loopback API.
func jsonResponse(_ value: Any, headers: [TestHeader] = []) -> TestResponse {
    let data = try! JSONSerialization.data(withJSONObject: value, options: [.sortedKeys])
    return TestResponse(status: 200, headers: [TestHeader("Content-Type", "application/json")] + headers, body: Array(data))
}

/// The request's own origin as the client addressed it (`http://127.0.0.1:PORT`).
func origin(of request: RecordedRequest) -> String {
    "http://127.0.0.1:\(request.header("Host")?.split(separator: ":").last ?? "")"
}
