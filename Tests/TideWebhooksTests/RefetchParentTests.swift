import Foundation
import Testing
import TideCatalog
import TideCore
import TideEngine
import TideHTTP
import TideIntegration
import TideModel
import TideTesting
@testable import TideWebhooks

/// A refetch of a child kind binds its parent from the payload (`parent:` on the event): one run
/// is read, not every parent listed again (a GitLab merge request under its project).
@Suite struct RefetchParentTests {
    static let integration = """
    name: lab
    configuration:
      - {name: host, type: url, required: true}
      - {name: secret, type: string, sensitive: true}
    http:
      baseUrl: "{{ .config.host }}"
      retry: {attempts: 1}
    kinds:
      project:
        request: {path: /projects}
        records: .
      mergeRequest:
        parent: project
        selector:
          iid: {type: string, description: One merge request (live events).}
        request:
          path: "/projects/{{ .parent.id }}/merge_requests"
          query:
            "iids[]": "{{ .selector.iid }}"
        records: .
    webhooks:
      - path: /webhook
        verify: {type: token, secret: "{{ .config.secret }}", header: X-Gitlab-Token}
        retry: {attempts: 1}
        events:
          - name: merge request
            match: .payload.object_kind == "merge_request"
            kinds: [mergeRequest]
            item: .payload.object_attributes
            action: refetch
            parent: '{id: .payload.project.id}'
            key: '"\\(.payload.project.id)-\\(.item.iid)"'
            refetch:
              iid: .payload.object_attributes.iid | tostring
    """

    static let mapping = """
    resources:
      - kind: mergeRequest
        selector: {query: 'true'}
        port:
          entity:
            mappings:
              identifier: '"\\(.project_id)-\\(.iid)"'
              title: .title
              blueprint: '"mergeRequest"'
    """

    @Test func aChildRefetchReadsOnlyTheParentThePayloadNames() async throws {
        // Listing the projects would be a failure here: the refetch must not need it.
        let api = try await TestHTTPServer.start { request in
            switch request.path {
            case "/projects/7/merge_requests":
                return .json(request.queryValue("iids[]") == "3" ? #"[{"iid": 3, "project_id": 7, "title": "Fix the build"}]"# : "[]")
            default:
                return TestResponse(status: 500, body: Array("not here".utf8))
            }
        }
        let secret = "lab-token-not-real"
        let served = try await ServedIntegration.start(name: "lab", integration: Self.integration, mapping: Self.mapping,
                                                       blueprint: "mergeRequest", config: ["host": api.baseURL, "secret": secret])
        let catalog = served.catalog
        defer {
            Task {
                await served.stop()
                await api.stop()
            }
        }
        let body = #"{"object_kind": "merge_request", "project": {"id": 7, "path_with_namespace": "grp/a"}, "object_attributes": {"iid": 3, "title": "stale"}}"#
        let status = try await served.post(body, headers: ["X-Gitlab-Token": secret])
        #expect(status == 202)
        try await eventually("the merge request written") { (try? catalog.entity(blueprint: "mergeRequest", identifier: "7-3")) != nil }
        #expect(try catalog.entity(blueprint: "mergeRequest", identifier: "7-3")?.title?.text.contains("Fix the build") == true)
        let paths = api.requests.map(\.path)
        #expect(paths == ["/projects/7/merge_requests"], "one run, no parent listing: \(paths)")
    }

    /// `parent` on an event that is not a refetch, or for a kind without a parent, is refused at load.
    @Test func aParentForAKindWithoutOneIsRefused() throws {
        let text = Self.integration.replacingOccurrences(of: "kinds: [mergeRequest]", with: "kinds: [project]")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tide-lab-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try text.write(toFile: directory + "/integration.yml", atomically: true, encoding: .utf8)
        do {
            _ = try Integration.load(directory: directory)
            Issue.record("loaded an event whose parent binds a kind without one")
        } catch {
            #expect(error.items.contains { $0.rule == "refetch-parent" && $0.message.contains("\"project\"") }, "\(error.items)")
        }
    }
}
