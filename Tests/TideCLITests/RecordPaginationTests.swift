import Foundation
import Testing
import TideCore
import TideTesting

/// `tide record` cutting each pagination type it has no other test for: the live API has more
/// pages than the recording keeps (--pages 2), the recording must stop there, change the last
/// kept page (or add an emptied one) so that a replay stops there too, and `tide test` must pass
/// on what it wrote.
@Suite(.timeLimit(.minutes(3)))
struct RecordPaginationTests {
    static func header(_ kinds: String) -> String {
        """
        name: acme
        configuration:
          - {name: apiUrl, type: url, required: true}
        http:
          baseUrl: "{{ .config.apiUrl }}"
        kinds:
        \(kinds)
        """
    }

    static func items(_ range: Range<Int>) -> [[String: Any]] {
        range.map { ["id": "item-\($0)", "title": "Item \($0)"] }
    }

    /// Requests the server answered, as "METHOD uri body".
    static func log(_ request: RecordedRequest, into requests: Locked<[String]>) {
        requests.withLock { $0.append("\(request.method) \(request.uri) \(String(decoding: request.body, as: UTF8.self))") }
    }

    // MARK: nextUrl

    @Test func aNextURLRunIsCutItsLastNextNulledAndItsLinksMadeRelative() async throws {
        let folder = try RecordingFolder(integrationYAML: Self.header("""
              item:
                request: {path: /items}
                records: .data
                pagination: {type: nextUrl, next: .next}
            """), resources: [("item", "acmeItem")])
        defer { folder.remove() }
        let requests = Locked<[String]>([])
        // Five pages of two, each naming the next by its absolute URL.
        let server = try await TestHTTPServer.start { request in
            Self.log(request, into: requests)
            guard request.path == "/api/v2/items" else { return .json(#"{"error": "no such path"}"#, status: 404) }
            let page = Int(request.queryValue("page") ?? "1") ?? 1
            let next: Any = page < 5 ? "\(origin(of: request))/api/v2/items?page=\(page + 1)&size=2" : NSNull()
            return jsonResponse(["data": Self.items((page * 2 - 1)..<(page * 2 + 1)), "next": next])
        }
        let result = try await folder.record(server)
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")

        // Two pages asked of the live API, never the third.
        let sent = requests.current
        #expect(sent.count == 2, "\(sent)")
        #expect(!sent.contains { $0.contains("page=3") }, "\(sent)")

        // The first page's link is relative to the origin (the base path kept), the last kept page names none.
        let bodies = try folder.bodies()
        #expect(bodies.count == 2, "\(bodies.keys)")
        var nexts: [String] = []
        for (_, body) in bodies {
            let next = (body as? [String: Any])?["next"]
            nexts.append(next is NSNull ? "null" : (next as? String ?? "missing"))
        }
        #expect(nexts.sorted() == ["/api/v2/items?page=2&size=2", "null"], "\(nexts)")
        let index = try folder.fixturesIndex
        #expect(index.contains("the next page's .next is null"), "\(index)")
        // The live address appears in no file but config.yml (the replay moves apiUrl to its own server).
        var scanned = 0
        for file in folder.writtenFiles where file.lastPathComponent != "config.yml" {
            scanned += 1
            let text = try String(contentsOf: file, encoding: .utf8)
            #expect(!text.contains("127.0.0.1:\(server.port)"), "\(file.lastPathComponent): \(text)")
        }
        #expect(scanned == 4) // fixtures.yml, two bodies, the case

        try await folder.expectReplayPasses(counting: #""acmeItem": 4"#)
    }

    // MARK: GraphQL

    static let graphQLKinds = """
          issue:
            request:
              path: /graphql
              graphql:
                query: |
                  query($first: Int!, $after: String) {
                    issues(first: $first, after: $after) { nodes { id title } pageInfo { endCursor hasNextPage } } }
                variables: {first: 2}
            records: .data.issues.nodes
            pagination:
              type: graphql
              pageInfo: .data.issues.pageInfo
        """

    @Test func aGraphQLRunIsCutWithHasNextPageFalseOnTheLastKeptPage() async throws {
        let folder = try RecordingFolder(integrationYAML: Self.header(Self.graphQLKinds), resources: [("issue", "acmeIssue")])
        defer { folder.remove() }
        let requests = Locked<[String]>([])
        // Four pages of two over `after` (c1, c2, c3).
        let server = try await TestHTTPServer.start { request in
            Self.log(request, into: requests)
            let body = (try? JSONSerialization.jsonObject(with: Data(request.body))) as? [String: Any] ?? [:]
            let variables = body["variables"] as? [String: Any] ?? [:]
            guard request.method == "POST", request.path == "/api/v2/graphql", (body["query"] as? String)?.contains("pageInfo") == true,
                  variables["first"] as? Int == 2 else {
                return TestResponse(status: 400, body: Array("bad request".utf8))
            }
            let page = ["c1": 2, "c2": 3, "c3": 4][variables["after"] as? String ?? ""] ?? 1
            let pageInfo: [String: Any] = ["endCursor": "c\(page)", "hasNextPage": page < 4]
            return jsonResponse(["data": ["issues": ["nodes": Self.items((page * 2 - 1)..<(page * 2 + 1)), "pageInfo": pageInfo]]])
        }
        let result = try await folder.record(server)
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")

        let sent = requests.current
        #expect(sent.count == 2, "\(sent)")
        #expect(!sent.contains { $0.contains(#""c2""#) }, "\(sent)")

        // Of the two pages kept, the first still has a next page, the last says there is none.
        var hasNext: [Bool] = []
        for (_, body) in try folder.bodies() {
            let info = (((body as? [String: Any])?["data"] as? [String: Any])?["issues"] as? [String: Any])?["pageInfo"] as? [String: Any]
            hasNext.append(try #require(info?["hasNextPage"] as? Bool))
        }
        #expect(hasNext.sorted { !$0 && $1 } == [false, true], "\(hasNext)")
        let index = try folder.fixturesIndex
        #expect(index.contains("hasNextPage is false"), "\(index)")
        #expect(index.contains(#""after": "c1""#), "\(index)")

        try await folder.expectReplayPasses(counting: #""acmeIssue": 4"#)
    }

    // MARK: A total in a header

    @Test func aTotalReadFromAHeaderIsLoweredOnEveryKeptPage() async throws {
        let folder = try RecordingFolder(integrationYAML: Self.header("""
              user:
                request: {path: /users}
                records: .
                pagination: {type: offset, limit: 2, total: '$headers["x-total-count"]'}
            """), resources: [("user", "acmeUser")])
        defer { folder.remove() }
        let requests = Locked<[String]>([])
        // Ten records, two a page, the total in X-Total-Count.
        let server = try await TestHTTPServer.start { request in
            Self.log(request, into: requests)
            guard request.path == "/api/v2/users" else { return .json(#"{"error": "no such path"}"#, status: 404) }
            let offset = Int(request.queryValue("offset") ?? "0") ?? 0
            return jsonResponse(Self.items(offset..<min(offset + 2, 10)), headers: [TestHeader("X-Total-Count", "10")])
        }
        let result = try await folder.record(server)
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")

        let sent = requests.current
        #expect(!sent.contains { $0.contains("offset=4") || $0.contains("offset=6") || $0.contains("offset=8") }, "\(sent)")

        // Both kept pages say 4, what two pages of two hold; no fixture for a third page.
        let index = try folder.fixturesIndex
        let lowered = index.matches(of: /(?i)"x-total-count": "4"/).count
        #expect(lowered == 2, "\(index)")
        #expect(index.firstMatch(of: /(?i)"x-total-count": "10"/) == nil, "\(index)")
        #expect(index.contains("total lowered to 4"), "\(index)")
        #expect(!index.contains("offset=4") && !index.contains(#""offset": "4""#), "\(index)")
        #expect(try folder.bodies().count == 2)

        // Replayed, the read-ahead asks for nothing unrecorded: unused or unmatched fixtures would fail the case.
        try await folder.expectReplayPasses(counting: #""acmeUser": 4"#)
    }

    // MARK: The emptied next page

    @Test func withoutATotalAndRecordsNotAPathTheNextPageIsRecordedEmptied() async throws {
        let folder = try RecordingFolder(integrationYAML: Self.header("""
              item:
                request: {path: /items}
                records: '.data | map(.)'
                pagination: {type: offset, limit: 2}
            """), resources: [("item", "acmeItem")])
        defer { folder.remove() }
        let requests = Locked<[String]>([])
        // Ten records, two a page, beside an array that is not records.
        let server = try await TestHTTPServer.start { request in
            Self.log(request, into: requests)
            guard request.path == "/api/v2/items" else { return .json(#"{"error": "no such path"}"#, status: 404) }
            let offset = Int(request.queryValue("offset") ?? "0") ?? 0
            return jsonResponse(["data": Self.items(offset..<min(offset + 2, 10)), "meta": ["region": "eu", "tags": ["a", "b"]]])
        }
        let result = try await folder.record(server)
        await server.stop()
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")

        // The live API was asked for two pages; the third is in the fixtures all the same, emptied.
        let sent = requests.current
        #expect(sent.count == 2, "\(sent)")
        #expect(!sent.contains { $0.contains("offset=4") }, "\(sent)")
        let index = try folder.fixturesIndex
        let synthetic = index.split(separator: "\n").filter { $0.hasPrefix("- name:") && $0.contains("offset=4") }
        #expect(synthetic.count == 1, "\(index)")
        #expect(synthetic.first?.contains("it answers the next request with no records") == true, "\(index)")

        let bodies = try folder.bodies()
        #expect(bodies.count == 3, "\(bodies.keys)")
        var records: [Int] = []
        for (_, body) in bodies {
            let object = try #require(body as? [String: Any])
            records.append(try #require(object["data"] as? [Any]).count)
            #expect((object["meta"] as? [String: Any])?["region"] as? String == "eu", "the rest of the page is kept: \(object)")
        }
        #expect(records.sorted() == [0, 2, 2], "\(records)")

        try await folder.expectReplayPasses(counting: #""acmeItem": 4"#)
    }
}
