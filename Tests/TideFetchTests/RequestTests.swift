import Foundation
import Testing
@testable import TideFetch
import TideHTTP
import TideJQ
import TideTesting

@Suite struct RequestTests {
    static let kinds = """
    item:
      selector:
        expand: {type: string}
        fields: {type: string, default: "id,name"}
        limit: {type: integer, default: 10}
      request:
        method: POST
        path: items/
        query:
          expand: "{{ .selector.expand }}"
          fields: "{{ .selector.fields }}"
          max: "{{ .selector.limit }}"
          flag: "{{ .selector.limit > 5 }}"
        headers:
          X-Expand: "{{ .selector.expand }}"
        body:
          expand: "{{ .selector.expand }}"
          fields: "{{ .selector.fields | split(\\",\\") }}"
          nested: {limit: "{{ .selector.limit }}", text: "n={{ .selector.limit }}", none: "{{ null }}"}
          list: [1, "{{ null }}", true]
      records: .values
    """

    @Test func nullTemplatesDropQueryParametersHeadersAndBodyKeys() async throws {
        let harness = try await Harness.start(integrationYAML(kinds: Self.kinds), fixtures: [
            Fixture(match: FixtureMatch(method: "POST", path: "/items/"), response: page([1])),
        ])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        let request = try #require(harness.server.requests.first)
        #expect(request.uri == "/items/?fields=id%2Cname&max=10&flag=true")
        #expect(request.header("X-Expand") == nil)
        #expect(request.bodyText == #"{"fields":["id","name"],"nested":{"limit":10,"text":"n=10"},"list":[1,null,true]}"#)
        await harness.stop()
    }

    @Test func theSelectorOverridesDefaults() async throws {
        let harness = try await Harness.start(integrationYAML(kinds: Self.kinds), fixtures: [
            Fixture(match: FixtureMatch(method: "POST", path: "/items/"), response: page([1])),
        ])
        let outcome = try await harness.fetchAll("item", selector: [
            "expand": jsonString("names & more"), "limit": "3", "query": jsonString("true"),
        ])
        #expect(outcome.error == nil)
        let request = try #require(harness.server.requests.first)
        #expect(request.uri == "/items/?expand=names%20%26%20more&fields=id%2Cname&max=3&flag=false")
        #expect(request.header("X-Expand") == "names & more")
        #expect(request.bodyText.hasPrefix(#"{"expand":"names & more","fields":["id","name"],"nested":{"limit":3,"#))
        await harness.stop()
    }

    @Test func parentFanOutBindsTheParentRecord() async throws {
        let kinds = """
        project:
          request: {path: /projects}
          records: .values
          pagination: {type: offset, offsetParam: startAt, limitParam: maxResults, limit: 2}
        release:
          parent: project
          request: {path: "/project/{{ .parent.key }}/version"}
          records: .
          pagination: {type: page, size: 2}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/projects", ["startAt": "0"]), response: .json(#"{"values": [{"id": 1, "key": "A"}, {"id": 2, "key": "B C"}]}"#)),
            Fixture(match: get("/projects", ["startAt": "2"]), response: .json(#"{"values": [{"id": 3, "key": "D"}]}"#)),
            Fixture(match: get("/project/A/version", ["page": "1"]), response: .json(#"[{"id": "a1"}, {"id": "a2"}]"#)),
            Fixture(match: get("/project/A/version", ["page": "2"]), response: .json(#"[{"id": "a3"}]"#)),
            Fixture(match: get("/project/B C/version"), response: .json("[]")),
            Fixture(match: get("/project/D/version"), response: .json(#"[{"id": "d1"}]"#)),
        ])
        let outcome = try await harness.fetchAll("release")
        #expect(outcome.error == nil)
        #expect(outcome.pages.map(\.ids) == [["a1", "a2"], ["a3"], [], ["d1"]])
        #expect(outcome.pages.map(\.parent) == ["A", "A", "B C", "D"])
        #expect(outcome.pages.map(\.number) == [1, 2, 1, 1])
        #expect(harness.server.requests.map(\.uri) == [
            "/projects?startAt=0&maxResults=2",
            "/project/A/version?page=1&size=2", "/project/A/version?page=2&size=2",
            "/project/B%20C/version?page=1&size=2",
            "/projects?startAt=2&maxResults=2",
            "/project/D/version?page=1&size=2",
        ])
        #expect(harness.server.unmatchedRequests.isEmpty)
        await harness.stop()
    }

    @Test func recordsSeeTheParentRecordAsDollarParent() async throws {
        let kinds = """
        project:
          request: {path: /projects}
          records: .values
        release:
          parent: project
          request: {path: "/project/{{ .parent.key }}/version"}
          records: '.values | map({id: "\\(.id)@\\($parent.key)"})'
        item:
          request: {path: /items}
          records: '[{id: ($parent | tostring)}]'
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/projects"), response: .json(#"{"values": [{"id": 1, "key": "A"}, {"id": 2, "key": "B"}]}"#)),
            Fixture(match: get("/project/A/version"), response: .json(#"{"values": [{"id": "a1"}, {"id": "a2"}]}"#)),
            Fixture(match: get("/project/B/version"), response: .json(#"{"values": [{"id": "b1"}]}"#)),
            Fixture(match: get("/items"), response: .json("{}")),
        ])
        let releases = try await harness.fetchAll("release")
        #expect(releases.error == nil)
        #expect(releases.pages.map(\.ids) == [["a1@A", "a2@A"], ["b1@B"]])
        // A kind without a parent sees null.
        let items = try await harness.fetchAll("item")
        #expect(items.ids == ["null"])
        #expect(harness.server.unmatchedRequests.isEmpty)
        await harness.stop()
    }

    @Test func aParentFailureNamesBothKinds() async throws {
        let kinds = """
        project:
          request: {path: /projects}
          records: .values
        release:
          parent: project
          request: {path: "/project/{{ .parent.key }}/version"}
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds), fixtures: [
            Fixture(match: get("/projects"), response: .json("{}", status: 404)),
        ])
        let outcome = try await harness.fetchAll("release")
        let error = try #require(outcome.error)
        #expect(error.kind == "project")
        #expect(error.whileFetchingParentsOf == "release")
        #expect(error.description.hasPrefix(#"kind "project" (parent of "release"), page 1"#))
        await harness.stop()
    }

    @Test func anAbsoluteURLTemplateIsUsedInsteadOfBaseURL() async throws {
        let server = try await FixtureServer.start([Fixture(match: get("/other/x"), response: page([1]))])
        let kinds = """
        item:
          request: {url: "{{ .config.other }}/other/x"}
          records: .values
        """
        let settings = """
        - name: other
          type: url
        """
        let harness = try await Harness.start(integrationYAML(kinds: kinds, configuration: settings), server: server,
                                              config: ["host": jsonString(server.baseURL + "/unused"), "other": jsonString(server.baseURL)])
        let outcome = try await harness.fetchAll("item")
        #expect(outcome.error == nil)
        #expect(outcome.ids == ["1"])
        await harness.stop()
    }
}

@Suite struct URLTextTests {
    @Test func joinsWithoutDoublingSlashes() {
        #expect(URLText.join("https://x.io/", "/a") == "https://x.io/a")
        #expect(URLText.join("https://x.io/api", "a/b") == "https://x.io/api/a/b")
        #expect(URLText.join("https://x.io", "") == "https://x.io")
        #expect(URLText.join("https://x.io/api/", "?q=1") == "https://x.io/api?q=1")
    }

    @Test func resolvesReferencesAsRFC3986Says() {
        let base = "http://a/b/c/d;p?q"
        for (reference, expected) in [
            ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"), ("/g", "http://a/g"),
            ("//g", "http://g"), ("?y", "http://a/b/c/d;p?y"), ("g?y", "http://a/b/c/g?y"), ("#s", "http://a/b/c/d;p?q#s"),
            ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"), ("..", "http://a/b/"), ("../g", "http://a/b/g"),
            ("../../g", "http://a/g"), ("../../../g", "http://a/g"), ("/./g", "http://a/g"), ("g;x=1/../y", "http://a/b/c/y"),
            ("https://other/x?y=1", "https://other/x?y=1"),
        ] {
            #expect(URLText.resolve(reference, against: base) == expected, "\(reference)")
        }
    }

    @Test func normalizesWithoutDoubleEncoding() {
        #expect(URLText.normalize("https://x.io/a b/é?q=1") == "https://x.io/a%20b/%C3%A9?q=1")
        #expect(URLText.normalize("https://x.io/a%2Fb/100%") == "https://x.io/a%2Fb/100%25")
        #expect(URLText.encodeComponent("a b&c=d/é+") == "a%20b%26c%3Dd%2F%C3%A9%2B")
    }

    @Test func originsCompareSchemeHostAndPort() {
        #expect(URLText.origin("https://API.x.io/a") == URLText.origin("https://api.x.io:443/b?c"))
        #expect(URLText.origin("https://api.x.io/a") != URLText.origin("https://evil.io/a"))
        #expect(URLText.origin("http://u:p@h:8080/x") == "http://h:8080")
    }

    @Test func parsesLinkHeaders() {
        let links = WebLink.parse([
            #"<https://api.github.com/repos?page=2>; rel="next", <https://api.github.com/repos?page=9>; rel="last""#,
            #"</a,b;c>; title="x, y; rel=next"; rel="prev  First", <z>;rel=Next"#,
            "garbage, <ok>; rel=self",
        ])
        #expect(links.map(\.target) == ["https://api.github.com/repos?page=2", "https://api.github.com/repos?page=9", "/a,b;c", "z", "ok"])
        #expect(links.map(\.relations) == [["next"], ["last"], ["prev", "first"], ["next"], ["self"]])
        #expect(links[2].parameters.first?.value == "x, y; rel=next")
    }
}
