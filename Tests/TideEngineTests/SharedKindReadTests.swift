import Foundation
import Testing
import TideCatalog
import TideEngine
import TideIntegration
import TideModel
import TideReplay

/// A resync reads each kind once even when several resources need it: repositories for their own
/// resource and as the parent of two kinds, projects for their resource and as the partitions of
/// another. A resource that sets its own selector reads on its own.
@Suite struct SharedKindReadTests {
    static func integration(projectSelector: String) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("tide-shared-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent(".port/resources"), withIntermediateDirectories: true)
        try """
        name: shared
        configuration:
          - {name: host, type: url, required: true}
        http: {baseUrl: "{{ .config.host }}"}
        kinds:
          repo:
            request: {path: /repos}
            records: .values
            pagination: {type: page, size: 2}
          pull:
            parent: repo
            request: {path: "/repos/{{ .parent.id }}/pulls"}
            records: .values
          issue:
            parent: repo
            request: {path: "/repos/{{ .parent.id }}/issues"}
            records: .values
          project:
            selector:
              archived: {type: boolean, default: false}
            request: {path: /projects, query: {archived: "{{ .selector.archived }}"}}
            records: .values
          task:
            request: {path: "/projects/{{ .partition }}/tasks"}
            records: .values
            partitions: {fromKind: project, value: .id, complete: true}
        """.write(to: folder.appendingPathComponent("integration.yml"), atomically: true, encoding: .utf8)
        func resource(_ kind: String, _ selector: String = "") -> String {
            "  - kind: \(kind)\n    selector: {query: 'true'\(selector)}\n    port: {entity: {mappings: {identifier: '.id | tostring', blueprint: '\"\(kind)\"'}}}\n"
        }
        try ("resources:\n" + resource("repo") + resource("pull") + resource("issue") + resource("project", projectSelector) + resource("task"))
            .write(to: folder.appendingPathComponent(".port/resources/port-app-config.yml"), atomically: true, encoding: .utf8)
        return folder
    }

    static func server() async throws -> TestHTTPServer {
        try await TestHTTPServer.start { request in
            func values(_ ids: [Int]) -> TestResponse { .json(#"{"values": [\#(ids.map { #"{"id": \#($0)}"# }.joined(separator: ","))]}"#) }
            switch request.path {
            case "/repos":
                let page = Int(request.query.first { $0.name == "page" }?.value ?? "1") ?? 1
                return values(page == 1 ? [1, 2] : page == 2 ? [3] : [])
            case "/projects": return values([7, 8])
            default:
                let parts = request.path.split(separator: "/")
                guard parts.count == 3, let id = Int(parts[1]) else { return .json("{}", status: 404) }
                return values([id * 100 + (parts[2] == "pulls" ? 1 : parts[2] == "issues" ? 2 : 3)])
            }
        }
    }

    @Test(arguments: ["", ", archived: true"])
    func eachKindIsReadOnceForEveryResourceThatNeedsIt(projectSelector: String) async throws {
        let folder = try Self.integration(projectSelector: projectSelector)
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try await Self.server()
        let integration = try Integration.load(directory: folder.path)
        let config = try ConfigurationResolver(overrides: ["host": server.baseURL], environment: [:]).resolve(for: integration)
        let sink = CatalogSink(catalog: try Catalog(path: folder.appendingPathComponent("catalog.sqlite").path),
                               datasource: Datasource(integrationType: "shared", installationIdentifier: "test"))
        let summary = try await Resync(integration: integration, mapping: integration.defaultMapping!, configuration: config, sink: sink)
            .run(observer: Silent())
        let paths = server.requests.map(\.path)
        await server.stop()
        #expect(summary.succeeded, "\(summary.kinds.compactMap(\.failure))")
        #expect(summary.kinds.map(\.entities) == [3, 3, 3, 2, 2])
        #expect(paths.filter { $0 == "/repos" }.count == 2, "two pages (the second short) read once, not three times over")
        // The project resource with its own selector reads projects on its own.
        #expect(paths.filter { $0 == "/projects" }.count == (projectSelector.isEmpty ? 1 : 2))
        #expect(paths.filter { $0.hasSuffix("/pulls") }.count == 3 && paths.filter { $0.hasSuffix("/tasks") }.count == 2)
        #expect(try sink.catalog.entityCount() == 13)
    }
}
